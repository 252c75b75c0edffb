package conf_test

import (
	"context"
	"errors"
	"github.com/roomgate/roomgate/bridge/prompt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/roomgate/roomgate/conf"
)

// ownerEnv: users owner, bob, mod; conference 1000 of owner with mod as
// moderator; the owner is in it on a phone.
func ownerEnv(t *testing.T, c conf.Conference) (*conf.Service, map[string]conf.User) {
	t.Helper()
	svc, _ := newRealmEnv(t, nil)
	users := map[string]conf.User{}
	for _, id := range []string{"owner", "bob", "mod", "carol"} {
		users[id] = mustUser(t, svc, conf.UserInput{ID: id})
	}
	c.ID, c.Name = "1000", "Board"
	c.Invitations = append(c.Invitations, conf.Invitation{Target: "mod", Moderator: true})
	if _, err := svc.CreateConferenceAs(t.Context(), users["owner"], c); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Join(t.Context(), conf.JoinRequest{ConferenceID: "1000", DisplayName: "Owner", Protocol: "sip",
		Leg: &userLeg{user: "owner"}}); err != nil {
		t.Fatal(err)
	}
	return svc, users
}

func TestRouteCallRefusesUnauthenticated(t *testing.T) {
	svc, _ := ownerEnv(t, conf.Conference{})
	d := &joinDialer{svc: svc, schemes: []string{"sip"}}
	svc.RegisterDialer(d)
	for _, target := range []string{"owner", "sip:room@192.0.2.1", "#tel:+15551234"} {
		if _, err := svc.RouteCall(t.Context(), conf.User{}, target); !errors.Is(err, conf.ErrUnauthorized) {
			t.Fatalf("unauthenticated call to %s: %v", target, err)
		}
	}
	svc.StopDialing()
	if n := len(d.requests()); n != 0 {
		t.Fatalf("an unauthenticated caller made the server dial %d calls", n)
	}
}

func TestRouteCallToOwner(t *testing.T) {
	for _, auto := range []bool{false, true} {
		svc, users := ownerEnv(t, conf.Conference{AdmitWithoutConfirmation: auto})
		r, err := svc.RouteCall(t.Context(), users["bob"], "owner")
		if err != nil {
			t.Fatal(err)
		}
		if r.Route != conf.RouteJoinOwner || r.ConferenceID != "1000" || r.NeedsConfirmation == auto {
			t.Fatalf("admit_without_confirmation=%v: route %+v", auto, r)
		}
		// The owner calling himself, or a user not in a conference: nothing.
		if r, err := svc.RouteCall(t.Context(), users["owner"], "owner"); err != nil || r.Route != conf.RouteNone {
			t.Fatalf("owner calling himself: %+v %v", r, err)
		}
		if r, err := svc.RouteCall(t.Context(), users["bob"], "carol"); err != nil || r.Route != conf.RouteNone {
			t.Fatalf("calling a user without a conference: %+v %v", r, err)
		}
	}
}

func TestRouteCallFromModeratorInvites(t *testing.T) {
	svc, users := ownerEnv(t, conf.Conference{})
	d := &joinDialer{svc: svc, schemes: []string{"sip"}, block: true}
	svc.RegisterDialer(d)
	// Not in the conference: no rule applies.
	if r, err := svc.RouteCall(t.Context(), users["mod"], "sip:room@192.0.2.1"); err != nil || r.Route != conf.RouteNone {
		t.Fatalf("moderator not in the conference: %+v %v", r, err)
	}
	if _, err := svc.Join(t.Context(), conf.JoinRequest{ConferenceID: "1000", DisplayName: "Mod", Protocol: "sip",
		Leg: &userLeg{user: "mod"}}); err != nil {
		t.Fatal(err)
	}
	r, err := svc.RouteCall(t.Context(), users["mod"], "sip:room@192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if r.Route != conf.RouteInvited || r.ConferenceID != "1000" || len(r.Results) != 1 || r.Results[0].Status != conf.DialStatusDialing {
		t.Fatalf("route %+v", r)
	}
	// The owner too; his dial-out rule holds: no numbers for a user.
	if _, err := svc.RouteCall(t.Context(), users["owner"], "#tel:+15551234"); !errors.Is(err, conf.ErrForbidden) {
		t.Fatalf("owner calling a number: %v", err)
	}
	// A plain participant calling does not invite.
	if _, err := svc.Join(t.Context(), conf.JoinRequest{ConferenceID: "1000", DisplayName: "Bob", Protocol: "sip",
		Leg: &userLeg{user: "bob"}}); err != nil {
		t.Fatal(err)
	}
	if r, err := svc.RouteCall(t.Context(), users["bob"], "sip:room@192.0.2.2"); err != nil || r.Route != conf.RouteNone {
		t.Fatalf("participant calling: %+v %v", r, err)
	}
	svc.StopDialing()
	if reqs := d.requests(); len(reqs) != 1 || reqs[0].By.ID != "mod" {
		t.Fatalf("dial requests %+v", reqs)
	}
}

