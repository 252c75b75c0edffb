package call

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/h323/q931"
)

// digitSink collects digits from OnDigit.
type digitSink chan Digit

func (d digitSink) hook(x Digit) {
	select {
	case d <- x:
	default:
	}
}

func startServer(t *testing.T, media MediaFactory, confs Conferences, cfg Config) *Server {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	s, err := NewServer(cfg, media, confs, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// waitPackets waits until the leg counted incoming RTP; the loop paces a
// real network exchange, it does not stand in for a timer under test.
func waitPackets(t *testing.T, what string, stats func() bridge.LegStats) bridge.LegStats {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := stats()
		if st.PacketsIn > 0 && st.PacketsOut > 0 {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no RTP both ways: %+v", what, st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Our caller calls our listener in every mode; audio flows both ways through
// the real bridge, digits arrive, and both hang-up directions are clean.
func TestDialListenerModes(t *testing.T) {
	modes := []struct {
		name                       string
		opts                       DialOptions
		wantFast                   bool
		serverCodecs, callerCodecs []string
		wantCodec                  string
		hangupFromServer           bool
	}{
		{name: "fast start tunnelled", opts: DialOptions{FastStart: true, Tunnelling: true}, wantFast: true, wantCodec: "G722"},
		{name: "fast start separate H.245", opts: DialOptions{FastStart: true}, wantFast: true,
			callerCodecs: []string{"PCMA", "PCMU"}, wantCodec: "PCMU"},
		{name: "slow start tunnelled", opts: DialOptions{Tunnelling: true}, wantCodec: "G722", hangupFromServer: true},
		{name: "slow start H.245 in Setup", opts: DialOptions{Tunnelling: true, H245InSetup: true},
			serverCodecs: []string{"PCMU", "PCMA"}, callerCodecs: []string{"PCMA", "PCMU"}},
		{name: "slow start separate H.245", opts: DialOptions{}, serverCodecs: []string{"PCMU"}, wantCodec: "PCMU"},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			b := newBridge(t)
			confs := newFakeConfs()
			digits := make(digitSink, 16)
			s := startServer(t, BridgeMedia(b), confs, Config{Codecs: m.serverCodecs, OnDigit: digits.hook})
			o := m.opts
			o.Media, o.Room, o.Codecs = BridgeMedia(b), "caller-room", m.callerCodecs
			o.Logger, o.DisplayName, o.Source = testLogger(t), "Second Roomgate", "second"
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := Dial(ctx, "h323:4711@"+s.Addr().String(), o)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			part := <-confs.joins
			if part.req.ConferenceID != "4711" || part.req.Protocol != "h323" || part.req.DisplayName != "Second Roomgate" {
				t.Errorf("join request %+v", part.req)
			}
			if c.FastStart() != m.wantFast {
				t.Errorf("fast start = %v, want %v", c.FastStart(), m.wantFast)
			}
			codec := c.Codec()
			if m.wantCodec != "" && codec != m.wantCodec {
				t.Errorf("codec %s, want %s", codec, m.wantCodec)
			}
			st := waitPackets(t, "caller leg", c.Stats)
			if st.Codec != codec {
				t.Errorf("caller leg plays %s, negotiated %s", st.Codec, codec)
			}
			sst := waitPackets(t, "server leg", part.req.Leg.Stats)
			if sst.Codec != codec || sst.Remote.Port() != uint16(st.LocalPort) {
				t.Errorf("server leg %+v does not send to the caller's port %d", sst, st.LocalPort)
			}
			if err := c.SendDigits(ctx, "12#"); err != nil {
				t.Fatal(err)
			}
			var got []rune
			for len(got) < 3 {
				select {
				case d := <-digits:
					if d.Conference != "4711" || d.Source != "uii" {
						t.Errorf("digit %+v", d)
					}
					got = append(got, d.Digit)
				case <-ctx.Done():
					t.Fatalf("digits received: %q", string(got))
				}
			}
			if string(got) != "12#" {
				t.Errorf("digits %q", string(got))
			}
			if m.hangupFromServer {
				part.req.Leg.Hangup(errors.New("kicked by the moderator"))
				<-c.Done()
				var ce *CauseError
				if !errors.As(c.Cause(), &ce) || ce.Cause != q931.CauseNormalClearing || !errors.Is(c.Cause(), ErrReleased) {
					t.Errorf("caller's cause %v", c.Cause())
				}
				if cause := <-confs.leaves; !strings.Contains(cause.Error(), "kicked") {
					t.Errorf("leave cause %v", cause)
				}
			} else {
				c.Close()
				cause := <-confs.leaves
				var ce *CauseError
				// The peer's endSessionCommand may come first on a separate H.245 channel.
				if !errors.As(cause, &ce) || ce.Cause != q931.CauseNormalClearing ||
					!(errors.Is(cause, ErrReleased) || errors.Is(cause, ErrEndSession)) {
					t.Errorf("server leave cause %v", cause)
				}
			}
			if confs.count() != 0 {
				t.Error("participant still in the conference")
			}
		})
	}
}

// Admission failures come back to the caller as ReleaseComplete causes.
func TestDialRejected(t *testing.T) {
	confs := newFakeConfs()
	s := startServer(t, &fakeMedia{}, confs, Config{})
	for _, tc := range []struct {
		id    string
		cause uint8
	}{{"404404", CauseUnallocated}, {"486486", q931.CauseUserBusy}, {"403403", q931.CauseCallRejected}} {
		_, err := Dial(context.Background(), "h323:"+tc.id+"@"+s.Addr().String(),
			DialOptions{Media: &fakeMedia{}, Room: "r", FastStart: true, Tunnelling: true})
		var ce *CauseError
		if !errors.As(err, &ce) || ce.Cause != tc.cause || !errors.Is(err, ErrRejected) {
			t.Errorf("%s: Dial error %v, want cause %d", tc.id, err, tc.cause)
		}
	}
	// No destination at all: conf's lobby answers.
	lobby, err := Dial(context.Background(), "h323:"+s.Addr().String(), DialOptions{Media: &fakeMedia{}, Room: "r", Tunnelling: true})
	if err != nil {
		t.Fatalf("no destination: %v, want the lobby to answer", err)
	}
	if err := lobby.Close(); err != nil {
		t.Fatal(err)
	}
	if cause := <-confs.leaves; cause == nil {
		t.Error("the lobby call ended without a cause")
	}
}

// Close releases live calls with endSessionCommand and ReleaseComplete.
func TestServerCloseReleasesCalls(t *testing.T) {
	b := newBridge(t)
	confs := newFakeConfs()
	s, err := NewServer(Config{Listen: "127.0.0.1:0"}, BridgeMedia(b), confs, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, err := Dial(context.Background(), s.Addr().String()+"##77",
		DialOptions{Media: BridgeMedia(b), Room: "x", Tunnelling: true})
	if err != nil {
		t.Fatal(err)
	}
	if p := <-confs.joins; p.req.ConferenceID != "77" {
		t.Errorf("host##id mapped to %q", p.req.ConferenceID)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	<-c.Done()
	if !errors.Is(c.Cause(), ErrReleased) && !errors.Is(c.Cause(), ErrEndSession) {
		t.Errorf("caller's cause %v", c.Cause())
	}
	if cause := <-confs.leaves; !errors.Is(cause, ErrShutdown) {
		t.Errorf("leave cause %v", cause)
	}
}

// The server's Start context ends it: calls are released and Close, called
// afterwards too, returns.
func TestServerStopsWithContext(t *testing.T) {
	b := newBridge(t)
	confs := newFakeConfs()
	s, err := NewServer(Config{Listen: "127.0.0.1:0"}, BridgeMedia(b), confs, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := Dial(context.Background(), "h323:77@"+s.Addr().String(), DialOptions{Media: BridgeMedia(b), Room: "x", Tunnelling: true})
	if err != nil {
		t.Fatal(err)
	}
	<-confs.joins
	cancel()
	<-c.Done()
	if cause := <-confs.leaves; !errors.Is(cause, ErrShutdown) {
		t.Errorf("leave cause %v", cause)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close: %v", err)
	}
}
