package conf_test

import (
	"errors"
	"testing"

	"github.com/roomgate/roomgate/conf"
)

func TestAddressBook(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	sys := conf.System()
	if _, err := e.svc.EnsureAdmin(ctx, "admin-password"); err != nil {
		t.Fatal(err)
	}
	alice, err := e.svc.CreateUser(ctx, sys, conf.UserInput{ID: "alice", DisplayName: " Alice ", Email: "alice@example.com", Password: "secret-alice"})
	if err != nil {
		t.Fatal(err)
	}
	if alice.Role != conf.UserRoleUser || alice.DisplayName != "Alice" || alice.PasswordHash == "" {
		t.Errorf("created %+v", alice)
	}
	if _, _, err := e.svc.IssueToken(ctx, "alice", "secret-alice"); err != nil {
		t.Errorf("new user logs in: %v", err)
	}
	for _, tc := range []struct {
		in    conf.UserInput
		field string
	}{
		{conf.UserInput{ID: "", Password: "12345678"}, "id"},
		{conf.UserInput{ID: "-x", Password: "12345678"}, "id"},
		{conf.UserInput{ID: "bob", Password: "short"}, "password"},
		{conf.UserInput{ID: "bob", Password: "12345678", Role: "boss"}, "role"},
		{conf.UserInput{ID: "bob", Password: "12345678", Email: "bob"}, "email"},
		{conf.UserInput{ID: "bob", Password: "12345678", DisplayName: "a\x00b"}, "display_name"},
	} {
		var ve *conf.ValidationError
		if _, err := e.svc.CreateUser(ctx, sys, tc.in); !errors.As(err, &ve) || ve.Field != tc.field {
			t.Errorf("%+v: %v, want field %s", tc.in, err, tc.field)
		}
	}
	if _, err := e.svc.CreateUser(ctx, sys, conf.UserInput{ID: "alice", Password: "12345678"}); !errors.Is(err, conf.ErrExists) {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := e.svc.CreateUser(ctx, alice, conf.UserInput{ID: "bob", Password: "12345678"}); !errors.Is(err, conf.ErrForbidden) {
		t.Errorf("user creates user: %v", err)
	}
	// A user changes his own password but not his role.
	if _, err := e.svc.UpdateUser(ctx, alice, conf.UserInput{ID: "alice", Password: "new-secret"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.IssueToken(ctx, "alice", "new-secret"); err != nil {
		t.Errorf("changed password: %v", err)
	}
	if _, err := e.svc.UpdateUser(ctx, alice, conf.UserInput{ID: "alice", Role: conf.UserRoleAdmin}); !errors.Is(err, conf.ErrForbidden) {
		t.Errorf("self-promotion: %v", err)
	}
	if _, err := e.svc.UpdateUser(ctx, alice, conf.UserInput{ID: conf.AdminUser, Password: "hijacked!"}); !errors.Is(err, conf.ErrForbidden) {
		t.Errorf("user changes admin: %v", err)
	}
	// The last administrator stays.
	if err := e.svc.DeleteUser(ctx, sys, conf.AdminUser); !errors.Is(err, conf.ErrConflict) {
		t.Errorf("deleting the last admin: %v", err)
	}
	if _, err := e.svc.UpdateUser(ctx, sys, conf.UserInput{ID: conf.AdminUser, Role: conf.UserRoleUser}); !errors.Is(err, conf.ErrConflict) {
		t.Errorf("demoting the last admin: %v", err)
	}

	// Groups.
	g, err := e.svc.CreateGroup(ctx, sys, conf.Group{ID: "team", Members: []string{"alice", "admin"}})
	if err != nil || g.Name != "team" || len(g.Members) != 2 {
		t.Fatalf("group %+v %v", g, err)
	}
	var ve *conf.ValidationError
	if _, err := e.svc.CreateGroup(ctx, sys, conf.Group{ID: "g2", Members: []string{"alice", "nobody"}}); !errors.As(err, &ve) || ve.Field != "members[1]" {
		t.Errorf("unknown member: %v", err)
	}
	if _, err := e.svc.CreateGroup(ctx, sys, conf.Group{ID: "g2", Members: []string{"alice", "alice"}}); !errors.As(err, &ve) || ve.Field != "members[1]" {
		t.Errorf("twice: %v", err)
	}
	if _, err := e.svc.GetGroup(ctx, "g2"); !errors.Is(err, conf.ErrNotFound) {
		t.Errorf("refused group half-written: %v", err)
	}
	if _, err := e.svc.UpdateGroup(ctx, alice, g); !errors.Is(err, conf.ErrForbidden) {
		t.Errorf("user updates group: %v", err)
	}
	if err := e.svc.DeleteUser(ctx, sys, "alice"); err != nil {
		t.Fatal(err)
	}
	g, err = e.svc.GetGroup(ctx, "team")
	if err != nil || len(g.Members) != 1 || g.Members[0] != "admin" {
		t.Errorf("after deleting a member: %+v %v", g, err)
	}
	if _, err := e.svc.CheckToken(ctx, "x"); !errors.Is(err, conf.ErrUnauthorized) {
		t.Error(err)
	}
	gs, err := e.svc.ListGroups(ctx)
	if err != nil || len(gs) != 1 {
		t.Errorf("groups %+v %v", gs, err)
	}
	if err := e.svc.DeleteGroup(ctx, sys, "team"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteGroup(ctx, sys, "team"); !errors.Is(err, conf.ErrNotFound) {
		t.Errorf("twice: %v", err)
	}
	us, err := e.svc.ListUsers(ctx)
	if err != nil || len(us) != 1 || us[0].ID != conf.AdminUser {
		t.Errorf("users %+v %v", us, err)
	}
}

func TestTemplates(t *testing.T) {
	e := newEnv(t)
	users, c := book(t, e)
	ctx := t.Context()
	if _, err := e.svc.SaveTemplate(ctx, users["mod"], c.ID, ""); !errors.Is(err, conf.ErrForbidden) {
		t.Errorf("moderator saves: %v", err)
	}
	tpl, err := e.svc.SaveTemplate(ctx, users["owner"], c.ID, "Board template")
	if err != nil {
		t.Fatal(err)
	}
	if tpl.Owner != "owner" || tpl.Settings.ID != "" || tpl.Settings.Access != conf.AccessInternal || len(tpl.Settings.Invitations) != 3 {
		t.Errorf("template %+v", tpl)
	}
	if _, err := e.svc.GetTemplate(ctx, users["other"], tpl.ID); !errors.Is(err, conf.ErrForbidden) {
		t.Errorf("outsider reads template: %v", err)
	}
	e.open(t) // templates survive a restart
	nc, err := e.svc.CreateFromTemplate(ctx, users["owner"], tpl.ID, conf.TemplateOverrides{ID: "2000", Name: "Board 2"})
	if err != nil {
		t.Fatal(err)
	}
	if nc.ID != "2000" || nc.Name != "Board 2" || nc.Owner != "owner" || nc.Access != conf.AccessInternal || len(nc.Invitations) != 3 {
		t.Errorf("from template %+v", nc)
	}
	if _, err := e.svc.CreateFromTemplate(ctx, users["owner"], tpl.ID, conf.TemplateOverrides{ID: "2000"}); !errors.Is(err, conf.ErrExists) {
		t.Errorf("colliding ID: %v", err)
	}
	var ve *conf.ValidationError
	_, err = e.svc.CreateTemplate(ctx, users["owner"], conf.Template{Name: "bad", Settings: conf.Conference{Name: "x", Mode: "lecture"}})
	if !errors.As(err, &ve) || ve.Field != "settings.mode" {
		t.Errorf("bad settings: %v", err)
	}
	list, err := e.svc.ListTemplates(ctx, users["other"])
	if err != nil || len(list) != 0 {
		t.Errorf("outsider lists %v %v", list, err)
	}
	list, err = e.svc.ListTemplates(ctx, users["oper"])
	if err != nil || len(list) != 1 {
		t.Errorf("operator lists %v %v", list, err)
	}
	if err := e.svc.DeleteTemplate(ctx, users["owner"], tpl.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.GetTemplate(ctx, users["owner"], tpl.ID); !errors.Is(err, conf.ErrNotFound) {
		t.Errorf("deleted: %v", err)
	}
}
