package web

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/roomgate/roomgate/conf"
)

// memberLeg is a leg of an authenticated, mutable caller.
type memberLeg struct {
	fakeLeg
	user  string
	muted bool
}

func (l *memberLeg) UserID() string { return l.user }

func (l *memberLeg) SetMuted(m bool) {
	l.mu.Lock()
	l.muted = m
	l.mu.Unlock()
}

// loginAs creates a user with role and returns his token.
func (e *env) loginAs(id, role string) string {
	e.t.Helper()
	e.do("POST", "/api/v1/users", e.token, fmt.Sprintf(`{"id":%q,"role":%q,"password":"pw-%s-123"}`, id, role, id), 201, nil)
	var tr tokenResponse
	e.do("POST", "/api/v1/auth/token", "", fmt.Sprintf(`{"username":%q,"password":"pw-%s-123"}`, id, id), 200, &tr)
	return tr.Token
}

func TestUsersAndGroups(t *testing.T) {
	e := newEnv(t)
	var u map[string]any
	resp := e.do("POST", "/api/v1/users", e.token,
		`{"id":"alice","display_name":"Alice","email":"alice@example.com","password":"alice-secret","role":"operator"}`, 201, &u)
	if resp.Header.Get("Location") != "/api/v1/users/alice" {
		t.Errorf("Location %q", resp.Header.Get("Location"))
	}
	if _, leaked := u["password"]; leaked || u["role"] != "operator" || u["email"] != "alice@example.com" {
		t.Errorf("user JSON %v", u)
	}
	for _, s := range []string{"password", "password_hash", "pbkdf2"} {
		raw, _ := json.Marshal(u)
		if strings.Contains(string(raw), s) {
			t.Errorf("user JSON shows %s: %s", s, raw)
		}
	}
	e.wantError("POST", "/api/v1/users", e.token, `{"id":"alice","password":"alice-secret"}`, 409, "exists", "id")
	e.wantError("POST", "/api/v1/users", e.token, `{"id":"bob","password":"x"}`, 400, "validation_failed", "password")
	e.wantError("POST", "/api/v1/users", e.token, `{"id":"bob","password":"bob-secret","role":"root"}`, 400, "validation_failed", "role")
	e.wantError("POST", "/api/v1/users", e.token, `{"id":"bob","password":"bob-secret","pin":1}`, 400, "validation_failed", "pin")
	bob := e.loginAs("bob", "user")
	e.wantError("POST", "/api/v1/users", bob, `{"id":"eve","password":"eve-secret"}`, 403, "forbidden", "")
	e.wantError("PUT", "/api/v1/users/bob", bob, `{"role":"admin"}`, 403, "forbidden", "")
	e.wantError("PUT", "/api/v1/users/bob", bob, `{"id":"alice"}`, 400, "validation_failed", "id")
	var got conf.User
	e.do("PUT", "/api/v1/users/bob", bob, `{"display_name":"Bobby","password":"bob-new-secret"}`, 200, &got)
	if got.DisplayName != "Bobby" || got.Role != "user" {
		t.Errorf("updated %+v", got)
	}
	var ul userList
	e.do("GET", "/api/v1/users", bob, "", 200, &ul)
	if len(ul.Users) != 3 {
		t.Errorf("users %+v", ul)
	}
	e.wantError("DELETE", "/api/v1/users/admin", e.token, "", 409, "conflict", "")
	e.wantError("GET", "/api/v1/users/nobody", e.token, "", 404, "not_found", "")

	var g conf.Group
	e.do("POST", "/api/v1/groups", e.token, `{"id":"team","name":"Team","members":["alice","bob"]}`, 201, &g)
	if len(g.Members) != 2 {
		t.Errorf("group %+v", g)
	}
	e.wantError("POST", "/api/v1/groups", e.token, `{"id":"t2","members":["ghost"]}`, 400, "validation_failed", "members[0]")
	e.wantError("POST", "/api/v1/groups", bob, `{"id":"t3"}`, 403, "forbidden", "")
	e.do("PUT", "/api/v1/groups/team", e.token, `{"name":"Team","members":["bob"]}`, 200, &g)
	e.do("GET", "/api/v1/groups/team", bob, "", 200, &g)
	if len(g.Members) != 1 || g.Members[0] != "bob" {
		t.Errorf("group %+v", g)
	}
	e.do("DELETE", "/api/v1/users/alice", e.token, "", 204, nil)
	e.do("DELETE", "/api/v1/groups/team", e.token, "", 204, nil)
	var gl groupList
	e.do("GET", "/api/v1/groups", e.token, "", 200, &gl)
	if gl.Groups == nil || len(gl.Groups) != 0 {
		t.Errorf("groups %+v", gl)
	}
}

