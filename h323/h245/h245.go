// Package h245 builds and reads the H.245 control messages an H.323 call leg exchanges:
// capability exchange (TerminalCapabilitySet with G.711, G.722, G.722.1, H.264 per H.241 and
// H.239 content), master/slave determination, logical channels, commands (video fast update,
// flow control, end session), user input (DTMF) and the H.239 presentation token messages.
// Builders return one PER MultimediaSystemControlMessage; Parse returns what a leg acts on.
//
// It owns message content only; the H.245 state machines, timers and transports (tunnelled or
// separate TCP) belong to the call legs.
package h245

import (
	"encoding/hex"
	"fmt"
	"net/netip"

	"github.com/roomgate/roomgate/h323/per"
	"github.com/roomgate/roomgate/h323/schema"
)

// ProtocolID is the H.245 version we announce in TerminalCapabilitySet (version 15, as
// h323plus does; the schema decodes up to version 17).
const ProtocolID = "0.0.8.245.0.15"

// OIDs of the generic capabilities and messages we use.
const (
	OIDH264 = "0.0.8.241.0.0.1" // H.241 H.264 generic video capability
	// H.241 RTP payload descriptors of the H.264 packetization modes (mediaPacketization).
	OIDH264SingleNAL      = "0.0.8.241.0.0.0.0"
	OIDH264NonInterleaved = "0.0.8.241.0.0.0.1"
	OIDH264Interleaved    = "0.0.8.241.0.0.0.2"
	// oidH264Truncated is the single-NAL descriptor one arc short, as Polycom sends it.
	oidH264Truncated = "0.0.8.241.0.0.0"
	OIDG7221         = "0.0.7.7221.1.0" // G.722.1 generic audio capability
	OIDH239Video     = "0.0.8.239.1.2"  // H.239 extended video capability (role)
	OIDH239Ctrl      = "0.0.8.239.1.1"  // H.239 control capability
	OIDH239Generic   = "0.0.8.239.2"    // H.239 generic messages
)

// TerminalTypeMCU is the MSD terminal type of an MCU with MC (H.323 Table 1), which makes us
// master against terminals (50) and most gateways.
const TerminalTypeMCU = 190

func encode(j any) ([]byte, error) {
	t := schema.MultimediaSystemControlMessage
	v, err := per.FromJSON(t, j, nil)
	if err != nil {
		return nil, fmt.Errorf("build H.245 message: %w", err)
	}
	var e per.Encoder
	b, err := e.Encode(nil, t, &v)
	if err != nil {
		return nil, fmt.Errorf("encode H.245 message: %w", err)
	}
	return b, nil
}

func msg(class, kind string, body any) ([]byte, error) {
	return encode(map[string]any{class: map[string]any{kind: body}})
}

