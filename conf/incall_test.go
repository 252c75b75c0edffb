package conf_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/roomgate/roomgate/bridge/prompt"
	"github.com/roomgate/roomgate/conf"
)

// joinN dials n guests into conference id directly, one second apart so
// that their join order is clear; guest i calls from 192.0.2.(10+i).
func joinN(t *testing.T, e *ivrEnv, id string, n int) []*running {
	t.Helper()
	var out []*running
	for i := range n {
		out = append(out, e.dial(t, conf.DialIn{ConferenceID: id, DisplayName: fmt.Sprintf("guest %d", i),
			Remote: fmt.Sprintf("192.0.2.%d:5060", 10+i)}, &ivrLeg{}))
		after(time.Second)
	}
	return out
}

func liveMuted(t *testing.T, e *ivrEnv, id string) map[string]bool {
	t.Helper()
	ps, err := e.svc.Participants(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]bool, len(ps))
	for _, p := range ps {
		out[p.ID] = p.Muted
	}
	return out
}

func TestInCallMuteSelf(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newIVREnv(t, testIVR)
		e.create(t, conf.Conference{ID: "1000"})
		r := e.dial(t, conf.DialIn{ConferenceID: "1000"}, &ivrLeg{})
		id := r.call.Participant().ID()
		r.press("*6")
		wantPlay(t, r, prompt.Muted)
		if !liveMuted(t, e, "1000")[id] {
			t.Fatal("*6 did not mute")
		}
		r.press("*6")
		wantPlay(t, r, prompt.Unmuted)
		if liveMuted(t, e, "1000")[id] {
			t.Fatal("*6 again did not unmute")
		}
		r.leg.mu.Lock()
		got := slices.Clone(r.leg.muted)
		r.leg.mu.Unlock()
		if !slices.Equal(got, []bool{true, false}) {
			t.Errorf("leg mutes %v", got)
		}
	})
}

func TestInCallGuestMayNotUnmuteWithoutSpeech(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newIVREnv(t, testIVR)
		e.create(t, conf.Conference{ID: "1000", GuestRights: &conf.GuestRights{Speak: false, Video: true}})
		r := e.dial(t, conf.DialIn{ConferenceID: "1000"}, &ivrLeg{})
		wantPlay(t, r, prompt.FirstParticipant, prompt.Muted)
		r.press("*6")
		wantPlay(t, r, "not-allowed")
		if !liveMuted(t, e, "1000")[r.call.Participant().ID()] {
			t.Fatal("a guest without speech unmuted himself")
		}
	})
}

func TestInCallGainsClamped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newIVREnv(t, testIVR)
		e.create(t, conf.Conference{ID: "1000"})
		r := e.dial(t, conf.DialIn{ConferenceID: "1000"}, &ivrLeg{})
		for range 6 {
			r.press("*4") // listen down
		}
		r.press("*8") // talk up
		r.press("*7") // listen up
		r.press("*5")
		r.press("*5") // talk down
		r.leg.mu.Lock()
		got := slices.Clone(r.leg.gains)
		r.leg.mu.Unlock()
		want := [][2]int{{-1, 0}, {-2, 0}, {-3, 0}, {-4, 0}, {-4, 0}, {-4, 0}, {-4, 1}, {-3, 1}, {-3, 0}, {-3, -1}}
		if !slices.Equal(got, want) {
			t.Fatalf("gains %v, want %v", got, want)
		}
	})
}

func TestInCallHelpAndCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newIVREnv(t, testIVR)
		e.create(t, conf.Conference{ID: "1000"})
		rs := joinN(t, e, "1000", 3)
		rs[0].press("**")
		wantPlay(t, rs[0], "help")
		rs[0].press("*1")
		wantPlay(t, rs[0], prompt.ThereAre, prompt.Digit(3), prompt.Participants)
	})
}

func TestInCallTypeAheadStopsPrompt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newIVREnv(t, testIVR)
		e.create(t, conf.Conference{ID: "1000"})
		r := e.dial(t, conf.DialIn{ConferenceID: "1000"}, &ivrLeg{})
		r.press("*") // over the greeting
		if n := r.leg.stopped(); n != 1 {
			t.Fatalf("StopPlaying called %d times, want 1", n)
		}
		r.press("6")
		wantPlay(t, r, prompt.Muted)
	})
}

