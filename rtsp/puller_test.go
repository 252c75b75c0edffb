package rtsp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/rtp"

	"github.com/roomgate/roomgate/conf"
)

// fakeSession is a session the test ends at will.
type fakeSession struct {
	tr     Tracks
	h      handlers
	ended  chan error
	closed chan struct{}
	once   sync.Once
}

func newFakeSession(tr Tracks, h handlers) *fakeSession {
	return &fakeSession{tr: tr, h: h, ended: make(chan error, 1), closed: make(chan struct{})}
}

func (s *fakeSession) tracks() Tracks    { return s.tr }
func (s *fakeSession) transport() string { return "TCP" }
func (s *fakeSession) requestKeyframe()  {}
func (s *fakeSession) close()            { s.once.Do(func() { close(s.closed) }) }
func (s *fakeSession) wait() error {
	select {
	case err := <-s.ended:
		return err
	case <-s.closed:
		return ErrClosed
	}
}

// fakeConnector answers connects from a script: an error, or a session.
type fakeConnector struct {
	mu       sync.Mutex
	script   []error // nil: a session
	at       []time.Time
	sessions []*fakeSession
	tracks   Tracks
}

func (c *fakeConnector) connect(ctx context.Context, h handlers) (session, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = append(c.at, time.Now())
	var err error
	if len(c.script) > 0 {
		err, c.script = c.script[0], c.script[1:]
	}
	if err != nil {
		return nil, err
	}
	h.setup(c.tracks)
	s := newFakeSession(c.tracks, h)
	c.sessions = append(c.sessions, s)
	return s, nil
}

func (c *fakeConnector) last() *fakeSession {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sessions[len(c.sessions)-1]
}

func (c *fakeConnector) times() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.at...)
}

var testTracks = Tracks{
	Video: &Format{Codec: CodecH264, PayloadType: 96, ClockRate: 90000},
	Audio: &Format{Codec: CodecPCMU, PayloadType: 0, ClockRate: 8000, Channels: 1},
}

func newTestPuller(t *testing.T, cfg Config, c *fakeConnector, ev *eventLog) *Puller {
	t.Helper()
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	tg := conf.Target{Kind: conf.TargetAddress, Scheme: conf.SchemeRTSP, Host: "cam", Path: "/", Display: "rtsp://cam/"}
	opts := PullerOptions{Rand: func() float64 { return 0.5 }} // no jitter
	if ev != nil {
		opts.OnEvent = ev.add
	}
	return newPuller(tg, cfg, newRecorder(false), slog.New(slog.DiscardHandler), opts, c)
}

// gaps returns the intervals between connection attempts.
func gaps(at []time.Time) []time.Duration {
	var d []time.Duration
	for i := 1; i < len(at); i++ {
		d = append(d, at[i].Sub(at[i-1]))
	}
	return d
}

func TestReconnectWithBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		unreachable := fmt.Errorf("dial: %w", ErrUnreachable)
		c := &fakeConnector{tracks: testTracks, script: []error{nil, unreachable, unreachable, unreachable, nil}}
		ev := newEventLog()
		p := newTestPuller(t, Config{Backoff: Backoff{Initial: 100 * time.Millisecond, Max: 300 * time.Millisecond}}, c, ev)
		if _, err := p.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		c.last().ended <- fmt.Errorf("connection reset")
		synctest.Wait()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if st := p.Stats(); st.State != StatePlaying || st.Reconnects != 1 {
			t.Fatalf("stats %+v after the camera came back", st)
		}
		// The loss comes at once (fake time stands still while the
		// test runs); attempts 1..4 wait 100, 200, 300 (capped), 300 ms.
		want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond}
		if got := gaps(c.times()); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("gaps between attempts %v, want %v", got, want)
		}
		states := fmt.Sprint(ev.states())
		if states != "[connecting playing reconnecting reconnecting reconnecting reconnecting playing]" {
			t.Fatalf("events %s", states)
		}
		p.Close(nil)
		if p.State() != StateClosed {
			t.Fatalf("state %v after Close", p.State())
		}
	})
}

func TestReconnectGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		timeout := fmt.Errorf("no answer: %w", ErrConnectTimeout)
		c := &fakeConnector{tracks: testTracks, script: []error{nil, timeout, timeout, timeout}}
		p := newTestPuller(t, Config{Reconnects: 2}, c, nil)
		if _, err := p.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		c.last().ended <- ErrStreamLost
		<-p.Done()
		if !errors.Is(p.Err(), ErrRetriesExhausted) || !errors.Is(p.Err(), ErrConnectTimeout) {
			t.Fatalf("err %v, want ErrRetriesExhausted wrapping the last failure", p.Err())
		}
		if n := len(c.times()); n != 3 {
			t.Fatalf("%d connects, want 1 + 2 reconnection attempts", n)
		}
		if p.State() != StateFailed {
			t.Fatalf("state %v", p.State())
		}
		p.Close(nil)
		if p.State() != StateFailed {
			t.Fatalf("Close changed a failed puller's state to %v", p.State())
		}
	})
}

func TestReconnectStopsOnUnauthorized(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &fakeConnector{tracks: testTracks, script: []error{nil, &StatusError{Method: "DESCRIBE", Code: 401, Reason: "Unauthorized"}}}
		p := newTestPuller(t, Config{}, c, nil)
		if _, err := p.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		c.last().ended <- ErrStreamLost
		<-p.Done()
		if !errors.Is(p.Err(), ErrUnauthorized) || len(c.times()) != 2 {
			t.Fatalf("err %v after %d connects, want ErrUnauthorized after 2", p.Err(), len(c.times()))
		}
		p.Close(nil)
	})
}

func TestReconnectDisabled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &fakeConnector{tracks: testTracks}
		p := newTestPuller(t, Config{Reconnects: -1}, c, nil)
		if _, err := p.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		c.last().ended <- errors.New("eof")
		<-p.Done()
		if !errors.Is(p.Err(), ErrStreamLost) || len(c.times()) != 1 {
			t.Fatalf("err %v after %d connects", p.Err(), len(c.times()))
		}
		p.Close(nil)
	})
}

func TestCloseDuringBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &fakeConnector{tracks: testTracks, script: []error{nil}}
		ev := newEventLog()
		p := newTestPuller(t, Config{Backoff: Backoff{Initial: time.Hour, Max: time.Hour}}, c, ev)
		if _, err := p.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		c.last().ended <- ErrStreamLost
		synctest.Wait() // waiting an hour for the first attempt
		if p.State() != StateReconnecting {
			t.Fatalf("state %v", p.State())
		}
		cause := errors.New("kicked")
		p.Close(cause)
		if p.State() != StateClosed || !errors.Is(p.Err(), cause) {
			t.Fatalf("state %v err %v", p.State(), p.Err())
		}
		if n := len(c.times()); n != 1 {
			t.Fatalf("%d connects after Close", n)
		}
		select {
		case <-p.Done():
		default:
			t.Fatal("not done after Close")
		}
	})
}

