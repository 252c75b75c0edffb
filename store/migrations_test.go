package store

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/roomgate/roomgate/conf"
)

// TestUpgradeKeepsUsersWithoutSIPCredentials opens a database made by a
// program that knew migrations 1 and 2 only: its users come through
// migration 3 with no SIP credentials and the default dial-out rule, and
// get credentials once written again.
func TestUpgradeKeepsUsersWithoutSIPCredentials(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	// The schema of the earlier program, written by hand.
	db, err := sql.Open("sqlite", filepath.Join(dir, "roomgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	stmts := []string{`CREATE TABLE schema_version (version INTEGER PRIMARY KEY NOT NULL, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`}
	for _, m := range migrations[:2] {
		stmts = append(stmts, m.stmts...)
		stmts = append(stmts, fmt.Sprintf(`INSERT INTO schema_version VALUES (%d, 'old', 0)`, m.version))
	}
	stmts = append(stmts, fmt.Sprintf(`INSERT INTO users (id, display_name, email, role, password_hash, created_at)
		VALUES ('alice', 'Alice', '', 'user', 'pbkdf2$x', %d)`, micros(t0)))
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := open(t, dir)
	u, err := s.GetUser(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if u.PasswordHash != "pbkdf2$x" || u.SIPRealm != "" || u.SIPHA1MD5 != "" || u.SIPHA1SHA256 != "" || u.DialOut != "" {
		t.Fatalf("upgraded user %+v", u)
	}
	u.SIPRealm, u.SIPHA1MD5, u.SIPHA1SHA256, u.DialOut = "rg", "m", "s", conf.DialOutNone
	if err := s.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetUser(ctx, "alice"); err != nil || got.SIPHA1MD5 != "m" || got.SIPHA1SHA256 != "s" || got.DialOut != conf.DialOutNone {
		t.Fatalf("after update %+v, %v", got, err)
	}
	var v int
	if err := s.db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_version`).Scan(&v); err != nil || v != 3 {
		t.Fatalf("schema version %d, %v", v, err)
	}
}
