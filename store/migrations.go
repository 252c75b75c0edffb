package store

import (
	"context"
	"database/sql"
	"fmt"
)

// migration is one numbered, forward-only step of the schema. Migrations
// are never edited once released: a change is a new migration.
type migration struct {
	version int
	name    string
	stmts   []string
}

// migrations are applied in order; each runs in its own transaction
// together with the schema_version row that records it.
//
// Conferences keep, next to the columns that queries filter or sort on,
// the whole conference as JSON in "settings". New conference fields
// (layout, guest rights, templates' settings) therefore persist without a
// migration; a migration is only needed when a new query needs a column.
// The columns win over the JSON copy when both are read.
var migrations = []migration{
	{
		version: 1,
		name:    "conferences, users, tokens, call records",
		stmts: []string{
			`CREATE TABLE conferences (
				id               TEXT PRIMARY KEY NOT NULL,
				name             TEXT NOT NULL,
				owner            TEXT NOT NULL DEFAULT '',
				access           TEXT NOT NULL,
				mode             TEXT NOT NULL,
				max_participants INTEGER NOT NULL DEFAULT 0,
				locked           INTEGER NOT NULL DEFAULT 0,
				schedule_type    TEXT NOT NULL DEFAULT 'none',
				schedule_start   INTEGER,
				settings         TEXT NOT NULL,
				created_at       INTEGER NOT NULL,
				updated_at       INTEGER NOT NULL
			) WITHOUT ROWID`,
			`CREATE INDEX conferences_owner ON conferences(owner)`,
			`CREATE INDEX conferences_schedule ON conferences(schedule_type, schedule_start)`,
			`CREATE TABLE users (
				id            TEXT PRIMARY KEY NOT NULL,
				display_name  TEXT NOT NULL DEFAULT '',
				email         TEXT NOT NULL DEFAULT '',
				role          TEXT NOT NULL,
				password_hash TEXT NOT NULL DEFAULT '',
				created_at    INTEGER NOT NULL
			) WITHOUT ROWID`,
			`CREATE INDEX users_email ON users(email)`,
			`CREATE TABLE tokens (
				hash       TEXT PRIMARY KEY NOT NULL,
				user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
				expires_at INTEGER NOT NULL
			) WITHOUT ROWID`,
			`CREATE INDEX tokens_expires ON tokens(expires_at)`,
			`CREATE INDEX tokens_user ON tokens(user_id)`,
			// No foreign key to conferences: the history of a deleted
			// conference is kept.
			`CREATE TABLE call_records (
				id            INTEGER PRIMARY KEY AUTOINCREMENT,
				conference_id TEXT NOT NULL,
				participant   TEXT NOT NULL,
				user_id       TEXT NOT NULL DEFAULT '',
				display_name  TEXT NOT NULL DEFAULT '',
				protocol      TEXT NOT NULL DEFAULT '',
				remote        TEXT NOT NULL DEFAULT '',
				started_at    INTEGER NOT NULL,
				ended_at      INTEGER NOT NULL,
				cause         TEXT NOT NULL DEFAULT ''
			)`,
			`CREATE INDEX call_records_conference ON call_records(conference_id, started_at)`,
			`CREATE INDEX call_records_started ON call_records(started_at)`,
		},
	},
	{
		version: 2,
		name:    "groups, templates, removals, layouts",
		stmts: []string{
			`CREATE TABLE user_groups (
				id         TEXT PRIMARY KEY NOT NULL,
				name       TEXT NOT NULL,
				created_at INTEGER NOT NULL
			) WITHOUT ROWID`,
			// position keeps the members in the order the client gave.
			`CREATE TABLE group_members (
				group_id TEXT NOT NULL REFERENCES user_groups(id) ON DELETE CASCADE,
				user_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
				position INTEGER NOT NULL,
				PRIMARY KEY (group_id, user_id)
			) WITHOUT ROWID`,
			`CREATE INDEX group_members_user ON group_members(user_id)`,
			`CREATE TABLE templates (
				id         TEXT PRIMARY KEY NOT NULL,
				name       TEXT NOT NULL,
				owner      TEXT NOT NULL DEFAULT '',
				settings   TEXT NOT NULL,
				layout     TEXT NOT NULL DEFAULT '',
				created_at INTEGER NOT NULL
			) WITHOUT ROWID`,
			`CREATE INDEX templates_owner ON templates(owner)`,
			// Removals die with their conference.
			`CREATE TABLE conference_bans (
				conference_id TEXT NOT NULL REFERENCES conferences(id) ON DELETE CASCADE,
				subject       TEXT NOT NULL,
				created_at    INTEGER NOT NULL,
				PRIMARY KEY (conference_id, subject)
			) WITHOUT ROWID`,
			// The layout is JSON: only the video side reads it, whole.
			`CREATE TABLE conference_layouts (
				conference_id TEXT PRIMARY KEY NOT NULL REFERENCES conferences(id) ON DELETE CASCADE,
				layout        TEXT NOT NULL
			) WITHOUT ROWID`,
		},
	},
	{
		// Users of earlier versions get empty credentials: they register
		// SIP phones once their password is set again.
		version: 3,
		name:    "SIP digest credentials and dial-out rule of users",
		stmts: []string{
			`ALTER TABLE users ADD COLUMN sip_realm TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE users ADD COLUMN sip_ha1_md5 TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE users ADD COLUMN sip_ha1_sha256 TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE users ADD COLUMN dial_out TEXT NOT NULL DEFAULT ''`,
		},
	},
}

// latestVersion is the schema version this program writes.
func latestVersion() int { return migrations[len(migrations)-1].version }

// migrate brings the schema up to date. Each migration runs in an
// IMMEDIATE transaction (the DSN's _txlock), so two processes that open
// the same new database at once apply it exactly once between them.
func (s *SQLite) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx,
		`CREATE TABLE IF NOT EXISTS schema_version (
			version    INTEGER PRIMARY KEY NOT NULL,
			name       TEXT NOT NULL,
			applied_at INTEGER NOT NULL
		)`); err != nil {
		return fmt.Errorf("creating schema_version: %w", err)
	}
	for _, m := range migrations {
		applied, err := s.applyMigration(ctx, m)
		if err != nil {
			return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
		}
		if applied {
			s.log.InfoContext(ctx, "database migrated", "version", m.version, "name", m.name)
		}
	}
	var v int
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	if v > latestVersion() {
		return fmt.Errorf("%w: database has version %d, this program knows up to %d", ErrSchemaTooNew, v, latestVersion())
	}
	return nil
}

func (s *SQLite) applyMigration(ctx context.Context, m migration) (applied bool, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_version WHERE version = ?`, m.version).Scan(&n); err != nil {
			return fmt.Errorf("reading schema_version: %w", err)
		}
		if n > 0 {
			return nil
		}
		for _, stmt := range m.stmts {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version(version, name, applied_at) VALUES (?, ?, ?)`,
			m.version, m.name, s.now().UnixMicro()); err != nil {
			return fmt.Errorf("recording version: %w", err)
		}
		applied = true
		return nil
	})
	return applied, err
}
