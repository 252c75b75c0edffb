package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/roomgate/roomgate/conf"
)

// guestMuteLeg is a guest's leg whose microphone can be closed.
type guestMuteLeg struct {
	fakeLeg
	muted bool
}

func (l *guestMuteLeg) SetMuted(m bool) {
	l.mu.Lock()
	l.muted = m
	l.mu.Unlock()
}

func (l *memberLeg) isMuted() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.muted
}

// joinAs joins user (a guest for "") into conference id with a mutable leg.
func (e *env) joinAs(id, user string) (*conf.Participant, conf.LegHandle) {
	e.t.Helper()
	var leg conf.LegHandle = &memberLeg{user: user}
	if user == "" {
		leg = &guestMuteLeg{}
	}
	p, err := e.svc.Join(e.t.Context(), conf.JoinRequest{ConferenceID: id, DisplayName: user, Protocol: "sip",
		Remote: "192.0.2.9:5060", Leg: leg})
	if err != nil {
		e.t.Fatalf("%q joins %s: %v", user, id, err)
	}
	return p, leg
}

// participantsByID lists conference id's live participants as token sees them.
func (e *env) participantsByID(id, token string) map[string]conf.LiveParticipant {
	e.t.Helper()
	var pl participantList
	e.do("GET", "/api/v1/conferences/"+id+"/participants", token, "", 200, &pl)
	out := make(map[string]conf.LiveParticipant, len(pl.Participants))
	for _, p := range pl.Participants {
		out[p.ID] = p
	}
	return out
}

// step is one request of a table test and the answer it must get.
type step struct {
	name, token, method, path, body string
	status                          int
}

