package ras

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/roomgate/roomgate/h323/h225"
	"github.com/roomgate/roomgate/h323/ras/rastest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testLogger() *slog.Logger {
	if os.Getenv("H323_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

var (
	gkAddr = netip.MustParseAddrPort("10.0.0.1:1719")
	epAddr = netip.MustParseAddrPort("10.0.0.2:40000")
	epCS   = netip.MustParseAddrPort("10.0.0.2:1720")
)

// memSetup starts a test gatekeeper and a client on an in-memory network;
// call it inside a synctest bubble.
func memSetup(t *testing.T, cfg Config, opts rastest.Options) (*Client, *rastest.Gatekeeper) {
	t.Helper()
	n := rastest.NewMemNet()
	gk := rastest.New(n.Listen(gkAddr), opts)
	t.Cleanup(func() { gk.Close() })
	cfg.Gatekeeper = gkAddr.String()
	cfg.PacketConn = n.Listen(epAddr)
	if cfg.Alias == "" {
		cfg.Alias = "roomgate"
	}
	cfg.CallSignal = epCS
	c, err := New(cfg, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, gk
}

// next returns the next message of kind the gatekeeper received.
func next(t *testing.T, gk *rastest.Gatekeeper, kind string) *h225.RAS {
	t.Helper()
	for {
		select {
		case r := <-gk.Received():
			if r.Msg.Kind == kind {
				return r.Msg
			}
		case <-time.After(time.Hour):
			t.Fatalf("no %s", kind)
		}
	}
}

// Registration: RRQ with our aliases, keep-alive (lightweight RRQ) at three
// quarters of the granted timeToLive, alias change re-registers in full,
// Close sends URQ.
func TestRegisterKeepAliveAliases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, gk := memSetup(t, Config{TimeToLive: 120 * time.Second}, rastest.Options{TimeToLive: 60})
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		if err := c.WaitRegistered(ctx); err != nil {
			t.Fatal(err)
		}
		rrq := next(t, gk, "registrationRequest")
		if rrq.KeepAlive || rrq.TimeToLive != 120 || len(rrq.Aliases) != 1 || rrq.Aliases[0] != h225.H323ID("roomgate") ||
			len(rrq.CallSignal) != 1 || rrq.CallSignal[0] != epCS || rrq.RASAddress != epAddr {
			t.Errorf("RRQ = %+v", rrq)
		}
		st := c.State()
		if !st.Registered || st.EndpointID != "ep1" || st.GatekeeperID != "rastest" || st.TimeToLive != time.Minute {
			t.Errorf("state %+v", st)
		}
		start := time.Now()
		ka := next(t, gk, "registrationRequest")
		if !ka.KeepAlive || ka.EndpointID != "ep1" || ka.GatekeeperID != "rastest" {
			t.Errorf("keep-alive = %+v", ka)
		}
		if el := time.Since(start); el != 45*time.Second {
			t.Errorf("keep-alive after %v, want 45s", el)
		}
		c.SetAliases([]string{"4711", "team-room", "4711", ""})
		full := next(t, gk, "registrationRequest")
		want := []h225.Alias{h225.H323ID("roomgate"), h225.Digits("4711"), h225.H323ID("team-room")}
		if full.KeepAlive || len(full.Aliases) != 3 || full.Aliases[1] != want[1] || full.Aliases[2] != want[2] {
			t.Errorf("RRQ after SetAliases = %+v", full)
		}
		synctest.Wait() // the gatekeeper has stored the registration and we have its RCF
		if st := c.Stats(); st.Registrations != 2 {
			t.Errorf("full registrations %d, want 2", st.Registrations)
		}
		if e, ok := gk.Lookup("4711"); !ok || e.CallSignal[0] != epCS {
			t.Errorf("gatekeeper resolves 4711 to %+v, %v", e, ok)
		}
		c.SetAliases([]string{"team-room", "4711"}) // same set: no new RRQ
		synctest.Wait()
		if n := gk.Count("registrationRequest"); n != 3 {
			t.Errorf("%d RRQs after an unchanged alias list, want 3", n)
		}
		c.Close()
		if gk.Count("unregistrationRequest") != 1 || len(gk.Endpoints()) != 0 {
			t.Errorf("Close: %d URQs, endpoints %+v", gk.Count("unregistrationRequest"), gk.Endpoints())
		}
	})
}

