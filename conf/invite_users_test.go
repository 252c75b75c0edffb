package conf_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/roomgate/roomgate/conf"
)

// deviceDialer plays several phones of one user: the hosts in answer
// join the conference (after waiting on gate, when set); the others ring
// until their call is cancelled, whose cause is recorded.
type deviceDialer struct {
	svc    *conf.Service
	answer map[string]bool
	gate   chan struct{}
	legs   map[string]*dialledLeg

	mu      sync.Mutex
	reqs    []conf.DialRequest
	causes  map[string]error
	failFor int // fail this many calls first (busy)
}

func newDeviceDialer(svc *conf.Service, answer ...string) *deviceDialer {
	d := &deviceDialer{svc: svc, answer: map[string]bool{}, causes: map[string]error{}, legs: map[string]*dialledLeg{}}
	for _, h := range answer {
		d.answer[h] = true
		d.legs[h] = &dialledLeg{}
	}
	return d
}

func (d *deviceDialer) Schemes() []string { return []string{"sip"} }

func (d *deviceDialer) Dial(ctx context.Context, req conf.DialRequest) (conf.DialResult, error) {
	d.mu.Lock()
	d.reqs = append(d.reqs, req)
	busy := d.failFor > 0
	if busy {
		d.failFor--
	}
	d.mu.Unlock()
	host := req.Target.Host
	if busy {
		return conf.DialResult{}, errors.New("486 Busy Here")
	}
	if !d.answer[host] {
		<-ctx.Done()
		d.mu.Lock()
		d.causes[host] = context.Cause(ctx)
		d.mu.Unlock()
		return conf.DialResult{}, context.Cause(ctx)
	}
	if d.gate != nil {
		<-d.gate
		// The phone answered: its call is up whatever happens to the
		// fork meanwhile.
		ctx = context.WithoutCancel(ctx)
	}
	p, err := d.svc.Join(ctx, conf.JoinRequest{ConferenceID: req.ConferenceID, DisplayName: host, Protocol: "sip",
		Remote: host, Leg: d.legs[host]})
	if err != nil {
		return conf.DialResult{}, err
	}
	return conf.DialResult{ParticipantID: p.ID(), Remote: host}, nil
}

func (d *deviceDialer) requests() []conf.DialRequest {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]conf.DialRequest(nil), d.reqs...)
}

func (d *deviceDialer) cause(host string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.causes[host]
}

