package pgstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// migration is one numbered, forward-only step of the schema. Migrations
// are never edited once released: a change is a new migration.
type migration struct {
	version int
	name    string
	stmts   []string
}

// migrationLock is the key of the advisory lock that serialises schema
// changes: the bytes of "roomgate". Advisory locks are scoped to one
// database, so stores on other databases of the server never wait for it.
const migrationLock int64 = 0x726f6f6d67617465

// migrations are applied in order; each runs in its own transaction
// together with the schema_version row that records it. The schema holds
// what the SQLite store's migrations 1 and 2 hold, in PostgreSQL's types.
var migrations = []migration{
	{
		version: 1,
		name:    "conferences, address book, tokens, templates, removals, layouts, call records",
		stmts: []string{
			`CREATE TABLE conferences (
				id               text COLLATE "C" PRIMARY KEY,
				name             text NOT NULL,
				owner            text COLLATE "C" NOT NULL DEFAULT '',
				access           text NOT NULL,
				mode             text NOT NULL,
				max_participants bigint NOT NULL DEFAULT 0,
				locked           boolean NOT NULL DEFAULT false,
				schedule_type    text NOT NULL DEFAULT 'none',
				schedule_start   timestamptz,
				settings         jsonb NOT NULL,
				created_at       timestamptz NOT NULL,
				updated_at       timestamptz NOT NULL
			)`,
			// ListConferences orders by (length(id), id).
			`CREATE INDEX conferences_order ON conferences ((length(id)), id)`,
			`CREATE INDEX conferences_owner ON conferences (owner)`,
			`CREATE INDEX conferences_scheduled ON conferences ((length(id)), id)
				WHERE schedule_type IN ('once', 'weekly')`,
			`CREATE TABLE users (
				id            text COLLATE "C" PRIMARY KEY,
				display_name  text NOT NULL DEFAULT '',
				email         text NOT NULL DEFAULT '',
				role          text NOT NULL,
				password_hash text NOT NULL DEFAULT '',
				created_at    timestamptz NOT NULL
			)`,
			`CREATE INDEX users_email ON users (email)`,
			`CREATE TABLE tokens (
				hash       text COLLATE "C" PRIMARY KEY,
				user_id    text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
				expires_at timestamptz NOT NULL
			)`,
			`CREATE INDEX tokens_expires ON tokens (expires_at)`,
			`CREATE INDEX tokens_user ON tokens (user_id)`,
			`CREATE TABLE user_groups (
				id         text COLLATE "C" PRIMARY KEY,
				name       text NOT NULL,
				created_at timestamptz NOT NULL
			)`,
			// position keeps the members in the order the client gave.
			`CREATE TABLE group_members (
				group_id text COLLATE "C" NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
				user_id  text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
				position integer NOT NULL,
				PRIMARY KEY (group_id, user_id)
			)`,
			`CREATE INDEX group_members_user ON group_members (user_id)`,
			`CREATE TABLE templates (
				id         text COLLATE "C" PRIMARY KEY,
				name       text NOT NULL,
				owner      text COLLATE "C" NOT NULL DEFAULT '',
				settings   jsonb NOT NULL,
				layout     jsonb,
				created_at timestamptz NOT NULL
			)`,
			`CREATE INDEX templates_owner ON templates (owner)`,
			// Removals die with their conference.
			`CREATE TABLE conference_bans (
				conference_id text COLLATE "C" NOT NULL REFERENCES conferences (id) ON DELETE CASCADE,
				subject       text COLLATE "C" NOT NULL,
				created_at    timestamptz NOT NULL,
				PRIMARY KEY (conference_id, subject)
			)`,
			// The layout is JSON: only the video side reads it, whole.
			`CREATE TABLE conference_layouts (
				conference_id text COLLATE "C" PRIMARY KEY REFERENCES conferences (id) ON DELETE CASCADE,
				layout        jsonb NOT NULL
			)`,
			// No foreign key to conferences: the history of a deleted
			// conference is kept.
			`CREATE TABLE call_records (
				id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
				conference_id text COLLATE "C" NOT NULL,
				participant   text NOT NULL,
				user_id       text NOT NULL DEFAULT '',
				display_name  text NOT NULL DEFAULT '',
				protocol      text NOT NULL DEFAULT '',
				remote        text NOT NULL DEFAULT '',
				started_at    timestamptz NOT NULL,
				ended_at      timestamptz NOT NULL,
				cause         text NOT NULL DEFAULT ''
			)`,
			`CREATE INDEX call_records_conference ON call_records (conference_id, started_at)`,
			`CREATE INDEX call_records_started ON call_records (started_at)`,
		},
	},
	{
		// Users of earlier versions get empty credentials: they register
		// SIP phones once their password is set again.
		version: 2,
		name:    "SIP digest credentials and dial-out rule of users",
		stmts: []string{
			`ALTER TABLE users ADD COLUMN sip_realm text NOT NULL DEFAULT '',
				ADD COLUMN sip_ha1_md5 text NOT NULL DEFAULT '',
				ADD COLUMN sip_ha1_sha256 text NOT NULL DEFAULT '',
				ADD COLUMN dial_out text NOT NULL DEFAULT ''`,
		},
	},
}

// latestVersion is the schema version this program writes.
func latestVersion() int { return migrations[len(migrations)-1].version }

// migrate brings the schema up to date and refuses a database migrated by
// a newer program.
func (s *Store) migrate(ctx context.Context) error {
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
	if err := s.pool.QueryRow(ctx, `SELECT COALESCE(max(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	if v > latestVersion() {
		return fmt.Errorf("%w: database has version %d, this program knows up to %d", ErrSchemaTooNew, v, latestVersion())
	}
	return nil
}

// applyMigration applies m unless schema_version records it. The advisory
// lock, held until the transaction ends, makes a second server starting at
// the same moment wait and then find the migration recorded. Creating
// schema_version under the lock too avoids the catalog race of two
// concurrent CREATE TABLE IF NOT EXISTS.
func (s *Store) applyMigration(ctx context.Context, m migration) (applied bool, err error) {
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return fmt.Errorf("taking the migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
				version    integer PRIMARY KEY,
				name       text NOT NULL,
				applied_at timestamptz NOT NULL
			)`, pgx.QueryExecModeSimpleProtocol); err != nil {
			return fmt.Errorf("creating schema_version: %w", err)
		}
		var done bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_version WHERE version = $1)`,
			m.version).Scan(&done); err != nil {
			return fmt.Errorf("reading schema_version: %w", err)
		}
		if done {
			return nil
		}
		// One round trip: the simple protocol runs several statements in
		// one message, and DDL that runs once has no use for the
		// connection's statement cache.
		if _, err := tx.Exec(ctx, strings.Join(m.stmts, ";\n"), pgx.QueryExecModeSimpleProtocol); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version, name, applied_at) VALUES ($1, $2, $3)`,
			m.version, m.name, s.now().UTC()); err != nil {
			return fmt.Errorf("recording version: %w", err)
		}
		applied = true
		return nil
	})
	return applied, err
}
