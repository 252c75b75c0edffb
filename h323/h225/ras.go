package h225

import (
	"encoding/hex"
	"fmt"
	"net/netip"

	"github.com/roomgate/roomgate/h323/per"
	"github.com/roomgate/roomgate/h323/schema"
)

// Registration is what our endpoint tells a gatekeeper about itself (H.225.0 clause 7.9).
type Registration struct {
	Endpoint     Endpoint
	RASAddress   netip.AddrPort
	CallSignal   netip.AddrPort
	Aliases      []Alias
	GatekeeperID string // from GCF/RCF; empty before discovery
	EndpointID   string // from RCF; needed for lightweight RRQ, ARQ, DRQ, URQ
	TimeToLive   int    // seconds; 0 leaves it to the gatekeeper
}

// CallRAS identifies a call in ARQ, BRQ and DRQ.
type CallRAS struct {
	CallRef      uint16 // Q.931 call reference value
	CallID       GUID
	ConferenceID GUID
	Answer       bool // we are the called side
	Bandwidth    int  // units of 100 bit/s, both directions
	// Source is the calling party's aliases (ARQ srcInfo); empty means ours, as
	// when we place the call.
	Source []Alias
}

func ras(alt string, body map[string]any) ([]byte, error) {
	return encode(schema.RasMessage, map[string]any{alt: body})
}

func seqNum(seq int) (int, error) {
	if seq < 1 || seq > 65535 {
		return 0, fmt.Errorf("requestSeqNum %d: %w", seq, ErrParam)
	}
	return seq, nil
}

// GRQ builds a GatekeeperRequest (discovery).
func (r *Registration) GRQ(seq int) ([]byte, error) {
	seq, err := seqNum(seq)
	if err != nil {
		return nil, err
	}
	ra, err := addrJSON(r.RASAddress)
	if err != nil {
		return nil, err
	}
	m := map[string]any{"requestSeqNum": seq, "protocolIdentifier": ProtocolID, "rasAddress": ra,
		"endpointType": endpointJSON(r.Endpoint), "supportsAssignedGK": false}
	if err := r.common(m, "endpointAlias"); err != nil {
		return nil, err
	}
	return ras("gatekeeperRequest", m)
}

func (r *Registration) common(m map[string]any, aliasField string) error {
	if len(r.Aliases) > 0 {
		a, err := aliasesJSON(r.Aliases)
		if err != nil {
			return err
		}
		m[aliasField] = a
	}
	if r.GatekeeperID != "" {
		m["gatekeeperIdentifier"] = r.GatekeeperID
	}
	return nil
}

// RRQ builds a RegistrationRequest. A lightweight RRQ (keepAlive, H.225.0 clause 7.9.1) renews
// an existing registration before timeToLive expires and needs EndpointID and GatekeeperID.
func (r *Registration) RRQ(seq int, lightweight bool) ([]byte, error) {
	seq, err := seqNum(seq)
	if err != nil {
		return nil, err
	}
	ra, err := addrJSON(r.RASAddress)
	if err != nil {
		return nil, err
	}
	cs, err := addrJSON(r.CallSignal)
	if err != nil {
		return nil, err
	}
	m := map[string]any{"requestSeqNum": seq, "protocolIdentifier": ProtocolID, "discoveryComplete": r.GatekeeperID != "",
		"callSignalAddress": []any{cs}, "rasAddress": []any{ra}, "terminalType": endpointJSON(r.Endpoint),
		"endpointVendor": vendorJSON(r.Endpoint.Vendor), "keepAlive": lightweight, "willSupplyUUIEs": false,
		"maintainConnection": false}
	if err := r.common(m, "terminalAlias"); err != nil {
		return nil, err
	}
	if r.TimeToLive > 0 {
		m["timeToLive"] = r.TimeToLive
	}
	if lightweight {
		if r.EndpointID == "" || r.GatekeeperID == "" {
			return nil, fmt.Errorf("lightweight RRQ without endpoint and gatekeeper identifiers: %w", ErrParam)
		}
		m["endpointIdentifier"] = r.EndpointID
	}
	return ras("registrationRequest", m)
}

