package h225

import (
	"fmt"
	"net/netip"
)

// Gatekeeper-side RAS messages (H.225.0 clause 7.9): the answers a gatekeeper
// gives and the requests it sends to endpoints. Roomgate is an endpoint; these
// builders exist for the test gatekeeper that exercises our RAS client, and
// for tools that need to play a gatekeeper.

// GCF builds a GatekeeperConfirm answering GRQ seq: gkID names the gatekeeper,
// rasAddr is where it takes registrations.
func GCF(seq int, gkID string, rasAddr netip.AddrPort) ([]byte, error) {
	seq, err := seqNum(seq)
	if err != nil {
		return nil, err
	}
	ra, err := addrJSON(rasAddr)
	if err != nil {
		return nil, err
	}
	m := map[string]any{"requestSeqNum": seq, "protocolIdentifier": ProtocolID, "rasAddress": ra}
	if gkID != "" {
		m["gatekeeperIdentifier"] = gkID
	}
	return ras("gatekeeperConfirm", m)
}

// GRJ builds a GatekeeperReject answering GRQ seq ("resourceUnavailable", "terminalExcluded",
// "invalidRevision", "undefinedReason", ...).
func GRJ(seq int, gkID, reason string) ([]byte, error) {
	seq, err := seqNum(seq)
	if err != nil {
		return nil, err
	}
	m := map[string]any{"requestSeqNum": seq, "protocolIdentifier": ProtocolID,
		"rejectReason": map[string]any{reason: nil}}
	if gkID != "" {
		m["gatekeeperIdentifier"] = gkID
	}
	return ras("gatekeeperReject", m)
}

// RegistrationAnswer is what a gatekeeper confirms in an RCF.
type RegistrationAnswer struct {
	GatekeeperID string
	EndpointID   string
	CallSignal   []netip.AddrPort
	Aliases      []Alias
	TimeToLive   int // seconds; 0 leaves it out
}

// RCF builds a RegistrationConfirm answering RRQ seq.
func RCF(seq int, a RegistrationAnswer) ([]byte, error) {
	seq, err := seqNum(seq)
	if err != nil {
		return nil, err
	}
	if a.EndpointID == "" {
		return nil, fmt.Errorf("RCF without an endpoint identifier: %w", ErrParam)
	}
	cs := make([]any, 0, len(a.CallSignal))
	for _, c := range a.CallSignal {
		j, err := addrJSON(c)
		if err != nil {
			return nil, err
		}
		cs = append(cs, j)
	}
	m := map[string]any{"requestSeqNum": seq, "protocolIdentifier": ProtocolID, "callSignalAddress": cs,
		"endpointIdentifier": a.EndpointID, "willRespondToIRR": false, "maintainConnection": false}
	if len(a.Aliases) > 0 {
		al, err := aliasesJSON(a.Aliases)
		if err != nil {
			return nil, err
		}
		m["terminalAlias"] = al
	}
	if a.GatekeeperID != "" {
		m["gatekeeperIdentifier"] = a.GatekeeperID
	}
	if a.TimeToLive > 0 {
		m["timeToLive"] = a.TimeToLive
	}
	return ras("registrationConfirm", m)
}

// RRJ builds a RegistrationReject answering RRQ seq with a reason that has no parameters
// ("discoveryRequired", "invalidAlias", "fullRegistrationRequired", "resourceUnavailable", ...).
func RRJ(seq int, gkID, reason string) ([]byte, error) {
	seq, err := seqNum(seq)
	if err != nil {
		return nil, err
	}
	m := map[string]any{"requestSeqNum": seq, "protocolIdentifier": ProtocolID,
		"rejectReason": map[string]any{reason: nil}}
	if gkID != "" {
		m["gatekeeperIdentifier"] = gkID
	}
	return ras("registrationReject", m)
}

