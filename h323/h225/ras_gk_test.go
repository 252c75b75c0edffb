package h225

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/roomgate/roomgate/h323/internal/tsharktest"
)

// gatekeeperMessages builds one of every gatekeeper-side message.
func gatekeeperMessages(t *testing.T) map[string][]byte {
	t.Helper()
	gk := netip.MustParseAddrPort("127.0.0.1:1719")
	out := map[string][]byte{}
	add := func(kind string, b []byte, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		out[kind] = b
	}
	b, err := GCF(1, "gk", gk)
	add("gatekeeperConfirm", b, err)
	b, err = GRJ(2, "gk", "resourceUnavailable")
	add("gatekeeperReject", b, err)
	b, err = RCF(3, RegistrationAnswer{GatekeeperID: "gk", EndpointID: "ep7", CallSignal: []netip.AddrPort{local},
		Aliases: []Alias{H323ID("roomgate"), Digits("4711")}, TimeToLive: 60})
	add("registrationConfirm", b, err)
	b, err = RRJ(4, "gk", "fullRegistrationRequired")
	add("registrationReject", b, err)
	b, err = ACF(5, remote, false, 1280)
	add("admissionConfirm", b, err)
	b, err = ARJ(6, "calledPartyNotRegistered")
	add("admissionReject", b, err)
	b, err = GatekeeperURQ(7, "ep7", []netip.AddrPort{local}, "maintenance")
	add("unregistrationRequest", b, err)
	b, err = IRQ(8, 0, GUID{}, gk)
	add("infoRequest", b, err)
	b, err = URJ(9, "notCurrentlyRegistered")
	add("unregistrationReject", b, err)
	b, err = RIP(10, 5000)
	add("requestInProgress", b, err)
	return out
}

func TestGatekeeperMessages(t *testing.T) {
	msgs := gatekeeperMessages(t)
	for kind, b := range msgs {
		m, err := ParseRAS(b)
		if err != nil || m.Kind != kind {
			t.Fatalf("%s parsed as %+v, %v", kind, m, err)
		}
	}
	m, _ := ParseRAS(msgs["registrationConfirm"])
	if m.EndpointID != "ep7" || m.GatekeeperID != "gk" || m.TimeToLive != 60 || m.SeqNum != 3 ||
		!slices.Equal(m.CallSignal, []netip.AddrPort{local}) || len(m.Aliases) != 2 || m.Aliases[1] != Digits("4711") {
		t.Errorf("RCF = %+v", m)
	}
	m, _ = ParseRAS(msgs["admissionConfirm"])
	if m.DestSignal != remote || m.CallModel != "direct" || m.Bandwidth != 1280 {
		t.Errorf("ACF = %+v", m)
	}
	m, _ = ParseRAS(msgs["admissionReject"])
	if m.RejectReason != "calledPartyNotRegistered" {
		t.Errorf("ARJ = %+v", m)
	}
	m, _ = ParseRAS(msgs["infoRequest"])
	if m.ReplyAddress != netip.MustParseAddrPort("127.0.0.1:1719") || m.SeqNum != 8 {
		t.Errorf("IRQ = %+v", m)
	}
	m, _ = ParseRAS(msgs["requestInProgress"])
	if m.Delay != 5000 || m.SeqNum != 10 {
		t.Errorf("RIP = %+v", m)
	}
	m, _ = ParseRAS(msgs["gatekeeperConfirm"])
	if m.RASAddress != netip.MustParseAddrPort("127.0.0.1:1719") || m.GatekeeperID != "gk" {
		t.Errorf("GCF = %+v", m)
	}
	if _, err := RCF(1, RegistrationAnswer{}); err == nil {
		t.Error("RCF without endpoint identifier built")
	}
}

// The endpoint-side fields the test gatekeeper reads come back out of ParseRAS.
func TestParseRASRequests(t *testing.T) {
	r := testRegistration()
	b, err := r.RRQ(2, false)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseRAS(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Aliases) != 2 || m.Aliases[0] != H323ID("roomgate") || len(m.RASAddresses) != 1 ||
		m.RASAddresses[0] != r.RASAddress || len(m.CallSignal) != 1 || m.CallSignal[0] != r.CallSignal {
		t.Errorf("RRQ = %+v", m)
	}
	c := CallRAS{CallRef: 77, CallID: callID, ConferenceID: confID, Answer: true, Bandwidth: 1280}
	b, err = r.ARQ(4, c, []Alias{Digits("4711")}, remote)
	if err != nil {
		t.Fatal(err)
	}
	m, _ = ParseRAS(b)
	if !m.AnswerCall || len(m.DestAliases) != 1 || m.DestAliases[0] != Digits("4711") || m.CallID != callID ||
		m.ConferenceID != confID || m.CallRef != 77 || m.DestSignal != remote {
		t.Errorf("ARQ = %+v", m)
	}
	b, _ = r.DRQ(5, c, "normalDrop")
	m, _ = ParseRAS(b)
	if !m.AnswerCall || m.RejectReason != "normalDrop" || m.CallID != callID {
		t.Errorf("DRQ = %+v", m)
	}
}

func TestTsharkDecodesGatekeeperMessages(t *testing.T) {
	var frames []tsharktest.Frame
	for _, b := range gatekeeperMessages(t) {
		frames = append(frames, tsharktest.Frame{Name: "ras", UDP: true, Payload: b})
	}
	joined := strings.Join(tsharktest.Check(t, frames), "\n")
	for _, want := range []string{"RAS: gatekeeperConfirm", "RAS: gatekeeperReject", "RAS: registrationConfirm",
		"RAS: registrationReject", "RAS: admissionConfirm", "RAS: admissionReject", "RAS: unregistrationRequest",
		"RAS: infoRequest", "RAS: unregistrationReject", "RAS: requestInProgress"} {
		if !strings.Contains(joined, want) {
			t.Errorf("tshark summary lacks %q:\n%s", want, joined)
		}
	}
}