// URQ builds an UnregistrationRequest.
func (r *Registration) URQ(seq int) ([]byte, error) {
	seq, err := seqNum(seq)
	if err != nil {
		return nil, err
	}
	cs, err := addrJSON(r.CallSignal)
	if err != nil {
		return nil, err
	}
	m := map[string]any{"requestSeqNum": seq, "callSignalAddress": []any{cs}}
	if err := r.common(m, "endpointAlias"); err != nil {
		return nil, err
	}
	if r.EndpointID != "" {
		m["endpointIdentifier"] = r.EndpointID
	}
	return ras("unregistrationRequest", m)
}

// ARQ builds an AdmissionRequest for a call to dest (or from the caller src when answering).
func (r *Registration) ARQ(seq int, c CallRAS, dest []Alias, destSignal netip.AddrPort) ([]byte, error) {
	seq, err := seqNum(seq)
	if err != nil {
		return nil, err
	}
	if r.EndpointID == "" || len(r.Aliases) == 0 {
		return nil, fmt.Errorf("ARQ needs an endpoint identifier and our aliases: %w", ErrParam)
	}
	srcAliases := r.Aliases
	if len(c.Source) > 0 {
		srcAliases = c.Source
	}
	src, err := aliasesJSON(srcAliases)
	if err != nil {
		return nil, err
	}
	m := map[string]any{"requestSeqNum": seq, "callType": map[string]any{"pointToPoint": nil},
		"endpointIdentifier": r.EndpointID, "srcInfo": src, "bandWidth": c.Bandwidth,
		"callReferenceValue": int(c.CallRef), "conferenceID": hex.EncodeToString(c.ConferenceID[:]),
		"activeMC": false, "answerCall": c.Answer, "canMapAlias": true,
		"callIdentifier": map[string]any{"guid": hex.EncodeToString(c.CallID[:])}, "willSupplyUUIEs": false}
	if len(dest) > 0 {
		d, err := aliasesJSON(dest)
		if err != nil {
			return nil, err
		}
		m["destinationInfo"] = d
	}
	if destSignal.IsValid() {
		a, err := addrJSON(destSignal)
		if err != nil {
			return nil, err
		}
		m["destCallSignalAddress"] = a
	}
	if r.GatekeeperID != "" {
		m["gatekeeperIdentifier"] = r.GatekeeperID
	}
	return ras("admissionRequest", m)
}

// BRQ builds a BandwidthRequest changing the call's bandwidth to c.Bandwidth.
func (r *Registration) BRQ(seq int, c CallRAS) ([]byte, error) {
	seq, err := seqNum(seq)
	if err != nil {
		return nil, err
	}
	m := map[string]any{"requestSeqNum": seq, "endpointIdentifier": r.EndpointID,
		"conferenceID": hex.EncodeToString(c.ConferenceID[:]), "callReferenceValue": int(c.CallRef),
		"bandWidth": c.Bandwidth, "callIdentifier": map[string]any{"guid": hex.EncodeToString(c.CallID[:])},
		"answeredCall": c.Answer}
	if r.GatekeeperID != "" {
		m["gatekeeperIdentifier"] = r.GatekeeperID
	}
	return ras("bandwidthRequest", m)
}

// DRQ builds a DisengageRequest, sent after every call ("normalDrop", "forcedDrop" or
// "undefinedReason").
func (r *Registration) DRQ(seq int, c CallRAS, reason string) ([]byte, error) {
	seq, err := seqNum(seq)
	if err != nil {
		return nil, err
	}
	m := map[string]any{"requestSeqNum": seq, "endpointIdentifier": r.EndpointID,
		"conferenceID": hex.EncodeToString(c.ConferenceID[:]), "callReferenceValue": int(c.CallRef),
		"disengageReason": map[string]any{reason: nil}, "answeredCall": c.Answer,
		"callIdentifier": map[string]any{"guid": hex.EncodeToString(c.CallID[:])}}
	if r.GatekeeperID != "" {
		m["gatekeeperIdentifier"] = r.GatekeeperID
	}
	return ras("disengageRequest", m)
}

