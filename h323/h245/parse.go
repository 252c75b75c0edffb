package h245

import (
	"fmt"
	"net/netip"

	"github.com/roomgate/roomgate/h323/per"
	"github.com/roomgate/roomgate/h323/schema"
)

// Message is what a call leg reads from one MultimediaSystemControlMessage.
type Message struct {
	// Class is request, response, command or indication; Kind the alternative inside it, e.g.
	// "openLogicalChannel" or "miscellaneousCommand".
	Class, Kind string
	// Sequence is the sequenceNumber of TCS, TCSAck/Reject and round-trip delay messages.
	Sequence int
	// Channel is the logical channel number the message is about, when it has one.
	Channel int
	// TerminalType and SDN are from masterSlaveDetermination; Decision from its Ack
	// ("master" or "slave", as the receiver must apply it).
	TerminalType, SDN int
	Decision          string
	// Command is the miscellaneousCommand type ("videoFastUpdatePicture", ...), Cause the
	// reject cause alternative.
	Command, Cause string
	// MaxBitRate is a flowControlCommand restriction in 100 bit/s (-1: none).
	MaxBitRate int
	// Scope is the flowControlCommand scope alternative: "logicalChannelNumber" (then Channel
	// names it), "resourceID" or "wholeMultiplex".
	Scope string
	// UserInput is the alphanumeric string or signal tone of a userInput indication.
	UserInput string
	// H239 is the subMessageIdentifier of an H.239 generic message (0 otherwise) with its
	// parameters (identifier → unsignedMin value; logical parameters map to 1).
	H239       int
	H239Params map[int]int
	// SessionID, Media and MediaControl come from openLogicalChannel(Ack) H.225.0 parameters.
	SessionID int
	// OLC details an openLogicalChannel request.
	OLC                 *OLCInfo
	Media, MediaControl netip.AddrPort
	// Value is the whole decoded message for anything else; it aliases the parsed bytes.
	Value per.Value
}

// Parse decodes one MultimediaSystemControlMessage.
func Parse(b []byte) (*Message, error) {
	var d per.Decoder
	v, err := d.Decode(schema.MultimediaSystemControlMessage, b)
	if err != nil {
		return nil, fmt.Errorf("parse H.245 message: %w", err)
	}
	class, inner, ok := v.Choice()
	if !ok {
		return nil, fmt.Errorf("unknown message class: %w", ErrUnknown)
	}
	kind, body, ok := inner.Choice()
	if !ok {
		return nil, fmt.Errorf("unknown %s: %w", class, ErrUnknown)
	}
	m := &Message{Class: class, Kind: kind, Value: v, MaxBitRate: -1}
	integer := func(v *per.Value, name string) int {
		if f := v.Field(name); f != nil {
			return int(f.Int)
		}
		return 0
	}
	switch kind {
	case "genericRequest", "genericResponse", "genericCommand", "genericIndication":
		if id := body.Field("messageIdentifier"); id != nil {
			if name, std, ok := id.Choice(); ok && name == "standard" {
				if s, _ := per.FormatOID(std.Bytes); s == OIDH239Generic {
					m.H239 = integer(body, "subMessageIdentifier")
					m.H239Params = map[int]int{}
					if list := body.Field("messageContent"); list != nil {
						for i := range list.Elems {
							p := &list.Elems[i]
							_, pid, _ := p.Field("parameterIdentifier").Choice()
							vn, val, _ := p.Field("parameterValue").Choice()
							if pid == nil || val == nil {
								continue
							}
							if vn == "logical" {
								m.H239Params[int(pid.Int)] = 1
							} else {
								m.H239Params[int(pid.Int)] = int(val.Int)
							}
						}
					}
				}
			}
		}
		return m, nil
	case "userInput":
		name, ui, _ := body.Choice()
		switch name {
		case "alphanumeric":
			m.UserInput = ui.Str()
		case "signal":
			m.UserInput = ui.Field("signalType").Str()
		}
		return m, nil
	case "endSessionCommand", "functionNotUnderstood":
		return m, nil
	}
	if body.T.Kind != per.KindSequence {
		return m, nil
	}
	m.Sequence = integer(body, "sequenceNumber")
	m.Channel = integer(body, "forwardLogicalChannelNumber") + integer(body, "logicalChannelNumber")
	m.TerminalType = integer(body, "terminalType")
	m.SDN = integer(body, "statusDeterminationNumber")
	m.Decision = choiceName(body.Field("decision"))
	m.Cause = choiceName(body.Field("cause"))
	m.Command = choiceName(body.Field("type"))
	if scope := body.Field("scope"); scope != nil {
		n, v, ok := scope.Choice()
		m.Scope = n
		if ok && n == "logicalChannelNumber" {
			m.Channel = int(v.Int)
		}
		if n, v, ok := body.Field("restriction").Choice(); ok && n == "maximumBitRate" {
			m.MaxBitRate = int(v.Int)
		}
	}
	if kind == "openLogicalChannel" {
		m.OLC = olcInfo(body)
		m.SessionID, m.Media, m.MediaControl = m.OLC.SessionID, m.OLC.Media, m.OLC.MediaControl
	}
	if f := body.Field("forwardMultiplexAckParameters"); f != nil {
		if _, p, _ := f.Choice(); p != nil && p.T.Kind == per.KindSequence {
			m.SessionID = integer(p, "sessionID")
			m.Media = readUnicast(p.Field("mediaChannel"))
			m.MediaControl = readUnicast(p.Field("mediaControlChannel"))
		}
	}
	return m, nil
}