// Lost requests are retransmitted with the same sequence number after 3 s,
// twice; a gatekeeper that stays silent is tried again with backoff.
func TestRetransmitAndBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := rastest.NewMemNet()
		gk := rastest.New(n.Listen(gkAddr), rastest.Options{})
		defer gk.Close()
		gk.DropNext("registrationRequest", 5)
		c, err := New(Config{Gatekeeper: gkAddr.String(), Alias: "rg", CallSignal: epCS, PacketConn: n.Listen(epAddr),
			MinBackoff: 10 * time.Second, MaxBackoff: 40 * time.Second}, testLogger())
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := c.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var seqs []int
		var at []time.Duration
		for range 6 {
			m := next(t, gk, "registrationRequest")
			seqs = append(seqs, m.SeqNum)
			at = append(at, time.Since(start))
		}
		if err := c.WaitRegistered(t.Context()); err != nil {
			t.Fatal(err)
		}
		// 0, 3, 6 s: one request three times; 9 s timeout + 10 s backoff = 19 s: a new request.
		want := []time.Duration{0, 3 * time.Second, 6 * time.Second, 19 * time.Second, 22 * time.Second, 25 * time.Second}
		for i := range want {
			if at[i] != want[i] {
				t.Fatalf("RRQ times %v, want %v", at, want)
			}
		}
		if seqs[0] != seqs[1] || seqs[1] != seqs[2] || seqs[3] == seqs[2] || seqs[3] != seqs[5] {
			t.Errorf("sequence numbers %v", seqs)
		}
		if st := c.Stats(); st.Retransmits != 4 || st.Registrations != 1 {
			t.Errorf("stats %+v", st)
		}
	})
}

// RRJ and a failed keep-alive lead to a new full registration; RRJ
// discoveryRequired leads to GRQ first.
func TestReRegisterOnReject(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := rastest.NewMemNet()
		gk := rastest.New(n.Listen(gkAddr), rastest.Options{TimeToLive: 40, ID: "gk-a"})
		defer gk.Close()
		gk.RejectNext("registrationRequest", "discoveryRequired")
		c, err := New(Config{Gatekeeper: gkAddr.String(), Alias: "rg", CallSignal: epCS, PacketConn: n.Listen(epAddr),
			MinBackoff: 5 * time.Second}, testLogger())
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.WaitRegistered(t.Context()); err != nil {
			t.Fatal(err)
		}
		if gk.Count("gatekeeperRequest") != 1 || gk.Count("registrationRequest") != 2 {
			t.Errorf("GRQ %d, RRQ %d", gk.Count("gatekeeperRequest"), gk.Count("registrationRequest"))
		}
		// The keep-alive is refused: a full RRQ follows at once.
		gk.RejectNext("registrationRequest", "fullRegistrationRequired")
		next(t, gk, "registrationRequest") // refused for discovery
		next(t, gk, "registrationRequest") // accepted
		if ka := next(t, gk, "registrationRequest"); !ka.KeepAlive {
			t.Fatalf("want the keep-alive, got %+v", ka)
		}
		start := time.Now()
		m := next(t, gk, "registrationRequest")
		if m.KeepAlive || time.Since(start) != 0 {
			t.Errorf("after a refused keep-alive: %+v after %v", m, time.Since(start))
		}
		if err := c.WaitRegistered(t.Context()); err != nil {
			t.Fatal(err)
		}
		if c.State().EndpointID != "ep2" {
			t.Errorf("state %+v", c.State())
		}
	})
}

// Discovery first when configured; RequestInProgress extends the wait.
func TestDiscoverAndRequestInProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := rastest.NewMemNet()
		gk := rastest.New(n.Listen(gkAddr), rastest.Options{ID: "gk-b"})
		defer gk.Close()
		gk.DelayNext("registrationRequest", 20000)
		c, err := New(Config{Gatekeeper: gkAddr.String(), Alias: "rg", CallSignal: epCS, PacketConn: n.Listen(epAddr),
			Discover: true}, testLogger())
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := c.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.WaitRegistered(t.Context()); err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el != 10*time.Second {
			t.Errorf("registered after %v, want 10s (RIP 20 s, answer at half)", el)
		}
		if gk.Count("gatekeeperRequest") != 1 || gk.Count("registrationRequest") != 1 || c.Stats().Retransmits != 0 {
			t.Errorf("GRQ %d RRQ %d stats %+v", gk.Count("gatekeeperRequest"), gk.Count("registrationRequest"), c.Stats())
		}
		if c.State().GatekeeperID != "gk-b" {
			t.Errorf("state %+v", c.State())
		}
	})
}

// The gatekeeper's URQ is confirmed and the client registers again later.
func TestGatekeeperURQ(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, gk := memSetup(t, Config{MinBackoff: 7 * time.Second}, rastest.Options{})
		if err := c.WaitRegistered(t.Context()); err != nil {
			t.Fatal(err)
		}
		id := c.State().EndpointID
		m, err := gk.Unregister(id, "maintenance", time.Second)
		if err != nil || m.Kind != "unregistrationConfirm" {
			t.Fatalf("URQ answered %+v, %v", m, err)
		}
		synctest.Wait()
		if c.State().Registered {
			t.Error("still registered after URQ")
		}
		start := time.Now()
		if err := c.WaitRegistered(t.Context()); err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el != 7*time.Second {
			t.Errorf("registered again after %v, want the backoff 7s", el)
		}
		// A URQ for another endpoint is refused.
		gkEP := c.State().EndpointID
		if _, err := gk.Unregister("nobody", "", time.Second); err == nil {
			t.Error("URQ for an unknown endpoint answered")
		}
		if !c.State().Registered || c.State().EndpointID != gkEP {
			t.Errorf("state %+v", c.State())
		}
	})
}

