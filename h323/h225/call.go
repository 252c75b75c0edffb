package h225

import (
	"encoding/hex"
	"fmt"
	"net/netip"

	"github.com/roomgate/roomgate/h323/per"
	"github.com/roomgate/roomgate/h323/q931"
	"github.com/roomgate/roomgate/h323/schema"
)

// Body names the H323-UU-PDU h323-message-body alternative, as in the ASN.1 module.
type Body string

// The message bodies call legs send and receive.
const (
	BodySetup           Body = "setup"
	BodyCallProceeding  Body = "callProceeding"
	BodyConnect         Body = "connect"
	BodyAlerting        Body = "alerting"
	BodyInformation     Body = "information"
	BodyReleaseComplete Body = "releaseComplete"
	BodyFacility        Body = "facility"
	BodyProgress        Body = "progress"
	BodyEmpty           Body = "empty"
	BodyStatus          Body = "status"
	BodyStatusInquiry   Body = "statusInquiry"
)

// Q931Type returns the Q.931 message type that carries a body (H.225.0 clause 7.3); the
// empty body travels in Facility.
func (b Body) Q931Type() q931.MessageType {
	return map[Body]q931.MessageType{BodySetup: q931.Setup, BodyCallProceeding: q931.CallProceeding,
		BodyConnect: q931.Connect, BodyAlerting: q931.Alerting, BodyInformation: q931.Information,
		BodyReleaseComplete: q931.ReleaseComplete, BodyFacility: q931.Facility, BodyProgress: q931.Progress,
		BodyEmpty: q931.Facility, BodyStatus: q931.Status, BodyStatusInquiry: q931.StatusEnquiry}[b]
}

// Call holds what every UUIE of one call repeats.
type Call struct {
	Endpoint     Endpoint
	CallID       GUID
	ConferenceID GUID
	// Tunnelling sets h245Tunneling; H.323 requires the field in every UUIE.
	Tunnelling bool
	// H245 are tunnelled H.245 PDUs (each a PER MultimediaSystemControlMessage) for h245Control.
	H245 [][]byte
	// H245Address is our separate H.245 listener, announced when valid.
	H245Address netip.AddrPort
	// FastStart are PER OpenLogicalChannel proposals or answers (H.323 clause 8.1.7).
	FastStart          [][]byte
	FastConnectRefused bool
}

// SetupInfo is the content of a Setup beyond Call.
type SetupInfo struct {
	Source, Dest []Alias
	// SourceSignal and DestSignal are the call signalling addresses; always set DestSignal
	// (Polycom m100 fails without destCallSignalAddress, as GnuGk notes).
	SourceSignal, DestSignal netip.AddrPort
	Goal                     string // "create" (default), "join", "invite"
}

var uuPDU = schema.Lookup(schema.ModuleH225, "H323-UU-PDU")

func bodyType(b Body) *per.Type {
	body := uuPDU.Fields[uuPDU.FieldIndex("h323-message-body")].Type
	i := body.FieldIndex(string(b))
	if i < 0 {
		return nil
	}
	return body.Fields[i].Type
}

func setIf(t *per.Type, m map[string]any, name string, v any) {
	if t != nil && t.FieldIndex(name) >= 0 {
		m[name] = v
	}
}

func octetsJSON(list [][]byte) []any {
	out := make([]any, len(list))
	for i, b := range list {
		out[i] = hex.EncodeToString(b)
	}
	return out
}

