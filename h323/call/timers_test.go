package call

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/h323/h225"
	"github.com/roomgate/roomgate/h323/h245"
	"github.com/roomgate/roomgate/h323/internal/tsharktest"
	"github.com/roomgate/roomgate/h323/q931"
	"github.com/roomgate/roomgate/h323/tpkt"
)

// received is one message the server sent to a pipe peer.
type received struct {
	q  *q931.Message
	uu *h225.Message
	at time.Time
}

// pipeCall runs one incoming call of s on an in-memory connection inside a
// synctest bubble: the returned channel yields what the server sends and is
// closed when the server closes the connection.
func pipeCall(t *testing.T, s *Server) (peer net.Conn, in <-chan received, ended <-chan struct{}) {
	t.Helper()
	srvSide, peerSide := net.Pipe()
	out := make(chan received, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.serveConn(context.Background(), srvSide)
	}()
	go func() {
		defer close(out)
		r := tpkt.NewReader(peerSide)
		for {
			b, err := r.Next()
			if err != nil {
				return
			}
			q := &q931.Message{}
			if err := q.Unmarshal(append([]byte(nil), b...)); err != nil {
				t.Errorf("server sent undecodable Q.931: %v", err)
				return
			}
			raw, err := q.UserUser()
			if err != nil {
				t.Errorf("server sent %v without User-user", q.Type)
				return
			}
			uu, err := h225.Parse(raw)
			if err != nil {
				t.Errorf("server sent bad UUIE: %v", err)
				return
			}
			out <- received{q: q, uu: uu, at: time.Now()}
		}
	}()
	t.Cleanup(func() { peerSide.Close(); <-done })
	return peerSide, out, done
}

func newTestServer(t *testing.T, media MediaFactory, confs Conferences, cfg Config) *Server {
	t.Helper()
	s, err := NewServer(cfg, media, confs, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	return inMemory(s)
}

func expect(t *testing.T, in <-chan received, typ q931.MessageType) received {
	t.Helper()
	r, ok := <-in
	if !ok {
		t.Fatalf("connection closed, want %v", typ)
	}
	if r.q.Type != typ {
		t.Fatalf("got %v (%+v), want %v", r.q.Type, r.uu, typ)
	}
	return r
}

func expectClosed(t *testing.T, in <-chan received) {
	t.Helper()
	for r := range in {
		t.Errorf("unexpected %v after release", r.q.Type)
	}
}

func releaseCause(t *testing.T, r received) uint8 {
	t.Helper()
	c, err := r.q.Cause()
	if err != nil {
		t.Fatalf("ReleaseComplete without Cause: %v", err)
	}
	return c.Value
}

// frame builds one TPKT-framed Q.931 message from the test caller (call reference 0x55).
func frame(t *testing.T, body h225.Body, uu []byte, ies ...q931.IE) []byte {
	t.Helper()
	m, err := h225.Wrap(body, 0x55, false, uu, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, ie := range ies {
		m.Set(ie.ID, ie.Data)
	}
	raw, err := m.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := tpkt.Append(nil, raw)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func setupUU(t *testing.T, tunnel bool, fast [][]byte, h245pdus [][]byte, dest string) []byte {
	t.Helper()
	c := peerCall(tunnel)
	c.FastStart, c.H245 = fast, h245pdus
	info := h225.SetupInfo{DestSignal: netip.MustParseAddrPort("127.0.0.1:1720")}
	if dest != "" {
		info.Dest = []h225.Alias{h225.Digits(dest)}
	}
	b, err := c.Setup(info)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Garbage on a new connection is dropped at once; garbage in a Q.931 frame
// with a call reference is released with cause 95.
func TestGarbageReleased(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestServer(t, &fakeMedia{}, newFakeConfs(), Config{})
		peer, in, ended := pipeCall(t, s)
		start := time.Now()
		go peer.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		expectClosed(t, in)
		<-ended
		if time.Since(start) != 0 {
			t.Errorf("garbage took %v to drop", time.Since(start))
		}

		peer, in, ended = pipeCall(t, s)
		// Setup header with call reference 0x55 and a User-user IE that is not PER.
		bad := []byte{0x08, 0x02, 0x00, 0x55, 0x05, 0x7E, 0x00, 0x03, 0x05, 0xFF, 0xFF}
		b, _ := tpkt.Append(nil, bad)
		go peer.Write(b)
		r := expect(t, in, q931.ReleaseComplete)
		if releaseCause(t, r) != CauseInvalidMessage || r.q.CallRef != 0x55 || !r.q.FromDestination {
			t.Errorf("release %+v", r.q)
		}
		expectClosed(t, in)
		<-ended
	})
}

// A connection that never sends Setup is closed after SetupTimeout.
func TestNoSetupTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestServer(t, &fakeMedia{}, newFakeConfs(), Config{SetupTimeout: 7 * time.Second})
		_, in, ended := pipeCall(t, s)
		start := time.Now()
		expectClosed(t, in)
		<-ended
		if d := time.Since(start); d != 7*time.Second {
			t.Errorf("closed after %v", d)
		}
	})
}

