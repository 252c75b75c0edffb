package conf_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roomgate/roomgate/conf"
)

// dialledLeg is a leg the server placed.
type dialledLeg struct{ fakeLeg }

func (*dialledLeg) Dialled() bool { return true }

// joinDialer "answers" every call by joining a fake leg to the conference,
// as a signalling dialer does with the answered leg.
type joinDialer struct {
	svc     *conf.Service
	schemes []string
	fail    error
	block   bool // wait for ctx instead of answering
	mu      sync.Mutex
	reqs    []conf.DialRequest
}

func (d *joinDialer) Schemes() []string { return d.schemes }

func (d *joinDialer) Dial(ctx context.Context, req conf.DialRequest) (conf.DialResult, error) {
	d.mu.Lock()
	d.reqs = append(d.reqs, req)
	d.mu.Unlock()
	if d.block {
		<-ctx.Done()
		return conf.DialResult{}, context.Cause(ctx)
	}
	if d.fail != nil {
		return conf.DialResult{}, d.fail
	}
	p, err := d.svc.Join(ctx, conf.JoinRequest{ConferenceID: req.ConferenceID, DisplayName: req.Target.User,
		Protocol: "sip", Remote: req.Target.HostPort(), Leg: &dialledLeg{}})
	if err != nil {
		return conf.DialResult{}, err
	}
	return conf.DialResult{ParticipantID: p.ID(), Remote: req.Target.HostPort()}, nil
}

func (d *joinDialer) requests() []conf.DialRequest {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]conf.DialRequest(nil), d.reqs...)
}

// nextEvent waits for the next event of type typ.
func nextEvent(t *testing.T, sub *conf.Subscription, typ string) conf.Event {
	t.Helper()
	timeout := time.After(10 * time.Second) // a safety net for a hung dialer, not a timed assertion
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

func TestInviteAndDialJoinsAnsweredTarget(t *testing.T) {
	e := newEnv(t)
	users, c := book(t, e)
	ctx := t.Context()
	d := &joinDialer{svc: e.svc, schemes: []string{"sip", "sips"}}
	e.svc.RegisterDialer(d)
	sub := e.svc.Subscribe()
	defer sub.Close()

	res, err := e.svc.InviteAndDial(ctx, users["mod"], c.ID, []string{"sip:room1@192.0.2.10", " alice ", "h323:x@192.0.2.11", `\c\2000`})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ status, kind string }{{"dialing", "address"}, {"invited", "user"}, {"invited", "address"}, {"invited", "conference"}}
	if len(res) != len(want) {
		t.Fatalf("results %+v", res)
	}
	for i, w := range want {
		if res[i].Status != w.status || res[i].Kind != w.kind {
			t.Errorf("result %d = %+v, want status %s kind %s", i, res[i], w.status, w.kind)
		}
	}
	if !strings.Contains(res[2].Message, "h323") {
		t.Errorf("h323 without a dialler: message %q", res[2].Message)
	}
	ev := nextEvent(t, sub, conf.EventDialAnswer)
	if ev.ConferenceID != c.ID || ev.Target != "sip:room1@192.0.2.10" || ev.By != "mod" || ev.ParticipantID == "" {
		t.Errorf("answer event %+v", ev)
	}
	ps, err := e.svc.Participants(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].ID != ev.ParticipantID || ps[0].DisplayName != "room1" {
		t.Errorf("participants %+v", ps)
	}
	reqs := d.requests()
	if len(reqs) != 1 || reqs[0].DisplayName != "Board" || reqs[0].By.ID != "mod" || reqs[0].Target.Host != "192.0.2.10" {
		t.Errorf("dial requests %+v", reqs)
	}
	got, err := e.svc.GetConference(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	invited := map[string]bool{}
	for _, inv := range got.Invitations {
		invited[inv.Target] = true
	}
	for _, tg := range []string{"sip:room1@192.0.2.10", "alice", "h323:x@192.0.2.11", `\c\2000`} {
		if !invited[tg] {
			t.Errorf("%s is not on the invitation list %+v", tg, got.Invitations)
		}
	}
}

func TestInviteAndDialReportsFailure(t *testing.T) {
	e := newEnv(t)
	users, c := book(t, e)
	busy := errors.New("sip: 486 Busy Here")
	e.svc.RegisterDialer(&joinDialer{svc: e.svc, schemes: []string{"sip"}, fail: busy})
	sub := e.svc.Subscribe()
	defer sub.Close()
	if _, err := e.svc.InviteAndDial(t.Context(), users["owner"], c.ID, []string{"#sip:bob@192.0.2.20"}); err != nil {
		t.Fatal(err)
	}
	ev := nextEvent(t, sub, conf.EventDialFailed)
	if !strings.Contains(ev.Cause, "486") || ev.Target != "#sip:bob@192.0.2.20" {
		t.Errorf("failure event %+v", ev)
	}
}

func TestInviteAndDialRefusals(t *testing.T) {
	e := newEnv(t)
	users, c := book(t, e)
	d := &joinDialer{svc: e.svc, schemes: []string{"sip", "tel"}}
	e.svc.RegisterDialer(d)
	ctx := t.Context()
	tests := []struct {
		actor   string
		targets []string
		want    error
		field   string
	}{
		{"guest1", []string{"sip:a@192.0.2.1"}, conf.ErrForbidden, ""},
		{"other", []string{"sip:a@192.0.2.1"}, conf.ErrForbidden, ""},
		{"mod", []string{"#tel:+15551234"}, conf.ErrForbidden, ""},
		{"owner", []string{"sip:a@192.0.2.1", "#tel:+15551234"}, conf.ErrForbidden, ""},
		{"mod", []string{"sip:a@192.0.2.1", "sip:b@host\r\nX: y"}, conf.ErrInvalid, "participants[1]"},
		{"mod", []string{"ftp://x"}, conf.ErrInvalid, "participants[0]"},
		{"mod", nil, conf.ErrInvalid, "participants"},
		{"mod", []string{"sip:" + strings.Repeat("a", 300) + "@h"}, conf.ErrInvalid, "participants[0]"},
	}
	for _, tc := range tests {
		_, err := e.svc.InviteAndDial(ctx, users[tc.actor], c.ID, tc.targets)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s inviting %q: %v, want %v", tc.actor, tc.targets, err, tc.want)
			continue
		}
		var ve *conf.ValidationError
		if tc.field != "" && (!errors.As(err, &ve) || ve.Field != tc.field) {
			t.Errorf("%s inviting %q: %v, want field %s", tc.actor, tc.targets, err, tc.field)
		}
	}
	if reqs := d.requests(); len(reqs) != 0 {
		t.Errorf("refused requests dialled %+v", reqs)
	}
	if _, err := e.svc.InviteAndDial(ctx, users["oper"], "4040", []string{"sip:a@h"}); !errors.Is(err, conf.ErrNotFound) {
		t.Errorf("unknown conference: %v", err)
	}
	// Operators may call numbers.
	sub := e.svc.Subscribe()
	defer sub.Close()
	if _, err := e.svc.InviteAndDial(ctx, users["oper"], c.ID, []string{"#tel:+15551234,,12#"}); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, sub, conf.EventDialAnswer)
	if reqs := d.requests(); len(reqs) != 1 || reqs[0].Target.Postdial != ",,12#" {
		t.Errorf("tel request %+v", reqs)
	}
}