// TestRightsOverREST runs the same actions as different users.
func TestRightsOverREST(t *testing.T) {
	e := newEnv(t)
	owner := e.loginAs("owner", "user")
	mod := e.loginAs("mod", "user")
	member := e.loginAs("member", "user")
	other := e.loginAs("other", "user")
	oper := e.loginAs("oper", "operator")
	e.do("POST", "/api/v1/conferences", owner,
		`{"id":"1000","name":"Board","access":"internal","invitations":[{"target":"mod","moderator":true},{"target":"member"}]}`, 201, nil)

	join := func(user string) (*conf.Participant, *memberLeg) {
		t.Helper()
		l := &memberLeg{user: user}
		p, err := e.svc.Join(t.Context(), conf.JoinRequest{ConferenceID: "1000", DisplayName: user, Protocol: "sip", Remote: "127.0.0.1:5060", Leg: l})
		if err != nil {
			t.Fatalf("%s joins: %v", user, err)
		}
		return p, l
	}
	ownerP, _ := join("owner")
	modP, modLeg := join("mod")
	memberP, mLeg := join("member")
	base := "/api/v1/conferences/1000"

	for _, tc := range []struct {
		name, token, method, path, body string
		status                          int
	}{
		{"outsider reads", other, "GET", base, "", 403},
		{"outsider lists participants", other, "GET", base + "/participants", "", 403},
		{"member reads", member, "GET", base + "/participants", "", 200},
		{"member updates", member, "PUT", base, `{"name":"Mine"}`, 403},
		{"moderator updates", mod, "PUT", base, `{"name":"Mine"}`, 403},
		{"member mutes", member, "POST", base + "/participants/" + modP.ID() + "/mute", "", 403},
		{"moderator mutes", mod, "POST", base + "/participants/" + memberP.ID() + "/mute", "", 204},
		{"operator unmutes", oper, "POST", base + "/participants/" + memberP.ID() + "/unmute", "", 204},
		{"member locks", member, "POST", base + "/lock", "", 403},
		{"moderator locks", mod, "POST", base + "/lock", "", 200},
		{"moderator unlocks", mod, "POST", base + "/unlock", "", 200},
		{"moderator removes owner", mod, "DELETE", base + "/participants/" + ownerP.ID(), "", 403},
		{"operator removes owner", oper, "DELETE", base + "/participants/" + ownerP.ID(), "", 403},
		{"member removes moderator", member, "DELETE", base + "/participants/" + modP.ID(), "", 403},
		{"moderator runs", mod, "POST", base + "/run", "", 403},
		{"owner runs", owner, "POST", base + "/run", "", 200},
		{"member invites", member, "POST", base + "/invitations", `{"invitations":[{"target":"other"}]}`, 403},
		{"outsider stops", other, "POST", base + "/stop", "", 403},
		{"owner removes moderator", owner, "DELETE", base + "/participants/" + modP.ID(), "", 204},
		{"gone participant", owner, "DELETE", base + "/participants/" + modP.ID(), "", 404},
		{"outsider deletes", other, "DELETE", base, "", 403},
	} {
		e.do(tc.method, tc.path, tc.token, tc.body, tc.status, nil)
		_ = tc.name
	}
	if mLeg.muted {
		t.Error("member still muted")
	}
	if h := modLeg.hangups(); len(h) != 1 || !errors.Is(h[0], conf.ErrKicked) {
		t.Errorf("removed moderator hang-ups %v", h)
	}
	if _, err := e.svc.Join(t.Context(), conf.JoinRequest{ConferenceID: "1000", Leg: &memberLeg{user: "mod"}}); !errors.Is(err, conf.ErrRemoved) {
		t.Errorf("removed moderator rejoins: %v", err)
	}
	e.do("POST", base+"/invitations", owner, `{"invitations":[{"target":"mod","moderator":true}]}`, 200, nil)
	p, err := e.svc.Join(t.Context(), conf.JoinRequest{ConferenceID: "1000", Leg: &memberLeg{user: "mod"}})
	if err != nil || p.Role() != conf.RoleModerator {
		t.Fatalf("re-invited moderator: %v", err)
	}
	var c conf.Conference
	e.do("POST", base+"/stop", mod, "", 200, &c)
	if c.State != conf.StateEnded {
		t.Errorf("state after stop %q", c.State)
	}
	if h := mLeg.hangups(); len(h) != 1 || !errors.Is(h[0], conf.ErrEnded) {
		t.Errorf("member hang-ups after stop %v", h)
	}
	var pl participantList
	e.do("GET", base+"/participants", oper, "", 200, &pl)
	if len(pl.Participants) != 0 {
		t.Errorf("participants after stop %+v", pl)
	}
	var cl conferenceList
	e.do("GET", "/api/v1/conferences", other, "", 200, &cl)
	if len(cl.Conferences) != 0 {
		t.Errorf("outsider sees %+v", cl)
	}
	e.do("DELETE", base, owner, "", 204, nil)
}