// run sends each step and checks its status, naming the step on failure.
func (e *env) run(steps []step) {
	e.t.Helper()
	for _, s := range steps {
		var rd io.Reader
		if s.body != "" {
			rd = strings.NewReader(s.body)
		}
		req, err := http.NewRequestWithContext(e.t.Context(), s.method, e.ts.URL+s.path, rd)
		if err != nil {
			e.t.Fatal(err)
		}
		if s.token != "" {
			req.Header.Set("Authorization", "Bearer "+s.token)
		}
		resp, err := e.ts.Client().Do(req)
		if err != nil {
			e.t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != s.status {
			e.t.Errorf("%s: %s %s answered %d, want %d: %s", s.name, s.method, s.path, resp.StatusCode, s.status, raw)
		}
	}
}

// TestPodiumOverREST runs hands and podium seats of a role-based
// conference as the owner, a moderator, plain users, an operator and a
// guest (who has no token).
func TestPodiumOverREST(t *testing.T) {
	e := newEnv(t)
	owner := e.loginAs("owner", "user")
	mod := e.loginAs("mod", "user")
	member := e.loginAs("member", "user")
	other := e.loginAs("other", "user")
	oper := e.loginAs("oper", "operator")
	e.do("POST", "/api/v1/conferences", owner, `{"id":"1000","name":"Panel","mode":"role-based","podium_seats":3,
		"invitations":[{"target":"mod","moderator":true},{"target":"member"}]}`, 201, nil)
	sub := e.svc.Subscribe()
	defer sub.Close()
	ownerP, _ := e.joinAs("1000", "owner")
	modP, _ := e.joinAs("1000", "mod")
	memberP, memberLegH := e.joinAs("1000", "member")
	otherP, _ := e.joinAs("1000", "other")
	guestP, _ := e.joinAs("1000", "")
	mLeg := memberLegH.(*memberLeg)
	if !mLeg.isMuted() {
		t.Fatal("a listener joins unmuted")
	}
	base := "/api/v1/conferences/1000/participants/"
	hand := func(p *conf.Participant) string { return base + p.ID() + "/hand" }
	podium := func(p *conf.Participant) string { return base + p.ID() + "/podium" }
	e.run([]step{
		{"guest without token raises hand", "", "POST", hand(guestP), `{"raised":true}`, 401},
		{"member raises his hand", member, "POST", hand(memberP), `{"raised":true}`, 204},
		{"other lowers member's hand", other, "POST", hand(memberP), `{"raised":false}`, 403},
		{"other raises his hand", other, "POST", hand(otherP), `{"raised":true}`, 204},
		{"moderator raises the guest's hand", mod, "POST", hand(guestP), `{"raised":true}`, 204},
		{"moderator is a speaker", mod, "POST", hand(modP), `{"raised":true}`, 409},
		{"member unmutes himself as listener", member, "POST", base + memberP.ID() + "/unmute", "", 403},
		{"member takes the podium himself", member, "POST", podium(memberP), "", 403},
		{"outsider gives a seat to nobody", other, "POST", base + "deadbeef/podium", "", 403},
		{"moderator gives member the podium", mod, "POST", podium(memberP), "", 204},
		{"operator gives other a fourth seat", oper, "POST", podium(otherP), "", 409},
		{"member mutes himself", member, "POST", base + memberP.ID() + "/mute", "", 204},
		{"member unmutes himself on the podium", member, "POST", base + memberP.ID() + "/unmute", "", 204},
		{"owner gives a seat member holds", owner, "POST", podium(memberP), "", 204},
		{"owner takes member's seat", owner, "DELETE", podium(memberP), "", 204},
		{"owner takes it again", owner, "DELETE", podium(memberP), "", 204},
		{"operator gives other the freed seat", oper, "POST", podium(otherP), "", 204},
		{"owner on the podium", mod, "POST", podium(ownerP), "", 409},
		{"plain user takes a seat away", member, "DELETE", podium(otherP), "", 403},
		{"unknown participant", mod, "POST", base + "deadbeef/podium", "", 404},
		{"presenter in role-based", mod, "POST", "/api/v1/conferences/1000/presenter", `{"participant":"` + memberP.ID() + `"}`, 409},
		{"podium GET", mod, "GET", podium(memberP), "", 405},
	})
	e.wantError("POST", hand(memberP), member, `{}`, 400, "validation_failed", "raised")
	e.wantError("POST", hand(memberP), member, `{"raised":"yes"}`, 400, "validation_failed", "raised")
	e.wantError("POST", hand(memberP), member, `{"raised":true,"why":1}`, 400, "validation_failed", "why")

	ps := e.participantsByID("1000", member)
	want := map[string]struct{ muted, speaker, podium, hand bool }{
		ownerP.ID():  {false, true, false, false},
		modP.ID():    {false, true, false, false},
		memberP.ID(): {true, false, false, false},
		otherP.ID():  {false, true, true, false},
		guestP.ID():  {true, false, false, true},
	}
	for id, w := range want {
		p := ps[id]
		if p.Muted != w.muted || p.Speaker != w.speaker || p.Podium != w.podium || p.HandRaised != w.hand || p.Rights.Speak != w.speaker {
			t.Errorf("%s (%s): %+v, want %+v", p.DisplayName, p.Role, p.ParticipantState, w)
		}
	}
	if !mLeg.isMuted() {
		t.Error("the member's leg is open after his seat was taken")
	}
	var types []string
	for len(sub.C()) > 0 {
		types = append(types, (<-sub.C()).Type)
	}
	for _, typ := range []string{conf.EventHandRaised, conf.EventHandLowered, conf.EventPodiumGiven, conf.EventPodiumTaken} {
		if !slices.Contains(types, typ) {
			t.Errorf("no %s event in %v", typ, types)
		}
	}
	// The raw JSON has the fields the API documents.
	var raw struct {
		Participants []map[string]any `json:"participants"`
	}
	e.do("GET", "/api/v1/conferences/1000/participants", oper, "", 200, &raw)
	for _, f := range []string{"rights", "speaker", "podium", "presenter", "hand_raised", "camera_muted", "muted", "stats"} {
		if _, ok := raw.Participants[0][f]; !ok {
			t.Errorf("participant JSON lacks %s: %v", f, raw.Participants[0])
		}
	}
}

func TestPresenterOverREST(t *testing.T) {
	e := newEnv(t)
	owner := e.loginAs("owner", "user")
	mod := e.loginAs("mod", "user")
	member := e.loginAs("member", "user")
	e.do("POST", "/api/v1/conferences", owner, `{"id":"1000","name":"Lecture","mode":"asymmetric",
		"invitations":[{"target":"mod","moderator":true},{"target":"member"}]}`, 201, nil)
	ownerP, _ := e.joinAs("1000", "owner")
	memberP, _ := e.joinAs("1000", "member")
	guestP, _ := e.joinAs("1000", "")
	path := "/api/v1/conferences/1000/presenter"
	body := func(p *conf.Participant) string { return fmt.Sprintf(`{"participant":%q}`, p.ID()) }
	e.run([]step{
		{"guest without token", "", "POST", path, body(guestP), 401},
		{"member names himself", member, "POST", path, body(memberP), 403},
		{"unknown participant", mod, "POST", path, `{"participant":"deadbeef"}`, 404},
		{"moderator names member", mod, "POST", path, body(memberP), 204},
		{"guest gets the floor", mod, "POST", "/api/v1/conferences/1000/participants/" + guestP.ID() + "/podium", "", 204},
	})
	e.wantError("POST", path, mod, `{}`, 400, "validation_failed", "participant")
	ps := e.participantsByID("1000", member)
	if !ps[memberP.ID()].Presenter || ps[memberP.ID()].Muted || ps[ownerP.ID()].Presenter || !ps[guestP.ID()].Podium {
		t.Errorf("participants %+v", ps)
	}
	e.do("POST", path, owner, body(ownerP), 204, nil)
	ps = e.participantsByID("1000", member)
	if !ps[ownerP.ID()].Presenter || ps[memberP.ID()].Presenter || !ps[memberP.ID()].Muted {
		t.Errorf("after the owner took it back %+v", ps)
	}
}

// TestGuestRulesOverREST covers guest rights, mute on join, invitation
// rules and e-mail invitations through the API.
func TestGuestRulesOverREST(t *testing.T) {
	e := newEnv(t)
	owner := e.loginAs("owner", "user")
	oper := e.loginAs("oper", "operator")
	member := e.loginAs("member", "user")
	for _, tc := range []struct{ body, field string }{
		{`{"name":"x","access":"internal","guest_rights":{"speak":false}}`, "guest_rights"},
		{`{"name":"x","guest_rights":{"sing":false}}`, "guest_rights.sing"},
		{`{"name":"x","guest_rights":{"speak":1}}`, "guest_rights.speak"},
		{`{"name":"x","access":"public","join_without_invitation":true}`, "join_without_invitation"},
		{`{"name":"x","access":"internal","invitations":[{"target":"member"},{"target":"mailto:ann@example.com"}]}`, "invitations[1].target"},
		{`{"name":"x","invitations":[{"target":"mailto:ann"}]}`, "invitations[0].target"},
	} {
		e.wantError("POST", "/api/v1/conferences", owner, tc.body, 400, "validation_failed", tc.field)
	}
	var c conf.Conference
	e.do("POST", "/api/v1/conferences", owner, `{"id":"2000","name":"Webinar","mute_microphones_on_join":true,
		"mute_cameras_on_join":true,"guest_rights":{"speak":false,"share_content":false},
		"invitations":[{"target":"member"},{"target":"mailto:ann@example.com"}]}`, 201, &c)
	if c.GuestRights == nil || c.GuestRights.Speak || !c.GuestRights.Video || c.GuestRights.ShareContent || !c.MuteMicrophonesOnJoin {
		t.Fatalf("stored %+v %+v", c, c.GuestRights)
	}
	ownerP, _ := e.joinAs("2000", "owner")
	memberP, _ := e.joinAs("2000", "member")
	guestP, gl := e.joinAs("2000", "")
	ps := e.participantsByID("2000", member)
	if p := ps[guestP.ID()]; !p.Muted || !p.CameraMuted || p.Rights != (conf.ParticipantRights{Video: true, Chat: true}) {
		t.Errorf("guest %+v", p)
	}
	if p := ps[memberP.ID()]; !p.Muted || !p.CameraMuted || !p.Rights.Speak || p.Rights.Record {
		t.Errorf("member %+v", p)
	}
	if p := ps[ownerP.ID()]; p.Muted || p.CameraMuted {
		t.Errorf("owner %+v", p)
	}
	base := "/api/v1/conferences/2000/participants/"
	e.run([]step{
		{"member unmutes himself (mute on join is a courtesy)", member, "POST", base + memberP.ID() + "/unmute", "", 204},
		{"member unmutes the guest", member, "POST", base + guestP.ID() + "/unmute", "", 403},
		{"no token unmutes the guest", "", "POST", base + guestP.ID() + "/unmute", "", 401},
		{"operator unmutes the guest", oper, "POST", base + guestP.ID() + "/unmute", "", 204},
	})
	if gl.(*guestMuteLeg).muted {
		t.Error("the guest's leg is still muted")
	}
	if e.svc.MayParticipant(guestP, conf.RightSpeak) {
		t.Error("an unmuted guest who may not speak got the right")
	}
	// Internal conferences: invitations decide, unless join_without_invitation.
	// (Created by an administrator: the owner himself would be taken back
	// into his running webinar.)
	e.do("POST", "/api/v1/conferences", e.token, `{"id":"3000","name":"Board","owner":"owner","access":"internal","invitations":[{"target":"member"}]}`, 201, nil)
	e.do("POST", "/api/v1/conferences", e.token, `{"id":"3001","name":"Open","owner":"owner","access":"internal","join_without_invitation":true}`, 201, nil)
	e.loginAs("outsider", "user")
	for _, tc := range []struct {
		conf, user string
		ok         bool
	}{
		{"3000", "owner", true}, {"3000", "member", true}, {"3000", "oper", true},
		{"3000", "outsider", false}, {"3000", "", false}, {"3001", "outsider", true}, {"3001", "", false},
	} {
		var leg conf.LegHandle = &memberLeg{user: tc.user}
		if tc.user == "" {
			leg = &fakeLeg{}
		}
		_, err := e.svc.Join(t.Context(), conf.JoinRequest{ConferenceID: tc.conf, Leg: leg})
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, conf.ErrUnauthorized) {
			t.Errorf("%q into %s: %v", tc.user, tc.conf, err)
		}
	}
	ps = e.participantsByID("3000", member)
	if len(ps) != 3 {
		t.Errorf("internal conference has %d participants, want 3", len(ps))
	}
}