func TestInCallModeratorCommandsNeedRights(t *testing.T) {
	for _, keys := range []string{"*2", "*3", "*0", "##"} {
		t.Run(safeName(keys), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newIVREnv(t, testIVR)
				e.create(t, conf.Conference{ID: "1000"})
				rs := joinN(t, e, "1000", 2)
				rs[0].press(keys)
				wantPlay(t, rs[0], "not-allowed")
				rs[0].press("1") // a confirm key does nothing either
				c, err := e.svc.GetConference(t.Context(), "1000")
				if err != nil {
					t.Fatal(err)
				}
				if c.Locked || e.svc.LiveCount("1000") != 2 || slices.ContainsFunc(slices.Collect(mapValues(liveMuted(t, e, "1000"))), func(b bool) bool { return b }) {
					t.Fatalf("a guest's %s changed the conference: locked %v, live %d", keys, c.Locked, e.svc.LiveCount("1000"))
				}
				if got := e.counter(t, "roomgate_conf_dtmf_commands_total", map[string]string{"result": "denied"}); got != 1 {
					t.Errorf("denied commands counted %v", got)
				}
			})
		})
	}
}

func mapValues(m map[string]bool) func(func(bool) bool) {
	return func(yield func(bool) bool) {
		for _, v := range m {
			if !yield(v) {
				return
			}
		}
	}
}

func TestInCallMuteAll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newIVREnv(t, testIVR)
		e.create(t, conf.Conference{ID: "1000", Owner: "alice", ModeratorPIN: "9876"})
		owner := e.dial(t, conf.DialIn{ConferenceID: "1000"}, &ivrLeg{user: "alice"})
		mod := e.dial(t, conf.DialIn{ConferenceID: "1000", PIN: "9876"}, &ivrLeg{})
		guests := joinN(t, e, "1000", 2)
		sub := e.svc.Subscribe()
		defer sub.Close()
		mod.press("*2")
		wantPlay(t, mod, "all-muted")
		m := liveMuted(t, e, "1000")
		if m[owner.call.Participant().ID()] || m[mod.call.Participant().ID()] {
			t.Error("mute-all muted the owner or a moderator")
		}
		for _, g := range guests {
			if !m[g.call.Participant().ID()] {
				t.Error("mute-all left a guest unmuted")
			}
		}
		if n := len(sub.C()); n != 2 {
			t.Errorf("%d events, want 2 participant_muted", n)
		}
	})
}

func TestMuteAllREST(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newIVREnv(t, testIVR)
		e.create(t, conf.Conference{ID: "1000", Owner: "alice"})
		joinN(t, e, "1000", 3)
		if _, err := e.svc.MuteAll(t.Context(), conf.User{ID: "mallory", Role: conf.UserRoleUser}, "1000"); !errors.Is(err, conf.ErrForbidden) {
			t.Fatalf("MuteAll by a stranger: %v, want ErrForbidden", err)
		}
		n, err := e.svc.MuteAll(t.Context(), conf.User{ID: "alice", Role: conf.UserRoleUser}, "1000")
		if err != nil || n != 3 {
			t.Fatalf("MuteAll by the owner: %d, %v; want 3", n, err)
		}
		if n, err := e.svc.MuteAll(t.Context(), conf.User{ID: "op", Role: conf.UserRoleOperator}, "1000"); err != nil || n != 0 {
			t.Fatalf("MuteAll again: %d, %v; want 0 (all muted)", n, err)
		}
	})
}

func TestInCallLockToggle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newIVREnv(t, testIVR)
		e.create(t, conf.Conference{ID: "1000", Owner: "alice"})
		owner := e.dial(t, conf.DialIn{ConferenceID: "1000"}, &ivrLeg{user: "alice"})
		sub := e.svc.Subscribe()
		defer sub.Close()
		owner.press("*3")
		wantPlay(t, owner, prompt.Locked)
		select {
		case ev := <-sub.C():
			if ev.Type != conf.EventLocked || ev.By != "alice" || ev.ConferenceID != "1000" {
				t.Fatalf("event %+v, want conference_locked by alice", ev)
			}
		default:
			t.Fatal("no event for the lock")
		}
		if _, err := e.svc.Admit(t.Context(), conf.DialIn{ConferenceID: "1000", Leg: &ivrLeg{}}); !errors.Is(err, conf.ErrLocked) {
			t.Fatalf("dial-in to the locked conference: %v, want ErrLocked", err)
		}
		owner.press("*3")
		wantPlay(t, owner, "unlocked")
		c, err := e.svc.GetConference(t.Context(), "1000")
		if err != nil || c.Locked {
			t.Fatalf("after unlocking: locked %v, %v", c.Locked, err)
		}
	})
}

