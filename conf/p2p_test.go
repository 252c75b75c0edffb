package conf_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/roomgate/roomgate/conf"
)

// phoneLeg is the answered leg of a user's registered device: placed by
// the server, and belonging to that user.
type phoneLeg struct {
	fakeLeg
	user string
}

func (*phoneLeg) Dialled() bool    { return true }
func (l *phoneLeg) UserID() string { return l.user }

// phoneDialer plays registered phones by host: "answer" joins the
// conference as the called user, any other behaviour given is returned as
// the error of the call, and a host not listed rings until cancelled.
type phoneDialer struct {
	svc     *conf.Service
	answers map[string]bool
	fails   map[string]error

	mu     sync.Mutex
	reqs   []conf.DialRequest
	causes map[string]error
	legs   []*phoneLeg
	parts  []*conf.Participant
}

func newPhoneDialer(svc *conf.Service) *phoneDialer {
	return &phoneDialer{svc: svc, answers: map[string]bool{}, fails: map[string]error{}, causes: map[string]error{}}
}

func (d *phoneDialer) Schemes() []string { return []string{"sip"} }

func (d *phoneDialer) Dial(ctx context.Context, req conf.DialRequest) (conf.DialResult, error) {
	d.mu.Lock()
	d.reqs = append(d.reqs, req)
	d.mu.Unlock()
	host := req.Target.Host
	if err := d.fails[host]; err != nil {
		return conf.DialResult{}, err
	}
	if !d.answers[host] {
		<-ctx.Done()
		d.mu.Lock()
		d.causes[host] = context.Cause(ctx)
		d.mu.Unlock()
		return conf.DialResult{}, context.Cause(ctx)
	}
	leg := &phoneLeg{user: req.UserID}
	p, err := d.svc.Join(ctx, conf.JoinRequest{ConferenceID: req.ConferenceID, DisplayName: req.UserID, Protocol: "sip",
		Remote: host, Leg: leg})
	if err != nil {
		return conf.DialResult{}, err
	}
	d.mu.Lock()
	d.legs = append(d.legs, leg)
	d.parts = append(d.parts, p)
	d.mu.Unlock()
	return conf.DialResult{ParticipantID: p.ID(), Remote: host}, nil
}

func (d *phoneDialer) requests() []conf.DialRequest {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.reqs)
}

func (d *phoneDialer) cause(host string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.causes[host]
}

func (d *phoneDialer) answeredLegs() []*phoneLeg {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.legs)
}

func (d *phoneDialer) participants() []*conf.Participant {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.parts)
}

