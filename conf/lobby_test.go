package conf_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/roomgate/roomgate/bridge/prompt"
	"github.com/roomgate/roomgate/conf"
)

// wantPlay fails unless the last prompts played are want.
func wantPlay(t *testing.T, r *running, want ...string) {
	t.Helper()
	if got := r.leg.lastPlay(); !slices.Equal(got, want) {
		t.Fatalf("last prompts %v, want %v (all: %v)", got, want, r.leg.played())
	}
}

// wantJoined fails unless the call joined conference id with role.
func wantJoined(t *testing.T, r *running, id, role string) *conf.Participant {
	t.Helper()
	p := r.call.Participant()
	if p == nil {
		t.Fatalf("not joined; prompts %v, hang-ups %v", r.leg.played(), r.leg.hungUp())
	}
	if p.ConferenceID() != id || p.Role() != role {
		t.Fatalf("joined %s as %s, want %s as %s", p.ConferenceID(), p.Role(), id, role)
	}
	if got := r.leg.enteredRooms(); !slices.Equal(got, []string{id}) {
		t.Fatalf("media entered %v, want [%s]", got, id)
	}
	if r.call.Room() != id {
		t.Fatalf("Room() = %q after joining %s", r.call.Room(), id)
	}
	return p
}

// wantHungUp fails unless the call was hung up with a cause that is want
// and Run returned.
func wantHungUp(t *testing.T, r *running, want error) {
	t.Helper()
	h := r.leg.hungUp()
	if len(h) != 1 || !errors.Is(h[0], want) {
		t.Fatalf("hang-ups %v, want one with %v; prompts %v", h, want, r.leg.played())
	}
	if !r.ended() {
		t.Fatal("Run did not return after the hang-up")
	}
	if r.call.Participant() != nil {
		t.Fatal("a hung-up lobby call has a participant")
	}
}

func TestLobbyHappyPath(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newIVREnv(t, testIVR)
		e.create(t, conf.Conference{ID: "1000", PIN: "1234"})
		r := e.dial(t, conf.DialIn{DisplayName: "Room 4", SourceIP: "192.0.2.1"}, &ivrLeg{})
		wantPlay(t, r, prompt.Welcome, prompt.EnterConferenceID)
		after(2 * promptLen) // the caller listens to the end
		r.press("1000#")
		wantPlay(t, r, prompt.EnterPIN)
		after(promptLen)
		r.press("1234#")
		p := wantJoined(t, r, "1000", conf.RoleGuest)
		if p.DisplayName() != "Room 4" {
			t.Errorf("display name %q", p.DisplayName())
		}
		wantPlay(t, r, prompt.FirstParticipant)
		if got := e.counter(t, "roomgate_conf_lobby_calls_total", map[string]string{"result": "joined"}); got != 1 {
			t.Errorf("lobby joins counted %v", got)
		}
		// The entry timeout no longer applies once joined.
		after(2 * testIVR.EntryTimeout)
		if r.ended() || len(r.leg.hungUp()) != 0 {
			t.Fatal("a joined call was ended by the lobby's entry timeout")
		}
	})
}

func TestLobbyTypeAhead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newIVREnv(t, testIVR)
		e.create(t, conf.Conference{ID: "1000", PIN: "1234"})
		r := e.dial(t, conf.DialIn{}, &ivrLeg{})
		// Keys over the welcome: the prompt stops and the keys count.
		r.press("10")
		if n := r.leg.stopped(); n != 1 {
			t.Fatalf("StopPlaying called %d times, want 1", n)
		}
		r.press("00#")
		wantPlay(t, r, prompt.EnterPIN)
		r.press("1234#") // over "enter PIN" too
		wantJoined(t, r, "1000", conf.RoleGuest)
	})
}

func TestLobbyStarRestartsEntry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newIVREnv(t, testIVR)
		e.create(t, conf.Conference{ID: "1000"})
		r := e.dial(t, conf.DialIn{}, &ivrLeg{})
		r.press("99*1000#")
		wantJoined(t, r, "1000", conf.RoleGuest)
	})
}

