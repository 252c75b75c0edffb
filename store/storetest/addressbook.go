package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/roomgate/roomgate/conf"
)

func user(id, role string) conf.User {
	return conf.User{ID: id, DisplayName: "User " + id, Email: id + "@example.com", Role: role,
		PasswordHash: "pbkdf2-sha256$1000$c2FsdA$" + id, CreatedAt: t0,
		SIPRealm: "roomgate", SIPHA1MD5: "md5-" + id, SIPHA1SHA256: "sha256-" + id, DialOut: conf.DialOutInternal}
}

func equalUser(t *testing.T, got, want conf.User) {
	t.Helper()
	if !got.CreatedAt.Equal(want.CreatedAt) || got.CreatedAt.Location() != time.UTC {
		t.Fatalf("user %s created %v, want %v in UTC", want.ID, got.CreatedAt, want.CreatedAt)
	}
	got.CreatedAt = want.CreatedAt
	if got != want {
		t.Fatalf("user differs:\n got %+v\nwant %+v", got, want)
	}
}

func mustCreateUsers(t *testing.T, s Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := s.CreateUser(t.Context(), user(id, conf.UserRoleUser)); err != nil {
			t.Fatal(err)
		}
	}
}

func testUsers(t *testing.T, open func(*testing.T) Store) {
	ctx := t.Context()
	s := open(t)
	if _, err := s.GetUser(ctx, "admin"); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("GetUser of a missing user: %v, want ErrNotFound", err)
	}
	admin := user("admin", conf.UserRoleAdmin)
	if err := s.CreateUser(ctx, admin); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, user("admin", conf.UserRoleUser)); !errors.Is(err, conf.ErrExists) {
		t.Fatalf("second CreateUser: %v, want ErrExists", err)
	}
	got, err := s.GetUser(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	equalUser(t, got, admin)

	mustCreateUsers(t, s, "zoe", "Bob", "bob", "alice")
	list, err := s.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range list {
		names = append(names, u.ID)
	}
	if want := []string{"Bob", "admin", "alice", "bob", "zoe"}; !slices.Equal(names, want) {
		t.Fatalf("ListUsers order %q, want %q (bytewise)", names, want)
	}
	equalUser(t, list[1], admin)

	// UpdateUser replaces everything but the ID and the creation time.
	upd := conf.User{ID: "bob", DisplayName: "Robert", Email: "", Role: conf.UserRoleOperator,
		PasswordHash: "new-hash", CreatedAt: t0, SIPRealm: "other.example", SIPHA1MD5: "new-md5",
		SIPHA1SHA256: "new-sha256", DialOut: conf.DialOutTrunks}
	if err := s.UpdateUser(ctx, upd); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	} else {
		equalUser(t, got, upd)
	}
	if err := s.UpdateUser(ctx, user("ghost", conf.UserRoleUser)); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("UpdateUser of a missing user: %v, want ErrNotFound", err)
	}
	if _, err := s.GetUser(ctx, "ghost"); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("UpdateUser created a user: %v", err)
	}

	if err := s.DeleteUser(ctx, "zoe"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, "zoe"); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("second DeleteUser: %v, want ErrNotFound", err)
	}
	if _, err := s.GetUser(ctx, "zoe"); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("GetUser after delete: %v", err)
	}
	if err := s.CreateUser(ctx, user("zoe", conf.UserRoleUser)); err != nil {
		t.Fatalf("re-creating a deleted user: %v", err)
	}
}