// roles maps the live participants of conference id by display name
// (the user ID in these tests) to roles.
func roles(t *testing.T, svc *conf.Service, id string) map[string]string {
	t.Helper()
	ps, err := svc.Participants(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range ps {
		out[p.DisplayName] = p.Role
	}
	return out
}

// conferenceCount is how many conferences are stored.
func conferenceCount(t *testing.T, svc *conf.Service) int {
	t.Helper()
	cs, err := svc.ListConferences(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return len(cs)
}

func TestPointToPointCallAndEscalation(t *testing.T) {
	svc, st := newRealmEnv(t, nil)
	ctx := t.Context()
	alice := mustUser(t, svc, conf.UserInput{ID: "alice", DisplayName: "Alice"})
	mustUser(t, svc, conf.UserInput{ID: "bob", DisplayName: "Bob"})
	mustUser(t, svc, conf.UserInput{ID: "carol"})
	mustUser(t, svc, conf.UserInput{ID: "dave"})
	registerDevices(t, svc, "bob", "192.0.2.1", "192.0.2.2")
	registerDevices(t, svc, "carol", "192.0.2.3")
	registerDevices(t, svc, "dave", "192.0.2.4")
	d := newPhoneDialer(svc)
	d.answers["192.0.2.2"] = true
	d.answers["192.0.2.3"] = true
	d.answers["192.0.2.4"] = true
	svc.RegisterDialer(d)
	sub := svc.Subscribe()
	defer sub.Close()

	// Alice is in no conference: her call to bob becomes a room of two.
	if r, err := svc.RouteCall(ctx, alice, "bob"); err != nil || r.Route != conf.RouteNone {
		t.Fatalf("route of a point-to-point call: %+v, %v", r, err)
	}
	c, err := svc.CallUser(ctx, alice, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if c.Owner != "alice" || c.Access != conf.AccessInternal || c.Name != "Alice ↔ Bob" || !conf.ValidConferenceID(c.ID) {
		t.Fatalf("ad-hoc conference %+v", c)
	}
	for _, r := range c.ID {
		if r < '0' || r > '9' {
			t.Fatalf("ad-hoc conference ID %q is not numeric", c.ID)
		}
	}
	if ev := nextEvent(t, sub, conf.EventDialAnswer); ev.ConferenceID != c.ID || ev.Target != "bob" {
		t.Fatalf("answer event %+v", ev)
	}
	if err := d.cause("192.0.2.1"); !errors.Is(err, conf.ErrAnsweredElsewhere) {
		t.Fatalf("bob's other phone ended with %v", err)
	}
	for _, r := range d.requests() {
		if r.ConferenceID != c.ID || r.UserID != "bob" || r.By.ID != "alice" || !r.Moderator || r.DisplayName != "Alice" {
			t.Errorf("dial request %+v", r)
		}
	}
	if got := roles(t, svc, c.ID); len(got) != 1 || got["bob"] != conf.RoleModerator {
		t.Fatalf("after bob answered: %v", got)
	}

	// Alice joins (her INVITE continues as a dial-in): she is the owner.
	aliceLeg := &userLeg{user: "alice"}
	pa, err := svc.Join(ctx, conf.JoinRequest{ConferenceID: c.ID, DisplayName: "alice", Protocol: "sip", Leg: aliceLeg})
	if err != nil {
		t.Fatal(err)
	}
	if got := roles(t, svc, c.ID); len(got) != 2 || got["alice"] != conf.RoleOwner {
		t.Fatalf("after alice joined: %v", got)
	}

	// Escalation by the API: bob, a moderator, invites carol.
	bob, _ := svc.GetUser(ctx, "bob")
	res, err := svc.InviteAndDial(ctx, bob, c.ID, []string{"carol"})
	if err != nil || len(res) != 1 || res[0].Status != conf.DialStatusDialing {
		t.Fatalf("bob invites carol: %+v, %v", res, err)
	}
	nextEvent(t, sub, conf.EventDialAnswer)
	// Escalation from the phone: alice, owner and in the room, calls dave.
	r, err := svc.RouteCall(ctx, alice, "dave")
	if err != nil || r.Route != conf.RouteInvited || r.ConferenceID != c.ID {
		t.Fatalf("alice calls dave from the room: %+v, %v", r, err)
	}
	nextEvent(t, sub, conf.EventDialAnswer)
	got := roles(t, svc, c.ID)
	if len(got) != 4 || got["alice"] != conf.RoleOwner || got["bob"] != conf.RoleModerator {
		t.Fatalf("after escalation: %v", got)
	}
	// Nobody was interrupted.
	if h := aliceLeg.hangups(); len(h) != 0 {
		t.Fatalf("alice was hung up: %v", h)
	}
	for _, l := range d.answeredLegs() {
		if h := l.hangups(); len(h) != 0 {
			t.Fatalf("%s was hung up: %v", l.user, h)
		}
	}

	// The last one out ends the room; the call records stay.
	svc.Leave(pa, nil)
	for _, p := range d.participants() {
		if _, err := svc.GetConference(ctx, c.ID); err != nil {
			t.Fatalf("room gone while %s is still in it: %v", p.ID(), err)
		}
		svc.Leave(p, nil)
	}
	if ev := nextEvent(t, sub, conf.EventDeleted); ev.ConferenceID != c.ID {
		t.Fatalf("deleted %+v", ev)
	}
	if _, err := svc.GetConference(ctx, c.ID); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("ad-hoc room after the last left: %v", err)
	}
	if err := svc.FlushCallRecords(ctx); err != nil {
		t.Fatal(err)
	}
	recs, err := st.ListCallRecords(ctx, c.ID, 0)
	if err != nil || len(recs) != 4 {
		t.Fatalf("%d call records of the ad-hoc room (%v), want 4", len(recs), err)
	}
}

func TestPointToPointFailures(t *testing.T) {
	errBusy := errors.New("486 Busy Here")
	errDeclined := errors.New("603 Decline")
	cases := []struct {
		name   string
		caller string // "" for an unauthenticated caller
		target string
		setup  func(t *testing.T, svc *conf.Service, d *phoneDialer)
		want   error
	}{
		{"busy", "alice", "bob", func(t *testing.T, svc *conf.Service, d *phoneDialer) {
			registerDevices(t, svc, "bob", "192.0.2.1")
			d.fails["192.0.2.1"] = errBusy
		}, errBusy},
		{"busy and declined", "alice", "bob", func(t *testing.T, svc *conf.Service, d *phoneDialer) {
			registerDevices(t, svc, "bob", "192.0.2.1", "192.0.2.2")
			d.fails["192.0.2.1"] = errBusy
			d.fails["192.0.2.2"] = errDeclined
		}, errDeclined},
		{"not registered", "alice", "bob", nil, conf.ErrCalleeNotRegistered},
		{"no such user", "alice", "zed", nil, conf.ErrNotFound},
		{"unauthenticated", "", "bob", nil, conf.ErrUnauthorized},
		{"calls nobody", "mute", "bob", func(t *testing.T, svc *conf.Service, d *phoneDialer) {
			registerDevices(t, svc, "bob", "192.0.2.1")
		}, conf.ErrForbidden},
		{"himself", "alice", "alice", nil, conf.ErrNotAUserCall},
		{"a conference", "alice", `\c\1234`, nil, conf.ErrNotAUserCall},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svc, _ := newRealmEnv(t, nil)
			mustUser(t, svc, conf.UserInput{ID: "alice"})
			mustUser(t, svc, conf.UserInput{ID: "bob"})
			mustUser(t, svc, conf.UserInput{ID: "mute", DialOut: conf.DialOutNone})
			d := newPhoneDialer(svc)
			svc.RegisterDialer(d)
			if tc.setup != nil {
				tc.setup(t, svc, d)
			}
			var caller conf.User
			if tc.caller != "" {
				var err error
				if caller, err = svc.GetUser(t.Context(), tc.caller); err != nil {
					t.Fatal(err)
				}
			}
			_, err := svc.CallUser(t.Context(), caller, tc.target)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if n := conferenceCount(t, svc); n != 0 {
				t.Fatalf("%d conferences left behind", n)
			}
		})
	}
}