// A slow-start caller that never sends its capabilities is released with
// cause 102 (recovery on timer expiry) H245Timeout after Connect, after
// endSessionCommand, and leaves the conference.
func TestNoTCSReleased(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		confs := newFakeConfs()
		media := &fakeMedia{}
		s := newTestServer(t, media, confs, Config{H245Timeout: 20 * time.Second})
		peer, in, _ := pipeCall(t, s)
		go peer.Write(frame(t, h225.BodySetup, setupUU(t, true, nil, nil, "1000")))
		expect(t, in, q931.CallProceeding)
		conn := expect(t, in, q931.Connect)
		if len(conn.uu.FastStart) != 0 || conn.uu.FastConnectRefused {
			t.Errorf("slow start answered with fast start: %+v", conn.uu)
		}
		for _, kind := range []string{"terminalCapabilitySet", "masterSlaveDetermination"} {
			f := expect(t, in, q931.Facility)
			if len(f.uu.H245) != 1 {
				t.Fatalf("%d H.245 PDUs in one Facility", len(f.uu.H245))
			}
			if m, err := h245.Parse(f.uu.H245[0]); err != nil || m.Kind != kind {
				t.Fatalf("tunnelled %+v %v, want %s", m, err, kind)
			}
		}
		rc := expect(t, in, q931.ReleaseComplete)
		if d := rc.at.Sub(conn.at); d != 20*time.Second {
			t.Errorf("released %v after Connect", d)
		}
		if releaseCause(t, rc) != CauseRecoveryOnTimer {
			t.Errorf("cause %d", releaseCause(t, rc))
		}
		if len(rc.uu.H245) != 1 {
			t.Fatal("no endSessionCommand in ReleaseComplete")
		}
		if m, _ := h245.Parse(rc.uu.H245[0]); m == nil || m.Kind != "endSessionCommand" {
			t.Errorf("tunnelled in ReleaseComplete: %+v", m)
		}
		expectClosed(t, in)
		if cause := <-confs.leaves; !errors.Is(cause, ErrTimeout) {
			t.Errorf("leave cause %v", cause)
		}
		if l := media.all()[0]; l.Cause() == nil {
			t.Error("media leg not closed")
		}
	})
}