// build assembles H323-UserInformation for body with the common fields of c and extra.
func (c *Call) build(b Body, extra map[string]any) ([]byte, error) {
	bt := bodyType(b)
	if bt == nil {
		return nil, fmt.Errorf("body %q: %w", b, ErrParam)
	}
	var content any
	if b == BodyEmpty {
		content = nil
	} else {
		m := map[string]any{"protocolIdentifier": ProtocolID}
		setIf(bt, m, "callIdentifier", map[string]any{"guid": hex.EncodeToString(c.CallID[:])})
		setIf(bt, m, "destinationInfo", endpointJSON(c.Endpoint))
		setIf(bt, m, "multipleCalls", false)
		setIf(bt, m, "maintainConnection", false)
		if c.H245Address.IsValid() {
			a, err := addrJSON(c.H245Address)
			if err != nil {
				return nil, err
			}
			setIf(bt, m, "h245Address", a)
		}
		if len(c.FastStart) > 0 {
			setIf(bt, m, "fastStart", octetsJSON(c.FastStart))
		}
		if c.FastConnectRefused {
			setIf(bt, m, "fastConnectRefused", nil)
		}
		for k, v := range extra {
			m[k] = v
		}
		content = m
	}
	pdu := map[string]any{
		"h323-message-body": map[string]any{string(b): content},
		"h245Tunneling":     c.Tunnelling,
	}
	if len(c.H245) > 0 {
		pdu["h245Control"] = octetsJSON(c.H245)
	}
	return encode(schema.H323UserInformation, map[string]any{"h323-uu-pdu": pdu})
}

// Setup builds a Setup UUIE. h323plus leaves displayName out for Codian MCU interop; put the
// display name in the Q.931 Display IE instead.
func (c *Call) Setup(s SetupInfo) ([]byte, error) {
	goal := s.Goal
	if goal == "" {
		goal = "create"
	}
	m := map[string]any{
		"sourceInfo":          endpointJSON(c.Endpoint),
		"activeMC":            false,
		"conferenceID":        hex.EncodeToString(c.ConferenceID[:]),
		"conferenceGoal":      map[string]any{goal: nil},
		"callType":            map[string]any{"pointToPoint": nil},
		"mediaWaitForConnect": false,
		"canOverlapSend":      false,
	}
	if len(s.Source) > 0 {
		a, err := aliasesJSON(s.Source)
		if err != nil {
			return nil, err
		}
		m["sourceAddress"] = a
	}
	if len(s.Dest) > 0 {
		a, err := aliasesJSON(s.Dest)
		if err != nil {
			return nil, err
		}
		m["destinationAddress"] = a
	}
	for name, ap := range map[string]netip.AddrPort{"sourceCallSignalAddress": s.SourceSignal, "destCallSignalAddress": s.DestSignal} {
		if ap.IsValid() {
			a, err := addrJSON(ap)
			if err != nil {
				return nil, err
			}
			m[name] = a
		}
	}
	if len(c.H245) > 0 {
		// H.245 in Setup travels in parallelH245Control, not h245Control (H.323 clause 8.2.1).
		m["parallelH245Control"] = octetsJSON(c.H245)
		cc := *c
		cc.H245 = nil
		return cc.build(BodySetup, m)
	}
	return c.build(BodySetup, m)
}

// CallProceeding builds a CallProceeding UUIE.
func (c *Call) CallProceeding() ([]byte, error) { return c.build(BodyCallProceeding, nil) }

// Alerting builds an Alerting UUIE.
func (c *Call) Alerting() ([]byte, error) { return c.build(BodyAlerting, nil) }

// Progress builds a Progress UUIE (early media with fastStart).
func (c *Call) Progress() ([]byte, error) { return c.build(BodyProgress, nil) }

// Connect builds a Connect UUIE; it echoes the Setup's conference ID.
func (c *Call) Connect() ([]byte, error) {
	return c.build(BodyConnect, map[string]any{"conferenceID": hex.EncodeToString(c.ConferenceID[:])})
}

// Empty builds an empty-body UUIE, the carrier for tunnelled H.245 (send one PDU per message to
// Cisco IOS peers).
func (c *Call) Empty() ([]byte, error) { return c.build(BodyEmpty, nil) }

// Information builds an Information UUIE.
func (c *Call) Information() ([]byte, error) { return c.build(BodyInformation, nil) }

// Status builds a Status UUIE, the answer to StatusInquiry.
func (c *Call) Status() ([]byte, error) { return c.build(BodyStatus, nil) }