func TestPointToPointCallerCancels(t *testing.T) {
	svc, _ := newRealmEnv(t, nil)
	alice := mustUser(t, svc, conf.UserInput{ID: "alice"})
	mustUser(t, svc, conf.UserInput{ID: "bob"})
	registerDevices(t, svc, "bob", "192.0.2.1", "192.0.2.2")
	d := newPhoneDialer(svc) // both phones ring until cancelled
	svc.RegisterDialer(d)
	sub := svc.Subscribe()
	defer sub.Close()

	gaveUp := errors.New("caller hung up")
	ctx, cancel := context.WithCancelCause(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := svc.CallUser(ctx, alice, "bob")
		done <- err
	}()
	ev := nextEvent(t, sub, conf.EventDialing)
	if _, err := svc.GetConference(t.Context(), ev.ConferenceID); err != nil {
		t.Fatalf("room while ringing: %v", err)
	}
	cancel(gaveUp)
	if err := <-done; !errors.Is(err, gaveUp) {
		t.Fatalf("cancelled call: %v", err)
	}
	for _, h := range []string{"192.0.2.1", "192.0.2.2"} {
		if err := d.cause(h); !errors.Is(err, gaveUp) {
			t.Errorf("phone %s ended with %v", h, err)
		}
	}
	if n := conferenceCount(t, svc); n != 0 {
		t.Fatalf("%d conferences left behind", n)
	}
}