// ARQ/ACF by alias, IRQ lists the call, DRQ after the call; the
// gatekeeper's DRQ drops the call; ARJ is a *RejectError.
func TestAdmission(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := rastest.NewMemNet()
		gk := rastest.New(n.Listen(gkAddr), rastest.Options{})
		defer gk.Close()
		start := func(addr, cs netip.AddrPort, alias string, ids ...string) *Client {
			c, err := New(Config{Gatekeeper: gkAddr.String(), Alias: alias, CallSignal: cs, PacketConn: n.Listen(addr)}, testLogger())
			if err != nil {
				t.Fatal(err)
			}
			c.SetAliases(ids)
			if err := c.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			if err := c.WaitRegistered(t.Context()); err != nil {
				t.Fatal(err)
			}
			return c
		}
		a := start(epAddr, epCS, "a")
		bCS := netip.MustParseAddrPort("10.0.0.3:1720")
		b := start(netip.MustParseAddrPort("10.0.0.3:40000"), bCS, "b", "4711")

		call := Admission{CallRef: 9, CallID: h225.GUID{1}, ConferenceID: h225.GUID{2}, Dest: []h225.Alias{h225.Digits("4711")}}
		dropped := make(chan struct{})
		call.Drop = func() { close(dropped) }
		ok, err := a.Admit(t.Context(), call)
		if err != nil || ok.DestSignal != bCS || ok.CallModel != "direct" {
			t.Fatalf("Admit = %+v, %v", ok, err)
		}
		arq := next(t, gk, "admissionRequest")
		if arq.AnswerCall || arq.CallRef != 9 || arq.Bandwidth != DefaultBandwidth || arq.EndpointID != a.State().EndpointID {
			t.Errorf("ARQ %+v", arq)
		}
		ans, err := b.Admit(t.Context(), Admission{CallRef: 9, CallID: h225.GUID{1}, ConferenceID: h225.GUID{2}, Answer: true})
		if err != nil || ans.DestSignal != bCS {
			t.Fatalf("answer Admit = %+v, %v", ans, err)
		}
		irr, err := gk.InfoRequest(a.State().EndpointID, time.Second)
		if err != nil || irr.Kind != "infoRequestResponse" {
			t.Fatalf("IRQ answered %+v, %v", irr, err)
		}
		// The gatekeeper ends a's call: DCF and Drop.
		m, err := gk.Disengage(a.State().EndpointID, 9, h225.GUID{1}, h225.GUID{2}, time.Second)
		if err != nil || m.Kind != "disengageConfirm" {
			t.Fatalf("DRQ answered %+v, %v", m, err)
		}
		<-dropped
		a.Disengage(call) // already ended by the gatekeeper: no DRQ
		b.Disengage(Admission{CallRef: 9, CallID: h225.GUID{1}, ConferenceID: h225.GUID{2}, Answer: true})
		drq := next(t, gk, "disengageRequest")
		if !drq.AnswerCall || drq.CallID != (h225.GUID{1}) || drq.RejectReason != "normalDrop" {
			t.Errorf("DRQ %+v", drq)
		}
		synctest.Wait()
		if n := gk.Count("disengageRequest"); n != 1 {
			t.Errorf("%d DRQs, want 1", n)
		}
		_, err = a.Admit(t.Context(), Admission{CallRef: 10, CallID: h225.GUID{3}, Dest: []h225.Alias{h225.Digits("999")}})
		var rj *RejectError
		if !errors.As(err, &rj) || rj.Reason != "calledPartyNotRegistered" || !errors.Is(err, ErrRejected) {
			t.Errorf("ARQ to an unknown alias: %v", err)
		}
	})
}

func TestAdmitNotRegistered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := rastest.NewMemNet() // no gatekeeper listens
		c, err := New(Config{Gatekeeper: gkAddr.String(), Alias: "rg", CallSignal: epCS, PacketConn: n.Listen(epAddr)}, testLogger())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Admit(t.Context(), Admission{}); !errors.Is(err, ErrClosed) {
			t.Errorf("Admit before Start: %v", err)
		}
		if err := c.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Admit(t.Context(), Admission{}); !errors.Is(err, ErrNotRegistered) {
			t.Errorf("Admit unregistered: %v", err)
		}
		c.Close()
		if err := c.WaitRegistered(t.Context()); !errors.Is(err, ErrClosed) {
			t.Errorf("WaitRegistered after Close: %v", err)
		}
	})
}

