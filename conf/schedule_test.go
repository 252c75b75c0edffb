package conf_test

import (
	"errors"
	"testing"
	"time"

	"github.com/roomgate/roomgate/conf"
)

// TestScheduledConference runs a one-off conference under the fake clock:
// closed before its time, started at it, extended, ended at the new end.
func TestScheduledConference(t *testing.T) {
	e := newEnv(t)
	users, _ := book(t, e)
	ctx := t.Context()
	c, err := e.svc.CreateConferenceAs(ctx, users["owner"], conf.Conference{
		ID: "3000", Name: "Review", Access: conf.AccessInternal, Invitations: []conf.Invitation{{Target: "mod"}, {Target: "guest1"}},
		Schedule: conf.Schedule{Type: conf.ScheduleOnce, Start: start.Add(time.Hour), DurationMinutes: 30},
	})
	if err != nil {
		t.Fatal(err)
	}
	sub := e.svc.Subscribe()
	defer sub.Close()
	join := func(user string) (*conf.Participant, *userLeg, error) {
		l := &userLeg{user: user}
		p, err := e.svc.Join(ctx, conf.JoinRequest{ConferenceID: c.ID, Leg: l})
		return p, l, err
	}
	if _, _, err := join("mod"); !errors.Is(err, conf.ErrNotStarted) || !errors.Is(err, conf.ErrLocked) {
		t.Fatalf("join before the start: %v", err)
	}
	if err := e.svc.CheckSchedules(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.svc.GetConference(ctx, c.ID); got.State != conf.StateIdle {
		t.Errorf("state before the start %q", got.State)
	}
	if _, err := e.svc.ExtendConference(ctx, users["owner"], c.ID, 10); !errors.Is(err, conf.ErrConflict) {
		t.Errorf("extending before the start: %v", err)
	}

	e.clock.Advance(time.Hour)
	if err := e.svc.CheckSchedules(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.svc.GetConference(ctx, c.ID); got.State != conf.StateRunning {
		t.Errorf("state at the start %q", got.State)
	}
	_, leg, err := join("mod")
	if err != nil {
		t.Fatalf("join at the start: %v", err)
	}
	if _, err := e.svc.ExtendConference(ctx, users["mod"], c.ID, 10); !errors.Is(err, conf.ErrForbidden) {
		t.Errorf("moderator extends: %v", err)
	}
	end, err := e.svc.ExtendConference(ctx, users["owner"], c.ID, 10)
	if err != nil || !end.Equal(start.Add(time.Hour+40*time.Minute)) {
		t.Fatalf("extend: %v %v", end, err)
	}
	var ve *conf.ValidationError
	if _, err := e.svc.ExtendConference(ctx, users["owner"], c.ID, 0); !errors.As(err, &ve) || ve.Field != "minutes" {
		t.Errorf("zero extension: %v", err)
	}

	e.clock.Advance(31 * time.Minute) // past the planned end, inside the extension
	if err := e.svc.CheckSchedules(ctx); err != nil {
		t.Fatal(err)
	}
	if len(leg.hangups()) != 0 {
		t.Fatal("ended before the extended end")
	}
	if _, _, err := join("guest1"); err != nil {
		t.Errorf("join during the extension: %v", err)
	}

	e.clock.Advance(10 * time.Minute)
	if err := e.svc.CheckSchedules(ctx); err != nil {
		t.Fatal(err)
	}
	if h := leg.hangups(); len(h) != 1 || !errors.Is(h[0], conf.ErrScheduleEnded) {
		t.Fatalf("hang-ups at the end: %v", h)
	}
	if got, _ := e.svc.GetConference(ctx, c.ID); got.State != conf.StateEnded {
		t.Errorf("state after the end %q", got.State)
	}
	if _, _, err := join("mod"); !errors.Is(err, conf.ErrNotStarted) {
		t.Errorf("join after the end: %v", err)
	}
	var types []string
	for len(sub.C()) > 0 {
		ev := <-sub.C()
		if ev.Type == conf.EventStarted || ev.Type == conf.EventEnded {
			types = append(types, ev.Type)
		}
	}
	if len(types) != 2 || types[0] != conf.EventStarted || types[1] != conf.EventEnded {
		t.Errorf("schedule events %v", types)
	}
	// The owner may still start it early (or again).
	if _, err := e.svc.RunConference(ctx, users["owner"], c.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := join("mod"); err != nil {
		t.Errorf("join after run: %v", err)
	}
}

// TestWeeklySchedule checks occurrences in a time zone, day by day, and
// that ending for all closes the occurrence until the next one.
func TestWeeklySchedule(t *testing.T) {
	e := newEnv(t)
	users, _ := book(t, e)
	ctx := t.Context()
	// start is Wednesday 2026-05-06 07:08:09 UTC, 09:08:09 in Berlin.
	c, err := e.svc.CreateConferenceAs(ctx, users["owner"], conf.Conference{
		ID: "4000", Name: "Stand-up", Access: conf.AccessInternal,
		Invitations: []conf.Invitation{{Target: "mod", Moderator: true}},
		Schedule: conf.Schedule{Type: conf.ScheduleWeekly, Start: time.Date(2026, 5, 6, 7, 30, 0, 0, time.UTC),
			DurationMinutes: 60, Days: []string{"wed", "fri"}, TimeZone: "Europe/Berlin"},
	})
	if err != nil {
		t.Fatal(err)
	}
	open := func() error {
		p, err := e.svc.Join(ctx, conf.JoinRequest{ConferenceID: c.ID, Leg: &userLeg{user: "mod"}})
		if err == nil {
			e.svc.Leave(p, nil)
		}
		return err
	}
	steps := []struct {
		advance time.Duration
		open    bool
	}{
		{0, false},                         // Wed 09:08 Berlin: before
		{22 * time.Minute, true},           // Wed 09:30
		{59 * time.Minute, true},           // Wed 10:29
		{time.Minute, false},               // Wed 10:30: over
		{23 * time.Hour, false},            // Thu 09:30: not a chosen day
		{24*time.Hour + time.Minute, true}, // Fri 09:31
	}
	for i, st := range steps {
		e.clock.Advance(st.advance)
		if err := e.svc.CheckSchedules(ctx); err != nil {
			t.Fatal(err)
		}
		err := open()
		if st.open && err != nil || !st.open && !errors.Is(err, conf.ErrNotStarted) {
			t.Errorf("step %d (%s): %v, want open %v", i, e.clock.Now(), err, st.open)
		}
	}
	// Ended for all on Friday: closed for the rest of the occurrence.
	if _, err := e.svc.StopConference(ctx, users["mod"], c.ID); err != nil {
		t.Fatal(err)
	}
	if err := open(); !errors.Is(err, conf.ErrNotStarted) {
		t.Errorf("after stop: %v", err)
	}
	// The owner may come back (his join starts it), but the end of the
	// occurrence still ends it.
	ownerLeg := &userLeg{user: "owner"}
	if _, err := e.svc.Join(ctx, conf.JoinRequest{ConferenceID: c.ID, Leg: ownerLeg}); err != nil {
		t.Fatalf("owner after stop: %v", err)
	}
	e.clock.Advance(time.Hour) // Fri 10:31
	if err := e.svc.CheckSchedules(ctx); err != nil {
		t.Fatal(err)
	}
	if h := ownerLeg.hangups(); len(h) != 1 || !errors.Is(h[0], conf.ErrScheduleEnded) {
		t.Errorf("owner hang-ups at the end: %v", h)
	}
	e.clock.Advance(5*24*time.Hour - time.Hour) // next Wednesday 09:31
	if err := e.svc.CheckSchedules(ctx); err != nil {
		t.Fatal(err)
	}
	if err := open(); err != nil {
		t.Errorf("next occurrence: %v", err)
	}
}

// TestOwnerStartsEarly: the owner dialling in opens his scheduled
// conference before its time.
func TestOwnerStartsEarly(t *testing.T) {
	e := newEnv(t)
	users, _ := book(t, e)
	ctx := t.Context()
	c, err := e.svc.CreateConferenceAs(ctx, users["owner"], conf.Conference{
		Name: "Later", Access: conf.AccessInternal, Invitations: []conf.Invitation{{Target: "mod"}},
		Schedule: conf.Schedule{Type: conf.ScheduleOnce, Start: start.Add(24 * time.Hour), DurationMinutes: 30},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Join(ctx, conf.JoinRequest{ConferenceID: c.ID, Leg: &userLeg{user: "mod"}}); !errors.Is(err, conf.ErrNotStarted) {
		t.Fatalf("early join: %v", err)
	}
	p, err := e.svc.Join(ctx, conf.JoinRequest{ConferenceID: c.ID, Leg: &userLeg{user: "owner"}})
	if err != nil || p.Role() != conf.RoleOwner {
		t.Fatalf("owner joins early: %v", err)
	}
	if _, err := e.svc.Join(ctx, conf.JoinRequest{ConferenceID: c.ID, Leg: &userLeg{user: "mod"}}); err != nil {
		t.Errorf("join after the owner started it: %v", err)
	}
}