// IRR builds an InfoRequestResponse answering IRQ seq, listing the active calls so that the
// gatekeeper keeps them (it may drop calls whose IRQ goes unanswered).
func (r *Registration) IRR(seq int, calls []CallRAS, h245 netip.AddrPort) ([]byte, error) {
	seq, err := seqNum(seq)
	if err != nil {
		return nil, err
	}
	ra, err := addrJSON(r.RASAddress)
	if err != nil {
		return nil, err
	}
	cs, err := addrJSON(r.CallSignal)
	if err != nil {
		return nil, err
	}
	m := map[string]any{"requestSeqNum": seq, "endpointType": endpointJSON(r.Endpoint),
		"endpointIdentifier": r.EndpointID, "rasAddress": ra, "callSignalAddress": []any{cs}}
	if len(calls) > 0 {
		info := make([]any, 0, len(calls))
		for _, c := range calls {
			ch := func(a netip.AddrPort) (map[string]any, error) {
				j, err := addrJSON(a)
				if err != nil {
					return nil, err
				}
				return map[string]any{"recvAddress": j, "sendAddress": j}, nil
			}
			h, err := ch(h245)
			if err != nil {
				return nil, err
			}
			sig, err := ch(r.CallSignal)
			if err != nil {
				return nil, err
			}
			info = append(info, map[string]any{"callReferenceValue": int(c.CallRef),
				"conferenceID": hex.EncodeToString(c.ConferenceID[:]), "originator": !c.Answer,
				"h245": h, "callSignaling": sig, "callType": map[string]any{"pointToPoint": nil},
				"bandWidth": c.Bandwidth, "callModel": map[string]any{"direct": nil},
				"callIdentifier":    map[string]any{"guid": hex.EncodeToString(c.CallID[:])},
				"substituteConfIDs": []any{}})
		}
		m["perCallInfo"] = info
	}
	if err := r.common(m, "endpointAlias"); err != nil {
		return nil, err
	}
	delete(m, "gatekeeperIdentifier")
	return ras("infoRequestResponse", m)
}

// RAS is what an endpoint reads from a received RAS message.
type RAS struct {
	Kind         string // the RasMessage alternative, e.g. "registrationConfirm"
	SeqNum       int
	GatekeeperID string
	EndpointID   string
	TimeToLive   int
	// RejectReason is the alternative of rejectReason (xRJ) or disengageReason (DRQ).
	RejectReason string
	// CallModel is "direct" or "gatekeeperRouted" (ACF).
	CallModel  string
	DestSignal netip.AddrPort // ACF destCallSignalAddress
	RASAddress netip.AddrPort // GCF rasAddress
	CallSignal []netip.AddrPort
	Bandwidth  int
	// IRRFrequency asks for unsolicited IRRs every so many seconds (ACF).
	IRRFrequency int
	CallRef      int
	CallID       GUID
	KeepAlive    bool
	// Aliases are the sender's own aliases: terminalAlias (RRQ, RCF) or endpointAlias (GRQ,
	// URQ, IRR); in an ARQ, srcInfo.
	Aliases []Alias
	// DestAliases is the destinationInfo of an ARQ or ACF.
	DestAliases []Alias
	// RASAddresses is rasAddress of an RRQ (a list there) or GRQ/GCF/IRR (one address).
	RASAddresses []netip.AddrPort
	// AnswerCall is set in an ARQ for a call the endpoint answers (answerCall) and in a DRQ
	// for a call it answered (answeredCall).
	AnswerCall bool
	// ConferenceID is from ARQ, BRQ and DRQ.
	ConferenceID GUID
	// ReplyAddress is where an IRQ wants its IRR.
	ReplyAddress netip.AddrPort
	// Delay is how many milliseconds a RequestInProgress asks the requester to wait.
	Delay int
}

