package call

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/roomgate/roomgate/h323/h225"
	"github.com/roomgate/roomgate/h323/h245"
	"github.com/roomgate/roomgate/h323/internal/tsharktest"
	"github.com/roomgate/roomgate/h323/q931"
)

// The Setup we send carries destCallSignalAddress, our fastStart proposals,
// H.245 in Setup, the Display IE and the Called party number, and dissects
// cleanly; a busy callee comes back as cause 17.
func TestDialSetupContentAndBusy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		err error
	}
	res := make(chan result, 1)
	go func() {
		_, err := Dial(context.Background(), "h323:8000@"+ln.Addr().String(), DialOptions{Media: &fakeMedia{}, Room: "r",
			FastStart: true, Tunnelling: true, H245InSetup: true, DisplayName: "Roomgate out", Source: "roomgate",
			Codecs: []string{"G722", "PCMA"}})
		res <- result{err}
	}()
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	p := newRawPeer(t, conn)
	q, uu, ok := p.recv()
	if !ok || q.Type != q931.Setup || q.FromDestination {
		t.Fatalf("got %+v", q)
	}
	if !uu.DestSignal.IsValid() || uu.DestSignal.String() != ln.Addr().String() {
		t.Errorf("destCallSignalAddress %v", uu.DestSignal)
	}
	if q.Display() != "Roomgate out" || len(uu.Source) != 1 || uu.Source[0].Value != "roomgate" {
		t.Errorf("display %q source %+v", q.Display(), uu.Source)
	}
	if ie, ok := q.Get(q931.IECalledNumber); !ok {
		t.Error("no Called party number")
	} else if n, err := q931.ParsePartyNumber(ie.Data); err != nil || n.Digits != "8000" {
		t.Errorf("called number %+v %v", n, err)
	}
	if len(uu.FastStart) != 4 || !uu.Tunnelling || len(uu.H245) != 2 {
		t.Errorf("fastStart %d tunnelling %v H.245 %d", len(uu.FastStart), uu.Tunnelling, len(uu.H245))
	}
	for i, b := range uu.FastStart {
		o, err := h245.ParseOLC(b)
		if err != nil {
			t.Fatal(err)
		}
		if o.Reverse != (i%2 == 0) || (o.Reverse && !o.Media.IsValid()) || !o.MediaControl.IsValid() {
			t.Errorf("proposal %d: %+v", i, o)
		}
	}
	for i, want := range []string{"terminalCapabilitySet", "masterSlaveDetermination"} {
		if m, err := h245.Parse(uu.H245[i]); err != nil || m.Kind != want {
			t.Errorf("H.245 in Setup %d: %+v %v", i, m, err)
		}
	}
	c := &h225.Call{Endpoint: h225.Endpoint{Role: h225.RoleTerminal}, CallID: uu.CallID, ConferenceID: uu.ConferenceID, Tunnelling: true}
	rc, err := c.ReleaseComplete("inConf")
	if err != nil {
		rc, err = c.ReleaseComplete("adaptiveBusy")
	}
	if err != nil {
		t.Fatal(err)
	}
	m, err := h225.Wrap(h225.BodyReleaseComplete, q.CallRef, true, rc, "", q931.CauseUserBusy)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := m.AppendBinary(nil)
	p.sendRaw(raw)
	r := <-res
	var ce *CauseError
	if !errors.As(r.err, &ce) || ce.Cause != q931.CauseUserBusy || !errors.Is(r.err, ErrRejected) {
		t.Errorf("Dial error %v", r.err)
	}
	tsharktest.Check(t, []tsharktest.Frame{{Name: "our Setup", Payload: p.got[0]}})
}

// A callee that never answers is released after ConnectTimeout (fake time).
func TestDialNoAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ours, theirs := net.Pipe()
		defer theirs.Close()
		go func() {
			buf := make([]byte, 4096)
			for {
				if _, err := theirs.Read(buf); err != nil {
					return
				}
			}
		}()
		start := time.Now()
		_, err := Dial(context.Background(), "h323:1@192.0.2.1", DialOptions{Media: &fakeMedia{}, Room: "r",
			ConnectTimeout: 45 * time.Second, netDial: func(context.Context, string, string) (net.Conn, error) { return ours, nil }})
		if !errors.Is(err, ErrTimeout) || !errors.Is(err, ErrNoAnswer) || causeOf(err) != q931.CauseNoAnswer {
			t.Errorf("Dial error %v", err)
		}
		if d := time.Since(start); d != 45*time.Second {
			t.Errorf("gave up after %v", d)
		}
	})
}

