package conf_test

import (
	"context"
	"errors"
	"testing"

	"github.com/roomgate/roomgate/conf"
)

// muteLeg is a leg of an authenticated user whose microphone can be closed.
type muteLeg struct {
	userLeg
	muted []bool
}

func (l *muteLeg) SetMuted(m bool) {
	l.mu.Lock()
	l.muted = append(l.muted, m)
	l.mu.Unlock()
}

// book fills the address book: an operator, the owner, a moderator, a
// member of a moderator group, a plain invitee and an outsider, and a
// conference owned by "owner".
func book(t *testing.T, e *env) (users map[string]conf.User, c conf.Conference) {
	t.Helper()
	ctx := t.Context()
	sys := conf.System()
	users = map[string]conf.User{}
	for id, role := range map[string]string{
		"oper": conf.UserRoleOperator, "root": conf.UserRoleAdmin, "owner": conf.UserRoleUser,
		"mod": conf.UserRoleUser, "gmod": conf.UserRoleUser, "guest1": conf.UserRoleUser, "other": conf.UserRoleUser,
	} {
		u, err := e.svc.CreateUser(ctx, sys, conf.UserInput{ID: id, Role: role, Password: "password-" + id})
		if err != nil {
			t.Fatal(err)
		}
		users[id] = u
	}
	if _, err := e.svc.CreateGroup(ctx, sys, conf.Group{ID: "mods", Members: []string{"gmod"}}); err != nil {
		t.Fatal(err)
	}
	c, err := e.svc.CreateConferenceAs(ctx, users["owner"], conf.Conference{
		ID: "1000", Name: "Board", Access: conf.AccessInternal,
		Invitations: []conf.Invitation{{Target: "mod", Moderator: true}, {Target: "mods", Moderator: true}, {Target: "guest1"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Owner != "owner" {
		t.Fatalf("owner %q", c.Owner)
	}
	return users, c
}

func TestRightsTable(t *testing.T) {
	e := newEnv(t)
	users, c := book(t, e)
	ctx := t.Context()
	allowed := map[conf.Action]map[string]bool{
		conf.ActionView:     {"oper": true, "root": true, "owner": true, "mod": true, "gmod": true, "guest1": true},
		conf.ActionModerate: {"oper": true, "root": true, "owner": true, "mod": true, "gmod": true},
		conf.ActionManage:   {"oper": true, "root": true, "owner": true},
	}
	for a, who := range allowed {
		for id, u := range users {
			err := e.svc.Authorize(ctx, u, c, a)
			if who[id] && err != nil {
				t.Errorf("%s may %s: %v", id, a, err)
			}
			if !who[id] && !errors.Is(err, conf.ErrForbidden) {
				t.Errorf("%s %s: %v, want ErrForbidden", id, a, err)
			}
		}
	}
	// Through the actions themselves.
	if _, err := e.svc.UpdateConferenceAs(ctx, users["mod"], c); !errors.Is(err, conf.ErrForbidden) {
		t.Errorf("moderator updates: %v", err)
	}
	if err := e.svc.DeleteConferenceAs(ctx, users["other"], c.ID); !errors.Is(err, conf.ErrForbidden) {
		t.Errorf("outsider deletes: %v", err)
	}
	if _, err := e.svc.CreateConferenceAs(ctx, users["other"], conf.Conference{Name: "x", Owner: "owner"}); !errors.Is(err, conf.ErrForbidden) {
		t.Errorf("user creates for another owner: %v", err)
	}
	if _, err := e.svc.CreateConferenceAs(ctx, users["oper"], conf.Conference{Name: "x", Owner: "owner"}); err != nil {
		t.Errorf("operator creates for another owner: %v", err)
	}
	changed := c
	changed.Owner = "other"
	if _, err := e.svc.UpdateConferenceAs(ctx, users["owner"], changed); !errors.Is(err, conf.ErrForbidden) {
		t.Errorf("owner gives away: %v", err)
	}
	list, err := e.svc.ListConferencesAs(ctx, users["other"])
	if err != nil || len(list) != 0 {
		t.Errorf("outsider lists %v, %v", list, err)
	}
	list, err = e.svc.ListConferencesAs(ctx, users["guest1"])
	if err != nil || len(list) != 1 {
		t.Errorf("invitee lists %v, %v", list, err)
	}
	if err := e.svc.DeleteConferenceAs(ctx, users["owner"], c.ID); err != nil {
		t.Errorf("owner deletes: %v", err)
	}
}

func TestModeration(t *testing.T) {
	e := newEnv(t)
	users, c := book(t, e)
	ctx := t.Context()
	sub := e.svc.Subscribe()
	defer sub.Close()

	join := func(user string) (*conf.Participant, *muteLeg, error) {
		l := &muteLeg{userLeg: userLeg{user: user}}
		p, err := e.svc.Join(ctx, conf.JoinRequest{ConferenceID: c.ID, DisplayName: user, Protocol: "sip", Remote: "192.0.2.1:5060", Leg: l})
		return p, l, err
	}
	ownerP, _, err := join("owner")
	if err != nil || ownerP.Role() != conf.RoleOwner {
		t.Fatalf("owner joins: %v %v", ownerP, err)
	}
	modP, modLeg, err := join("mod")
	if err != nil || modP.Role() != conf.RoleModerator {
		t.Fatalf("moderator joins: %v", err)
	}
	gP, _, err := join("gmod")
	if err != nil || gP.Role() != conf.RoleModerator {
		t.Fatalf("group moderator joins: %v %v", gP.Role(), err)
	}
	pP, pLeg, err := join("guest1")
	if err != nil || pP.Role() != conf.RoleParticipant {
		t.Fatalf("invitee joins: %v", err)
	}

	// Who may remove whom.
	for _, tc := range []struct {
		actor, target string
		pid           string
		want          error
	}{
		{"guest1", "mod", modP.ID(), conf.ErrForbidden},
		{"other", "mod", modP.ID(), conf.ErrForbidden},
		{"mod", "owner", ownerP.ID(), conf.ErrForbidden},
		{"oper", "owner", ownerP.ID(), conf.ErrForbidden},
		{"mod", "nobody", "deadbeef", conf.ErrNotFound},
	} {
		if err := e.svc.RemoveParticipant(ctx, users[tc.actor], c.ID, tc.pid); !errors.Is(err, tc.want) {
			t.Errorf("%s removes %s: %v, want %v", tc.actor, tc.target, err, tc.want)
		}
	}
	// Mute and unmute.
	if err := e.svc.SetMuted(ctx, users["guest1"], c.ID, modP.ID(), true); !errors.Is(err, conf.ErrForbidden) {
		t.Errorf("participant mutes: %v", err)
	}
	if err := e.svc.SetMuted(ctx, users["gmod"], c.ID, pP.ID(), true); err != nil {
		t.Fatal(err)
	}
	ps, _ := e.svc.Participants(ctx, c.ID)
	for _, p := range ps {
		if p.ID == pP.ID() && !p.Muted {
			t.Error("participant not shown muted")
		}
	}
	if err := e.svc.SetMuted(ctx, users["gmod"], c.ID, pP.ID(), false); err != nil {
		t.Fatal(err)
	}
	if len(pLeg.muted) != 2 || !pLeg.muted[0] || pLeg.muted[1] {
		t.Errorf("leg saw %v", pLeg.muted)
	}
	plain := &userLeg{user: "root"}
	rootP, err := e.svc.Join(ctx, conf.JoinRequest{ConferenceID: c.ID, Leg: plain})
	if err != nil || rootP.Role() != conf.RoleModerator {
		t.Fatalf("administrator joins as moderator: %v", err)
	}
	if err := e.svc.SetMuted(ctx, users["mod"], c.ID, rootP.ID(), true); !errors.Is(err, conf.ErrNotSupported) {
		t.Errorf("muting an unmutable leg: %v", err)
	}

	// A moderator removes another moderator, who cannot come back alone.
	if err := e.svc.RemoveParticipant(ctx, users["gmod"], c.ID, modP.ID()); err != nil {
		t.Fatal(err)
	}
	if h := modLeg.hangups(); len(h) != 1 || !errors.Is(h[0], conf.ErrKicked) {
		t.Errorf("removed leg hang-ups %v", h)
	}
	if _, _, err := join("mod"); !errors.Is(err, conf.ErrRemoved) || !errors.Is(err, conf.ErrUnauthorized) {
		t.Errorf("removed moderator rejoins: %v", err)
	}
	got, _ := e.svc.GetConference(ctx, c.ID)
	if len(got.Invitations) != 2 {
		t.Errorf("invitation not withdrawn: %+v", got.Invitations)
	}
	// The ban survives a restart.
	e.open(t)
	if _, _, err := join("mod"); !errors.Is(err, conf.ErrRemoved) {
		t.Errorf("after restart: %v", err)
	}
	// Invited again, he may.
	if _, err := e.svc.Invite(ctx, users["owner"], c.ID, []conf.Invitation{{Target: "mod", Moderator: true}}); err != nil {
		t.Fatal(err)
	}
	if p, _, err := join("mod"); err != nil || p.Role() != conf.RoleModerator {
		t.Errorf("re-invited moderator: %v", err)
	}
	if _, err := e.svc.Invite(ctx, users["guest1"], c.ID, []conf.Invitation{{Target: "x"}}); !errors.Is(err, conf.ErrForbidden) {
		t.Errorf("participant invites: %v", err)
	}
	var ve *conf.ValidationError
	if _, err := e.svc.Invite(ctx, users["owner"], c.ID, []conf.Invitation{{Target: "ok"}, {Target: "a b"}}); !errors.As(err, &ve) || ve.Field != "invitations[1].target" {
		t.Errorf("bad invitation: %v", err)
	}
}

func TestLockStopRun(t *testing.T) {
	e := newEnv(t)
	users, c := book(t, e)
	ctx := t.Context()
	sub := e.svc.Subscribe()
	defer sub.Close()
	l := &userLeg{user: "guest1"}
	p, err := e.svc.Join(ctx, conf.JoinRequest{ConferenceID: c.ID, Leg: l})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetLocked(ctx, users["guest1"], c.ID, true); !errors.Is(err, conf.ErrForbidden) {
		t.Errorf("participant locks: %v", err)
	}
	got, err := e.svc.SetLocked(ctx, users["mod"], c.ID, true)
	if err != nil || !got.Locked || got.State != conf.StateRunning {
		t.Fatalf("lock: %+v %v", got, err)
	}
	// A lock keeps out everyone but the owner and moderators.
	if _, err := e.svc.Join(ctx, conf.JoinRequest{ConferenceID: c.ID, Leg: &userLeg{user: "guest1"}}); !errors.Is(err, conf.ErrLocked) {
		t.Errorf("participant joins a locked conference: %v", err)
	}
	mp, err := e.svc.Join(ctx, conf.JoinRequest{ConferenceID: c.ID, Leg: &userLeg{user: "mod"}})
	if err != nil {
		t.Fatalf("moderator joins a locked conference: %v", err)
	}
	e.svc.Leave(mp, nil)
	if _, err := e.svc.SetLocked(ctx, users["mod"], c.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.StopConference(ctx, users["guest1"], c.ID); !errors.Is(err, conf.ErrForbidden) {
		t.Errorf("participant ends: %v", err)
	}
	got, err = e.svc.StopConference(ctx, users["gmod"], c.ID)
	if err != nil || got.State != conf.StateEnded {
		t.Fatalf("stop: %+v %v", got, err)
	}
	if h := l.hangups(); len(h) != 1 || !errors.Is(h[0], conf.ErrEnded) {
		t.Errorf("hang-ups %v", h)
	}
	e.svc.Leave(p, nil) // late BYE after the stop: nothing happens
	if recs := e.records(t, c.ID); len(recs) != 2 || recs[0].UserID != "guest1" || recs[0].Cause != conf.ErrEnded.Error() {
		t.Errorf("records %+v", recs)
	}
	if _, err := e.svc.RunConference(ctx, users["mod"], c.ID); !errors.Is(err, conf.ErrForbidden) {
		t.Errorf("moderator runs: %v", err)
	}
	got, err = e.svc.RunConference(ctx, users["owner"], c.ID)
	if err != nil || got.State != conf.StateRunning {
		t.Fatalf("run: %+v %v", got, err)
	}
	var types []string
	for len(sub.C()) > 0 {
		types = append(types, (<-sub.C()).Type)
	}
	want := []string{conf.EventJoined, conf.EventLocked, conf.EventJoined, conf.EventLeft, conf.EventUnlocked,
		conf.EventLeft, conf.EventEnded, conf.EventStarted}
	if len(types) != len(want) {
		t.Fatalf("events %v, want %v", types, want)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Errorf("event %d: %s, want %s", i, types[i], want[i])
		}
	}
}

func TestGuestRemovalAndPublic(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	c, err := e.svc.CreateConferenceAs(ctx, conf.System(), conf.Conference{Name: "Webinar", Access: conf.AccessPublic})
	if err != nil {
		t.Fatal(err)
	}
	g := &fakeLeg{}
	p, err := e.svc.Join(ctx, conf.JoinRequest{ConferenceID: c.ID, Remote: "198.51.100.7:5060", Leg: g})
	if err != nil || p.Role() != conf.RoleGuest {
		t.Fatalf("guest joins public: %v", err)
	}
	if err := e.svc.RemoveParticipant(ctx, conf.System(), c.ID, p.ID()); err != nil {
		t.Fatal(err)
	}
	// Same host, new port: still removed; another host is welcome.
	if _, err := e.svc.Join(ctx, conf.JoinRequest{ConferenceID: c.ID, Remote: "198.51.100.7:5070", Leg: &fakeLeg{}}); !errors.Is(err, conf.ErrRemoved) {
		t.Errorf("removed guest: %v", err)
	}
	if _, err := e.svc.Join(ctx, conf.JoinRequest{ConferenceID: c.ID, Remote: "198.51.100.8:5060", Leg: &fakeLeg{}}); err != nil {
		t.Errorf("other guest: %v", err)
	}
	// A guest without an address is hung up but bans nobody else.
	anon, err := e.svc.Join(ctx, conf.JoinRequest{ConferenceID: c.ID, Leg: &fakeLeg{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RemoveParticipant(ctx, conf.System(), c.ID, anon.ID()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Join(ctx, conf.JoinRequest{ConferenceID: c.ID, Leg: &fakeLeg{}}); err != nil {
		t.Errorf("guest without address after another was removed: %v", err)
	}
}

func TestEventsDropOldest(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c, err := e.svc.CreateConference(ctx, conf.Conference{Name: "x"})
	if err != nil {
		t.Fatal(err)
	}
	sub := e.svc.Subscribe()
	const n = 300 // more than a subscriber's queue
	for range n {
		p, err := e.svc.Join(ctx, conf.JoinRequest{ConferenceID: c.ID, Leg: &fakeLeg{}})
		if err != nil {
			t.Fatal(err)
		}
		e.svc.Leave(p, nil)
	}
	if sub.Dropped() == 0 {
		t.Error("nothing dropped")
	}
	first := <-sub.C()
	if first.Seq <= 1 {
		t.Errorf("oldest kept seq %d, want a later one", first.Seq)
	}
	sub.Close()
	sub.Close()
	if _, ok := <-sub.C(); ok {
		// drain what is left
		for range sub.C() {
		}
	}
}
