package store

import (
	"errors"
	"testing"
	"time"

	"github.com/roomgate/roomgate/conf"
)

func TestGroupsBansTemplates(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := open(t, dir)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, id := range []string{"alice", "bob"} {
		if err := s.CreateUser(ctx, conf.User{ID: id, Role: "user", CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	g := conf.Group{ID: "team", Name: "Team", Members: []string{"bob", "alice"}, CreatedAt: now}
	if err := s.CreateGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateGroup(ctx, g); !errors.Is(err, conf.ErrExists) {
		t.Errorf("duplicate group: %v", err)
	}
	// A missing member rolls the whole group back.
	if err := s.CreateGroup(ctx, conf.Group{ID: "bad", Members: []string{"alice", "ghost"}, CreatedAt: now}); !errors.Is(err, conf.ErrNotFound) {
		t.Errorf("ghost member: %v", err)
	}
	if _, err := s.GetGroup(ctx, "bad"); !errors.Is(err, conf.ErrNotFound) {
		t.Errorf("half-written group: %v", err)
	}
	got, err := s.GetGroup(ctx, "team")
	if err != nil || len(got.Members) != 2 || got.Members[0] != "bob" || !got.CreatedAt.Equal(now) {
		t.Errorf("group %+v %v", got, err)
	}
	g.Members = []string{"alice"}
	if err := s.UpdateGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateGroup(ctx, conf.Group{ID: "team", Members: []string{"ghost"}}); !errors.Is(err, conf.ErrNotFound) {
		t.Errorf("update with ghost: %v", err)
	}
	if got, _ := s.GetGroup(ctx, "team"); len(got.Members) != 1 || got.Members[0] != "alice" {
		t.Errorf("failed update changed members: %+v", got)
	}
	// Deleting a user removes him from groups.
	if err := s.DeleteUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	gs, err := s.ListGroups(ctx)
	if err != nil || len(gs) != 1 || len(gs[0].Members) != 0 {
		t.Errorf("groups %+v %v", gs, err)
	}
	if err := s.DeleteUser(ctx, "alice"); !errors.Is(err, conf.ErrNotFound) {
		t.Errorf("twice: %v", err)
	}

	// Bans need their conference and die with it.
	if err := s.AddBan(ctx, "1000", "user:bob", now); !errors.Is(err, conf.ErrNotFound) {
		t.Errorf("ban without conference: %v", err)
	}
	c := conf.Conference{ID: "1000", Name: "x", Access: "public", Mode: "symmetric", CreatedAt: now, UpdatedAt: now}
	if err := s.CreateConference(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := s.AddBan(ctx, "1000", "user:bob", now); err != nil {
		t.Fatal(err)
	}
	if err := s.AddBan(ctx, "1000", "user:bob", now); err != nil {
		t.Errorf("banning twice: %v", err)
	}
	tpl := conf.Template{ID: "t1", Name: "T", Owner: "bob", Settings: c, CreatedAt: now}
	if err := s.CreateTemplate(ctx, tpl); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTemplate(ctx, tpl); !errors.Is(err, conf.ErrExists) {
		t.Errorf("duplicate template: %v", err)
	}

	// Everything survives a reopen.
	_ = s.Close()
	s = open(t, dir)
	if b, err := s.IsBanned(ctx, "1000", "user:bob"); err != nil || !b {
		t.Errorf("ban after reopen: %v %v", b, err)
	}
	if got, err := s.GetTemplate(ctx, "t1"); err != nil || got.Settings.Name != "x" || got.Owner != "bob" {
		t.Errorf("template after reopen %+v %v", got, err)
	}
	if err := s.LiftBans(ctx, "1000", []string{"user:bob"}); err != nil {
		t.Fatal(err)
	}
	if b, _ := s.IsBanned(ctx, "1000", "user:bob"); b {
		t.Error("lifted ban still there")
	}
	if err := s.AddBan(ctx, "1000", "guest:192.0.2.1", now); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteConference(ctx, "1000"); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateConference(ctx, c); err != nil {
		t.Fatal(err)
	}
	if b, _ := s.IsBanned(ctx, "1000", "guest:192.0.2.1"); b {
		t.Error("ban outlived its conference")
	}
	ts, err := s.ListTemplates(ctx)
	if err != nil || len(ts) != 1 {
		t.Errorf("templates %+v %v", ts, err)
	}
	if err := s.DeleteTemplate(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTemplate(ctx, "t1"); !errors.Is(err, conf.ErrNotFound) {
		t.Errorf("twice: %v", err)
	}
}