// OLCInfo is what an OpenLogicalChannel (a request or a fastStart element) proposes.
type OLCInfo struct {
	Number int
	// Reverse is set for a receive proposal: the peer wants to receive DataType at Media.
	Reverse   bool
	SessionID int
	// DataType is "audioData" or "videoData" (or another DataType alternative), Codec the
	// capability alternative inside, e.g. "g711Alaw64k" or "genericVideoCapability".
	DataType, Codec     string
	Media, MediaControl netip.AddrPort
	// Video is the H.264 capability of a genericVideoCapability data type (H.241), nil for
	// other data types.
	Video *H264
	// PayloadType is the dynamicRTPPayloadType, 0 when absent.
	PayloadType int
	// Packetization is the H.264 mode named by mediaPacketization (a truncated single NAL
	// unit OID counts as single NAL unit mode).
	Packetization Packetization
}

// ParseOLC decodes a bare OpenLogicalChannel, the content of a fastStart element.
func ParseOLC(b []byte) (*OLCInfo, error) {
	var d per.Decoder
	v, err := d.Decode(schema.OpenLogicalChannel, b)
	if err != nil {
		return nil, fmt.Errorf("parse fastStart OpenLogicalChannel: %w", err)
	}
	return olcInfo(&v), nil
}

func olcInfo(body *per.Value) *OLCInfo {
	o := &OLCInfo{}
	if f := body.Field("forwardLogicalChannelNumber"); f != nil {
		o.Number = int(f.Int)
	}
	params := body.Field("forwardLogicalChannelParameters")
	if dt := params.Field("dataType"); choiceName(dt) == "nullData" {
		if r := body.Field("reverseLogicalChannelParameters"); r != nil {
			o.Reverse, params = true, r
		}
	}
	if params == nil {
		return o
	}
	name, dt, ok := params.Field("dataType").Choice()
	if ok {
		o.DataType = name
		o.Codec = choiceName(dt)
		if name == "videoData" {
			if h, ok := ParseH264Capability(dt); ok {
				o.Video = &h
			}
		}
	}
	if _, p, ok := params.Field("multiplexParameters").Choice(); ok && p.T.Kind == per.KindSequence {
		if f := p.Field("sessionID"); f != nil {
			o.SessionID = int(f.Int)
		}
		if f := p.Field("dynamicRTPPayloadType"); f != nil {
			o.PayloadType = int(f.Int)
		}
		if n, rpt, ok := p.Field("mediaPacketization").Choice(); ok && n == "rtpPayloadType" {
			o.Packetization, _ = payloadDescriptor(rpt)
		}
		o.Media = readUnicast(p.Field("mediaChannel"))
		o.MediaControl = readUnicast(p.Field("mediaControlChannel"))
	}
	return o
}

func choiceName(v *per.Value) string {
	if v == nil {
		return ""
	}
	n, _, _ := v.Choice()
	return n
}

func readUnicast(v *per.Value) netip.AddrPort {
	if v == nil {
		return netip.AddrPort{}
	}
	n, u, ok := v.Choice()
	if !ok || n != "unicastAddress" {
		return netip.AddrPort{}
	}
	_, a, ok := u.Choice()
	if !ok || a.T.Kind != per.KindSequence {
		return netip.AddrPort{}
	}
	nw, port := a.Field("network"), a.Field("tsapIdentifier")
	if nw == nil || port == nil {
		return netip.AddrPort{}
	}
	ip, ok := netip.AddrFromSlice(nw.Bytes)
	if !ok {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ip, uint16(port.Int))
}