func TestRequestAdmission(t *testing.T) {
	svc, users := ownerEnv(t, conf.Conference{})
	ctx := t.Context()
	sub := svc.Subscribe()
	defer sub.Close()
	ask := func() chan error {
		done := make(chan error, 1)
		go func() { done <- svc.RequestAdmission(ctx, "1000", users["bob"], "Bob") }()
		return done
	}
	done := ask()
	ev := nextEvent(t, sub, conf.EventAdmitRequest)
	if ev.UserID != "bob" || ev.DisplayName != "Bob" || ev.Target == "" {
		t.Fatalf("request event %+v", ev)
	}
	waiting, err := svc.PendingAdmissions(ctx, users["owner"], "1000")
	if err != nil || len(waiting) != 1 || waiting[0].ID != ev.Target {
		t.Fatalf("pending %+v %v", waiting, err)
	}
	// Only those who may moderate decide.
	if err := svc.DecideAdmission(ctx, users["carol"], "1000", ev.Target, true); !errors.Is(err, conf.ErrForbidden) {
		t.Fatalf("carol deciding: %v", err)
	}
	if err := svc.DecideAdmission(ctx, users["owner"], "1000", "nope", true); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("unknown request: %v", err)
	}
	if err := svc.DecideAdmission(ctx, users["owner"], "1000", ev.Target, true); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("admitted caller: %v", err)
	}
	nextEvent(t, sub, conf.EventAdmitted)

	done = ask()
	ev = nextEvent(t, sub, conf.EventAdmitRequest)
	if err := svc.DecideAdmission(ctx, users["mod"], "1000", ev.Target, false); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, conf.ErrAdmissionDeclined) {
		t.Fatalf("declined caller: %v", err)
	}
	if w, _ := svc.PendingAdmissions(ctx, users["owner"], "1000"); len(w) != 0 {
		t.Fatalf("still pending %+v", w)
	}
}

func TestRequestAdmissionWithoutConfirmationAndTimeout(t *testing.T) {
	svc, users := ownerEnv(t, conf.Conference{AdmitWithoutConfirmation: true})
	if err := svc.RequestAdmission(t.Context(), "1000", users["bob"], ""); err != nil {
		t.Fatalf("admit_without_confirmation: %v", err)
	}
	synctest.Test(t, func(t *testing.T) {
		svc, users := ownerEnv(t, conf.Conference{})
		start := time.Now()
		err := svc.RequestAdmission(t.Context(), "1000", users["bob"], "")
		if !errors.Is(err, conf.ErrAdmissionDeclined) || time.Since(start) != conf.AdmitTimeout {
			t.Fatalf("unanswered after %v: %v", time.Since(start), err)
		}
		ctx, cancel := context.WithCancelCause(t.Context())
		go func() {
			time.Sleep(time.Second)
			cancel(errors.New("caller hung up"))
		}()
		if err := svc.RequestAdmission(ctx, "1000", users["bob"], ""); err == nil || errors.Is(err, conf.ErrAdmissionDeclined) {
			t.Fatalf("caller gave up: %v", err)
		}
	})
}

// chimeLeg is the owner's phone: it records the prompts played to it.
type chimeLeg struct {
	userLeg
	mu     sync.Mutex
	played []string
}

func (l *chimeLeg) Play(names ...string) <-chan struct{} {
	l.mu.Lock()
	l.played = append(l.played, names...)
	l.mu.Unlock()
	ch := make(chan struct{})
	close(ch)
	return ch
}
func (l *chimeLeg) StopPlaying()             {}
func (l *chimeLeg) Enter(string) error       { return nil }
func (l *chimeLeg) SetGain(listen, talk int) {}

func (l *chimeLeg) chimes() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.played...)
}

func TestOwnerAdmitsOnHisKeypad(t *testing.T) {
	svc, _ := newRealmEnv(t, nil)
	ctx := t.Context()
	owner := mustUser(t, svc, conf.UserInput{ID: "owner"})
	bob := mustUser(t, svc, conf.UserInput{ID: "bob"})
	if _, err := svc.CreateConferenceAs(ctx, owner, conf.Conference{ID: "1000", Name: "Board"}); err != nil {
		t.Fatal(err)
	}
	phone := &chimeLeg{userLeg: userLeg{user: "owner"}}
	p, err := svc.Join(ctx, conf.JoinRequest{ConferenceID: "1000", DisplayName: "Owner", Protocol: "sip", Leg: phone})
	if err != nil {
		t.Fatal(err)
	}
	other, err := svc.Join(ctx, conf.JoinRequest{ConferenceID: "1000", DisplayName: "Bob", Protocol: "sip", Leg: &userLeg{user: "bob"}})
	if err != nil {
		t.Fatal(err)
	}
	// Nobody waits: the keys are the key map's.
	if conf.OwnerKey(ctx, svc, p, conf.AdmitKey) {
		t.Fatal("key 1 taken with nobody waiting")
	}
	sub := svc.Subscribe()
	defer sub.Close()
	for _, tc := range []struct {
		key  byte
		want error
	}{{conf.DeclineKey, conf.ErrAdmissionDeclined}, {conf.AdmitKey, nil}} {
		done := make(chan error, 1)
		go func() { done <- svc.RequestAdmission(ctx, "1000", bob, "Bob") }()
		nextEvent(t, sub, conf.EventAdmitRequest)
		// Only the owner's keys answer.
		if conf.OwnerKey(ctx, svc, other, tc.key) {
			t.Fatal("a participant's key answered the owner's question")
		}
		if !conf.OwnerKey(ctx, svc, p, tc.key) {
			t.Fatalf("owner's key %c not taken", tc.key)
		}
		if err := <-done; !errors.Is(err, tc.want) && !(err == nil && tc.want == nil) {
			t.Fatalf("key %c: %v, want %v", tc.key, err, tc.want)
		}
	}
	// Each caller: a chime, then what 1 and 2 do.
	if got := phone.chimes(); !slices.Equal(got, []string{prompt.Join, prompt.AdmitRequest, prompt.Join, prompt.AdmitRequest}) {
		t.Fatalf("owner's phone heard %v, want a chime and the question per caller", got)
	}
}