func obj(kv ...any) map[string]any {
	m := make(map[string]any, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func unicast(a netip.AddrPort) (map[string]any, error) {
	ip := a.Addr().Unmap()
	switch {
	case ip.Is4():
		b := ip.As4()
		return obj("unicastAddress", obj("iPAddress", obj("network", hex.EncodeToString(b[:]), "tsapIdentifier", int(a.Port())))), nil
	case ip.Is6():
		b := ip.As16()
		return obj("unicastAddress", obj("iP6Address", obj("network", hex.EncodeToString(b[:]), "tsapIdentifier", int(a.Port())))), nil
	}
	return nil, fmt.Errorf("media address %v: %w", a, ErrParam)
}

func lcn(n int) (int, error) {
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("logical channel number %d: %w", n, ErrParam)
	}
	return n, nil
}

// TCSAck acknowledges TerminalCapabilitySet seq.
func TCSAck(seq int) ([]byte, error) {
	return msg("response", "terminalCapabilitySetAck", obj("sequenceNumber", seq))
}

// TCSReject rejects TerminalCapabilitySet seq ("unspecified", "undefinedTableEntryUsed",
// "descriptorCapacityExceeded").
func TCSReject(seq int, cause string) ([]byte, error) {
	return msg("response", "terminalCapabilitySetReject", obj("sequenceNumber", seq, "cause", obj(cause, nil)))
}

// TCSRelease withdraws an unanswered TerminalCapabilitySet (timer T101 expiry).
func TCSRelease() ([]byte, error) {
	return msg("indication", "terminalCapabilitySetRelease", obj())
}

// MSD starts master/slave determination with a random statusDeterminationNumber (0..2^24-1).
func MSD(terminalType, sdn int) ([]byte, error) {
	if sdn < 0 || sdn >= 1<<24 {
		return nil, fmt.Errorf("status determination number %d: %w", sdn, ErrParam)
	}
	return msg("request", "masterSlaveDetermination", obj("terminalType", terminalType, "statusDeterminationNumber", sdn))
}

// MSDAck tells the peer its role: peerIsMaster reports the decision as the peer must apply it.
func MSDAck(peerIsMaster bool) ([]byte, error) {
	d := "slave"
	if peerIsMaster {
		d = "master"
	}
	return msg("response", "masterSlaveDeterminationAck", obj("decision", obj(d, nil)))
}

// MSDReject answers identical status determination numbers.
func MSDReject() ([]byte, error) {
	return msg("response", "masterSlaveDeterminationReject", obj("cause", obj("identicalNumbers", nil)))
}

// MSDRelease abandons master/slave determination (timer T106 expiry).
func MSDRelease() ([]byte, error) {
	return msg("indication", "masterSlaveDeterminationRelease", obj())
}

// RoundTripDelayRequest probes the peer; it must answer with RoundTripDelayResponse.
func RoundTripDelayRequest(seq int) ([]byte, error) {
	return msg("request", "roundTripDelayRequest", obj("sequenceNumber", seq))
}

// RoundTripDelayResponse answers RoundTripDelayRequest seq.
func RoundTripDelayResponse(seq int) ([]byte, error) {
	return msg("response", "roundTripDelayResponse", obj("sequenceNumber", seq))
}

// VideoFastUpdatePicture asks the sender of channel n for an intra frame.
func VideoFastUpdatePicture(n int) ([]byte, error) {
	n, err := lcn(n)
	if err != nil {
		return nil, err
	}
	return msg("command", "miscellaneousCommand", obj("logicalChannelNumber", n, "type", obj("videoFastUpdatePicture", nil)))
}

// FlowControl limits the bit rate of channel n (units of 100 bit/s); maxBitRate < 0 lifts
// the restriction.
func FlowControl(n, maxBitRate int) ([]byte, error) {
	n, err := lcn(n)
	if err != nil {
		return nil, err
	}
	restriction := obj("noRestriction", nil)
	if maxBitRate >= 0 {
		restriction = obj("maximumBitRate", maxBitRate)
	}
	return msg("command", "flowControlCommand", obj("scope", obj("logicalChannelNumber", n), "restriction", restriction))
}

// EndSession ends the H.245 session (sent before ReleaseComplete).
func EndSession() ([]byte, error) {
	return msg("command", "endSessionCommand", obj("disconnect", nil))
}

// UserInputString sends DTMF or text as UserInputIndication alphanumeric.
func UserInputString(s string) ([]byte, error) {
	return msg("indication", "userInput", obj("alphanumeric", s))
}

// UserInputSignal sends one DTMF tone (0-9 * # A-D !) with its duration in milliseconds
// (0 leaves it out), as UserInputIndication signal.
func UserInputSignal(tone byte, durationMS int) ([]byte, error) {
	s := obj("signalType", string(rune(tone)))
	if durationMS > 0 {
		s["duration"] = durationMS
	}
	return msg("indication", "userInput", obj("signal", s))
}

// FunctionNotUnderstood answers a request, response or command we could not act on, echoing
// it so the peer learns which function failed. peerMsg is the peer's complete
// MultimediaSystemControlMessage.
func FunctionNotUnderstood(peerMsg []byte) ([]byte, error) {
	var d per.Decoder
	v, err := d.Decode(schema.MultimediaSystemControlMessage, peerMsg)
	if err != nil {
		return nil, fmt.Errorf("function not understood: %w", err)
	}
	class, inner, ok := v.Choice()
	if !ok || class == "indication" {
		return nil, fmt.Errorf("cannot answer an indication or unknown message: %w", ErrParam)
	}
	j, err := per.ToJSON(inner, nil)
	if err != nil {
		return nil, err
	}
	return msg("indication", "functionNotUnderstood", obj(class, j))
}