func TestLobbyDigitTimeoutEndsEntry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newIVREnv(t, testIVR)
		e.create(t, conf.Conference{ID: "1000", PIN: "1234"})
		r := e.dial(t, conf.DialIn{}, &ivrLeg{})
		r.press("1000")
		after(testIVR.DigitTimeout - 200*time.Millisecond)
		if got := r.leg.lastPlay(); slices.Contains(got, prompt.EnterPIN) {
			t.Fatal("the entry ended before the digit timeout")
		}
		after(200 * time.Millisecond)
		wantPlay(t, r, prompt.EnterPIN)
		r.press("1234")
		after(testIVR.DigitTimeout)
		wantJoined(t, r, "1000", conf.RoleGuest)
	})
}

func TestLobbySilenceAsksAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newIVREnv(t, testIVR)
		e.create(t, conf.Conference{ID: "1000"})
		r := e.dial(t, conf.DialIn{}, &ivrLeg{})
		after(2*promptLen + testIVR.DigitTimeout)
		wantPlay(t, r, prompt.EnterConferenceID) // asked again, no attempt lost
		r.press("1000#")
		wantJoined(t, r, "1000", conf.RoleGuest)
	})
}

func TestLobbyEntryTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newIVREnv(t, testIVR)
		e.create(t, conf.Conference{ID: "1000"})
		r := e.dial(t, conf.DialIn{}, &ivrLeg{})
		// A caller who keeps typing wrong entries slowly is still bounded.
		for range 5 {
			r.press("1")
			after(testIVR.DigitTimeout / 2)
			r.press("*")
			after(testIVR.DigitTimeout / 2)
		}
		after(testIVR.EntryTimeout)
		wantHungUp(t, r, conf.ErrLobbyTimeout)
		wantPlay(t, r, prompt.Goodbye)
		if got := e.counter(t, "roomgate_conf_lobby_calls_total", map[string]string{"result": "timeout"}); got != 1 {
			t.Errorf("timeouts counted %v", got)
		}
	})
}

func TestLobbyEntryTimeoutWithoutRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newIVREnv(t, testIVR)
		leg := &ivrLeg{}
		c, err := e.svc.Admit(t.Context(), conf.DialIn{Leg: leg})
		if err != nil {
			t.Fatal(err)
		}
		leg.mu.Lock()
		leg.call = c
		leg.mu.Unlock()
		after(testIVR.EntryTimeout)
		if h := leg.hungUp(); len(h) != 1 || !errors.Is(h[0], conf.ErrLobbyTimeout) {
			t.Fatalf("a lobby call nobody ran: hang-ups %v", h)
		}
		c.Run(t.Context()) // returns at once: the call ended
	})
}

func TestLobbyConferenceAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newIVREnv(t, testIVR)
		e.create(t, conf.Conference{ID: "1000"})
		r := e.dial(t, conf.DialIn{ConferenceID: "2000"}, &ivrLeg{})
		wantPlay(t, r, prompt.Welcome, prompt.InvalidConference, prompt.EnterConferenceID)
		r.press("2000#")
		wantPlay(t, r, prompt.InvalidConference, prompt.EnterConferenceID)
		r.press("3000#")
		wantPlay(t, r, prompt.InvalidConference, prompt.EnterConferenceID)
		r.press("4000#")
		wantPlay(t, r, prompt.InvalidConference, prompt.Goodbye)
		after(promptDrainWait)
		wantHungUp(t, r, conf.ErrNoConference)
		if !errors.Is(conf.ErrNoConference, conf.ErrNotFound) {
			t.Error("ErrNoConference must be ErrNotFound for signalling")
		}
	})
}

// promptDrainWait lets the last prompts of a refused call play.
const promptDrainWait = 5 * promptLen

func TestLobbyWrongPINHangsUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testIVR
		cfg.Attempts = 10 // the per-call limit of 3 applies first
		e := newIVREnv(t, cfg)
		e.create(t, conf.Conference{ID: "1000", PIN: "1234"})
		r := e.dial(t, conf.DialIn{ConferenceID: "1000", SourceIP: "192.0.2.1"}, &ivrLeg{})
		wantPlay(t, r, prompt.Welcome, prompt.EnterPIN)
		r.press("1111#")
		wantPlay(t, r, prompt.WrongPIN, prompt.EnterPIN)
		r.press("#") // empty: asked again, not counted
		wantPlay(t, r, prompt.EnterPIN)
		r.press("2222#")
		r.press("3333#")
		wantPlay(t, r, prompt.WrongPIN, "too-many-attempts", prompt.Goodbye)
		after(promptDrainWait)
		wantHungUp(t, r, conf.ErrWrongPIN)
		if got := e.counter(t, "roomgate_conf_pin_failures_total", map[string]string{"where": "lobby"}); got != 3 {
			t.Errorf("lobby PIN failures counted %v, want 3", got)
		}
	})
}

func TestLobbyPINAttemptsFromConfig(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testIVR
		cfg.Attempts = 2
		e := newIVREnv(t, cfg)
		e.create(t, conf.Conference{ID: "1000", PIN: "1234"})
		// The wrong dial-string PIN is the first attempt.
		r := e.dial(t, conf.DialIn{ConferenceID: "1000", PIN: "9999"}, &ivrLeg{})
		wantPlay(t, r, prompt.Welcome, prompt.WrongPIN, prompt.EnterPIN)
		r.press("12345#") // longer than the PIN: wrong, not cut to a match
		after(promptDrainWait)
		wantHungUp(t, r, conf.ErrWrongPIN)
	})
}

func TestLobbyCoolDownHangsUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testIVR
		cfg.PINFailures = 2
		e := newIVREnv(t, cfg)
		e.create(t, conf.Conference{ID: "1000", PIN: "1234"})
		r := e.dial(t, conf.DialIn{ConferenceID: "1000", SourceIP: "198.51.100.9"}, &ivrLeg{})
		r.press("1111#2222#")
		after(promptDrainWait)
		wantHungUp(t, r, conf.ErrCoolDown)
		if _, err := e.svc.Admit(t.Context(), conf.DialIn{ConferenceID: "1000", SourceIP: "198.51.100.9", Leg: &ivrLeg{}}); !errors.Is(err, conf.ErrCoolDown) {
			t.Fatalf("next call from the source: %v, want ErrCoolDown", err)
		}
	})
}

func TestLobbyModeratorPIN(t *testing.T) {
	cases := []struct {
		name, pin, role string
		c               conf.Conference
	}{
		{"moderator PIN", "9876", conf.RoleModerator, conf.Conference{ID: "1000", PIN: "1234", ModeratorPIN: "9876"}},
		{"conference PIN", "1234", conf.RoleGuest, conf.Conference{ID: "1000", PIN: "1234", ModeratorPIN: "9876"}},
		{"only a moderator PIN: hash joins", "", conf.RoleGuest, conf.Conference{ID: "1000", ModeratorPIN: "9876"}},
		{"only a moderator PIN: it is accepted", "9876", conf.RoleModerator, conf.Conference{ID: "1000", ModeratorPIN: "9876"}},
		{"moderator is not muted on join", "9876", conf.RoleModerator,
			conf.Conference{ID: "1000", PIN: "1234", ModeratorPIN: "9876", MuteMicrophonesOnJoin: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newIVREnv(t, testIVR)
				e.create(t, tc.c)
				r := e.dial(t, conf.DialIn{}, &ivrLeg{})
				r.press("1000#")
				wantPlay(t, r, prompt.EnterPIN)
				r.press(tc.pin + "#")
				wantJoined(t, r, "1000", tc.role)
				if tc.c.MuteMicrophonesOnJoin {
					ps, err := e.svc.Participants(t.Context(), "1000")
					if err != nil || len(ps) != 1 || ps[0].Muted {
						t.Fatalf("participants %+v, %v: the moderator must not stay muted", ps, err)
					}
				}
			})
		})
	}
}