func TestPointToPointCalleeHangsUpFirst(t *testing.T) {
	svc, _ := newRealmEnv(t, nil)
	ctx := t.Context()
	alice := mustUser(t, svc, conf.UserInput{ID: "alice"})
	mustUser(t, svc, conf.UserInput{ID: "bob"})
	registerDevices(t, svc, "bob", "192.0.2.1")
	d := newPhoneDialer(svc)
	d.answers["192.0.2.1"] = true
	svc.RegisterDialer(d)
	sub := svc.Subscribe()
	defer sub.Close()

	c, err := svc.CallUser(ctx, alice, "bob")
	if err != nil {
		t.Fatal(err)
	}
	ps := d.participants()
	if len(ps) != 1 || svc.LiveCount(c.ID) != 1 {
		t.Fatalf("participants %+v", ps)
	}
	svc.Leave(ps[0], nil)
	nextEvent(t, sub, conf.EventDeleted)
	if _, err := svc.Join(ctx, conf.JoinRequest{ConferenceID: c.ID, Protocol: "sip", Leg: &userLeg{user: "alice"}}); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("joining a room that ended: %v", err)
	}
}

func TestPointToPointStopDialingEndsWatch(t *testing.T) {
	svc, _ := newRealmEnv(t, nil)
	alice := mustUser(t, svc, conf.UserInput{ID: "alice"})
	mustUser(t, svc, conf.UserInput{ID: "bob"})
	registerDevices(t, svc, "bob", "192.0.2.1")
	d := newPhoneDialer(svc)
	d.answers["192.0.2.1"] = true
	svc.RegisterDialer(d)
	c, err := svc.CallUser(t.Context(), alice, "bob")
	if err != nil {
		t.Fatal(err)
	}
	svc.StopDialing() // returns only once the room's watch is over (goleak checks)
	if _, err := svc.CallUser(t.Context(), alice, "bob"); !errors.Is(err, conf.ErrDialingStopped) {
		t.Fatalf("call after StopDialing: %v", err)
	}
	if _, err := svc.GetConference(t.Context(), c.ID); err != nil {
		t.Fatalf("room with bob still in it: %v", err)
	}
	if n := conferenceCount(t, svc); n != 1 {
		t.Fatalf("%d conferences, want the one room", n)
	}
}

// The callee is not left alone when the caller never gets in: the room
// ends CallerJoinTimeout after the answer. A caller who joined keeps it.
func TestPointToPointCallerJoinTimeout(t *testing.T) {
	for _, joins := range []bool{false, true} {
		t.Run(map[bool]string{false: "caller never joins", true: "caller joins"}[joins], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				svc, _ := newRealmEnv(t, nil)
				ctx := t.Context()
				alice := mustUser(t, svc, conf.UserInput{ID: "alice"})
				mustUser(t, svc, conf.UserInput{ID: "bob"})
				registerDevices(t, svc, "bob", "192.0.2.1")
				d := newPhoneDialer(svc)
				d.answers["192.0.2.1"] = true
				svc.RegisterDialer(d)
				c, err := svc.CallUser(ctx, alice, "bob")
				if err != nil {
					t.Fatal(err)
				}
				if joins {
					time.Sleep(time.Second)
					if _, err := svc.Join(ctx, conf.JoinRequest{ConferenceID: c.ID, DisplayName: "alice", Protocol: "sip",
						Leg: &userLeg{user: "alice"}}); err != nil {
						t.Fatal(err)
					}
				}
				time.Sleep(conf.CallerJoinTimeout - 2*time.Second)
				synctest.Wait()
				if _, err := svc.GetConference(ctx, c.ID); err != nil {
					t.Fatalf("room ended before the timeout: %v", err)
				}
				time.Sleep(3 * time.Second)
				synctest.Wait()
				bobLeg := d.answeredLegs()[0]
				_, err = svc.GetConference(ctx, c.ID)
				if joins {
					if err != nil || len(bobLeg.hangups()) != 0 {
						t.Fatalf("room of a caller who joined: %v, bob hung up %v", err, bobLeg.hangups())
					}
				} else {
					if !errors.Is(err, conf.ErrNotFound) {
						t.Fatalf("room after the caller never joined: %v", err)
					}
					if h := bobLeg.hangups(); len(h) != 1 || !errors.Is(h[0], conf.ErrConferenceDeleted) {
						t.Fatalf("bob's leg hang-ups %v", h)
					}
				}
				svc.StopDialing()
			})
		})
	}
}