// calleeAnswer sends a Connect from a raw callee on p.
func calleeAnswer(t *testing.T, p *rawPeer, setup *q931.Message, in *h225.Message, fast [][]byte) {
	t.Helper()
	c := &h225.Call{Endpoint: h225.Endpoint{Role: h225.RoleTerminal}, CallID: in.CallID, ConferenceID: in.ConferenceID, FastStart: fast}
	b, err := c.Connect()
	if err != nil {
		t.Fatal(err)
	}
	m, err := h225.Wrap(h225.BodyConnect, setup.CallRef, true, b, "callee", 0)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := m.AppendBinary(nil)
	p.sendRaw(raw)
}

// Without any H.245 session (Fast Connect, no tunnelling, no h245Address) our
// digits go as Q.931 Keypad in Information; without Fast Connect and H.245
// address we offer ours with Facility startH245. Both dissect cleanly.
func TestDialKeypadAndStartH245(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var frames []tsharktest.Frame

	// 1. Fast Connect without H.245: Keypad.
	done := make(chan *Call, 1)
	go func() {
		c, err := Dial(context.Background(), ln.Addr().String()+"##9", DialOptions{Media: &fakeMedia{}, Room: "r", FastStart: true})
		if err != nil {
			t.Error(err)
		}
		done <- c
	}()
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	p := newRawPeer(t, conn)
	setup, in, ok := p.recv()
	if !ok || in.Tunnelling {
		t.Fatalf("Setup %+v", in)
	}
	ac := h245.AudioCap{Codec: h245.G722, Frames: 20}
	media := netipMust("127.0.0.1:7000")
	fwd, err := h245.FastStartAnswer(h245.Channel{Number: 101, SessionID: 1, Audio: &ac, Media: media, MediaControl: netipMust("127.0.0.1:7001")})
	if err != nil {
		t.Fatal(err)
	}
	rev, err := h245.FastStartAnswer(h245.Channel{Number: 5, SessionID: 1, Audio: &ac, Reverse: true, MediaControl: netipMust("127.0.0.1:7001")})
	if err != nil {
		t.Fatal(err)
	}
	calleeAnswer(t, p, setup, in, [][]byte{rev, fwd})
	c := <-done
	if c == nil {
		t.FailNow()
	}
	if !c.FastStart() || c.Codec() != "G722" {
		t.Errorf("fast start %v codec %s", c.FastStart(), c.Codec())
	}
	if err := c.SendDigits(context.Background(), "4*"); err != nil {
		t.Fatal(err)
	}
	q, _, ok := p.recv()
	if !ok || q.Type != q931.Information {
		t.Fatalf("digits sent as %+v", q)
	}
	if d, ok := q.Keypad(); !ok || d != "4*" {
		t.Errorf("keypad %q", d)
	}
	c.Close()
	if q, _, ok := p.recv(); !ok || q.Type != q931.ReleaseComplete {
		t.Fatalf("hangup sent %+v", q)
	}
	conn.Close()
	for i, b := range p.got {
		frames = append(frames, tsharktest.Frame{Name: fmt.Sprint("keypad call ", i), Payload: b})
	}

	// 2. Slow start without tunnelling or h245Address: Facility startH245.
	go func() {
		_, err := Dial(context.Background(), ln.Addr().String(), DialOptions{Media: &fakeMedia{}, Room: "r"})
		var ce *CauseError
		if !errors.As(err, &ce) || ce.Cause != q931.CauseNormalClearing {
			t.Errorf("Dial error %v", err)
		}
		done <- nil
	}()
	conn, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	p = newRawPeer(t, conn)
	setup, in, _ = p.recv()
	calleeAnswer(t, p, setup, in, nil)
	q, uu, ok := p.recv()
	if !ok || q.Type != q931.Facility || uu.Reason != "startH245" || !uu.H245Address.IsValid() {
		t.Fatalf("after Connect: %+v %+v", q, uu)
	}
	h, err := net.Dial("tcp", uu.H245Address.String())
	if err != nil {
		t.Fatalf("connecting to the offered H.245 address: %v", err)
	}
	h.Close()
	c2 := &h225.Call{Endpoint: h225.Endpoint{Role: h225.RoleTerminal}, CallID: in.CallID, ConferenceID: in.ConferenceID}
	rc, _ := c2.ReleaseComplete("undefinedReason")
	m, _ := h225.Wrap(h225.BodyReleaseComplete, setup.CallRef, true, rc, "", q931.CauseNormalClearing)
	raw, _ := m.AppendBinary(nil)
	p.sendRaw(raw)
	<-done
	for i, b := range p.got {
		frames = append(frames, tsharktest.Frame{Name: fmt.Sprint("startH245 call ", i), Payload: b})
	}
	for _, l := range tsharktest.Check(t, frames) {
		t.Log(l)
	}
}

func netipMust(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
