package sip

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
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
	// Bob, in no conference, calls carol, who has no registered device:
	// a point-to-point call that cannot ring anyone.
	if _, err := e.svc.CreateUser(ctx, conf.System(), conf.UserInput{ID: "carol", Password: "carol-secret"}); err != nil {
		t.Fatal(err)
	}
	if d := e.callUser(t, "carol", "bob", "bob-secret-1"); d.res.StatusCode != 404 {
		t.Fatalf("point-to-point call to an unregistered user: %d", d.res.StatusCode)
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

// p2pDialer plays bob's phone for point-to-point calls: it answers by
// joining the ad-hoc room as bob, or fails with fail.
type p2pDialer struct {
	svc  *conf.Service
	mu   sync.Mutex
	fail error
}

func (d *p2pDialer) setFail(err error) {
	d.mu.Lock()
	d.fail = err
	d.mu.Unlock()
}

func (d *p2pDialer) Schemes() []string { return []string{"sip", "sips"} }
func (d *p2pDialer) Dial(ctx context.Context, req conf.DialRequest) (conf.DialResult, error) {
	d.mu.Lock()
	fail := d.fail
	d.mu.Unlock()
	if fail != nil {
		return conf.DialResult{}, fail
	}
	p, err := d.svc.Join(ctx, conf.JoinRequest{ConferenceID: req.ConferenceID, DisplayName: "Bob", Protocol: "sip",
		Leg: &userLegHandle{user: req.UserID}})
	if err != nil {
		return conf.DialResult{}, err
	}
	return conf.DialResult{ParticipantID: p.ID()}, nil
}

func TestPointToPointCalls(t *testing.T) {
	e := newRegEnv(t)
	ctx := t.Context()
	d := &p2pDialer{svc: e.svc}
	e.svc.RegisterDialer(d)
	t.Cleanup(e.svc.StopDialing)
	if _, err := e.svc.RegisterContact(ctx, "bob", conf.Binding{Contact: "sip:bob@192.0.2.1:5060"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		fail error
		want int
	}{
		{fmt.Errorf("INVITE answered 486: %w", ErrBusy), 486},
		{fmt.Errorf("INVITE answered 603: %w", ErrDeclined), 603},
		{fmt.Errorf("CANCEL: %w", ErrNoAnswer), 480},
	} {
		d.setFail(tc.fail)
		if r := e.callUser(t, "bob", "alice", "alice-secret"); r.res.StatusCode != tc.want {
			t.Fatalf("bob's phone failing with %v: alice got %d, want %d", tc.fail, r.res.StatusCode, tc.want)
		}
	}
	if cs, _ := e.svc.ListConferences(ctx); len(cs) != 0 {
		t.Fatalf("failed calls left rooms: %+v", cs)
	}

	// Bob answers: alice's INVITE continues as her dial-in to the room,
	// as alice herself.
	d.setFail(nil)
	r := e.callUser(t, "bob", "alice", "alice-secret")
	if r.res.StatusCode != 200 {
		t.Fatalf("answered point-to-point call: %d %s", r.res.StatusCode, r.res.Reason)
	}
	r.ack(nil)
	var p *fakeParticipant
	select {
	case p = <-e.h.confs.joins:
	case <-time.After(waitFor):
		t.Fatal("alice did not join")
	}
	c, err := e.svc.GetConference(ctx, p.req.ConferenceID)
	if err != nil || c.Owner != "alice" || e.svc.LiveCount(c.ID) != 1 {
		t.Fatalf("alice joined %q: %+v, %v", p.req.ConferenceID, c, err)
	}
	if u, ok := p.req.Leg.(interface{ UserID() string }); !ok || u.UserID() != "alice" {
		t.Fatalf("alice's leg does not carry her user ID")
	}
	e.h.leg()
	r.do(sipmsg.BYE, nil)
	e.h.left()

	// A peer cannot claim to be someone by a header: only digest
	// authentication makes a caller a user.
	req := e.p.newInvite("2000", offer(30000, ""), sipmsg.NewHeader("X-Roomgate-Authenticated-User", "alice"))
	r = e.p.call(req)
	if r.res.StatusCode != 200 {
		t.Fatalf("dial-in: %d", r.res.StatusCode)
	}
	r.ack(nil)
	select {
	case p = <-e.h.confs.joins:
	case <-time.After(waitFor):
		t.Fatal("dial-in did not join")
	}
	if u := p.req.Leg.(interface{ UserID() string }).UserID(); u != "" {
		t.Fatalf("a forged header made the caller %q", u)
	}
	e.h.leg()
	r.do(sipmsg.BYE, nil)
	e.h.left()
}

func TestPointToPointFailureAnswers(t *testing.T) {
	for _, tc := range []struct {
		err, cause error
		want       int
	}{
		{fmt.Errorf("ringing: %w", ErrCancelled), ErrCancelled, 487},
		{fmt.Errorf("x: %w", conf.ErrForbidden), nil, 403},
		{fmt.Errorf("x: %w", conf.ErrCalleeNotRegistered), nil, 404},
		{fmt.Errorf("x: %w", conf.ErrNotFound), nil, 404},
		{errors.Join(fmt.Errorf("a: %w", ErrBusy), fmt.Errorf("b: %w", ErrDeclined)), nil, 603},
		{errors.Join(fmt.Errorf("a: %w", ErrNoAnswer), fmt.Errorf("b: %w", ErrBusy)), nil, 486},
		{fmt.Errorf("a: %w", ErrNoAnswer), nil, 480},
		{fmt.Errorf("a: %w", conf.ErrDialingStopped), nil, 503},
		{errors.New("something else"), nil, 480},
	} {
		if got, _ := p2pFailure(tc.err, tc.cause); got != tc.want {
			t.Errorf("%v: %d, want %d", tc.err, got, tc.want)
		}
	}
}

// blockingDialer rings until its call is cancelled and reports the cause.
type blockingDialer struct{ causes chan error }

func (d *blockingDialer) Schemes() []string { return []string{"sip", "sips"} }
func (d *blockingDialer) Dial(ctx context.Context, req conf.DialRequest) (conf.DialResult, error) {
	<-ctx.Done()
	d.causes <- context.Cause(ctx)
	return conf.DialResult{}, context.Cause(ctx)
}

// A caller who hangs up while the callee's phone rings gets 487, and the
// phone stops ringing.
func TestPointToPointCallerCancels(t *testing.T) {
	e := newRegEnv(t)
	d := &blockingDialer{causes: make(chan error, 1)}
	e.svc.RegisterDialer(d)
	t.Cleanup(e.svc.StopDialing)
	if _, err := e.svc.RegisterContact(t.Context(), "bob", conf.Binding{Contact: "sip:bob@192.0.2.1:5060"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	sub := e.svc.Subscribe()
	defer sub.Close()

	first := e.p.newInvite("bob", offer(30000, ""))
	r, err := e.p.tryCall(first)
	if err != nil || r.res.StatusCode != 401 {
		t.Fatalf("challenge: %v %v", r, err)
	}
	ch, err := digest.ParseChallenge(r.res.GetHeader("WWW-Authenticate").Value())
	if err != nil {
		t.Fatal(err)
	}
	cred, err := digest.Digest(ch, digest.Options{Method: "INVITE", URI: first.Recipient.String(), Username: "alice", Password: "alice-secret", Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	inv := e.p.newInvite("bob", offer(30000, ""), sipmsg.NewHeader("Authorization", cred.String()))
	inv.CSeq().SeqNo = 2
	ctx, cancel := contextWithTimeout()
	defer cancel()
	tx, err := e.p.cli.TransactionRequest(ctx, inv)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Terminate()
	waitEvent(t, sub, conf.EventDialing) // bob's phone rings
	cancelReq := sipmsg.NewRequest(sipmsg.CANCEL, inv.Recipient)
	cancelReq.AppendHeader(sipmsg.HeaderClone(inv.Via()))
	cancelReq.AppendHeader(sipmsg.HeaderClone(inv.From()))
	cancelReq.AppendHeader(sipmsg.HeaderClone(inv.To()))
	cancelReq.AppendHeader(sipmsg.HeaderClone(inv.CallID()))
	cancelReq.AppendHeader(&sipmsg.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sipmsg.CANCEL})
	cancelReq.SetTransport("UDP")
	cres, err := e.p.cli.Do(ctx, cancelReq, func(*sipgo.Client, *sipmsg.Request) error { return nil })
	if err != nil || cres.StatusCode != 200 {
		t.Fatalf("CANCEL: %v %v", cres, err)
	}
	final := 0
	for res := range tx.Responses() {
		if res.StatusCode >= 200 {
			final = res.StatusCode
			break
		}
	}
	if final != 487 {
		t.Fatalf("cancelled point-to-point call ended with %d, want 487", final)
	}
	select {
	case cause := <-d.causes:
		if !errors.Is(cause, ErrCancelled) {
			t.Fatalf("bob's phone stopped ringing with %v", cause)
		}
	case <-time.After(waitFor):
		t.Fatal("bob's phone still rings")
	}
	waitEvent(t, sub, conf.EventDeleted)
}