func TestConfig(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Gatekeeper: "gk", Alias: "", CallSignal: epCS},
		{Gatekeeper: "gk", Alias: "a", CallSignal: netip.MustParseAddrPort("127.0.0.1:0")},
		{Gatekeeper: "gk:99999", Alias: "a", CallSignal: epCS},
		{Gatekeeper: "g k", Alias: "a", CallSignal: epCS},
		{Gatekeeper: "gk", Alias: "a", CallSignal: epCS, MinBackoff: time.Minute, MaxBackoff: time.Second},
	} {
		if _, err := New(cfg, nil); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v", cfg, err)
		}
	}
	c, err := New(Config{Gatekeeper: "127.0.0.1", Alias: "a"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); !errors.Is(err, ErrConfig) {
		t.Errorf("Start without a call signalling address: %v", err)
	}
	if err := c.SetCallSignal(netip.AddrPort{}); !errors.Is(err, ErrConfig) {
		t.Errorf("SetCallSignal(zero): %v", err)
	}
	if err := c.SetCallSignal(epCS); err != nil {
		t.Fatal(err)
	}
	if h, p, err := splitHostPort("[::1]:1800"); err != nil || h != "::1" || p != 1800 {
		t.Errorf("split: %s %d %v", h, p, err)
	}
	if h, p, err := splitHostPort("gk.example"); err != nil || h != "gk.example" || p != DefaultPort {
		t.Errorf("split: %s %d %v", h, p, err)
	}
}

// Over real UDP on loopback, with the unspecified listen address replaced
// by the route's local IP.
func TestRealUDP(t *testing.T) {
	gk, err := rastest.Listen("127.0.0.1:0", rastest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer gk.Close()
	c, err := New(Config{Gatekeeper: gk.Addr().String(), Alias: "rg", CallSignal: netip.MustParseAddrPort("0.0.0.0:1720"),
		Listen: "127.0.0.1:0"}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitRegistered(ctx); err != nil {
		t.Fatal(err)
	}
	eps := gk.Endpoints()
	if len(eps) != 1 || eps[0].CallSignal[0] != netip.MustParseAddrPort("127.0.0.1:1720") || eps[0].RAS != c.LocalAddr() {
		t.Errorf("registered %+v, local %v", eps, c.LocalAddr())
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if len(gk.Endpoints()) != 0 {
		t.Error("still registered after Close")
	}
}

// Requests from anyone but the gatekeeper are ignored: a stranger cannot
// unregister us.
func TestStrangerURQIgnored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := rastest.NewMemNet()
		gk := rastest.New(n.Listen(gkAddr), rastest.Options{})
		defer gk.Close()
		c, err := New(Config{Gatekeeper: gkAddr.String(), Alias: "rg", CallSignal: epCS, PacketConn: n.Listen(epAddr)}, testLogger())
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.WaitRegistered(t.Context()); err != nil {
			t.Fatal(err)
		}
		stranger := n.Listen(netip.MustParseAddrPort("10.9.9.9:1719"))
		defer stranger.Close()
		urq, err := h225.GatekeeperURQ(1, c.State().EndpointID, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := stranger.WriteTo(urq, net.UDPAddrFromAddrPort(epAddr)); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if !c.State().Registered || c.Stats().Unmatched != 1 {
			t.Errorf("state %+v stats %+v", c.State(), c.Stats())
		}
	})
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	synctest.Test(t, func(t *testing.T) {
		n := rastest.NewMemNet()
		gk := rastest.New(n.Listen(gkAddr), rastest.Options{})
		defer gk.Close()
		gk.DropNext("registrationRequest", 1)
		c, err := New(Config{Gatekeeper: gkAddr.String(), Alias: "rg", CallSignal: epCS, PacketConn: n.Listen(epAddr),
			Registerer: reg}, testLogger())
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.WaitRegistered(t.Context()); err != nil {
			t.Fatal(err)
		}
		want := map[string]float64{"roomgate_h323_ras_sent_total": 2, "roomgate_h323_ras_retransmits_total": 1,
			"roomgate_h323_ras_registrations_total": 1, "roomgate_h323_ras_registered": 1}
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			m := mf.GetMetric()[0]
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			if w, ok := want[mf.GetName()]; ok && v != w {
				t.Errorf("%s = %v, want %v", mf.GetName(), v, w)
			}
		}
		if _, err := New(Config{Gatekeeper: gkAddr.String(), Alias: "rg", CallSignal: epCS, Registerer: reg}, nil); err == nil {
			t.Error("second client on one registry")
		}
	})
}
