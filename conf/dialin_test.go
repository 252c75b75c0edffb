package conf_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/bridge/prompt"
	"github.com/roomgate/roomgate/conf"
	"github.com/roomgate/roomgate/store"
)

// The dial-in tests run in synctest bubbles: the Service's clock and the
// calls' timers are the bubble's fake time, so digit and entry timeouts
// pass with time.Sleep in no real time, and synctest.Wait returns when
// every call's goroutine waits for a key, a prompt or a timer.

// promptLen is how long each fake prompt plays.
const promptLen = time.Second

// ivrLeg is an InteractiveLeg (and MutableLeg, DigitPassthrough,
// AuthenticatedLeg) that records what conf asked of it. Hangup ends the
// call as signalling does.
type ivrLeg struct {
	user string

	mu       sync.Mutex
	call     *conf.Call
	plays    [][]string
	pending  []chan struct{}
	stops    int
	entered  []string
	enterErr error
	hangups  []error
	gains    [][2]int
	muted    []bool
	passed   []rune
}

func (l *ivrLeg) UserID() string { return l.user }

func (l *ivrLeg) Stats() bridge.LegStats { return bridge.LegStats{} }

func (l *ivrLeg) Hangup(cause error) {
	l.mu.Lock()
	l.hangups = append(l.hangups, cause)
	c := l.call
	l.mu.Unlock()
	if c != nil {
		c.End(cause)
	}
}

func (l *ivrLeg) Play(names ...string) <-chan struct{} {
	ch := make(chan struct{})
	l.mu.Lock()
	l.plays = append(l.plays, slices.Clone(names))
	l.pending = append(l.pending, ch)
	l.mu.Unlock()
	time.AfterFunc(time.Duration(len(names))*promptLen, func() { l.finish(ch) })
	return ch
}

func (l *ivrLeg) finish(ch chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i := slices.Index(l.pending, ch); i >= 0 {
		l.pending = slices.Delete(l.pending, i, i+1)
		close(ch)
	}
}

func (l *ivrLeg) StopPlaying() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stops++
	for _, ch := range l.pending {
		close(ch)
	}
	l.pending = nil
}

func (l *ivrLeg) Enter(id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entered = append(l.entered, id)
	return l.enterErr
}

func (l *ivrLeg) SetGain(listen, talk int) {
	l.mu.Lock()
	l.gains = append(l.gains, [2]int{listen, talk})
	l.mu.Unlock()
}

func (l *ivrLeg) SetMuted(m bool) {
	l.mu.Lock()
	l.muted = append(l.muted, m)
	l.mu.Unlock()
}

func (l *ivrLeg) PassDigit(d rune) {
	l.mu.Lock()
	l.passed = append(l.passed, d)
	l.mu.Unlock()
}

// played returns every prompt played so far, in order.
func (l *ivrLeg) played() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, p := range l.plays {
		out = append(out, p...)
	}
	return out
}

// lastPlay returns the prompts of the last Play.
func (l *ivrLeg) lastPlay() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.plays) == 0 {
		return nil
	}
	return l.plays[len(l.plays)-1]
}

func (l *ivrLeg) stopped() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stops
}

func (l *ivrLeg) hungUp() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.hangups)
}

func (l *ivrLeg) enteredRooms() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.entered)
}

// announcer records what was announced to rooms.
type announcer struct {
	mu  sync.Mutex
	got []string // "conf:name,name"
}

func (a *announcer) Announce(id string, names ...string) error {
	a.mu.Lock()
	a.got = append(a.got, id+":"+strings.Join(names, ","))
	a.mu.Unlock()
	return nil
}

func (a *announcer) all() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.got)
}

// ivrEnv is a Service over SQLite built inside a bubble.
type ivrEnv struct {
	svc *conf.Service
	ann *announcer
	reg *prometheus.Registry
	cfg conf.IVRConfig
}

// testIVR is the configuration of most tests.
var testIVR = conf.IVRConfig{
	DigitTimeout: 3 * time.Second,
	EntryTimeout: 60 * time.Second,
	Attempts:     3,
	PINFailures:  5,
	PINWindow:    10 * time.Minute,
	PINCooldown:  15 * time.Minute,
}

