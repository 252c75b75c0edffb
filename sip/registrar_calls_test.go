package sip

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/conf"
)

// userLegHandle is a live leg of an authenticated user in conf.
type userLegHandle struct{ user string }

func (l *userLegHandle) Hangup(error)           {}
func (l *userLegHandle) Stats() bridge.LegStats { return bridge.LegStats{} }
func (l *userLegHandle) UserID() string         { return l.user }

// countingDialer records the calls conf asks for and never answers.
type countingDialer struct {
	mu   sync.Mutex
	reqs []conf.DialRequest
}

func (d *countingDialer) Schemes() []string { return []string{"sip", "sips", "tel"} }
func (d *countingDialer) Dial(ctx context.Context, req conf.DialRequest) (conf.DialResult, error) {
	d.mu.Lock()
	d.reqs = append(d.reqs, req)
	d.mu.Unlock()
	<-ctx.Done()
	return conf.DialResult{}, context.Cause(ctx)
}

func (d *countingDialer) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.reqs)
}

// callUser sends an INVITE to user; with a password it answers the
// challenge as user authUser. It returns the final response and the
// provisional ones. It may run on any goroutine.
func (e *regEnv) callUser(t *testing.T, target, authUser, pass string) *dialog {
	fail := func(err error) *dialog {
		t.Errorf("calling %s: %v", target, err)
		return &dialog{res: sipmsg.NewResponse(999, "test failed")}
	}
	req := e.p.newInvite(target, offer(30000, ""))
	d, err := e.p.tryCall(req)
	if err != nil {
		return fail(err)
	}
	if d.res.StatusCode != 401 || authUser == "" {
		return d
	}
	ch, err := digest.ParseChallenge(d.res.GetHeader("WWW-Authenticate").Value())
	if err != nil {
		return fail(err)
	}
	cred, err := digest.Digest(ch, digest.Options{Method: "INVITE", URI: req.Recipient.String(), Username: authUser, Password: pass, Count: 1})
	if err != nil {
		return fail(err)
	}
	again := e.p.newInvite(target, offer(30000, ""), sipmsg.NewHeader("Authorization", cred.String()))
	again.CSeq().SeqNo = 2
	d, err = e.p.tryCall(again)
	if err != nil {
		return fail(err)
	}
	return d
}

func TestCallsToUsers(t *testing.T) {
	e := newRegEnv(t)
	ctx := t.Context()
	dialer := &countingDialer{}
	e.svc.RegisterDialer(dialer)
	t.Cleanup(e.svc.StopDialing)
	alice, _ := e.svc.GetUser(ctx, "alice")
	if _, err := e.svc.CreateConferenceAs(ctx, alice, conf.Conference{ID: "1000", Name: "Board", Access: conf.AccessPublic}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Join(ctx, conf.JoinRequest{ConferenceID: "1000", DisplayName: "Alice", Protocol: "sip",
		Leg: &userLegHandle{user: "alice"}}); err != nil {
		t.Fatal(err)
	}
	sub := e.svc.Subscribe()
	defer sub.Close()

	// Unauthenticated: challenged, nothing dialled, nobody asked.
	if d := e.callUser(t, "alice", "", ""); d.res.StatusCode != 401 {
		t.Fatalf("unauthenticated call to a user: %d", d.res.StatusCode)
	}
	if d := e.callUser(t, "bob", "bob", "wrong-password"); d.res.StatusCode != 403 {
		t.Fatalf("call with a wrong password: %d", d.res.StatusCode)
	}
	if n := dialer.count(); n != 0 {
		t.Fatalf("unauthenticated callers made the server dial %d calls", n)
	}

	// Bob calls the owner: ringing while alice decides; declined: 603.
	done := make(chan *dialog, 1)
	go func() { done <- e.callUser(t, "alice", "bob", "bob-secret-1") }()
	ev := waitEvent(t, sub, conf.EventAdmitRequest)
	if ev.UserID != "bob" || ev.ConferenceID != "1000" {
		t.Fatalf("admission request %+v", ev)
	}
	if err := e.svc.DecideAdmission(ctx, alice, "1000", ev.Target, false); err != nil {
		t.Fatal(err)
	}
	d := <-done
	// (The 180 sent meanwhile is not checked: the test client may drop a
	// provisional response that arrives before it listens.)
	if d.res.StatusCode != 603 {
		t.Fatalf("declined caller: %d", d.res.StatusCode)
	}

	// Admitted: the call continues as a dial-in to conference 1000.
	go func() { done <- e.callUser(t, "alice", "bob", "bob-secret-1") }()
	ev = waitEvent(t, sub, conf.EventAdmitRequest)
	if err := e.svc.DecideAdmission(ctx, alice, "1000", ev.Target, true); err != nil {
		t.Fatal(err)
	}
	d = <-done
	if d.res.StatusCode != 200 {
		t.Fatalf("admitted caller: %d %s", d.res.StatusCode, d.res.Reason)
	}
	d.ack(nil)
	select {
	case p := <-e.h.confs.joins:
		if p.req.ConferenceID != "1000" {
			t.Fatalf("admitted caller joined %q", p.req.ConferenceID)
		}
	case <-time.After(waitFor):
		t.Fatal("admitted caller did not join")
	}
	e.h.leg()
	d.do(sipmsg.BYE, nil)
	e.h.left()

	// Alice, owner and in her conference, calls bob: he is invited instead.
	if n := dialer.count(); n != 0 {
		t.Fatalf("%d calls dialled before the invitation", n)
	}
	if _, err := e.svc.RegisterContact(ctx, "bob", conf.Binding{Contact: "sip:bob@192.0.2.1:5060"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	d = e.callUser(t, "bob", "alice", "alice-secret")
	if d.res.StatusCode != 480 || d.res.GetHeader("Warning") == nil || !strings.Contains(d.res.GetHeader("Warning").Value(), "1000") {
		t.Fatalf("moderator's call: %d %v", d.res.StatusCode, d.res.GetHeader("Warning"))
	}
	waitEvent(t, sub, conf.EventDialing)
	if n := dialer.count(); n != 1 {
		t.Fatalf("%d calls dialled for the invitation, want 1", n)
	}
	// Bob, in no conference, calls carol: a point-to-point call, not served.
	if _, err := e.svc.CreateUser(ctx, conf.System(), conf.UserInput{ID: "carol", Password: "carol-secret"}); err != nil {
		t.Fatal(err)
	}
	if d := e.callUser(t, "carol", "bob", "bob-secret-1"); d.res.StatusCode != 480 {
		t.Fatalf("point-to-point call: %d", d.res.StatusCode)
	}
	// A conference ID is a plain dial-in, no authentication.
	d = e.p.call(e.p.newInvite("2000", offer(30000, "")))
	if d.res.StatusCode != 200 {
		t.Fatalf("dial-in: %d", d.res.StatusCode)
	}
	d.ack(nil)
	e.h.leg()
	d.do(sipmsg.BYE, nil)
	e.h.left()
}

// waitEvent waits for the next event of type typ.
func waitEvent(t *testing.T, sub *conf.Subscription, typ string) conf.Event {
	t.Helper()
	timeout := time.After(waitFor)
	for {
		select {
		case ev := <-sub.C():
			if ev.Type == typ {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event", typ)
		}
	}
}