// StatusInquiry builds a StatusInquiry UUIE.
func (c *Call) StatusInquiry() ([]byte, error) { return c.build(BodyStatusInquiry, nil) }

// Facility builds a Facility UUIE with a FacilityReason alternative ("startH245",
// "undefinedReason", "callForwarded", "routeCallToGatekeeper", "routeCallToMC",
// "forwardedElements", "transportedInformation", ...). alternative is the redirect target for
// forwarding reasons, and aliases its alias addresses.
func (c *Call) Facility(reason string, alternative netip.AddrPort, aliases []Alias) ([]byte, error) {
	rt := schema.Lookup(schema.ModuleH225, "FacilityReason")
	if rt.FieldIndex(reason) < 0 {
		return nil, fmt.Errorf("facility reason %q: %w", reason, ErrParam)
	}
	m := map[string]any{"reason": map[string]any{reason: nil},
		"conferenceID": hex.EncodeToString(c.ConferenceID[:])}
	if alternative.IsValid() {
		a, err := addrJSON(alternative)
		if err != nil {
			return nil, err
		}
		m["alternativeAddress"] = a
	}
	if len(aliases) > 0 {
		a, err := aliasesJSON(aliases)
		if err != nil {
			return nil, err
		}
		m["alternativeAliasAddress"] = a
	}
	return c.build(BodyFacility, m)
}

// ReleaseComplete builds a ReleaseComplete UUIE with a ReleaseCompleteReason alternative
// (NULL alternatives only: "destinationRejection", "undefinedReason", "adaptiveBusy", ...), or
// none when reason is "". Send the Q.931 Cause IE as well: some peers read only one of them.
func (c *Call) ReleaseComplete(reason string) ([]byte, error) {
	m := map[string]any{}
	if reason != "" {
		rt := schema.Lookup(schema.ModuleH225, "ReleaseCompleteReason")
		i := rt.FieldIndex(reason)
		if i < 0 || rt.Fields[i].Type.Kind != per.KindNull {
			return nil, fmt.Errorf("release reason %q: %w", reason, ErrParam)
		}
		m["reason"] = map[string]any{reason: nil}
	}
	return c.build(BodyReleaseComplete, m)
}

// ReasonForCause maps a Q.850 cause to the ReleaseCompleteReason H.225.0 Table 5 pairs with it.
func ReasonForCause(cause uint8) string {
	switch cause {
	case q931.CauseUserBusy:
		return "inConf"
	case q931.CauseCallRejected:
		return "destinationRejection"
	case q931.CauseNoCircuit, q931.CauseResourceUnavail:
		return "gatewayResources"
	case q931.CauseNoUserResponse, q931.CauseNoAnswer:
		return "unreachableDestination"
	}
	return "undefinedReason"
}

// Wrap puts a UUIE into the Q.931 message H.225.0 requires for its body: Bearer capability in
// Setup, Display when display is set, Cause (for ReleaseComplete), and User-user.
func Wrap(b Body, callRef uint16, fromDestination bool, uu []byte, display string, cause uint8) (*q931.Message, error) {
	if callRef > 0x7FFF {
		return nil, fmt.Errorf("call reference %d: %w", callRef, ErrParam)
	}
	m := &q931.Message{CallRefLen: 2, CallRef: callRef, FromDestination: fromDestination, Type: b.Q931Type()}
	if m.Type == 0 {
		return nil, fmt.Errorf("body %q: %w", b, ErrParam)
	}
	if b == BodySetup {
		m.Set(q931.IEBearerCapability, q931.BearerUnrestrictedDigital)
	}
	if b == BodyFacility || b == BodyEmpty {
		m.Set(q931.IEFacility, []byte{})
	}
	if display != "" {
		m.Set(q931.IEDisplay, append([]byte(display), 0))
	}
	if b == BodyReleaseComplete {
		if cause == 0 {
			cause = q931.CauseNormalClearing
		}
		m.Set(q931.IECause, q931.AppendCause(nil, q931.Cause{Value: cause}))
	}
	m.SetUserUser(uu)
	return m, nil
}