func TestTemplatesREST(t *testing.T) {
	e := newEnv(t)
	owner := e.loginAs("owner", "user")
	other := e.loginAs("other", "user")
	e.do("POST", "/api/v1/conferences", owner, `{"id":"1000","name":"Weekly","mode":"role-based","podium_seats":6}`, 201, nil)
	var tpl conf.Template
	e.do("POST", "/api/v1/templates", owner, `{"name":"Role-based","conference_id":"1000"}`, 201, &tpl)
	if tpl.Settings.Mode != "role-based" || tpl.Settings.PodiumSeats != 6 || tpl.Owner != "owner" {
		t.Errorf("template %+v", tpl)
	}
	e.wantError("POST", "/api/v1/templates", other, `{"name":"Steal","conference_id":"1000"}`, 403, "forbidden", "")
	e.wantError("POST", "/api/v1/templates", owner, `{"name":"x"}`, 400, "validation_failed", "conference_id")
	e.wantError("POST", "/api/v1/templates", owner, `{"name":"x","settings":{"name":"y","mode":"lecture"}}`, 400, "validation_failed", "settings.mode")
	e.wantError("POST", "/api/v1/templates", owner, `{"name":"x","settings":{"name":"y","colour":1}}`, 400, "validation_failed", "settings.colour")
	var t2 conf.Template
	e.do("POST", "/api/v1/templates", owner, `{"id":"webinar","name":"Webinar","settings":{"name":"Webinar","access":"public"}}`, 201, &t2)
	e.wantError("GET", "/api/v1/templates/"+tpl.ID, other, "", 403, "forbidden", "")
	var c conf.Conference
	resp := e.do("POST", "/api/v1/templates/"+tpl.ID+"/conferences", owner, `{"id":"2000","name":"Weekly 2"}`, 201, &c)
	if resp.Header.Get("Location") != "/api/v1/conferences/2000" || c.Mode != "role-based" || c.Owner != "owner" || c.Name != "Weekly 2" {
		t.Errorf("from template %+v", c)
	}
	e.do("POST", "/api/v1/templates/webinar/conferences", owner, "", 201, &c)
	if c.Access != "public" || c.Name != "Webinar" || len(c.ID) != 6 {
		t.Errorf("from template without body %+v", c)
	}
	e.wantError("POST", "/api/v1/templates/webinar/conferences", owner, `{"id":"2000"}`, 409, "exists", "id")
	e.wantError("POST", "/api/v1/templates/webinar/conferences", owner,
		`{"schedule":{"type":"once","start":"2001-01-01T00:00:00Z","duration_minutes":30}}`, 400, "validation_failed", "schedule.start")
	var tl templateList
	e.do("GET", "/api/v1/templates", other, "", 200, &tl)
	if len(tl.Templates) != 0 {
		t.Errorf("outsider lists %+v", tl)
	}
	e.do("GET", "/api/v1/templates", e.token, "", 200, &tl)
	if len(tl.Templates) != 2 {
		t.Errorf("admin lists %+v", tl)
	}
	e.do("DELETE", "/api/v1/templates/webinar", owner, "", 204, nil)
	e.wantError("GET", "/api/v1/templates/webinar", owner, "", 404, "not_found", "")
}