func TestInCallRightsOfInvitedModerator(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newIVREnv(t, testIVR)
		e.create(t, conf.Conference{ID: "1000", Owner: "alice"})
		bob := e.dial(t, conf.DialIn{ConferenceID: "1000"}, &ivrLeg{user: "bob"})
		bob.press("*3")
		wantPlay(t, bob, "not-allowed")
		// Invited as moderator while in the call: his rights follow.
		if _, err := e.svc.Invite(t.Context(), conf.User{ID: "alice"}, "1000", []conf.Invitation{{Target: "bob", Moderator: true}}); err != nil {
			t.Fatal(err)
		}
		bob.press("*3")
		wantPlay(t, bob, prompt.Locked)
	})
}

func TestInCallRemoveLast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newIVREnv(t, testIVR)
		e.create(t, conf.Conference{ID: "1000", Owner: "alice", ModeratorPIN: "9876"})
		owner := e.dial(t, conf.DialIn{ConferenceID: "1000"}, &ivrLeg{user: "alice"})
		guests := joinN(t, e, "1000", 2)
		mod := e.dial(t, conf.DialIn{ConferenceID: "1000", PIN: "9876", Remote: "192.0.2.99:5060"}, &ivrLeg{})
		mod.press("*0") // removes the last one but himself: guest 1
		wantPlay(t, mod, "participant-removed")
		if h := guests[1].leg.hungUp(); len(h) != 1 || !errors.Is(h[0], conf.ErrKicked) {
			t.Fatalf("last guest hang-ups %v, want ErrKicked", h)
		}
		// The ban holds: he cannot dial in again.
		if _, err := e.svc.Admit(t.Context(), conf.DialIn{ConferenceID: "1000", Remote: "192.0.2.11:5060", Leg: &ivrLeg{}}); !errors.Is(err, conf.ErrRemoved) {
			t.Fatalf("removed guest dialling again: %v, want ErrRemoved", err)
		}
		mod.press("*0")
		if h := guests[0].leg.hungUp(); len(h) != 1 {
			t.Fatalf("first guest hang-ups %v", h)
		}
		mod.press("*0") // only the owner is left: never removed
		wantPlay(t, mod, "not-allowed")
		if len(owner.leg.hungUp()) != 0 || e.svc.LiveCount("1000") != 2 {
			t.Fatal("remove-last removed the owner")
		}
	})
}

func TestInCallEndForAll(t *testing.T) {
	cases := []struct {
		name    string
		confirm func(r *running)
		ended   bool
	}{
		{"confirmed", func(r *running) { r.press("1") }, true},
		{"other key cancels", func(r *running) { r.press("2") }, false},
		{"timeout cancels", func(*running) { after(promptLen + testIVR.DigitTimeout) }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newIVREnv(t, testIVR)
				e.create(t, conf.Conference{ID: "1000", Owner: "alice"})
				owner := e.dial(t, conf.DialIn{ConferenceID: "1000"}, &ivrLeg{user: "alice"})
				guests := joinN(t, e, "1000", 2)
				owner.press("##")
				wantPlay(t, owner, "confirm-end")
				tc.confirm(owner)
				if tc.ended {
					// Everyone hears that the conference ended, then is hung up.
					for _, r := range append(guests, owner) {
						wantPlay(t, r, prompt.ConferenceEnded)
					}
					after(promptLen)
					for _, r := range append(guests, owner) {
						if h := r.leg.hungUp(); len(h) != 1 || !errors.Is(h[0], conf.ErrEnded) {
							t.Fatalf("hang-ups %v, want ErrEnded", h)
						}
					}
					return
				}
				if n := e.svc.LiveCount("1000"); n != 3 {
					t.Fatalf("%d live legs after a cancelled end", n)
				}
				owner.press("*6") // commands work again
				wantPlay(t, owner, prompt.Muted)
			})
		})
	}
}