// Fast Connect: the answer opens audio to the caller's address at once;
// Q.931 Keypad and UserInputIndication digits reach the hook; a media
// timeout releases the call.
func TestFastStartDigitsMediaTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		confs := newFakeConfs()
		media := &fakeMedia{}
		digits := make(digitSink, 16)
		s := newTestServer(t, media, confs, Config{Codecs: []string{"PCMA", "PCMU"}, OnDigit: digits.hook})
		peer, in, _ := pipeCall(t, s)
		callerRTP := netip.MustParseAddrPort("127.0.0.1:5000")
		callerRTCP := netip.MustParseAddrPort("127.0.0.1:5001")
		var fast [][]byte
		for i, a := range []h245.Audio{h245.G722, h245.G711Ulaw, h245.G711Alaw} {
			ac := h245.AudioCap{Codec: a, Frames: 20}
			recv, err := h245.FastStartOLC(h245.Channel{Number: 1, SessionID: 1, Audio: &ac, Reverse: true, Media: callerRTP, MediaControl: callerRTCP})
			if err != nil {
				t.Fatal(err)
			}
			send, err := h245.FastStartOLC(h245.Channel{Number: 101 + i, SessionID: 1, Audio: &ac, MediaControl: callerRTCP})
			if err != nil {
				t.Fatal(err)
			}
			fast = append(fast, recv, send)
		}
		go peer.Write(frame(t, h225.BodySetup, setupUU(t, true, fast, nil, "2000")))
		expect(t, in, q931.CallProceeding)
		conn := expect(t, in, q931.Connect)
		if len(conn.uu.FastStart) != 2 {
			t.Fatalf("fastStart answer has %d elements", len(conn.uu.FastStart))
		}
		leg := media.all()[0]
		st := leg.started()
		if len(st) != 1 || st[0].Codec.Name != "PCMA" || st[0].Remote != callerRTP || st[0].PayloadType != 8 {
			t.Fatalf("media started with %+v", st)
		}
		for _, b := range conn.uu.FastStart {
			o, _ := h245.ParseOLC(b)
			if !o.Reverse && (o.Number != 103 || o.Media.Port() != uint16(leg.port)) {
				t.Errorf("answer for the caller's channel: %+v", o)
			}
		}
		expect(t, in, q931.Facility) // TCS
		expect(t, in, q931.Facility) // MSD

		info, err := peerCall(true).Information()
		if err != nil {
			t.Fatal(err)
		}
		go peer.Write(frame(t, h225.BodyInformation, info, keypadIE("5#")))
		uii, _ := h245.UserInputString("7")
		c := peerCall(true)
		c.H245 = [][]byte{uii}
		fac, _ := c.Empty()
		synctest.Wait()
		go peer.Write(frame(t, h225.BodyEmpty, fac))
		for _, want := range []Digit{{Digit: '5', Source: "keypad"}, {Digit: '#', Source: "keypad"}, {Digit: '7', Source: "uii"}} {
			d := <-digits
			if d.Digit != want.Digit || d.Source != want.Source || d.Conference != "2000" {
				t.Errorf("digit %+v, want %+v", d, want)
			}
		}

		time.Sleep(time.Minute) // fake time in the bubble: an established call has no timer
		leg.opts.OnEvent(bridge.Event{Kind: bridge.EventMediaTimeout})
		rc := expect(t, in, q931.ReleaseComplete)
		if releaseCause(t, rc) != CauseRecoveryOnTimer {
			t.Errorf("cause %d", releaseCause(t, rc))
		}
		expectClosed(t, in)
		if cause := <-confs.leaves; !errors.Is(cause, bridge.ErrMediaTimeout) {
			t.Errorf("leave cause %v", cause)
		}
	})
}

// StatusEnquiry is answered with Status; a peer that closes TCP mid-call
// ends the call without anything sent.
func TestTCPCloseEndsCall(t *testing.T) {
	var statusFrame []byte
	synctest.Test(t, func(t *testing.T) {
		confs := newFakeConfs()
		s := newTestServer(t, &fakeMedia{}, confs, Config{})
		peer, in, ended := pipeCall(t, s)
		go peer.Write(frame(t, h225.BodySetup, setupUU(t, true, nil, nil, "3000")))
		expect(t, in, q931.CallProceeding)
		expect(t, in, q931.Connect)
		expect(t, in, q931.Facility)
		expect(t, in, q931.Facility)
		enq, err := peerCall(true).StatusInquiry()
		if err != nil {
			t.Fatal(err)
		}
		go peer.Write(frame(t, h225.BodyStatusInquiry, enq))
		st := expect(t, in, q931.Status)
		if c, err := st.q.Cause(); err != nil || c.Value != 30 {
			t.Errorf("Status cause %+v %v", c, err)
		}
		if ie, ok := st.q.Get(ieCallState); !ok || len(ie.Data) != 1 || ie.Data[0] != 0x0A {
			t.Errorf("Status call state %+v", ie)
		}
		raw, err := st.q.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		statusFrame, _ = tpkt.Append(nil, raw)
		peer.Close()
		<-ended
		if cause := <-confs.leaves; !errors.Is(cause, ErrConnLost) {
			t.Errorf("leave cause %v", cause)
		}
	})
	tsharktest.Check(t, []tsharktest.Frame{{Name: "Status", Payload: statusFrame}})
}