func TestEventStream(t *testing.T) {
	e := newEnv(t)
	member := e.loginAs("member", "user")
	e.do("POST", "/api/v1/conferences", e.token, `{"id":"1000","name":"Board","invitations":[{"target":"member"}]}`, 201, nil)
	e.do("POST", "/api/v1/conferences", e.token, `{"id":"2000","name":"Other"}`, 201, nil)
	e.wantError("GET", "/api/v1/events", member, "", 403, "forbidden", "conference")
	e.wantError("GET", "/api/v1/events?conference=2000", member, "", 403, "forbidden", "")

	req, _ := http.NewRequestWithContext(t.Context(), "GET", e.ts.URL+"/api/v1/events?conference=1000", nil)
	req.Header.Set("Authorization", "Bearer "+member)
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	rd := bufio.NewReader(resp.Body)
	// The greeting comment proves the subscription exists before we act.
	if line, err := rd.ReadString('\n'); err != nil || !strings.HasPrefix(line, ":") {
		t.Fatalf("greeting %q %v", line, err)
	}
	other, err := e.svc.Join(t.Context(), conf.JoinRequest{ConferenceID: "2000", Leg: &fakeLeg{}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.svc.Join(t.Context(), conf.JoinRequest{ConferenceID: "1000", DisplayName: "Room", Leg: &fakeLeg{}})
	if err != nil {
		t.Fatal(err)
	}
	e.do("POST", "/api/v1/conferences/1000/lock", e.token, "", 200, nil)
	e.svc.Leave(p, nil)
	e.svc.Leave(other, nil)
	want := []string{conf.EventJoined, conf.EventLocked, conf.EventLeft}
	for _, typ := range want {
		var ev conf.Event
		var name string
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				t.Fatalf("reading stream: %v", err)
			}
			line = strings.TrimRight(line, "\n")
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				name = v
			}
			if v, ok := strings.CutPrefix(line, "data: "); ok {
				if err := json.Unmarshal([]byte(v), &ev); err != nil {
					t.Fatal(err)
				}
			}
			if line == "" && name != "" {
				break
			}
		}
		if name != typ || ev.Type != typ || ev.ConferenceID != "1000" {
			t.Fatalf("event %s %+v, want %s in 1000", name, ev, typ)
		}
	}
}

func TestLayoutAndExtend(t *testing.T) {
	e := newEnv(t)
	owner := e.loginAs("owner", "user")
	mod := e.loginAs("mod", "user")
	other := e.loginAs("other", "user")
	e.do("POST", "/api/v1/conferences", owner, `{"id":"1000","name":"Board","invitations":[{"target":"mod","moderator":true}]}`, 201, nil)
	e.do("POST", "/api/v1/conferences", owner, `{"id":"2000","name":"Lecture","mode":"asymmetric"}`, 201, nil)
	e.wantError("GET", "/api/v1/conferences/1000/layout", owner, "", 404, "not_found", "")
	var l conf.Layout
	e.do("PUT", "/api/v1/conferences/1000/layout", mod,
		`{"type":"speaker","windows":6,"content_window":2,"participants":["owner",""],"auto_fill":true,"name_position":"top","locked":true}`, 200, &l)
	if l.Type != "speaker" || l.Windows != 6 || l.ContentWindow != 2 || len(l.Participants) != 2 || !l.AutoFill || !l.Locked {
		t.Errorf("layout %+v", l)
	}
	var got conf.Layout
	e.do("GET", "/api/v1/conferences/1000/layout", mod, "", 200, &got)
	if got.NamePosition != "top" || got.Participants[0] != "owner" {
		t.Errorf("stored layout %+v", got)
	}
	e.wantError("PUT", "/api/v1/conferences/1000/layout", other, `{"windows":4}`, 403, "forbidden", "")
	e.wantError("PUT", "/api/v1/conferences/1000/layout", mod, `{"windows":40}`, 400, "validation_failed", "layout.windows")
	e.wantError("PUT", "/api/v1/conferences/1000/layout", mod, `{"windows":4,"content_window":1,"participants":["a"]}`, 400, "validation_failed", "layout.participants[0]")
	e.wantError("PUT", "/api/v1/conferences/1000/layout", mod, `{"windows":4,"name_position":"left"}`, 400, "validation_failed", "layout.name_position")
	e.wantError("PUT", "/api/v1/conferences/1000/layout", mod, `{"windows":"4"}`, 400, "validation_failed", "windows")
	e.wantError("PUT", "/api/v1/conferences/2000/layout", owner, `{"windows":4}`, 400, "validation_failed", "layout")
	// A conference with a layout cannot become asymmetric.
	e.wantError("PUT", "/api/v1/conferences/1000", owner, `{"name":"Board","mode":"asymmetric"}`, 400, "validation_failed", "mode")
	// The layout travels with a template.
	var tpl conf.Template
	e.do("POST", "/api/v1/templates", owner, `{"name":"With layout","conference_id":"1000"}`, 201, &tpl)
	if tpl.Layout == nil || tpl.Layout.Windows != 6 {
		t.Fatalf("template layout %+v", tpl.Layout)
	}
	e.do("POST", "/api/v1/templates/"+tpl.ID+"/conferences", owner, `{"id":"3000"}`, 201, nil)
	e.do("GET", "/api/v1/conferences/3000/layout", owner, "", 200, &got)
	if got.Type != "speaker" {
		t.Errorf("layout from template %+v", got)
	}
	e.do("DELETE", "/api/v1/conferences/1000/layout", mod, "", 204, nil)
	e.wantError("DELETE", "/api/v1/conferences/1000/layout", mod, "", 404, "not_found", "")
	e.do("PUT", "/api/v1/conferences/1000", owner, `{"name":"Board","mode":"asymmetric"}`, 200, nil)

	// Extending: only a scheduled conference during an occurrence.
	e.wantError("POST", "/api/v1/conferences/3000/extend", owner, `{"minutes":10}`, 409, "conflict", "")
	e.wantError("POST", "/api/v1/conferences/3000/extend", other, `{"minutes":10}`, 403, "forbidden", "")
}

