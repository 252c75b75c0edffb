package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBookCommands drives the user, group and template commands against
// one data directory, as an administrator at the shell would.
func TestBookCommands(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "roomgate.yaml")
	if err := os.WriteFile(cfgPath, []byte("data_dir: "+dir+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	call := func(f func() error, wantErr bool) string {
		t.Helper()
		out.Reset()
		errOut.Reset()
		err := f()
		if (err != nil) != wantErr {
			t.Fatalf("error %v (want error %v); stderr %s", err, wantErr, errOut.String())
		}
		return out.String()
	}
	user := func(args ...string) func() error {
		return func() error { return userCommand(ctx, append(args, "--config", cfgPath), &out, &errOut) }
	}
	group := func(args ...string) func() error {
		return func() error { return groupCommand(ctx, append(args, "--config", cfgPath), &out, &errOut) }
	}
	tpl := func(args ...string) func() error {
		return func() error { return templateCommand(ctx, append(args, "--config", cfgPath), &out, &errOut) }
	}
	conference := func(args ...string) func() error {
		return func() error { return conferenceCommand(ctx, append(args, "--config", cfgPath), &out, &errOut) }
	}

	got := call(user("create", "--id", "alice", "--name", "Alice", "--email", "alice@example.com", "--password", "alice-secret"), false)
	if !strings.Contains(got, `"id": "alice"`) || strings.Contains(got, "pbkdf2") {
		t.Errorf("create printed %s", got)
	}
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("bob-secret-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	call(user("create", "--id", "bob", "--role", "operator", "--password-file", pwFile), false)
	call(user("create", "--id", "bob", "--password-file", pwFile), true)        // exists
	call(user("create", "--id", "dave"), true)                                  // no password
	call(user("create", "--id", "carol", "--password", "short"), true)          // too short
	call(user("create", "--id", "carol", "--role", "boss"), true)               // bad role
	if err := userCommand(ctx, []string{"create"}, &out, &errOut); err == nil { // no --id
		t.Error("create without --id")
	}
	list := call(user("list"), false)
	if !strings.Contains(list, "alice") || !strings.Contains(list, "operator") {
		t.Errorf("list %s", list)
	}
	call(user("passwd", "--id", "alice", "--password", "alice-new-secret"), false)

	call(group("create", "--id", "team", "--members", "alice, bob"), false)
	call(group("create", "--id", "ghosts", "--members", "nobody"), true)
	call(group("set", "--id", "team", "--members", "bob"), false)
	shown := call(group("show", "--id", "team"), false)
	var g struct{ Members []string }
	if err := json.Unmarshal([]byte(shown), &g); err != nil || len(g.Members) != 1 || g.Members[0] != "bob" {
		t.Errorf("group %s %v", shown, err)
	}
	if !strings.Contains(call(group("list"), false), "team") {
		t.Error("group list")
	}

	call(conference("create", "--id", "1000", "--name", "Board", "--mode", "role-based"), false)
	saved := call(tpl("save", "--conference", "1000", "--name", "Board tpl"), false)
	var tp struct{ ID string }
	if err := json.Unmarshal([]byte(saved), &tp); err != nil || tp.ID == "" {
		t.Fatalf("template %s %v", saved, err)
	}
	made := call(tpl("use", "--id", tp.ID, "--conference", "2000", "--name", "Board 2"), false)
	if !strings.Contains(made, `"mode": "role-based"`) || !strings.Contains(made, `"id": "2000"`) {
		t.Errorf("from template %s", made)
	}
	call(tpl("use", "--id", tp.ID, "--conference", "2000"), true) // exists
	if !strings.Contains(call(tpl("list"), false), "Board tpl") {
		t.Error("template list")
	}
	call(tpl("delete", "--id", tp.ID), false)
	call(tpl("show", "--id", tp.ID), true)

	call(group("delete", "--id", "team"), false)
	call(user("delete", "--id", "alice"), false)
	call(user("show", "--id", "alice"), true)
}