func TestLobbyLockedConference(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newIVREnv(t, testIVR)
		e.create(t, conf.Conference{ID: "1000", Locked: true})
		r := e.dial(t, conf.DialIn{}, &ivrLeg{})
		r.press("1000#")
		wantPlay(t, r, prompt.Locked, prompt.Goodbye)
		after(promptDrainWait)
		wantHungUp(t, r, conf.ErrLocked)
		if got := e.counter(t, "roomgate_conf_lobby_calls_total", map[string]string{"result": "refused"}); got != 1 {
			t.Errorf("refusals counted %v", got)
		}
	})
}

func TestLobbyEnterFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newIVREnv(t, testIVR)
		e.create(t, conf.Conference{ID: "1000"})
		boom := errors.New("no media")
		r := e.dial(t, conf.DialIn{}, &ivrLeg{enterErr: boom})
		r.press("1000#")
		after(promptDrainWait)
		if h := r.leg.hungUp(); len(h) != 1 || !errors.Is(h[0], boom) {
			t.Fatalf("hang-ups %v, want the Enter error", h)
		}
		if n := e.svc.LiveCount("1000"); n != 0 {
			t.Fatalf("%d live legs after a failed Enter", n)
		}
	})
}

func TestLobbyHangUpByCaller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newIVREnv(t, testIVR)
		r := e.dial(t, conf.DialIn{}, &ivrLeg{})
		r.press("12")
		r.call.End(nil)
		r.call.End(errors.New("again")) // idempotent
		synctest.Wait()
		if !r.ended() {
			t.Fatal("Run did not return after End")
		}
		r.call.Digit('1') // after End: ignored, never blocks
		if got := e.counter(t, "roomgate_conf_lobby_calls_total", map[string]string{"result": "hung_up"}); got != 1 {
			t.Errorf("hang-ups counted %v", got)
		}
	})
}

func TestLobbyRunCancelledStillTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newIVREnv(t, testIVR)
		leg := &ivrLeg{}
		c, err := e.svc.Admit(t.Context(), conf.DialIn{Leg: leg})
		if err != nil {
			t.Fatal(err)
		}
		leg.mu.Lock()
		leg.call = c
		leg.mu.Unlock()
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.Run(ctx)
		}()
		synctest.Wait()
		cancel() // signalling stops running the dialogue but never ends the call
		<-done
		if len(leg.hungUp()) != 0 {
			t.Fatal("hung up before the entry timeout")
		}
		after(testIVR.EntryTimeout)
		if h := leg.hungUp(); len(h) != 1 || !errors.Is(h[0], conf.ErrLobbyTimeout) {
			t.Fatalf("hang-ups %v, want ErrLobbyTimeout", h)
		}
	})
}

// syncBuffer is a bytes.Buffer safe for the Service's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestPINsNeverLogged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf syncBuffer
		log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		e := newIVREnvLog(t, testIVR, log)
		e.create(t, conf.Conference{ID: "1000", PIN: "271828", ModeratorPIN: "314159"})
		r := e.dial(t, conf.DialIn{ConferenceID: "1000", PIN: "577215", SourceIP: "192.0.2.1"}, &ivrLeg{})
		r.press("161803#")
		r.press("271828#")
		wantJoined(t, r, "1000", conf.RoleGuest)
		r.press("*9662607#")
		r.press("*9314159#")
		out := buf.String()
		for _, pin := range []string{"271828", "314159", "577215", "161803", "662607"} {
			if strings.Contains(out, pin) {
				t.Errorf("PIN %s logged:\n%s", pin, out)
			}
		}
		if !strings.Contains(out, "wrong PIN") || !strings.Contains(out, "dtmf command") {
			t.Errorf("the PIN failures and commands were not logged:\n%s", out)
		}
	})
}
