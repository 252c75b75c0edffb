package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/conf"
)

// fakeLeg is a conf.LegHandle without media; a non-empty user makes it an
// authenticated leg.
type fakeLeg struct {
	user string
	mu   sync.Mutex
	hung []error
}

func (l *fakeLeg) Hangup(cause error) {
	l.mu.Lock()
	l.hung = append(l.hung, cause)
	l.mu.Unlock()
}

func (l *fakeLeg) Stats() bridge.LegStats { return bridge.LegStats{} }

func (l *fakeLeg) UserID() string { return l.user }

// clock is a settable clock for the Service.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// newService returns a Service over s that is closed (flushing call
// records) at the end of t unless the test closes it first.
func newService(t *testing.T, s Store, clk *clock) *conf.Service {
	t.Helper()
	svc := conf.NewService(s, nil, conf.WithClock(clk.Now), conf.WithPasswordIterations(1000))
	t.Cleanup(func() {
		if err := svc.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return svc
}

// testServiceRestart runs the domain over the store: accounts, a
// conference with a layout, a template, a token and two calls; then the
// Service and the store are closed and opened again, as a restart in the
// middle of a running conference does, and everything is there,
// including the call records of the legs that left before the restart.
func testServiceRestart(t *testing.T, open func(*testing.T) Store) {
	ctx := t.Context()
	clk := &clock{now: time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)}
	sys := conf.System()
	s := open(t)
	svc := newService(t, s, clk)

	if _, err := svc.EnsureAdmin(ctx, "admin-secret-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateUser(ctx, sys, conf.UserInput{ID: "alice", DisplayName: "Alice", Email: "alice@example.com",
		Password: "alice-secret-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateGroup(ctx, sys, conf.Group{ID: "team", Name: "Team", Members: []string{"alice", conf.AdminUser}}); err != nil {
		t.Fatal(err)
	}
	created, err := svc.CreateConference(ctx, conf.Conference{ID: "4242", Name: "Weekly", Owner: "alice",
		Access: conf.AccessPublic, Mode: conf.ModeSymmetric, PIN: "", MaxParticipants: 10,
		GuestRights: &conf.GuestRights{Speak: true}, KeyMap: "mute=*1", Tones: "off",
		Invitations: []conf.Invitation{{Target: "team"}}})
	if err != nil {
		t.Fatal(err)
	}
	layout, err := svc.SetLayout(ctx, sys, "4242", conf.Layout{Type: conf.LayoutGrid, Windows: 4, NamePosition: conf.NamePositionTop})
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := svc.SaveTemplate(ctx, sys, "4242", "Weekly template")
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := svc.IssueToken(ctx, "alice", "alice-secret-1")
	if err != nil {
		t.Fatal(err)
	}

	// Alice and a guest join; the guest leaves, then the server stops
	// with Alice still in the conference.
	aliceLeg, guestLeg := &fakeLeg{user: "alice"}, &fakeLeg{}
	joinedAt := clk.Now()
	if _, err := svc.Join(ctx, conf.JoinRequest{ConferenceID: "4242", DisplayName: "Alice", Protocol: "sip",
		Remote: "192.0.2.10:5060", Leg: aliceLeg}); err != nil {
		t.Fatal(err)
	}
	guest, err := svc.Join(ctx, conf.JoinRequest{ConferenceID: "4242", DisplayName: "Lobby camera", Protocol: "rtsp",
		Remote: "192.0.2.20:554", Leg: guestLeg})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := svc.GetConference(ctx, "4242"); err != nil || c.State != conf.StateRunning {
		t.Fatalf("conference with legs: state %q, %v", c.State, err)
	}
	clk.Advance(90 * time.Second)
	svc.Leave(guest, errors.New("BYE"))
	if err := svc.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// The restart.
	clk.Advance(time.Minute)
	s = open(t)
	svc = newService(t, s, clk)
	c, err := svc.GetConference(ctx, "4242")
	if err != nil {
		t.Fatal(err)
	}
	if c.State != conf.StateIdle { // live legs do not survive a restart
		t.Fatalf("state after restart %q, want %q", c.State, conf.StateIdle)
	}
	c.State = ""
	equalConference(t, c, created)
	if got, err := svc.GetLayout(ctx, sys, "4242"); err != nil || !slices.Equal(got.Participants, layout.Participants) ||
		got.Type != layout.Type || got.Windows != layout.Windows || got.NamePosition != layout.NamePosition {
		t.Fatalf("layout after restart: %+v, %v; want %+v", got, err, layout)
	}
	if got, err := svc.GetTemplate(ctx, sys, tpl.ID); err != nil || got.Name != "Weekly template" ||
		got.Settings.KeyMap != "mute=*1" || got.Layout == nil || got.Layout.Windows != 4 {
		t.Fatalf("template after restart: %+v, %v", got, err)
	}
	users, err := svc.ListUsers(ctx)
	if err != nil || len(users) != 2 || users[0].ID != conf.AdminUser || users[1].ID != "alice" {
		t.Fatalf("users after restart: %+v, %v", users, err)
	}
	if g, err := svc.GetGroup(ctx, "team"); err != nil || !slices.Equal(g.Members, []string{"alice", conf.AdminUser}) {
		t.Fatalf("group after restart: %+v, %v", g, err)
	}
	if u, err := svc.CheckToken(ctx, token); err != nil || u.ID != "alice" {
		t.Fatalf("token after restart: %+v, %v", u, err)
	}
	if _, _, err := svc.IssueToken(ctx, "alice", "alice-secret-1"); err != nil {
		t.Fatalf("password after restart: %v", err)
	}
	recs, err := s.ListCallRecords(ctx, "4242", 0)
	if err != nil || len(recs) != 1 {
		t.Fatalf("call records after restart: %+v, %v", recs, err)
	}
	r := recs[0]
	if r.DisplayName != "Lobby camera" || r.Protocol != "rtsp" || r.Remote != "192.0.2.20:554" || r.Cause != "BYE" ||
		r.UserID != "" || !r.StartedAt.Equal(joinedAt) || !r.EndedAt.Equal(joinedAt.Add(90*time.Second)) {
		t.Fatalf("call record after restart: %+v", r)
	}
	// The conference runs again after the restart: Alice rejoins.
	p, err := svc.Join(ctx, conf.JoinRequest{ConferenceID: "4242", DisplayName: "Alice", Protocol: "sip",
		Remote: "192.0.2.10:5060", Leg: &fakeLeg{user: "alice"}})
	if err != nil {
		t.Fatalf("joining after restart: %v", err)
	}
	svc.Leave(p, nil)
	if err := svc.FlushCallRecords(ctx); err != nil {
		t.Fatal(err)
	}
	if recs, err := s.ListCallRecords(ctx, "4242", 0); err != nil || len(recs) != 2 || recs[0].UserID != "alice" {
		t.Fatalf("call records after rejoining: %+v, %v", recs, err)
	}
}