func TestGuestsNeedDialledLegForInternalConference(t *testing.T) {
	e := newEnv(t)
	_, c := book(t, e)
	if _, err := e.svc.Join(t.Context(), conf.JoinRequest{ConferenceID: c.ID, Protocol: "sip", Leg: &fakeLeg{}}); !errors.Is(err, conf.ErrUnauthorized) {
		t.Errorf("guest calling in joined an internal conference: %v", err)
	}
	p, err := e.svc.Join(t.Context(), conf.JoinRequest{ConferenceID: c.ID, Protocol: "sip", Leg: &dialledLeg{}})
	if err != nil {
		t.Fatalf("dialled guest refused: %v", err)
	}
	e.svc.Leave(p, nil)
}

func TestInviteAndDialLiftsRemoval(t *testing.T) {
	e := newEnv(t)
	users, c := book(t, e)
	ctx := t.Context()
	p, err := e.svc.Join(ctx, conf.JoinRequest{ConferenceID: c.ID, DisplayName: "G", Protocol: "sip", Leg: &userLeg{user: "guest1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RemoveParticipant(ctx, users["mod"], c.ID, p.ID()); err != nil {
		t.Fatal(err)
	}
	join := func() error {
		q, err := e.svc.Join(ctx, conf.JoinRequest{ConferenceID: c.ID, DisplayName: "G", Protocol: "sip", Leg: &userLeg{user: "guest1"}})
		if err == nil {
			e.svc.Leave(q, nil)
		}
		return err
	}
	if err := join(); !errors.Is(err, conf.ErrRemoved) {
		t.Fatalf("removed user rejoined: %v", err)
	}
	res, err := e.svc.InviteAndDial(ctx, users["mod"], c.ID, []string{"guest1"})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Status != conf.DialStatusInvited {
		t.Errorf("result %+v", res)
	}
	if err := join(); err != nil {
		t.Errorf("invited again, still refused: %v", err)
	}
}

func TestCloseCancelsDials(t *testing.T) {
	e := newEnv(t)
	users, c := book(t, e)
	d := &joinDialer{svc: e.svc, schemes: []string{"sip"}, block: true}
	e.svc.RegisterDialer(d)
	sub := e.svc.Subscribe()
	defer sub.Close()
	if _, err := e.svc.InviteAndDial(t.Context(), users["mod"], c.ID, []string{"sip:a@192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, sub, conf.EventDialing)
	if err := e.svc.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	ev := nextEvent(t, sub, conf.EventDialFailed)
	if !strings.Contains(ev.Cause, "dialling stopped") {
		t.Errorf("cause %q", ev.Cause)
	}
	res, err := e.svc.InviteAndDial(t.Context(), users["mod"], c.ID, []string{"sip:b@192.0.2.1"})
	if err != nil || res[0].Status != conf.DialStatusInvited || !strings.Contains(res[0].Message, "stopped") {
		t.Errorf("dial after Close: %+v, %v", res, err)
	}
}
