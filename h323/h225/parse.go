package h225

import (
	"fmt"
	"net/netip"

	"github.com/roomgate/roomgate/h323/per"
	"github.com/roomgate/roomgate/h323/schema"
)

// Message is what a call leg reads from a received H323-UserInformation.
type Message struct {
	Body       Body
	ProtocolID string
	Tunnelling bool
	// H245 are the tunnelled H.245 PDUs (h245Control, plus parallelH245Control of a Setup).
	H245               [][]byte
	FastStart          [][]byte
	FastConnectRefused bool
	H245Address        netip.AddrPort
	CallID             GUID
	ConferenceID       GUID
	// Vendor is from sourceInfo (Setup) or destinationInfo (responses).
	Vendor       Vendor
	Source, Dest []Alias
	SourceSignal netip.AddrPort
	DestSignal   netip.AddrPort
	// Reason is the ReleaseCompleteReason or FacilityReason alternative, or conferenceGoal in
	// a Setup.
	Reason             string
	AlternativeAddress netip.AddrPort
	AlternativeAliases []Alias
}

// Parse decodes a PER H323-UserInformation (the User-user IE content after 0x05).
func Parse(uu []byte) (*Message, error) {
	var d per.Decoder
	v, err := d.Decode(schema.H323UserInformation, uu)
	if err != nil {
		return nil, fmt.Errorf("parse H323-UserInformation: %w", err)
	}
	return FromValue(&v)
}

// FromValue extracts a Message from a decoded H323-UserInformation. Byte fields are copied.
func FromValue(v *per.Value) (*Message, error) {
	pdu := v.Field("h323-uu-pdu")
	if pdu == nil {
		return nil, fmt.Errorf("no h323-uu-pdu: %w", ErrNotH225)
	}
	m := &Message{}
	if f := pdu.Field("h245Tunneling"); f != nil {
		m.Tunnelling = f.Int != 0
	}
	m.H245 = appendOctets(m.H245, pdu.Field("h245Control"))
	name, body, ok := pdu.Field("h323-message-body").Choice()
	if !ok {
		return nil, fmt.Errorf("unknown message body: %w", ErrNotH225)
	}
	m.Body = Body(name)
	if body.T.Kind != per.KindSequence {
		return m, nil // empty
	}
	if f := body.Field("protocolIdentifier"); f != nil {
		m.ProtocolID, _ = per.FormatOID(f.Bytes)
	}
	m.H245 = appendOctets(m.H245, body.Field("parallelH245Control"))
	m.FastStart = appendOctets(nil, body.Field("fastStart"))
	m.FastConnectRefused = body.Field("fastConnectRefused") != nil
	if f := body.Field("h245Address"); f != nil {
		m.H245Address, _ = readAddr(f)
	}
	if f := body.Field("callIdentifier"); f != nil {
		m.CallID = readGUID(f.Field("guid"))
	}
	m.ConferenceID = readGUID(body.Field("conferenceID"))
	if f := body.Field("sourceInfo"); f != nil {
		m.Vendor = readVendor(f.Field("vendor"))
	} else if f := body.Field("destinationInfo"); f != nil {
		m.Vendor = readVendor(f.Field("vendor"))
	}
	m.Source = readAliases(body.Field("sourceAddress"))
	m.Dest = readAliases(body.Field("destinationAddress"))
	if f := body.Field("sourceCallSignalAddress"); f != nil {
		m.SourceSignal, _ = readAddr(f)
	}
	if f := body.Field("destCallSignalAddress"); f != nil {
		m.DestSignal, _ = readAddr(f)
	}
	switch {
	case body.Field("reason") != nil:
		m.Reason = choiceName(body.Field("reason"))
	case body.Field("conferenceGoal") != nil:
		m.Reason = choiceName(body.Field("conferenceGoal"))
	}
	if f := body.Field("alternativeAddress"); f != nil {
		m.AlternativeAddress, _ = readAddr(f)
	}
	m.AlternativeAliases = readAliases(body.Field("alternativeAliasAddress"))
	return m, nil
}

func appendOctets(dst [][]byte, list *per.Value) [][]byte {
	if list == nil {
		return dst
	}
	for i := range list.Elems {
		dst = append(dst, append([]byte(nil), list.Elems[i].Bytes...))
	}
	return dst
}