func TestInCallBecomeModerator(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newIVREnv(t, testIVR)
		e.create(t, conf.Conference{ID: "1000", ModeratorPIN: "9876"})
		r := e.dial(t, conf.DialIn{ConferenceID: "1000"}, &ivrLeg{})
		r.press("*9")
		wantPlay(t, r, "enter-moderator-pin")
		r.press("9876#")
		wantPlay(t, r, "moderator")
		if role := r.call.Participant().Role(); role != conf.RoleModerator {
			t.Fatalf("role %s after the moderator PIN", role)
		}
		r.press("*3") // he may lock now
		wantPlay(t, r, prompt.Locked)
	})
}

func TestInCallModeratorPINByTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newIVREnv(t, testIVR)
		e.create(t, conf.Conference{ID: "1000", ModeratorPIN: "9876"})
		r := e.dial(t, conf.DialIn{ConferenceID: "1000"}, &ivrLeg{})
		r.press("*9")
		after(promptLen + testIVR.DigitTimeout - time.Second) // the question, then most of the timeout
		r.press("9876")
		after(testIVR.DigitTimeout)
		if role := r.call.Participant().Role(); role != conf.RoleModerator {
			t.Fatalf("role %s: the digit timeout must end the PIN entry as #", role)
		}
	})
}

func TestInCallWrongModeratorPIN(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newIVREnv(t, testIVR)
		e.create(t, conf.Conference{ID: "1000", ModeratorPIN: "9876"})
		r := e.dial(t, conf.DialIn{ConferenceID: "1000", SourceIP: "203.0.113.5"}, &ivrLeg{})
		for range 2 {
			r.press("*91111#")
			wantPlay(t, r, prompt.WrongPIN)
		}
		r.press("*91111#")
		wantPlay(t, r, prompt.WrongPIN, "too-many-attempts", prompt.Goodbye)
		after(promptDrainWait)
		if h := r.leg.hungUp(); len(h) != 1 || !errors.Is(h[0], conf.ErrWrongPIN) {
			t.Fatalf("hang-ups %v, want ErrWrongPIN", h)
		}
		if !r.ended() || e.svc.LiveCount("1000") != 0 {
			t.Fatal("the call is still in the conference")
		}
		if got := e.counter(t, "roomgate_conf_pin_failures_total", map[string]string{"where": "in_call"}); got != 3 {
			t.Errorf("in-call PIN failures counted %v", got)
		}
	})
}

func TestInCallModeratorWithoutPIN(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newIVREnv(t, testIVR)
		e.create(t, conf.Conference{ID: "1000"})
		r := e.dial(t, conf.DialIn{ConferenceID: "1000"}, &ivrLeg{})
		r.press("*9")
		wantPlay(t, r, "not-allowed")
	})
}

func TestInCallConferenceKeyMap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newIVREnv(t, testIVR)
		e.create(t, conf.Conference{ID: "1000", KeyMap: "mute=#1, help="})
		r := e.dial(t, conf.DialIn{ConferenceID: "1000"}, &ivrLeg{})
		r.press("**") // help disabled
		r.press("*6") // mute moved
		wantPlay(t, r, prompt.FirstParticipant)
		r.press("#1")
		wantPlay(t, r, prompt.Muted)
		r.press("*1") // the rest of the configured map stays
		wantPlay(t, r, prompt.OnlyParticipant)
	})
}

func TestInCallDTMFPassthrough(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newIVREnv(t, testIVR)
		e.create(t, conf.Conference{ID: "1000", DTMFPassthrough: true, ModeratorPIN: "9876"})
		e.create(t, conf.Conference{ID: "2000"})
		r := e.dial(t, conf.DialIn{ConferenceID: "1000"}, &ivrLeg{})
		r.press("*6A")
		wantPlay(t, r, prompt.Muted) // commands still work
		r.leg.mu.Lock()
		got := string(r.leg.passed)
		r.leg.mu.Unlock()
		if got != "*6A" {
			t.Fatalf("passed %q, want *6A", got)
		}
		// The digits of a moderator PIN are never passed on.
		r.press("*9")
		r.press("9876#")
		if role := r.call.Participant().Role(); role != conf.RoleModerator {
			t.Fatalf("role %s after the moderator PIN", role)
		}
		r.leg.mu.Lock()
		got = string(r.leg.passed)
		r.leg.mu.Unlock()
		if got != "*6A*9" {
			t.Fatalf("passed %q, want *6A*9: PIN digits leaked", got)
		}
		other := e.dial(t, conf.DialIn{ConferenceID: "2000"}, &ivrLeg{})
		other.press("*6")
		other.leg.mu.Lock()
		n := len(other.leg.passed)
		other.leg.mu.Unlock()
		if n != 0 {
			t.Fatal("keys passed through without the conference option")
		}
	})
}