// TestLeaveOverREST: "leave" and "end for all" as different users.
func TestLeaveOverREST(t *testing.T) {
	e := newEnv(t)
	owner := e.loginAs("owner", "user")
	mod := e.loginAs("mod", "user")
	member := e.loginAs("member", "user")
	oper := e.loginAs("oper", "operator")
	e.do("POST", "/api/v1/conferences", owner, `{"id":"1000","name":"Board","access":"internal",
		"invitations":[{"target":"mod","moderator":true},{"target":"member"}]}`, 201, nil)
	ownerP, _ := e.joinAs("1000", "owner")
	modP, _ := e.joinAs("1000", "mod")
	memberP, ml := e.joinAs("1000", "member")
	base := "/api/v1/conferences/1000/participants/"
	leave := func(p *conf.Participant) string { return base + p.ID() + "/leave" }
	e.run([]step{
		{"moderator makes the owner leave", mod, "POST", leave(ownerP), "", 403},
		{"operator makes the owner leave", oper, "POST", leave(ownerP), "", 403},
		{"no token", "", "POST", leave(memberP), "", 401},
		{"member ends for all", member, "POST", leave(memberP), `{"end_for_all":true}`, 403},
		{"member makes the moderator leave", member, "POST", leave(modP), "", 403},
		{"operator for nobody", oper, "POST", base + "deadbeef/leave", "", 404},
	})
	e.wantError("POST", leave(memberP), member, `{"end_for_all":"yes"}`, 400, "validation_failed", "end_for_all")
	if n := e.svc.LiveCount("1000"); n != 3 {
		t.Fatalf("refused requests changed the room: %d live", n)
	}
	var a leaveAnswer
	e.do("POST", leave(memberP), member, "", 200, &a)
	if a.EndedForAll || a.ConferenceID != "1000" || e.svc.LiveCount("1000") != 2 {
		t.Errorf("member left: %+v, %d live", a, e.svc.LiveCount("1000"))
	}
	if h := ml.(*memberLeg).hangups(); len(h) != 1 || !errors.Is(h[0], conf.ErrLeft) {
		t.Errorf("member hang-ups %v", h)
	}
	// An operator makes someone leave, without ending the conference.
	x1P, _ := e.joinAs("1000", "member")
	e.do("POST", leave(x1P), oper, `{"end_for_all":false}`, 200, &a)
	if e.svc.LiveCount("1000") != 2 {
		t.Errorf("live after operator's leave %d", e.svc.LiveCount("1000"))
	}
	// The moderator leaves with "end for all".
	e.do("POST", leave(modP), mod, `{"end_for_all":true}`, 200, &a)
	if !a.EndedForAll || e.svc.LiveCount("1000") != 0 {
		t.Errorf("end for all: %+v, %d live", a, e.svc.LiveCount("1000"))
	}
	var c conf.Conference
	e.do("GET", "/api/v1/conferences/1000", owner, "", 200, &c)
	if c.State != conf.StateEnded {
		t.Errorf("state %q", c.State)
	}
}

