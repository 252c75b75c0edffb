package h225

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/roomgate/roomgate/h323/internal/tsharktest"
	"github.com/roomgate/roomgate/h323/internal/vectors"
	"github.com/roomgate/roomgate/h323/q931"
	"github.com/roomgate/roomgate/h323/tpkt"
)

var (
	us = Endpoint{Role: RoleMCU, Vendor: Vendor{T35Country: 181, Manufacturer: 0x5247,
		ProductID: "Roomgate", VersionID: "1.0"}}
	callID = GUID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	confID = GUID{16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}
	local  = netip.MustParseAddrPort("127.0.0.1:1720")
	remote = netip.MustParseAddrPort("127.0.0.1:1722")
)

func newCall() *Call {
	return &Call{Endpoint: us, CallID: callID, ConferenceID: confID, Tunnelling: true}
}

func TestSetupRoundTrip(t *testing.T) {
	c := newCall()
	c.FastStart = [][]byte{{0x00, 0x00, 0x01}}
	c.H245 = [][]byte{{0x02, 0x70}}
	uu, err := c.Setup(SetupInfo{Source: []Alias{H323ID("room"), Digits("1234")}, Dest: []Alias{H323ID("conf")},
		SourceSignal: local, DestSignal: remote})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(uu)
	if err != nil {
		t.Fatal(err)
	}
	if m.Body != BodySetup || m.ProtocolID != ProtocolID || !m.Tunnelling || m.CallID != callID ||
		m.ConferenceID != confID || m.Reason != "create" || m.DestSignal != remote || m.SourceSignal != local {
		t.Fatalf("parsed Setup = %+v", m)
	}
	if len(m.Source) != 2 || m.Source[1] != Digits("1234") || m.Dest[0] != H323ID("conf") {
		t.Errorf("aliases = %+v / %+v", m.Source, m.Dest)
	}
	if m.Vendor.ProductID != "Roomgate" || m.Vendor.Manufacturer != 0x5247 {
		t.Errorf("vendor = %+v", m.Vendor)
	}
	if len(m.FastStart) != 1 || len(m.H245) != 1 || !bytes.Equal(m.H245[0], []byte{0x02, 0x70}) {
		t.Errorf("fastStart %x, H.245 %x", m.FastStart, m.H245)
	}
	if _, err := c.Setup(SetupInfo{Dest: []Alias{Digits("12a")}}); err == nil {
		t.Error("letter in dialedDigits accepted")
	}
}

func TestResponses(t *testing.T) {
	c := newCall()
	c.H245Address = netip.MustParseAddrPort("[::1]:5000")
	for _, tc := range []struct {
		body  Body
		build func() ([]byte, error)
	}{
		{BodyCallProceeding, c.CallProceeding}, {BodyAlerting, c.Alerting}, {BodyConnect, c.Connect},
		{BodyProgress, c.Progress}, {BodyInformation, c.Information}, {BodyStatus, c.Status},
		{BodyStatusInquiry, c.StatusInquiry}, {BodyEmpty, c.Empty},
	} {
		uu, err := tc.build()
		if err != nil {
			t.Fatalf("%s: %v", tc.body, err)
		}
		m, err := Parse(uu)
		if err != nil {
			t.Fatalf("%s: %v", tc.body, err)
		}
		if m.Body != tc.body || !m.Tunnelling {
			t.Errorf("%s parsed as %+v", tc.body, m)
		}
		if tc.body == BodyConnect && (m.H245Address != c.H245Address || m.ConferenceID != confID) {
			t.Errorf("connect h245Address %v conf %x", m.H245Address, m.ConferenceID)
		}
	}
	uu, err := c.Facility("callForwarded", remote, []Alias{H323ID("other")})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := Parse(uu)
	if m.Reason != "callForwarded" || m.AlternativeAddress != remote || m.AlternativeAliases[0].Value != "other" {
		t.Errorf("facility = %+v", m)
	}
	uu, err = c.ReleaseComplete(ReasonForCause(q931.CauseCallRejected))
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := Parse(uu); m.Reason != "destinationRejection" {
		t.Errorf("release reason = %q", m.Reason)
	}
	if _, err := c.Facility("bogus", netip.AddrPort{}, nil); !errors.Is(err, ErrParam) {
		t.Errorf("bogus facility reason: %v", err)
	}
	if _, err := c.ReleaseComplete("nonStandardReason"); !errors.Is(err, ErrParam) {
		t.Errorf("non-NULL release reason: %v", err)
	}
}

