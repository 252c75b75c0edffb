package conf_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/roomgate/roomgate/conf"
	"github.com/roomgate/roomgate/store"
)

// fakeMailer records invitations. While gate is not nil every send waits
// on it (or its context) after announcing itself on entered.
type fakeMailer struct {
	mu       sync.Mutex
	sent     [][]string // addresses per call, in order of completion
	confs    []string
	fail     error
	gate     chan struct{}
	entered  chan struct{}
	inflight int
	peak     int
}

func (m *fakeMailer) SendInvitation(ctx context.Context, c conf.Conference, to []string) error {
	m.mu.Lock()
	m.inflight++
	m.peak = max(m.peak, m.inflight)
	gate, entered := m.gate, m.entered
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.inflight--
		m.mu.Unlock()
	}()
	if entered != nil {
		entered <- struct{}{}
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.sent = append(m.sent, append([]string(nil), to...))
	m.confs = append(m.confs, c.ID)
	return nil
}

func (m *fakeMailer) snapshot() (sent [][]string, confs []string, peak int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.sent), slices.Clone(m.confs), m.peak
}

// mailEnv is a Service over a real store with m as its mailer.
func mailEnv(t *testing.T, m conf.Mailer) *conf.Service {
	t.Helper()
	st, err := store.OpenSQLite(t.Context(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	svc := conf.NewService(st, nil, conf.WithMailer(m), conf.WithPasswordIterations(1000))
	t.Cleanup(func() {
		svc.StopMailing()
		if err := svc.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return svc
}

// waitMail reads events until n of type typ arrived and returns their targets.
func waitMail(t *testing.T, sub *conf.Subscription, typ string, n int) []string {
	t.Helper()
	var got []string
	for len(got) < n {
		select {
		case e := <-sub.C():
			if e.Type == typ {
				got = append(got, e.Target)
			}
		case <-t.Context().Done():
			t.Fatalf("waiting for %d %s events: got %v", n, typ, got)
		}
	}
	return got
}

func TestEmailInvitations(t *testing.T) {
	m := &fakeMailer{}
	svc := mailEnv(t, m)
	ctx := t.Context()
	sub := svc.Subscribe()
	defer sub.Close()
	c, err := svc.CreateConference(ctx, conf.Conference{ID: "3000", Name: "Webinar", Access: conf.AccessPublic,
		Invitations: []conf.Invitation{{Target: "MAILTO:ann@example.com"}, {Target: "sip:room@example.com"}, {Target: "bob"}}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Invitations[0].Target != "mailto:ann@example.com" {
		t.Errorf("stored target %q", c.Invitations[0].Target)
	}
	if got := waitMail(t, sub, conf.EventMailSent, 1); got[0] != "ann@example.com" {
		t.Errorf("mailed %v", got)
	}
	// An update mails only the new addresses.
	c.Invitations = append(c.Invitations, conf.Invitation{Target: "mailto:cy@example.org"}, conf.Invitation{Target: "mailto:di@example.org"})
	c.Invitations[0].Target = "mailto:Ann@Example.com" // the same address
	if _, err := svc.UpdateConference(ctx, c); err != nil {
		t.Fatal(err)
	}
	waitMail(t, sub, conf.EventMailSent, 2)
	// So does an invitation by a moderator.
	if _, err := svc.Invite(ctx, conf.System(), c.ID, []conf.Invitation{{Target: "mailto:cy@example.org"}, {Target: "mailto:ed@example.net"}}); err != nil {
		t.Fatal(err)
	}
	waitMail(t, sub, conf.EventMailSent, 1)
	sent, confs, _ := m.snapshot()
	want := [][]string{{"ann@example.com"}, {"cy@example.org", "di@example.org"}, {"ed@example.net"}}
	if !slices.EqualFunc(sent, want, slices.Equal) || confs[0] != "3000" {
		t.Errorf("sent %v to %v, want %v", sent, confs, want)
	}
	// Internal conferences refuse e-mail invitations, naming the entry.
	var ve *conf.ValidationError
	_, err = svc.CreateConference(ctx, conf.Conference{Name: "Board", Access: conf.AccessInternal,
		Invitations: []conf.Invitation{{Target: "bob"}, {Target: "mailto:ann@example.com"}}})
	if !errors.As(err, &ve) || ve.Field != "invitations[1].target" {
		t.Errorf("e-mail into internal: %v", err)
	}
	c.Access = conf.AccessInternal
	if _, err := svc.UpdateConference(ctx, c); !errors.As(err, &ve) || ve.Field != "invitations[0].target" {
		t.Errorf("public with e-mails made internal: %v", err)
	}
	internal, err := svc.CreateConference(ctx, conf.Conference{Name: "Board", Access: conf.AccessInternal})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Invite(ctx, conf.System(), internal.ID, []conf.Invitation{{Target: "mailto:ann@example.com"}}); !errors.As(err, &ve) || ve.Field != "invitations[0].target" {
		t.Errorf("inviting an e-mail into internal: %v", err)
	}
}

func TestEmailInvitationFailureNeverFailsTheCall(t *testing.T) {
	m := &fakeMailer{fail: errors.New("smtp: 554 relay denied")}
	svc := mailEnv(t, m)
	sub := svc.Subscribe()
	defer sub.Close()
	if _, err := svc.CreateConference(t.Context(), conf.Conference{Name: "W",
		Invitations: []conf.Invitation{{Target: "mailto:ann@example.com"}}}); err != nil {
		t.Fatalf("the API call failed with the mail: %v", err)
	}
	var cause string
	for cause == "" {
		e := <-sub.C()
		if e.Type == conf.EventMailFailed {
			cause = e.Cause
		}
	}
	if !strings.Contains(cause, "relay denied") {
		t.Errorf("cause %q", cause)
	}
}

func TestEmailInvitationsBoundedAndStopped(t *testing.T) {
	m := &fakeMailer{gate: make(chan struct{}), entered: make(chan struct{}, 64)}
	svc := mailEnv(t, m)
	ctx := t.Context()
	sub := svc.Subscribe()
	defer sub.Close()
	const n = 10
	for i := range n {
		if _, err := svc.CreateConference(ctx, conf.Conference{Name: "W",
			Invitations: []conf.Invitation{{Target: "mailto:a" + string(rune('a'+i)) + "@example.com"}}}); err != nil {
			t.Fatal(err)
		}
	}
	for range 4 {
		<-m.entered // four SMTP conversations at once
	}
	close(m.gate)
	waitMail(t, sub, conf.EventMailSent, n)
	svc.StopMailing()
	sent, _, peak := m.snapshot()
	if len(sent) != n || peak > 4 {
		t.Errorf("sent %d of %d, %d at once (at most 4)", len(sent), n, peak)
	}
	// After StopMailing nothing more is sent, and the call still succeeds.
	if _, err := svc.CreateConference(ctx, conf.Conference{Name: "late",
		Invitations: []conf.Invitation{{Target: "mailto:late@example.com"}}}); err != nil {
		t.Fatal(err)
	}
	if got := waitMail(t, sub, conf.EventMailFailed, 1); got[0] != "late@example.com" {
		t.Errorf("failed %v", got)
	}
	if sent, _, _ := m.snapshot(); len(sent) != n {
		t.Errorf("sent after stop: %d", len(sent))
	}
}

func TestStopMailingCancelsSends(t *testing.T) {
	m := &fakeMailer{gate: make(chan struct{}), entered: make(chan struct{}, 4)}
	svc := mailEnv(t, m)
	sub := svc.Subscribe()
	defer sub.Close()
	if _, err := svc.CreateConference(t.Context(), conf.Conference{Name: "W",
		Invitations: []conf.Invitation{{Target: "mailto:ann@example.com"}}}); err != nil {
		t.Fatal(err)
	}
	<-m.entered
	svc.StopMailing() // returns only once the blocked send saw its context end
	if got := waitMail(t, sub, conf.EventMailFailed, 1); got[0] != "ann@example.com" {
		t.Errorf("failed %v", got)
	}
}

func TestGuestValidation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		c     conf.Conference
		field string
	}{
		{"guest rights internal", conf.Conference{Name: "x", Access: conf.AccessInternal, GuestRights: &conf.GuestRights{}}, "guest_rights"},
		{"guest rights public", conf.Conference{Name: "x", GuestRights: &conf.GuestRights{Chat: true}}, ""},
		{"join without invitation public", conf.Conference{Name: "x", Access: conf.AccessPublic, JoinWithoutInvitation: true}, "join_without_invitation"},
		{"join without invitation default access", conf.Conference{Name: "x", JoinWithoutInvitation: true}, "join_without_invitation"},
		{"join without invitation internal", conf.Conference{Name: "x", Access: conf.AccessInternal, JoinWithoutInvitation: true}, ""},
		{"mail internal", conf.Conference{Name: "x", Access: conf.AccessInternal, Invitations: []conf.Invitation{{Target: "mailto:a@b.example"}}}, "invitations[0].target"},
		{"mail public", conf.Conference{Name: "x", Invitations: []conf.Invitation{{Target: "mailto:a.b+c@b.example"}}}, ""},
		{"mail no domain", conf.Conference{Name: "x", Invitations: []conf.Invitation{{Target: "bob"}, {Target: "mailto:ann"}}}, "invitations[1].target"},
		{"mail header injection", conf.Conference{Name: "x", Invitations: []conf.Invitation{{Target: "mailto:a@b.example,c@d.example"}}}, "invitations[0].target"},
		{"mail display name", conf.Conference{Name: "x", Invitations: []conf.Invitation{{Target: "mailto:<a@b.example>"}}}, "invitations[0].target"},
		{"mail twice", conf.Conference{Name: "x", Invitations: []conf.Invitation{{Target: "mailto:a@b.example"}, {Target: "MailTo:A@B.example"}}}, "invitations[1].target"},
		{"mail empty", conf.Conference{Name: "x", Invitations: []conf.Invitation{{Target: "mailto:"}}}, "invitations[0].target"},
	} {
		err := conf.ValidateConference(&tc.c, start)
		var ve *conf.ValidationError
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.field != "" && (!errors.As(err, &ve) || ve.Field != tc.field):
			t.Errorf("%s: %v, want field %s", tc.name, err, tc.field)
		}
	}
}

func TestDecodeGuestRights(t *testing.T) {
	for _, tc := range []struct {
		body string
		want *conf.GuestRights
	}{
		{`{"name":"x"}`, nil},
		{`{"name":"x","guest_rights":null}`, nil},
		{`{"name":"x","guest_rights":{}}`, &conf.GuestRights{Speak: true, Video: true, Chat: true, ShareContent: true, Record: true}},
		{`{"name":"x","guest_rights":{"speak":false,"record":false}}`, &conf.GuestRights{Video: true, Chat: true, ShareContent: true}},
		{`{"name":"x","guest_rights":{"speak":true,"video":false,"chat":false,"share_content":false,"record":false}}`, &conf.GuestRights{Speak: true}},
	} {
		c, err := conf.DecodeConference(strings.NewReader(tc.body))
		if err != nil {
			t.Fatalf("%s: %v", tc.body, err)
		}
		if (c.GuestRights == nil) != (tc.want == nil) || c.GuestRights != nil && *c.GuestRights != *tc.want {
			t.Errorf("%s: %+v, want %+v", tc.body, c.GuestRights, tc.want)
		}
	}
	var ve *conf.ValidationError
	for body, field := range map[string]string{
		`{"name":"x","guest_rights":{"fly":true}}`:   "guest_rights.fly",
		`{"name":"x","guest_rights":{"speak":"no"}}`: "guest_rights.speak",
		`{"name":"x","guest_rights":[]}`:             "guest_rights",
	} {
		if _, err := conf.DecodeConference(strings.NewReader(body)); !errors.As(err, &ve) || ve.Field != field {
			t.Errorf("%s: %v, want field %s", body, err, field)
		}
	}
}

func TestDrainMail(t *testing.T) {
	m := &fakeMailer{gate: make(chan struct{}), entered: make(chan struct{}, 4)}
	svc := mailEnv(t, m)
	ctx := t.Context()
	for _, to := range []string{"ann@example.com", "bo@example.com"} {
		if _, err := svc.CreateConference(ctx, conf.Conference{Name: "W",
			Invitations: []conf.Invitation{{Target: "mailto:" + to}}}); err != nil {
			t.Fatal(err)
		}
	}
	<-m.entered
	<-m.entered
	// A drain that runs out of time cancels what is left.
	short, cancel := context.WithCancel(ctx)
	cancel()
	if err := svc.DrainMail(short); !errors.Is(err, context.Canceled) {
		t.Errorf("drain with an ended context: %v", err)
	}
	if sent, _, _ := m.snapshot(); len(sent) != 0 {
		t.Errorf("sent %v", sent)
	}
}

func TestDrainMailWaits(t *testing.T) {
	m := &fakeMailer{gate: make(chan struct{}), entered: make(chan struct{}, 4)}
	svc := mailEnv(t, m)
	if _, err := svc.CreateConference(t.Context(), conf.Conference{Name: "W",
		Invitations: []conf.Invitation{{Target: "mailto:ann@example.com"}}}); err != nil {
		t.Fatal(err)
	}
	<-m.entered
	close(m.gate)
	if err := svc.DrainMail(t.Context()); err != nil {
		t.Fatal(err)
	}
	if sent, _, _ := m.snapshot(); len(sent) != 1 {
		t.Errorf("sent %v after the drain", sent)
	}
}