func TestInCallLostDigit(t *testing.T) {
	// End to end for the moderator commands of the default map: a key
	// lost from the sequence, then a pause, does nothing; the next command
	// works. TestLostDigitCannotTriggerCommand enumerates every case on
	// the key machine.
	for _, seq := range []string{"*2", "*3", "*0", "##"} {
		for i := range 2 {
			lost := seq[:i] + seq[i+1:]
			if i == 1 && lost == seq[1:] {
				continue // both deletions leave the same key
			}
			t.Run(safeName(seq+"-"+lost), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					e := newIVREnv(t, testIVR)
					e.create(t, conf.Conference{ID: "1000", Owner: "alice"})
					owner := e.dial(t, conf.DialIn{ConferenceID: "1000"}, &ivrLeg{user: "alice"})
					guests := joinN(t, e, "1000", 1)
					owner.press(lost)
					after(testIVR.DigitTimeout)
					owner.press("*1")
					wantPlay(t, owner, prompt.ThereAre, prompt.Digit(2), prompt.Participants)
					if got := owner.leg.played(); len(got) != 4 {
						t.Fatalf("prompts %v: the lost key triggered something", got)
					}
					c, _ := e.svc.GetConference(t.Context(), "1000")
					if c.Locked || len(guests[0].leg.hungUp()) != 0 || liveMuted(t, e, "1000")[guests[0].call.Participant().ID()] {
						t.Fatal("the lost key changed the conference")
					}
				})
			})
		}
	}
}

func TestDigitFloodAndInvalid(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newIVREnv(t, testIVR)
		e.create(t, conf.Conference{ID: "1000", DTMFPassthrough: true})
		r := e.dial(t, conf.DialIn{ConferenceID: "1000"}, &ivrLeg{})
		for _, d := range "xyz!\x00é" {
			r.call.Digit(d)
		}
		for range 100 {
			r.call.Digit('5') // all at one instant
		}
		synctest.Wait()
		r.leg.mu.Lock()
		passed := len(r.leg.passed)
		r.leg.mu.Unlock()
		if passed != 20 {
			t.Errorf("%d keys of a flood handled, want the burst of 20", passed)
		}
		if got := e.counter(t, "roomgate_conf_dtmf_dropped_total", map[string]string{"reason": "flood"}); got != 80 {
			t.Errorf("flood drops counted %v, want 80", got)
		}
		if got := e.counter(t, "roomgate_conf_dtmf_dropped_total", map[string]string{"reason": "invalid"}); got != 6 {
			t.Errorf("invalid drops counted %v, want 6", got)
		}
		after(time.Second) // the bucket refills
		r.press("*6")
		wantPlay(t, r, prompt.Muted)
	})
}

func TestCallEndIdempotent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newIVREnv(t, testIVR)
		e.create(t, conf.Conference{ID: "1000"})
		joinN(t, e, "1000", 1)
		r := e.dial(t, conf.DialIn{ConferenceID: "1000"}, &ivrLeg{})
		sub := e.svc.Subscribe()
		defer sub.Close()
		r.call.End(nil)
		r.call.End(errors.New("twice"))
		synctest.Wait()
		if !r.ended() {
			t.Fatal("Run did not return")
		}
		if n := len(sub.C()); n != 1 {
			t.Errorf("%d events after ending twice, want one participant_left", n)
		}
		if got := e.ann.all(); !slices.Equal(got, []string{"1000:join", "1000:join", "1000:leave"}) {
			t.Errorf("announcements %v", got)
		}
		r.call.Run(t.Context()) // after End: returns at once
	})
}