func testTokens(t *testing.T, open func(*testing.T) Store) {
	ctx := t.Context()
	s := open(t)
	mustCreateUsers(t, s, "alice", "bob")
	if err := s.SaveToken(ctx, conf.Token{Hash: "h0", UserID: "nobody", Expires: t0}); err == nil {
		t.Fatal("a token of a missing user was saved")
	}
	if _, err := s.GetToken(ctx, "h0"); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("GetToken of a refused token: %v, want ErrNotFound", err)
	}
	for i, exp := range []time.Time{t0.Add(-time.Second), t0, t0.Add(time.Microsecond), t0.Add(time.Hour)} {
		if err := s.SaveToken(ctx, conf.Token{Hash: fmt.Sprint("h", i+1), UserID: "alice", Expires: exp}); err != nil {
			t.Fatal(err)
		}
	}
	tok, err := s.GetToken(ctx, "h3")
	if err != nil || tok.Hash != "h3" || tok.UserID != "alice" || !tok.Expires.Equal(t0.Add(time.Microsecond)) {
		t.Fatalf("GetToken = %+v, %v", tok, err)
	}
	if tok.Expires.Location() != time.UTC {
		t.Errorf("token expiry not in UTC: %v", tok.Expires)
	}
	// Saving the same hash replaces the token.
	if err := s.SaveToken(ctx, conf.Token{Hash: "h4", UserID: "bob", Expires: t0.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if tok, err := s.GetToken(ctx, "h4"); err != nil || tok.UserID != "bob" || !tok.Expires.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("replaced token = %+v, %v", tok, err)
	}
	// Expired means at or before now.
	if err := s.DeleteExpiredTokens(ctx, t0); err != nil {
		t.Fatal(err)
	}
	for hash, want := range map[string]error{"h1": conf.ErrNotFound, "h2": conf.ErrNotFound, "h3": nil, "h4": nil} {
		if _, err := s.GetToken(ctx, hash); !errors.Is(err, want) {
			t.Errorf("GetToken(%s) after the expiry sweep: %v, want %v", hash, err, want)
		}
	}
	// A user's tokens go with him.
	if err := s.DeleteUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetToken(ctx, "h4"); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("token of a deleted user: %v, want ErrNotFound", err)
	}
	if _, err := s.GetToken(ctx, "h3"); err != nil {
		t.Fatalf("deleting bob removed alice's token: %v", err)
	}
}

func equalGroup(t *testing.T, got, want conf.Group) {
	t.Helper()
	if !got.CreatedAt.Equal(want.CreatedAt) {
		t.Fatalf("group %s created %v, want %v", want.ID, got.CreatedAt, want.CreatedAt)
	}
	got.CreatedAt = want.CreatedAt
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("group differs:\n got %+v\nwant %+v", got, want)
	}
}

func testGroups(t *testing.T, open func(*testing.T) Store) {
	ctx := t.Context()
	s := open(t)
	mustCreateUsers(t, s, "alice", "bob", "carol")
	g := conf.Group{ID: "team", Name: "Team", Members: []string{"carol", "alice", "bob"}, CreatedAt: t0}
	if err := s.CreateGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateGroup(ctx, conf.Group{ID: "team", Name: "Other", Members: []string{}, CreatedAt: t0}); !errors.Is(err, conf.ErrExists) {
		t.Fatalf("duplicate group: %v, want ErrExists", err)
	}
	got, err := s.GetGroup(ctx, "team")
	if err != nil {
		t.Fatal(err)
	}
	equalGroup(t, got, g) // members in the order given

	// A missing member rolls the whole group back.
	if err := s.CreateGroup(ctx, conf.Group{ID: "bad", Name: "Bad", Members: []string{"alice", "ghost"}, CreatedAt: t0}); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("group with a missing member: %v, want ErrNotFound", err)
	}
	if _, err := s.GetGroup(ctx, "bad"); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("half-written group: %v", err)
	}
	if _, err := s.GetGroup(ctx, "nope"); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("GetGroup of a missing group: %v", err)
	}

	empty := conf.Group{ID: "Empty", Name: "Nobody", Members: []string{}, CreatedAt: t0}
	if err := s.CreateGroup(ctx, empty); err != nil {
		t.Fatal(err)
	}
	gs, err := s.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 2 {
		t.Fatalf("ListGroups = %+v", gs)
	}
	equalGroup(t, gs[0], empty) // "Empty" < "team" bytewise; members [] not nil
	equalGroup(t, gs[1], g)

	// UpdateGroup replaces the name and the members, atomically.
	g.Name, g.Members = "Renamed", []string{"bob", "carol"}
	if err := s.UpdateGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetGroup(ctx, "team"); err != nil {
		t.Fatal(err)
	} else {
		equalGroup(t, got, g)
	}
	if err := s.UpdateGroup(ctx, conf.Group{ID: "team", Name: "Broken", Members: []string{"alice", "ghost"}}); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("update with a missing member: %v, want ErrNotFound", err)
	}
	if got, err := s.GetGroup(ctx, "team"); err != nil {
		t.Fatal(err)
	} else {
		equalGroup(t, got, g) // the failed update changed nothing
	}
	if err := s.UpdateGroup(ctx, conf.Group{ID: "nope", Name: "x", Members: []string{}}); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("update of a missing group: %v, want ErrNotFound", err)
	}

	// Deleting a user removes him from groups, not the groups.
	if err := s.DeleteUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetGroup(ctx, "team"); err != nil || !slices.Equal(got.Members, []string{"carol"}) {
		t.Fatalf("after deleting bob: %+v, %v", got, err)
	}
	// Deleting a group keeps its users.
	if err := s.DeleteGroup(ctx, "team"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteGroup(ctx, "team"); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("second DeleteGroup: %v, want ErrNotFound", err)
	}
	if _, err := s.GetUser(ctx, "carol"); err != nil {
		t.Fatalf("deleting a group deleted its member: %v", err)
	}
	if gs, err := s.ListGroups(ctx); err != nil || len(gs) != 1 || gs[0].ID != "Empty" {
		t.Fatalf("groups after delete: %+v, %v", gs, err)
	}
}