// ACF builds an AdmissionConfirm answering ARQ seq: dest is where the call signalling goes,
// gatekeeperRouted selects the call model, bandwidth is granted in 100 bit/s.
func ACF(seq int, dest netip.AddrPort, gatekeeperRouted bool, bandwidth int) ([]byte, error) {
	seq, err := seqNum(seq)
	if err != nil {
		return nil, err
	}
	d, err := addrJSON(dest)
	if err != nil {
		return nil, err
	}
	model := "direct"
	if gatekeeperRouted {
		model = "gatekeeperRouted"
	}
	no := map[string]any{}
	for _, f := range []string{"setup", "callProceeding", "connect", "alerting", "information",
		"releaseComplete", "facility", "progress", "empty"} {
		no[f] = false
	}
	return ras("admissionConfirm", map[string]any{"requestSeqNum": seq, "bandWidth": bandwidth,
		"callModel": map[string]any{model: nil}, "destCallSignalAddress": d, "willRespondToIRR": false,
		"uuiesRequested": no})
}

// ARJ builds an AdmissionReject answering ARQ seq ("calledPartyNotRegistered",
// "requestDenied", "callerNotRegistered", "resourceUnavailable", ...).
func ARJ(seq int, reason string) ([]byte, error) {
	seq, err := seqNum(seq)
	if err != nil {
		return nil, err
	}
	return ras("admissionReject", map[string]any{"requestSeqNum": seq, "rejectReason": map[string]any{reason: nil}})
}

// GatekeeperURQ builds the UnregistrationRequest a gatekeeper sends to endpoint endpointID
// (reason "reregistrationRequired", "ttlExpired", "maintenance", ...; empty: none).
func GatekeeperURQ(seq int, endpointID string, callSignal []netip.AddrPort, reason string) ([]byte, error) {
	seq, err := seqNum(seq)
	if err != nil {
		return nil, err
	}
	cs := make([]any, 0, len(callSignal))
	for _, c := range callSignal {
		j, err := addrJSON(c)
		if err != nil {
			return nil, err
		}
		cs = append(cs, j)
	}
	m := map[string]any{"requestSeqNum": seq, "callSignalAddress": cs}
	if endpointID != "" {
		m["endpointIdentifier"] = endpointID
	}
	if reason != "" {
		m["reason"] = map[string]any{reason: nil}
	}
	return ras("unregistrationRequest", m)
}

// IRQ builds an InfoRequest: callRef 0 asks about every call of the endpoint.
func IRQ(seq, callRef int, callID GUID, reply netip.AddrPort) ([]byte, error) {
	seq, err := seqNum(seq)
	if err != nil {
		return nil, err
	}
	m := map[string]any{"requestSeqNum": seq, "callReferenceValue": callRef,
		"callIdentifier": map[string]any{"guid": fmt.Sprintf("%x", callID[:])}}
	if reply.IsValid() {
		r, err := addrJSON(reply)
		if err != nil {
			return nil, err
		}
		m["replyAddress"] = r
	}
	return ras("infoRequest", m)
}

// URJ builds an UnregistrationReject answering URQ seq ("notCurrentlyRegistered",
// "callInProgress", "undefinedReason", ...).
func URJ(seq int, reason string) ([]byte, error) {
	seq, err := seqNum(seq)
	if err != nil {
		return nil, err
	}
	return ras("unregistrationReject", map[string]any{"requestSeqNum": seq, "rejectReason": map[string]any{reason: nil}})
}

// RIP builds a RequestInProgress for request seq: the answer takes up to delay milliseconds
// more, and the requester should not retransmit meanwhile (H.225.0 RequestInProgress).
func RIP(seq, delay int) ([]byte, error) {
	seq, err := seqNum(seq)
	if err != nil {
		return nil, err
	}
	if delay < 1 || delay > 65535 {
		return nil, fmt.Errorf("RIP delay %d ms: %w", delay, ErrParam)
	}
	return ras("requestInProgress", map[string]any{"requestSeqNum": seq, "delay": delay})
}