func registerDevices(t *testing.T, svc *conf.Service, user string, hosts ...string) {
	t.Helper()
	for _, h := range hosts {
		if _, err := svc.RegisterContact(t.Context(), user, conf.Binding{Contact: "sip:" + user + "@" + h + ";transport=udp"}, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
}

func TestInviteUserRingsAllDevicesFirstWins(t *testing.T) {
	svc, _ := newRealmEnv(t, nil)
	ctx := t.Context()
	owner := mustUser(t, svc, conf.UserInput{ID: "owner"})
	mustUser(t, svc, conf.UserInput{ID: "alice"})
	c, err := svc.CreateConferenceAs(ctx, owner, conf.Conference{ID: "1000", Name: "Board"})
	if err != nil {
		t.Fatal(err)
	}
	registerDevices(t, svc, "alice", "192.0.2.1", "192.0.2.2", "192.0.2.3")
	d := newDeviceDialer(svc, "192.0.2.2")
	svc.RegisterDialer(d)
	sub := svc.Subscribe()
	defer sub.Close()

	res, err := svc.InviteAndDial(ctx, owner, c.ID, []string{"alice"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Status != conf.DialStatusDialing || res[0].Kind != conf.TargetUser {
		t.Fatalf("result %+v", res)
	}
	ev := nextEvent(t, sub, conf.EventDialAnswer)
	if ev.Target != "alice" || ev.ParticipantID == "" {
		t.Fatalf("answer event %+v", ev)
	}
	svc.StopDialing() // waits for the fork to finish
	reqs := d.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d devices called, want 3", len(reqs))
	}
	for _, r := range reqs {
		if r.UserID != "alice" || r.By.ID != "owner" || r.DisplayName != "Board" {
			t.Errorf("request %+v", r)
		}
	}
	for _, h := range []string{"192.0.2.1", "192.0.2.3"} {
		if err := d.cause(h); !errors.Is(err, conf.ErrAnsweredElsewhere) {
			t.Errorf("device %s ended with %v, want ErrAnsweredElsewhere", h, err)
		}
	}
	ps, _ := svc.Participants(ctx, c.ID)
	if len(ps) != 1 || ps[0].DisplayName != "192.0.2.2" {
		t.Fatalf("participants %+v", ps)
	}
}

func TestInviteUserTwoAnswersKeepOne(t *testing.T) {
	svc, _ := newRealmEnv(t, nil)
	ctx := t.Context()
	owner := mustUser(t, svc, conf.UserInput{ID: "owner"})
	mustUser(t, svc, conf.UserInput{ID: "alice"})
	c, _ := svc.CreateConferenceAs(ctx, owner, conf.Conference{ID: "1000", Name: "Board"})
	registerDevices(t, svc, "alice", "192.0.2.1", "192.0.2.2")
	d := newDeviceDialer(svc, "192.0.2.1", "192.0.2.2")
	d.gate = make(chan struct{})
	svc.RegisterDialer(d)
	if _, err := svc.InviteAndDial(ctx, owner, c.ID, []string{"alice"}); err != nil {
		t.Fatal(err)
	}
	close(d.gate) // both answer at once
	svc.StopDialing()
	hung := 0
	for _, l := range d.legs {
		for _, cause := range l.hangups() {
			if errors.Is(cause, conf.ErrAnsweredElsewhere) {
				hung++
			}
		}
	}
	if hung != 1 {
		t.Fatalf("%d of two answered devices hung up, want exactly 1", hung)
	}
}

func TestInviteUserNotReachableOrMailed(t *testing.T) {
	m := &fakeMailer{}
	svc, _ := newRealmEnv(t, nil, conf.WithMailer(m))
	ctx := t.Context()
	owner := mustUser(t, svc, conf.UserInput{ID: "owner"})
	mustUser(t, svc, conf.UserInput{ID: "nomail"})
	mustUser(t, svc, conf.UserInput{ID: "withmail", Email: "wm@example.com"})
	c, _ := svc.CreateConferenceAs(ctx, owner, conf.Conference{ID: "1000", Name: "Board"}) // internal
	svc.RegisterDialer(newDeviceDialer(svc))
	sub := svc.Subscribe()
	defer sub.Close()
	res, err := svc.InviteAndDial(ctx, owner, c.ID, []string{"nomail", "withmail", "ghost"})
	if err != nil {
		t.Fatal(err)
	}
	if r := res[0]; r.Status != conf.DialStatusInvited || !strings.HasPrefix(r.Message, conf.NotReachable) {
		t.Errorf("user without devices or e-mail: %+v", r)
	}
	if r := res[1]; r.Status != conf.DialStatusMailed {
		t.Errorf("user with e-mail: %+v", r)
	}
	if r := res[2]; r.Status != conf.DialStatusInvited || !strings.HasPrefix(r.Message, conf.NotReachable) {
		t.Errorf("unknown ID: %+v", r)
	}
	if ev := nextEvent(t, sub, conf.EventMailSent); ev.Target != "wm@example.com" {
		t.Fatalf("mail event %+v", ev)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.sent) != 1 || len(m.sent[0]) != 1 || m.sent[0][0] != "wm@example.com" {
		t.Fatalf("mailed %v", m.sent)
	}
	// The invitations stay, so they may still dial in.
	got, _ := svc.GetConference(ctx, c.ID)
	if len(got.Invitations) != 3 {
		t.Fatalf("invitations %+v", got.Invitations)
	}
}

func TestInviteGroupRingsMembers(t *testing.T) {
	svc, _ := newRealmEnv(t, nil)
	ctx := t.Context()
	owner := mustUser(t, svc, conf.UserInput{ID: "owner"})
	mustUser(t, svc, conf.UserInput{ID: "ann"})
	mustUser(t, svc, conf.UserInput{ID: "ben"})
	mustUser(t, svc, conf.UserInput{ID: "cid"})
	if _, err := svc.CreateGroup(ctx, conf.System(), conf.Group{ID: "team", Members: []string{"ann", "ben", "cid"}}); err != nil {
		t.Fatal(err)
	}
	c, _ := svc.CreateConferenceAs(ctx, owner, conf.Conference{ID: "1000", Name: "Board"})
	registerDevices(t, svc, "ann", "192.0.2.1")
	registerDevices(t, svc, "ben", "192.0.2.2")
	d := newDeviceDialer(svc, "192.0.2.1", "192.0.2.2")
	svc.RegisterDialer(d)
	sub := svc.Subscribe()
	defer sub.Close()
	res, err := svc.InviteAndDial(ctx, owner, c.ID, []string{"team"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Status != conf.DialStatusDialing || !strings.Contains(res[0].Message, "2 called") ||
		!strings.Contains(res[0].Message, "1 "+conf.NotReachable) {
		t.Fatalf("group result %+v", res)
	}
	nextEvent(t, sub, conf.EventDialAnswer)
	nextEvent(t, sub, conf.EventDialAnswer)
	if ps, _ := svc.Participants(ctx, c.ID); len(ps) != 2 {
		t.Fatalf("participants %+v", ps)
	}
}

func TestScheduledStartCallsInviteesWithRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc, _ := newRealmEnv(t, nil, conf.WithInviteRetries(2, time.Minute))
		ctx := t.Context()
		owner := mustUser(t, svc, conf.UserInput{ID: "owner"})
		mustUser(t, svc, conf.UserInput{ID: "alice"})
		begin := time.Now().Add(time.Hour).Truncate(time.Minute)
		c, err := svc.CreateConferenceAs(ctx, owner, conf.Conference{ID: "2000", Name: "Weekly",
			Schedule:    conf.Schedule{Type: conf.ScheduleOnce, Start: begin, DurationMinutes: 60},
			Invitations: []conf.Invitation{{Target: "alice"}, {Target: "sip:room@192.0.2.9"}, {Target: "#tel:+15551234"}}})
		if err != nil {
			t.Fatal(err)
		}
		registerDevices(t, svc, "alice", "192.0.2.1")
		d := newDeviceDialer(svc, "192.0.2.1", "192.0.2.9")
		d.failFor = 2 // the first two calls are busy
		svc.RegisterDialer(d)
		sub := svc.Subscribe()
		defer sub.Close()

		if err := svc.CheckSchedules(ctx); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if n := len(d.requests()); n != 0 {
			t.Fatalf("%d calls before the start", n)
		}
		time.Sleep(time.Until(begin))
		registerDevices(t, svc, "alice", "192.0.2.1") // a refresh keeps the phone registered
		if err := svc.CheckSchedules(ctx); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if n := len(d.requests()); n != 2 {
			t.Fatalf("%d calls at the start, want 2 (the number is refused by the owner's rule)", n)
		}
		ps, _ := svc.Participants(ctx, c.ID)
		if len(ps) != 0 {
			t.Fatalf("busy targets joined: %+v", ps)
		}
		time.Sleep(time.Minute) // one retry interval
		synctest.Wait()
		if n := len(d.requests()); n != 4 {
			t.Fatalf("%d calls after a retry interval, want 4", n)
		}
		ps, _ = svc.Participants(ctx, c.ID)
		if len(ps) != 2 {
			t.Fatalf("participants after the retry: %+v", ps)
		}
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if n := len(d.requests()); n != 4 {
			t.Fatalf("answered targets called again: %d calls", n)
		}
		svc.StopDialing()
	})
}

func TestScheduledRetriesGiveUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc, _ := newRealmEnv(t, nil, conf.WithInviteRetries(2, time.Minute))
		ctx := t.Context()
		owner := mustUser(t, svc, conf.UserInput{ID: "owner"})
		begin := time.Now().Add(time.Minute).Truncate(time.Minute)
		if _, err := svc.CreateConferenceAs(ctx, owner, conf.Conference{ID: "2000", Name: "Weekly",
			Schedule:    conf.Schedule{Type: conf.ScheduleOnce, Start: begin, DurationMinutes: 60},
			Invitations: []conf.Invitation{{Target: "sip:room@192.0.2.9"}}}); err != nil {
			t.Fatal(err)
		}
		d := newDeviceDialer(svc, "192.0.2.9")
		d.failFor = 100
		svc.RegisterDialer(d)
		time.Sleep(time.Until(begin))
		if err := svc.CheckSchedules(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := len(d.requests()); n != 3 {
			t.Fatalf("%d calls, want 1 + 2 retries", n)
		}
		svc.StopDialing()
	})
}