// TestOwnerTakenBackOverREST: creating while one's conference runs.
func TestOwnerTakenBackOverREST(t *testing.T) {
	e := newEnv(t)
	owner := e.loginAs("owner", "user")
	mod := e.loginAs("mod", "user")
	oper := e.loginAs("oper", "operator")
	e.do("POST", "/api/v1/conferences", owner, `{"id":"1000","name":"Daily"}`, 201, nil)
	e.do("POST", "/api/v1/conferences", owner, `{"id":"1001","name":"Idle is no reason"}`, 201, nil)
	p, _ := e.joinAs("1000", "mod")
	var ra runningAnswer
	resp := e.do("POST", "/api/v1/conferences", owner, `{"name":"Another"}`, 409, &ra)
	if ra.Error != "conference_running" || ra.ConferenceID != "1000" || ra.Conference.ID != "1000" ||
		ra.Conference.State != conf.StateRunning || ra.Message == "" || resp.Header.Get("Location") != "/api/v1/conferences/1000" {
		t.Errorf("answer %+v, Location %q", ra, resp.Header.Get("Location"))
	}
	e.run([]step{
		{"scheduled conference", owner, "POST", "/api/v1/conferences",
			`{"name":"Later","schedule":{"type":"once","start":"2099-01-01T10:00:00Z","duration_minutes":30}}`, 201},
		{"another owner", mod, "POST", "/api/v1/conferences", `{"name":"Mine"}`, 201},
		{"operator for the owner", oper, "POST", "/api/v1/conferences", `{"name":"For him","owner":"owner"}`, 201},
		{"taken ID still exists", owner, "POST", "/api/v1/conferences", `{"id":"1000","name":"Again"}`, 409},
	})
	e.svc.Leave(p, nil)
	e.do("POST", "/api/v1/conferences", owner, `{"name":"After"}`, 201, nil)
	// The mode of a conference with participants cannot change.
	e.joinAs("1001", "owner")
	e.wantError("PUT", "/api/v1/conferences/1001", owner, `{"name":"x","mode":"role-based"}`, 409, "conflict", "")
}