func TestParseCapturedSetup(t *testing.T) {
	for _, v := range vectors.Load(t, "uuie") {
		if v.Capture != "h323plus-fast-h245insetup.pcapng" || v.Frame != "4" {
			continue
		}
		m, err := Parse(v.Data)
		if err != nil {
			t.Fatal(err)
		}
		if m.Body != BodySetup || len(m.FastStart) != 14 || len(m.H245) != 2 || m.Vendor.ProductID != "H323Plus simple" ||
			m.Source[0].Value != "caller" || m.DestSignal.Port() != 1720 {
			t.Fatalf("captured Setup = %+v (fastStart %d, H.245 %d)", m, len(m.FastStart), len(m.H245))
		}
		return
	}
	t.Fatal("captured Setup not found")
}

func testRegistration() *Registration {
	return &Registration{Endpoint: us, RASAddress: netip.MustParseAddrPort("127.0.0.1:1718"), CallSignal: local,
		Aliases: []Alias{H323ID("roomgate"), Digits("2098")}, GatekeeperID: "gk", EndpointID: "ep1", TimeToLive: 300}
}

func TestRAS(t *testing.T) {
	r := testRegistration()
	c := CallRAS{CallRef: 77, CallID: callID, ConferenceID: confID, Bandwidth: 7680}
	for _, tc := range []struct {
		kind  string
		build func() ([]byte, error)
	}{
		{"gatekeeperRequest", func() ([]byte, error) { return r.GRQ(1) }},
		{"registrationRequest", func() ([]byte, error) { return r.RRQ(2, false) }},
		{"registrationRequest", func() ([]byte, error) { return r.RRQ(3, true) }},
		{"admissionRequest", func() ([]byte, error) { return r.ARQ(4, c, []Alias{H323ID("conf")}, remote) }},
		{"bandwidthRequest", func() ([]byte, error) { return r.BRQ(5, c) }},
		{"disengageRequest", func() ([]byte, error) { return r.DRQ(6, c, "normalDrop") }},
		{"infoRequestResponse", func() ([]byte, error) { return r.IRR(7, []CallRAS{c}, remote) }},
		{"unregistrationRequest", func() ([]byte, error) { return r.URQ(8) }},
		{"unregistrationConfirm", func() ([]byte, error) { return UCF(9) }},
		{"disengageConfirm", func() ([]byte, error) { return DCF(10) }},
		{"bandwidthConfirm", func() ([]byte, error) { return BCF(11, 3840) }},
	} {
		b, err := tc.build()
		if err != nil {
			t.Fatalf("%s: %v", tc.kind, err)
		}
		m, err := ParseRAS(b)
		if err != nil || m.Kind != tc.kind {
			t.Fatalf("%s parsed as %+v, %v", tc.kind, m, err)
		}
	}
	b, _ := r.RRQ(9, true)
	m, _ := ParseRAS(b)
	if !m.KeepAlive || m.EndpointID != "ep1" || m.GatekeeperID != "gk" || m.TimeToLive != 300 || m.SeqNum != 9 {
		t.Errorf("lightweight RRQ = %+v", m)
	}
	if _, err := r.GRQ(0); !errors.Is(err, ErrParam) {
		t.Errorf("seq 0: %v", err)
	}
	if _, err := (&Registration{Endpoint: us, RASAddress: local, CallSignal: local}).RRQ(1, true); !errors.Is(err, ErrParam) {
		t.Errorf("lightweight RRQ without identifiers: %v", err)
	}
}

func TestParseCapturedRAS(t *testing.T) {
	found := map[string]bool{}
	for _, v := range vectors.Load(t, "ras") {
		if v.Malformed() {
			if _, err := ParseRAS(v.Data); err == nil {
				t.Errorf("%s: malformed RAS parsed", v.Name())
			}
			continue
		}
		m, err := ParseRAS(v.Data)
		if err != nil {
			t.Fatalf("%s: %v", v.Name(), err)
		}
		switch {
		case m.Kind == "admissionConfirm" && v.Capture == "h323plus-gk-direct.pcapng":
			if m.CallModel != "direct" || !m.DestSignal.IsValid() {
				t.Errorf("%s: ACF = %+v", v.Name(), m)
			}
			found["acf"] = true
		case m.Kind == "registrationConfirm" && v.Capture == "h323plus-gk-routed.pcapng":
			if m.EndpointID == "" || m.GatekeeperID != "GnuGk-loopback" || m.TimeToLive != 60 {
				t.Errorf("%s: RCF = %+v", v.Name(), m)
			}
			found["rcf"] = true
		case m.Kind == "registrationRequest" && m.KeepAlive:
			found["lightweight"] = true
		}
	}
	if len(found) != 3 {
		t.Errorf("expected ACF, RCF and lightweight RRQ among the vectors, found %v", found)
	}
}