// ParseRAS decodes a RasMessage (a whole RAS UDP payload).
func ParseRAS(b []byte) (*RAS, error) {
	var d per.Decoder
	v, err := d.Decode(schema.RasMessage, b)
	if err != nil {
		return nil, fmt.Errorf("parse RAS: %w", err)
	}
	name, body, ok := v.Choice()
	if !ok {
		return nil, fmt.Errorf("unknown RAS message: %w", ErrNotH225)
	}
	out := &RAS{Kind: name}
	if body.T.Kind != per.KindSequence {
		return out, nil
	}
	intField := func(n string) int {
		if f := body.Field(n); f != nil {
			return int(f.Int)
		}
		return 0
	}
	out.SeqNum = intField("requestSeqNum")
	out.TimeToLive = intField("timeToLive")
	out.Bandwidth = intField("bandWidth")
	out.IRRFrequency = intField("irrFrequency")
	out.CallRef = intField("callReferenceValue")
	out.KeepAlive = intField("keepAlive") != 0
	out.Delay = intField("delay")
	if f := body.Field("gatekeeperIdentifier"); f != nil {
		out.GatekeeperID = f.Str()
	}
	if f := body.Field("endpointIdentifier"); f != nil {
		out.EndpointID = f.Str()
	}
	for _, n := range []string{"rejectReason", "disengageReason"} {
		if f := body.Field(n); f != nil {
			out.RejectReason = choiceName(f)
		}
	}
	out.CallModel = choiceName(body.Field("callModel"))
	if f := body.Field("destCallSignalAddress"); f != nil {
		out.DestSignal, _ = readAddr(f)
	}
	if f := body.Field("rasAddress"); f != nil {
		if f.T.Kind == per.KindChoice {
			if a, ok := readAddr(f); ok {
				out.RASAddress = a
				out.RASAddresses = append(out.RASAddresses, a)
			}
		} else {
			for i := range f.Elems {
				if a, ok := readAddr(&f.Elems[i]); ok {
					out.RASAddresses = append(out.RASAddresses, a)
				}
			}
			if len(out.RASAddresses) > 0 {
				out.RASAddress = out.RASAddresses[0]
			}
		}
	}
	for _, n := range []string{"terminalAlias", "endpointAlias", "srcInfo"} {
		if f := body.Field(n); f != nil && out.Aliases == nil {
			out.Aliases = readAliases(f)
		}
	}
	if f := body.Field("destinationInfo"); f != nil {
		out.DestAliases = readAliases(f)
	}
	out.AnswerCall = intField("answerCall") != 0 || intField("answeredCall") != 0
	if f := body.Field("conferenceID"); f != nil {
		out.ConferenceID = readGUID(f)
	}
	if f := body.Field("replyAddress"); f != nil {
		out.ReplyAddress, _ = readAddr(f)
	}
	if f := body.Field("callSignalAddress"); f != nil {
		for i := range f.Elems {
			if a, ok := readAddr(&f.Elems[i]); ok {
				out.CallSignal = append(out.CallSignal, a)
			}
		}
	}
	if f := body.Field("callIdentifier"); f != nil {
		out.CallID = readGUID(f.Field("guid"))
	}
	return out, nil
}

// UCF confirms a gatekeeper's UnregistrationRequest seq.
func UCF(seq int) ([]byte, error) {
	seq, err := seqNum(seq)
	if err != nil {
		return nil, err
	}
	return ras("unregistrationConfirm", map[string]any{"requestSeqNum": seq})
}

// DCF confirms a gatekeeper's DisengageRequest seq (the gatekeeper ended the call).
func DCF(seq int) ([]byte, error) {
	seq, err := seqNum(seq)
	if err != nil {
		return nil, err
	}
	return ras("disengageConfirm", map[string]any{"requestSeqNum": seq})
}

// BCF confirms a gatekeeper's BandwidthRequest seq with the granted bandwidth (100 bit/s).
func BCF(seq, bandwidth int) ([]byte, error) {
	seq, err := seqNum(seq)
	if err != nil {
		return nil, err
	}
	return ras("bandwidthConfirm", map[string]any{"requestSeqNum": seq, "bandWidth": bandwidth})
}