func testBans(t *testing.T, open func(*testing.T) Store) {
	ctx := t.Context()
	s := open(t)
	if err := s.AddBan(ctx, "1000", "user:bob", t0); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("ban without a conference: %v, want ErrNotFound", err)
	}
	for _, id := range []string{"1000", "2000"} {
		if err := s.CreateConference(ctx, plainConference(id)); err != nil {
			t.Fatal(err)
		}
	}
	if b, err := s.IsBanned(ctx, "1000", "user:bob"); err != nil || b {
		t.Fatalf("IsBanned before any ban: %v, %v", b, err)
	}
	for _, sub := range []string{"user:bob", "user:bob", "guest:192.0.2.1", "guest:2001:db8::1"} {
		if err := s.AddBan(ctx, "1000", sub, t0); err != nil {
			t.Fatalf("AddBan(%s): %v", sub, err)
		}
	}
	for _, c := range []struct {
		conf, subject string
		want          bool
	}{
		{"1000", "user:bob", true}, {"1000", "guest:192.0.2.1", true}, {"1000", "guest:2001:db8::1", true},
		{"1000", "user:Bob", false}, {"2000", "user:bob", false}, {"3000", "user:bob", false},
	} {
		if b, err := s.IsBanned(ctx, c.conf, c.subject); err != nil || b != c.want {
			t.Errorf("IsBanned(%s, %s) = %v, %v; want %v", c.conf, c.subject, b, err, c.want)
		}
	}
	if err := s.LiftBans(ctx, "1000", []string{"user:bob", "guest:192.0.2.1", "user:never-banned"}); err != nil {
		t.Fatal(err)
	}
	for sub, want := range map[string]bool{"user:bob": false, "guest:192.0.2.1": false, "guest:2001:db8::1": true} {
		if b, err := s.IsBanned(ctx, "1000", sub); err != nil || b != want {
			t.Errorf("after LiftBans IsBanned(%s) = %v, %v; want %v", sub, b, err, want)
		}
	}
	if err := s.LiftBans(ctx, "4000", []string{"user:bob"}); err != nil {
		t.Fatalf("LiftBans in a missing conference: %v", err)
	}
	// Bans die with their conference.
	if err := s.DeleteConference(ctx, "1000"); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateConference(ctx, plainConference("1000")); err != nil {
		t.Fatal(err)
	}
	if b, err := s.IsBanned(ctx, "1000", "guest:2001:db8::1"); err != nil || b {
		t.Fatalf("a ban outlived its conference: %v, %v", b, err)
	}
}

func fullLayout() conf.Layout {
	return conf.Layout{Type: conf.LayoutGrid, Windows: 4, ContentWindow: 2,
		Participants: []string{"alice", "", "sip:room@192.0.2.9"}, AutoFill: true,
		NamePosition: conf.NamePositionBottom, Locked: true}
}