// TestMuteAllOverREST: mute everybody but the owner and the moderators.
func TestMuteAllOverREST(t *testing.T) {
	e := newEnv(t)
	owner := e.loginAs("owner", "user")
	mod := e.loginAs("mod", "user")
	member := e.loginAs("member", "user")
	oper := e.loginAs("oper", "operator")
	e.do("POST", "/api/v1/conferences", owner, `{"id":"1000","name":"Town hall",
		"invitations":[{"target":"mod","moderator":true},{"target":"member"}]}`, 201, nil)
	ownerP, _ := e.joinAs("1000", "owner")
	modP, _ := e.joinAs("1000", "mod")
	memberP, ml := e.joinAs("1000", "member")
	guestP, gl := e.joinAs("1000", "")
	path := "/api/v1/conferences/1000/mute_all"
	e.run([]step{
		{"no token", "", "POST", path, "", 401},
		{"plain user", member, "POST", path, "", 403},
		{"unknown conference", mod, "POST", "/api/v1/conferences/999/mute_all", "", 404},
		{"GET", mod, "GET", path, "", 405},
	})
	var a muteAllAnswer
	e.do("POST", path, mod, "", 200, &a)
	if a.Muted != 2 || a.ConferenceID != "1000" {
		t.Errorf("answer %+v, want 2 muted", a)
	}
	ps := e.participantsByID("1000", owner)
	if ps[ownerP.ID()].Muted || ps[modP.ID()].Muted || !ps[memberP.ID()].Muted || !ps[guestP.ID()].Muted {
		t.Errorf("after mute all %+v", ps)
	}
	if !ml.(*memberLeg).isMuted() || !gl.(*guestMuteLeg).muted {
		t.Error("legs not muted")
	}
	e.do("POST", path, oper, "", 200, &a)
	if a.Muted != 0 {
		t.Errorf("second mute all muted %d", a.Muted)
	}
	// A symmetric conference's participant may open his microphone again.
	e.do("POST", "/api/v1/conferences/1000/participants/"+memberP.ID()+"/unmute", member, "", 204, nil)
}