func TestStartRetriesOnlyAsConfigured(t *testing.T) {
	cases := []struct {
		name     string
		cfg      Config
		script   []error
		wantErr  error
		connects int
	}{
		{"transient retried", Config{Retries: 2}, []error{ErrConnectTimeout, ErrUnreachable, nil}, nil, 3},
		{"transient exhausted", Config{Retries: 1}, []error{ErrConnectTimeout, ErrUnreachable, nil}, ErrUnreachable, 2},
		{"no retries by default", Config{}, []error{ErrProtocol, nil}, ErrProtocol, 1},
		{"401 not retried", Config{Retries: 3}, []error{&StatusError{Code: 401}, nil}, ErrUnauthorized, 1},
		{"404 retried when asked", Config{Retries: 3, RetryPermanent: true}, []error{&StatusError{Code: 404}, nil}, nil, 2},
		{"no track not retried", Config{Retries: 3}, []error{ErrNoUsableTrack, nil}, ErrNoUsableTrack, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := &fakeConnector{tracks: testTracks, script: tc.script}
				p := newTestPuller(t, tc.cfg, c, nil)
				defer p.Close(nil)
				_, err := p.Start(t.Context())
				if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
				if n := len(c.times()); n != tc.connects {
					t.Fatalf("%d connects, want %d", n, tc.connects)
				}
			})
		})
	}
}

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Initial: 500 * time.Millisecond, Max: 30 * time.Second, Multiplier: 2, Jitter: 0.2}
	for n, want := range map[int]time.Duration{0: 500 * time.Millisecond, 1: 500 * time.Millisecond, 2: time.Second,
		3: 2 * time.Second, 7: 30 * time.Second, 1000: 30 * time.Second} {
		if got := b.Delay(n, 0.5); got != want {
			t.Errorf("Delay(%d) = %v, want %v", n, got, want)
		}
	}
	if lo, hi := b.Delay(3, 0), b.Delay(3, 0.999999); lo != 1600*time.Millisecond || hi < 2399*time.Millisecond || hi > 2400*time.Millisecond {
		t.Errorf("jitter bounds %v..%v, want 1.6s..2.4s", lo, hi)
	}
}

func TestConfigValidate(t *testing.T) {
	good := Config{}.Defaults()
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := []func(*Config){
		func(c *Config) { c.Transport = "sctp" },
		func(c *Config) { c.ConnectTimeout = -1 },
		func(c *Config) { c.Retries = -1 },
		func(c *Config) { c.Backoff.Max = c.Backoff.Initial / 2 },
		func(c *Config) { c.Backoff.Multiplier = 0.5 },
		func(c *Config) { c.Backoff.Jitter = 2 },
	}
	for i, f := range bad {
		c := good
		f(&c)
		if err := c.Validate(); !errors.Is(err, ErrBadConfig) {
			t.Errorf("case %d: %v, want ErrBadConfig", i, err)
		}
	}
}

// TestContinuity: a new session's packets continue the old stream.
func TestContinuity(t *testing.T) {
	c := continuity{clock: 8000}
	t0 := time.Unix(1000, 0)
	pkt := &rtp.Packet{Header: rtp.Header{SSRC: 111, SequenceNumber: 65534, Timestamp: 4000}}
	c.rewrite(pkt, t0)
	if pkt.SSRC != 111 || pkt.SequenceNumber != 65534 || pkt.Timestamp != 4000 {
		t.Fatalf("first packet changed: %+v", pkt.Header)
	}
	pkt = &rtp.Packet{Header: rtp.Header{SSRC: 111, SequenceNumber: 65535, Timestamp: 4160}}
	c.rewrite(pkt, t0.Add(20*time.Millisecond))
	c.fresh = true // the camera restarted
	pkt = &rtp.Packet{Header: rtp.Header{SSRC: 999, SequenceNumber: 17, Timestamp: 123456}}
	c.rewrite(pkt, t0.Add(520*time.Millisecond)) // 500 ms later
	if pkt.SSRC != 111 || pkt.SequenceNumber != 0 || pkt.Timestamp != 4160+4000 {
		t.Fatalf("after the restart %+v, want ssrc 111 seq 0 ts 8160", pkt.Header)
	}
	pkt = &rtp.Packet{Header: rtp.Header{SSRC: 999, SequenceNumber: 18, Timestamp: 123616}}
	c.rewrite(pkt, t0.Add(540*time.Millisecond))
	if pkt.SequenceNumber != 1 || pkt.Timestamp != 8320 {
		t.Fatalf("second packet after the restart %+v", pkt.Header)
	}
	// A new SSRC without a reconnection (a transport switch) also starts
	// a new offset.
	pkt = &rtp.Packet{Header: rtp.Header{SSRC: 555, SequenceNumber: 40000, Timestamp: 9}}
	c.rewrite(pkt, t0.Add(560*time.Millisecond))
	if pkt.SSRC != 111 || pkt.SequenceNumber != 2 || pkt.Timestamp != 8320+160 {
		t.Fatalf("after an SSRC change %+v, want ssrc 111 seq 2 ts 8480", pkt.Header)
	}
}