// TestRestartKeepsBookAndRemovals restarts the server in the middle of a
// running conference: users, groups, templates, layouts, removals and the
// call records of the legs that ended survive.
func TestRestartKeepsBookAndRemovals(t *testing.T) {
	e := newEnv(t)
	owner := e.loginAs("owner", "user")
	e.loginAs("bob", "user")
	e.do("POST", "/api/v1/groups", e.token, `{"id":"team","members":["bob"]}`, 201, nil)
	e.do("POST", "/api/v1/conferences", owner, `{"id":"1000","name":"Board","access":"internal","invitations":[{"target":"team"}]}`, 201, nil)
	e.do("PUT", "/api/v1/conferences/1000/layout", owner, `{"type":"grid","windows":4}`, 200, nil)
	e.do("POST", "/api/v1/templates", owner, `{"id":"board","name":"Board","conference_id":"1000"}`, 400, nil) // id is generated
	var tpl conf.Template
	e.do("POST", "/api/v1/templates", owner, `{"name":"Board","conference_id":"1000"}`, 201, &tpl)
	p, err := e.svc.Join(t.Context(), conf.JoinRequest{ConferenceID: "1000", Leg: &memberLeg{user: "bob"}})
	if err != nil {
		t.Fatal(err)
	}
	e.do("DELETE", "/api/v1/conferences/1000/participants/"+p.ID(), owner, "", 204, nil)
	if _, err := e.svc.Join(t.Context(), conf.JoinRequest{ConferenceID: "1000", Leg: &memberLeg{user: "owner"}}); err != nil {
		t.Fatal(err)
	}
	e.stop() // the owner is still in the conference
	e.boot()
	var u conf.User
	e.do("GET", "/api/v1/users/bob", owner, "", 200, &u)
	var g conf.Group
	e.do("GET", "/api/v1/groups/team", owner, "", 200, &g)
	if len(g.Members) != 1 {
		t.Errorf("group after restart %+v", g)
	}
	e.do("GET", "/api/v1/templates/"+tpl.ID, owner, "", 200, nil)
	var l conf.Layout
	e.do("GET", "/api/v1/conferences/1000/layout", owner, "", 200, &l)
	if l.Type != "grid" {
		t.Errorf("layout after restart %+v", l)
	}
	if _, err := e.svc.Join(t.Context(), conf.JoinRequest{ConferenceID: "1000", Leg: &memberLeg{user: "bob"}}); !errors.Is(err, conf.ErrRemoved) {
		t.Errorf("removal after restart: %v", err)
	}
	recs, err := e.store.ListCallRecords(t.Context(), "1000", 0)
	if err != nil || len(recs) < 1 || recs[len(recs)-1].UserID != "bob" || recs[len(recs)-1].Cause != conf.ErrKicked.Error() {
		t.Errorf("call records after restart %+v %v", recs, err)
	}
}