// recordingMailer records e-mail invitations, or fails them all.
type recordingMailer struct {
	mu   sync.Mutex
	to   []string
	fail error
}

func (m *recordingMailer) SendInvitation(ctx context.Context, c conf.Conference, to []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	for _, a := range to {
		m.to = append(m.to, c.ID+" "+a)
	}
	return nil
}

func (m *recordingMailer) sent() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.to)
}

// waitEvents reads sub until n events of type typ came.
func waitEvents(t *testing.T, sub *conf.Subscription, typ string, n int) {
	t.Helper()
	for n > 0 {
		select {
		case ev := <-sub.C():
			if ev.Type == typ {
				n--
			}
		case <-t.Context().Done():
			t.Fatalf("still waiting for %d %s events", n, typ)
		}
	}
}

// TestEmailInvitationsOverREST: e-mail invitations of public conferences
// are mailed when added (create, update, invite), refused for internal
// ones, and a failing mailer never fails the request.
func TestEmailInvitationsOverREST(t *testing.T) {
	m := &recordingMailer{}
	e := newEnv(t, conf.WithMailer(m))
	owner := e.loginAs("owner", "user")
	mod := e.loginAs("mod", "user")
	member := e.loginAs("member", "user")
	sub := e.svc.Subscribe()
	defer sub.Close()
	e.do("POST", "/api/v1/conferences", owner, `{"id":"1000","name":"Webinar",
		"invitations":[{"target":"mod","moderator":true},{"target":"mailto:ann@example.com"}]}`, 201, nil)
	waitEvents(t, sub, conf.EventMailSent, 1)
	e.run([]step{
		{"moderator invites by e-mail", mod, "POST", "/api/v1/conferences/1000/invitations",
			`{"invitations":[{"target":"mailto:bo@example.com"},{"target":"mailto:ann@example.com"}]}`, 200},
		{"plain user invites by e-mail", member, "POST", "/api/v1/conferences/1000/invitations",
			`{"invitations":[{"target":"mailto:cy@example.com"}]}`, 403},
		{"owner adds one by update", owner, "PUT", "/api/v1/conferences/1000",
			`{"name":"Webinar","invitations":[{"target":"mod","moderator":true},{"target":"mailto:ann@example.com"},
			{"target":"mailto:bo@example.com"},{"target":"mailto:di@example.com"}]}`, 200},
	})
	waitEvents(t, sub, conf.EventMailSent, 2)
	want := []string{"1000 ann@example.com", "1000 bo@example.com", "1000 di@example.com"}
	if got := m.sent(); !slices.Equal(got, want) {
		t.Errorf("mailed %v, want %v", got, want)
	}
	e.do("POST", "/api/v1/conferences", owner, `{"id":"2000","name":"Board","access":"internal"}`, 201, nil)
	e.wantError("POST", "/api/v1/conferences/2000/invitations", owner,
		`{"invitations":[{"target":"member"},{"target":"mailto:ann@example.com"}]}`, 400, "validation_failed", "invitations[1].target")
	e.wantError("PUT", "/api/v1/conferences/1000", owner,
		`{"name":"Webinar","access":"internal","invitations":[{"target":"mailto:ann@example.com"}]}`, 400, "validation_failed", "invitations[0].target")
	// A failing SMTP server: the request still succeeds; the event says why.
	m.mu.Lock()
	m.fail = errors.New("dial tcp: connection refused")
	m.mu.Unlock()
	e.do("POST", "/api/v1/conferences/1000/invitations", owner, `{"invitations":[{"target":"mailto:ed@example.com"}]}`, 200, nil)
	waitEvents(t, sub, conf.EventMailFailed, 1)
}