func newIVREnv(t *testing.T, cfg conf.IVRConfig) *ivrEnv {
	t.Helper()
	return newIVREnvLog(t, cfg, nil)
}

// newIVREnvLog is newIVREnv with the Service logging to log.
func newIVREnvLog(t *testing.T, cfg conf.IVRConfig, log *slog.Logger) *ivrEnv {
	t.Helper()
	st, err := store.OpenSQLite(t.Context(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	e := &ivrEnv{ann: &announcer{}, reg: prometheus.NewPedanticRegistry(), cfg: cfg}
	e.svc = conf.NewService(st, log, conf.WithIVR(cfg), conf.WithAnnouncer(e.ann),
		conf.WithRegisterer(e.reg), conf.WithPasswordIterations(1000))
	t.Cleanup(func() {
		if err := e.svc.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return e
}

func (e *ivrEnv) create(t *testing.T, c conf.Conference) {
	t.Helper()
	if c.Name == "" {
		c.Name = "room " + c.ID
	}
	if _, err := e.svc.CreateConference(t.Context(), c); err != nil {
		t.Fatal(err)
	}
}

// counter returns the sum of the series of counter name whose labels
// have the given values (nil: every series).
func (e *ivrEnv) counter(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		sum := 0.0
		for _, m := range mf.GetMetric() {
			n := 0
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v == lp.GetValue() {
					n++
				}
			}
			if n == len(labels) {
				sum += m.GetCounter().GetValue()
			}
		}
		return sum
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// safeName is keys usable in a test name (no # in temporary paths).
func safeName(keys string) string { return strings.ReplaceAll(keys, "#", "H") }

// running is a call whose Run goroutine the test started.
type running struct {
	call *conf.Call
	leg  *ivrLeg
	done chan struct{}
}

// dial admits d with leg and starts Run; the test must end the call (or
// let the server hang it up) and wait for it.
func (e *ivrEnv) dial(t *testing.T, d conf.DialIn, leg *ivrLeg) *running {
	t.Helper()
	d.Leg = leg
	if d.Protocol == "" {
		d.Protocol = conf.ProtocolSIP
	}
	c, err := e.svc.Admit(t.Context(), d)
	if err != nil {
		t.Fatalf("Admit(%+v): %v", d, err)
	}
	leg.mu.Lock()
	leg.call = c
	leg.mu.Unlock()
	r := &running{call: c, leg: leg, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		c.Run(t.Context())
	}()
	t.Cleanup(func() {
		c.End(nil)
		<-r.done
	})
	synctest.Wait()
	return r
}

// press presses keys 100 ms apart and waits until the call handled them.
func (r *running) press(keys string) {
	for _, k := range keys {
		r.call.Digit(k)
		time.Sleep(100 * time.Millisecond)
	}
	synctest.Wait()
}

// after lets d pass and waits until the call handled its timers.
func after(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

// ended reports whether Run returned.
func (r *running) ended() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

func TestAdmitDirect(t *testing.T) {
	cases := []struct {
		name     string
		c        conf.Conference
		d        conf.DialIn
		user     string
		wantErr  error
		wantRole string
		lobby    bool
	}{
		{name: "no PIN", c: conf.Conference{ID: "1000"}, d: conf.DialIn{ConferenceID: "1000"}, wantRole: conf.RoleGuest},
		{name: "right PIN in the dial string", c: conf.Conference{ID: "1000", PIN: "1234"},
			d: conf.DialIn{ConferenceID: "1000", PIN: "1234"}, wantRole: conf.RoleGuest},
		{name: "moderator PIN in the dial string", c: conf.Conference{ID: "1000", PIN: "1234", ModeratorPIN: "9876"},
			d: conf.DialIn{ConferenceID: "1000", PIN: "9876"}, wantRole: conf.RoleModerator},
		{name: "only a moderator PIN: others need none", c: conf.Conference{ID: "1000", ModeratorPIN: "9876"},
			d: conf.DialIn{ConferenceID: "1000"}, wantRole: conf.RoleGuest},
		{name: "owner by identity", c: conf.Conference{ID: "1000", Owner: "alice"}, user: "alice",
			d: conf.DialIn{ConferenceID: "1000"}, wantRole: conf.RoleOwner},
		{name: "PIN to ask", c: conf.Conference{ID: "1000", PIN: "1234"}, d: conf.DialIn{ConferenceID: "1000"}, lobby: true},
		{name: "wrong PIN in the dial string", c: conf.Conference{ID: "1000", PIN: "1234"},
			d: conf.DialIn{ConferenceID: "1000", PIN: "1111"}, lobby: true},
		{name: "unknown conference", c: conf.Conference{ID: "1000"}, d: conf.DialIn{ConferenceID: "2000"}, lobby: true},
		{name: "no conference", c: conf.Conference{ID: "1000"}, d: conf.DialIn{}, lobby: true},
		{name: "lobby number", c: conf.Conference{ID: "1000"}, d: conf.DialIn{ConferenceID: "5555"}, lobby: true},
		{name: "locked", c: conf.Conference{ID: "1000", Locked: true}, d: conf.DialIn{ConferenceID: "1000"}, wantErr: conf.ErrLocked},
		{name: "full", c: conf.Conference{ID: "1000", MaxParticipants: 1}, d: conf.DialIn{ConferenceID: "1000"}, wantErr: conf.ErrFull},
		{name: "guest of an internal conference", c: conf.Conference{ID: "1000", Access: conf.AccessInternal},
			d: conf.DialIn{ConferenceID: "1000"}, wantErr: conf.ErrUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := testIVR
				cfg.LobbyNumbers = []string{"5555"}
				e := newIVREnv(t, cfg)
				e.create(t, tc.c)
				if tc.name == "full" {
					if _, err := e.svc.Join(t.Context(), conf.JoinRequest{ConferenceID: "1000", Leg: &ivrLeg{}}); err != nil {
						t.Fatal(err)
					}
				}
				tc.d.Leg = &ivrLeg{user: tc.user}
				c, err := e.svc.Admit(t.Context(), tc.d)
				if tc.wantErr != nil {
					if !errors.Is(err, tc.wantErr) {
						t.Fatalf("Admit: %v, want %v", err, tc.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				defer c.End(nil)
				p := c.Participant()
				if tc.lobby {
					if p != nil || !strings.HasPrefix(c.Room(), "lobby-") {
						t.Fatalf("participant %v, room %q: want the lobby", p, c.Room())
					}
					return
				}
				if p == nil || c.Room() != "1000" {
					t.Fatalf("participant %v, room %q: want joined to 1000", p, c.Room())
				}
				if p.Role() != tc.wantRole {
					t.Errorf("role %s, want %s", p.Role(), tc.wantRole)
				}
			})
		})
	}
}

func TestAdmitWithoutLeg(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newIVREnv(t, testIVR)
		if _, err := e.svc.Admit(t.Context(), conf.DialIn{}); !errors.Is(err, conf.ErrInvalid) {
			t.Fatalf("Admit without a leg: %v, want ErrInvalid", err)
		}
	})
}

func TestGreetingsAndTones(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newIVREnv(t, testIVR)
		e.create(t, conf.Conference{ID: "1000"})
		e.create(t, conf.Conference{ID: "2000", Tones: "off", MuteMicrophonesOnJoin: true})

		a := e.dial(t, conf.DialIn{ConferenceID: "1000"}, &ivrLeg{})
		if got := a.leg.lastPlay(); !slices.Equal(got, []string{prompt.FirstParticipant}) {
			t.Errorf("first caller heard %v", got)
		}
		b := e.dial(t, conf.DialIn{ConferenceID: "1000"}, &ivrLeg{})
		want := []string{prompt.ThereAre, prompt.Digit(2), prompt.Participants}
		if got := b.leg.lastPlay(); !slices.Equal(got, want) {
			t.Errorf("second caller heard %v, want %v", got, want)
		}
		b.call.End(nil)
		<-b.done
		if got, want := e.ann.all(), []string{"1000:join", "1000:join", "1000:leave"}; !slices.Equal(got, want) {
			t.Errorf("announced %v, want %v", got, want)
		}

		c := e.dial(t, conf.DialIn{ConferenceID: "2000"}, &ivrLeg{})
		if got := c.leg.lastPlay(); !slices.Equal(got, []string{prompt.FirstParticipant, prompt.Muted}) {
			t.Errorf("muted caller heard %v", got)
		}
		c.call.End(nil)
		<-c.done
		if got := e.ann.all(); len(got) != 3 {
			t.Errorf("conference without tones announced: %v", got)
		}
	})
}

func TestCoolDownPerSource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testIVR
		cfg.PINFailures = 2
		e := newIVREnv(t, cfg)
		e.create(t, conf.Conference{ID: "1000", PIN: "1234"})
		const src = "192.0.2.7"
		// Two wrong dial-string PINs from one source: the second starts
		// the cool-down and is refused at once.
		first, err := e.svc.Admit(t.Context(), conf.DialIn{ConferenceID: "1000", PIN: "0000", SourceIP: src, Leg: &ivrLeg{}})
		if err != nil {
			t.Fatal(err)
		}
		first.End(nil)
		_, err = e.svc.Admit(t.Context(), conf.DialIn{ConferenceID: "1000", PIN: "0001", SourceIP: src, Leg: &ivrLeg{}})
		if !errors.Is(err, conf.ErrCoolDown) || !errors.Is(err, conf.ErrUnauthorized) {
			t.Fatalf("second wrong PIN: %v, want ErrCoolDown (ErrUnauthorized)", err)
		}
		// Even the right PIN is refused from that source now; other
		// sources are not affected.
		if _, err := e.svc.Admit(t.Context(), conf.DialIn{ConferenceID: "1000", PIN: "1234", SourceIP: src, Leg: &ivrLeg{}}); !errors.Is(err, conf.ErrCoolDown) {
			t.Fatalf("right PIN during the cool-down: %v, want ErrCoolDown", err)
		}
		other, err := e.svc.Admit(t.Context(), conf.DialIn{ConferenceID: "1000", PIN: "1234", SourceIP: "192.0.2.8", Leg: &ivrLeg{}})
		if err != nil || other.Participant() == nil {
			t.Fatalf("other source: %v", err)
		}
		other.End(nil)
		time.Sleep(cfg.PINCooldown)
		again, err := e.svc.Admit(t.Context(), conf.DialIn{ConferenceID: "1000", PIN: "1234", SourceIP: src, Leg: &ivrLeg{}})
		if err != nil || again.Participant() == nil {
			t.Fatalf("after the cool-down: %v", err)
		}
		again.End(nil)
		if got := e.counter(t, "roomgate_conf_pin_cooldowns_total", nil); got != 1 {
			t.Errorf("cool-downs counted %v, want 1", got)
		}
		if got := e.counter(t, "roomgate_conf_pin_failures_total", map[string]string{"where": "dial_string"}); got != 2 {
			t.Errorf("dial-string failures counted %v, want 2", got)
		}
	})
}

func TestCoolDownWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testIVR
		cfg.PINFailures = 2
		e := newIVREnv(t, cfg)
		e.create(t, conf.Conference{ID: "1000", PIN: "1234"})
		const src = "2001:db8::1"
		for range 2 {
			c, err := e.svc.Admit(t.Context(), conf.DialIn{ConferenceID: "1000", PIN: "0000", SourceIP: src, Leg: &ivrLeg{}})
			if err != nil {
				t.Fatalf("failures further apart than the window must not add up: %v", err)
			}
			c.End(nil)
			time.Sleep(cfg.PINWindow)
		}
	})
}

func TestMetricsRegistered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newIVREnv(t, testIVR)
		n, err := testutil.GatherAndCount(e.reg, "roomgate_conf_lobby_calls_total", "roomgate_conf_pin_failures_total",
			"roomgate_conf_dtmf_dropped_total")
		if err != nil {
			t.Fatal(err)
		}
		if n != 7+3+3 {
			t.Errorf("pre-created series: %d, want 13", n)
		}
	})
}