func equalTemplate(t *testing.T, got, want conf.Template) {
	t.Helper()
	if !got.CreatedAt.Equal(want.CreatedAt) || !got.Settings.Schedule.Start.Equal(want.Settings.Schedule.Start) ||
		!got.Settings.CreatedAt.Equal(want.Settings.CreatedAt) || !got.Settings.UpdatedAt.Equal(want.Settings.UpdatedAt) {
		t.Fatalf("template %s times differ:\n got %+v\nwant %+v", want.ID, got, want)
	}
	got.CreatedAt, got.Settings.Schedule.Start = want.CreatedAt, want.Settings.Schedule.Start
	got.Settings.CreatedAt, got.Settings.UpdatedAt = want.Settings.CreatedAt, want.Settings.UpdatedAt
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("template differs:\n got %+v\nwant %+v", got, want)
	}
}

func testTemplates(t *testing.T, open func(*testing.T) Store) {
	ctx := t.Context()
	s := open(t)
	settings := fullConference("")
	settings.Owner, settings.State, settings.Locked = "", "", false
	settings.CreatedAt, settings.UpdatedAt = time.Time{}, time.Time{}
	l := fullLayout()
	withLayout := conf.Template{ID: "t2", Name: "Weekly board", Owner: "alice", Settings: settings, Layout: &l, CreatedAt: t0}
	plain := conf.Template{ID: "T1", Name: "Plain", Owner: "bob", Settings: plainConference(""), CreatedAt: t0.Add(time.Second)}
	for _, tp := range []conf.Template{withLayout, plain} {
		if err := s.CreateTemplate(ctx, tp); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateTemplate(ctx, plain); !errors.Is(err, conf.ErrExists) {
		t.Fatalf("duplicate template: %v, want ErrExists", err)
	}
	got, err := s.GetTemplate(ctx, "t2")
	if err != nil {
		t.Fatal(err)
	}
	equalTemplate(t, got, withLayout)
	got, err = s.GetTemplate(ctx, "T1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Layout != nil {
		t.Fatalf("template without layout read back with %+v", got.Layout)
	}
	equalTemplate(t, got, plain)
	if _, err := s.GetTemplate(ctx, "t3"); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("GetTemplate of a missing template: %v, want ErrNotFound", err)
	}
	list, err := s.ListTemplates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != "T1" || list[1].ID != "t2" {
		t.Fatalf("ListTemplates = %+v, want T1 then t2", list)
	}
	equalTemplate(t, list[1], withLayout)
	if err := s.DeleteTemplate(ctx, "t2"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTemplate(ctx, "t2"); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("second DeleteTemplate: %v, want ErrNotFound", err)
	}
	if list, err := s.ListTemplates(ctx); err != nil || len(list) != 1 {
		t.Fatalf("templates after delete: %+v, %v", list, err)
	}
}

func testLayouts(t *testing.T, open func(*testing.T) Store) {
	ctx := t.Context()
	s := open(t)
	l := fullLayout()
	if err := s.SetLayout(ctx, "1000", l); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("SetLayout of a missing conference: %v, want ErrNotFound", err)
	}
	if err := s.CreateConference(ctx, plainConference("1000")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetLayout(ctx, "1000"); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("GetLayout before SetLayout: %v, want ErrNotFound", err)
	}
	if err := s.DeleteLayout(ctx, "1000"); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("DeleteLayout of none: %v, want ErrNotFound", err)
	}
	if err := s.SetLayout(ctx, "1000", l); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetLayout(ctx, "1000"); err != nil || !reflect.DeepEqual(got, l) {
		t.Fatalf("GetLayout = %+v, %v; want %+v", got, err, l)
	}
	// SetLayout replaces.
	l2 := conf.Layout{Type: conf.LayoutSpeaker, Windows: 1, Participants: []string{}, NamePosition: conf.NamePositionNone}
	if err := s.SetLayout(ctx, "1000", l2); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetLayout(ctx, "1000"); err != nil || !reflect.DeepEqual(got, l2) {
		t.Fatalf("replaced layout = %+v, %v; want %+v", got, err, l2)
	}
	if err := s.DeleteLayout(ctx, "1000"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetLayout(ctx, "1000"); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("GetLayout after delete: %v, want ErrNotFound", err)
	}
	// A layout dies with its conference.
	if err := s.SetLayout(ctx, "1000", l); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteConference(ctx, "1000"); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateConference(ctx, plainConference("1000")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetLayout(ctx, "1000"); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("a layout outlived its conference: %v", err)
	}
}