// TestTsharkDecodesBuiltMessages is the independent check: every message built here is framed
// as it goes on the wire and dissected by tshark without a malformed or expert-error field.
func TestTsharkDecodesBuiltMessages(t *testing.T) {
	var frames []tsharktest.Frame
	c := newCall()
	c.FastStart = nil
	add := func(name string, b Body, uu []byte, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		m, err := Wrap(b, 0x1234, b != BodySetup, uu, "Roomgate", q931.CauseNormalClearing)
		if err != nil {
			t.Fatal(err)
		}
		q, err := m.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		frame, err := tpkt.Append(nil, q)
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, tsharktest.Frame{Name: name, Payload: frame})
	}
	uu, err := c.Setup(SetupInfo{Source: []Alias{H323ID("room"), Digits("2098")}, Dest: []Alias{H323ID("conf")},
		SourceSignal: remote, DestSignal: local})
	add("setup", BodySetup, uu, err)
	uu, err = c.CallProceeding()
	add("callProceeding", BodyCallProceeding, uu, err)
	uu, err = c.Alerting()
	add("alerting", BodyAlerting, uu, err)
	c.H245Address = netip.MustParseAddrPort("127.0.0.1:5001")
	uu, err = c.Connect()
	add("connect", BodyConnect, uu, err)
	uu, err = c.Progress()
	add("progress", BodyProgress, uu, err)
	uu, err = c.Facility("startH245", netip.AddrPort{}, nil)
	add("facility startH245", BodyFacility, uu, err)
	uu, err = c.Facility("callForwarded", remote, []Alias{H323ID("elsewhere")})
	add("facility forwarded", BodyFacility, uu, err)
	uu, err = c.Empty()
	add("empty", BodyEmpty, uu, err)
	uu, err = c.Information()
	add("information", BodyInformation, uu, err)
	uu, err = c.StatusInquiry()
	add("statusInquiry", BodyStatusInquiry, uu, err)
	uu, err = c.Status()
	add("status", BodyStatus, uu, err)
	uu, err = c.ReleaseComplete("undefinedReason")
	add("releaseComplete", BodyReleaseComplete, uu, err)

	r := testRegistration()
	cr := CallRAS{CallRef: 0x1234, CallID: callID, ConferenceID: confID, Bandwidth: 7680}
	for _, b := range []func() ([]byte, error){
		func() ([]byte, error) { return r.GRQ(1) },
		func() ([]byte, error) { return r.RRQ(2, false) },
		func() ([]byte, error) { return r.RRQ(3, true) },
		func() ([]byte, error) { return r.ARQ(4, cr, []Alias{H323ID("conf")}, local) },
		func() ([]byte, error) { return r.BRQ(5, cr) },
		func() ([]byte, error) { return r.DRQ(6, cr, "normalDrop") },
		func() ([]byte, error) { return r.IRR(7, []CallRAS{cr}, local) },
		func() ([]byte, error) { return r.URQ(8) },
		func() ([]byte, error) { return UCF(9) },
		func() ([]byte, error) { return DCF(10) },
		func() ([]byte, error) { return BCF(11, 3840) },
	} {
		p, err := b()
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, tsharktest.Frame{Name: "ras", UDP: true, Payload: p})
	}
	lines := tsharktest.Check(t, frames)
	joined := strings.Join(lines, "\n")
	for _, want := range []string{"CS: setup", "CS: callProceeding", "CS: alerting", "CS: connect", "CS: progress",
		"CS: facility", "CS: empty", "CS: information", "CS: statusInquiry", "CS: status", "CS: releaseComplete",
		"RAS: gatekeeperRequest", "RAS: registrationRequest", "RAS: admissionRequest", "RAS: bandwidthRequest",
		"RAS: disengageRequest", "RAS: infoRequestResponse", "RAS: unregistrationRequest",
		"RAS: unregistrationConfirm", "RAS: disengageConfirm", "RAS: bandwidthConfirm"} {
		if !strings.Contains(joined, want) {
			t.Errorf("tshark summary lacks %q:\n%s", want, joined)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, v := range vectors.Load(f, "uuie") {
		f.Add(false, v.Data)
	}
	for _, v := range vectors.Load(f, "ras") {
		f.Add(true, v.Data)
	}
	f.Fuzz(func(t *testing.T, isRAS bool, b []byte) {
		if isRAS {
			_, _ = ParseRAS(b)
			return
		}
		_, _ = Parse(b)
	})
}
