// Package store keeps what must survive a restart of Roomgate: conferences,
// the address book (users and groups), API tokens, templates, layouts,
// removals and call records. It implements conf.Store and its optional
// extensions (conf.CallBatchRecorder, conf.AddressBook, conf.TemplateStore,
// conf.LayoutStore, conf.BanStore) on an embedded SQLite database written
// in pure Go (modernc.org/sqlite), so the default build needs no cgo and
// no server.
//
// The database is <data_dir>/roomgate.db in WAL mode with a busy timeout,
// so the CLI can read and write it while the server runs. Every write is an
// IMMEDIATE transaction: it takes the write lock up front and waits for it,
// instead of failing when another connection committed in between. The
// schema is versioned by numbered migrations compiled into the program
// (migrations.go). The store holds no rules: validation, defaults and
// rights live in package conf.
package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite" // also registers the "sqlite" database/sql driver

	"github.com/roomgate/roomgate/conf"
)

// Names and settings of the database.
const (
	// FileName is the database file inside the data directory.
	FileName = "roomgate.db"
	// BusyTimeout is how long a connection waits for another (possibly in
	// another process) to release the write lock before failing.
	BusyTimeout = 5 * time.Second
	// maxOpenConns bounds connections: WAL lets readers run beside the one
	// writer, and more connections than that only add lock waits.
	maxOpenConns = 8
)

// SQLite is the SQLite implementation of conf.Store. It is safe for
// concurrent use.
type SQLite struct {
	db   *sql.DB
	path string
	log  *slog.Logger
	now  func() time.Time

	// Statements of the frequent calls (a join reads its conference, every
	// API request its token and user, every hang-up writes a record),
	// prepared once: parsing the SQL costs more than running it.
	getConference, getUser, getToken, recordCall, isBanned *sql.Stmt
}

var (
	_ conf.Store             = (*SQLite)(nil)
	_ conf.CallBatchRecorder = (*SQLite)(nil)
	_ conf.ScheduledLister   = (*SQLite)(nil)
)

// OpenSQLite opens (creating when needed) the database in dataDir, which
// is created with mode 0750 if missing, and migrates its schema.
func OpenSQLite(ctx context.Context, dataDir string, log *slog.Logger) (*SQLite, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if dataDir == "" {
		return nil, fmt.Errorf("opening database: %w: data directory is empty", ErrBadDataDir)
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("opening database: creating %s: %w", dataDir, err)
	}
	path := filepath.Join(dataDir, FileName)
	// The driver treats everything after '?' as parameters.
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("opening database: %w: path %q contains '?' or '#'", ErrBadDataDir, path)
	}
	// The database holds password hashes and PINs: create it readable by
	// the owner only. SQLite gives its -wal and -shm files the same mode.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		_ = f.Close()
	} else if !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("opening database: creating %s: %w", path, err)
	}
	dsn := path + "?" + strings.Join([]string{
		fmt.Sprintf("_busy_timeout=%d", BusyTimeout.Milliseconds()),
		"_journal_mode=WAL",
		"_synchronous=NORMAL", // durable across process crashes; WAL keeps it consistent on power loss
		"_foreign_keys=1",
		"_txlock=immediate",
	}, "&")
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening database %s: %w", path, err)
	}
	db.SetMaxOpenConns(maxOpenConns)
	db.SetMaxIdleConns(maxOpenConns)
	s := &SQLite{db: db, path: path, log: log, now: time.Now}
	if err := pingWhileBusy(ctx, db); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("opening database %s: %w", path, err)
	}
	if err := s.migrate(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("opening database %s: %w", path, err)
	}
	if err := s.prepare(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("opening database %s: %w", path, err)
	}
	s.log.DebugContext(ctx, "database open", "path", path)
	return s, nil
}

// sqliteBusy is SQLITE_BUSY, the primary result code of a locked database.
const sqliteBusy = 5

// pingWhileBusy opens the first connection, retrying for up to
// BusyTimeout while the database is busy. Switching a new database to WAL
// needs an exclusive lock and does not wait on the busy timeout, so two
// processes (or the CLI and the server) opening a fresh database at once
// would otherwise fail at random.
func pingWhileBusy(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(BusyTimeout)
	wait := time.Millisecond
	for {
		err := db.PingContext(ctx)
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqliteBusy || time.Now().After(deadline) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return context.Cause(ctx)
		case <-t.C:
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// Path is the database file, for logs and the CLI.
func (s *SQLite) Path() string { return s.path }

// Statements prepared by prepare.
const (
	getConferenceSQL = `SELECT ` + conferenceColumns + ` FROM conferences WHERE id = ?`
	getUserSQL       = `SELECT ` + userColumns + ` FROM users WHERE id = ?`
	getTokenSQL      = `SELECT user_id, expires_at FROM tokens WHERE hash = ?`
	isBannedSQL      = `SELECT EXISTS (SELECT 1 FROM conference_bans WHERE conference_id = ? AND subject = ?)`
	recordCallSQL    = `INSERT INTO call_records
		(conference_id, participant, user_id, display_name, protocol, remote, started_at, ended_at, cause)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

func (s *SQLite) prepare(ctx context.Context) error {
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&s.getConference, getConferenceSQL},
		{&s.getUser, getUserSQL},
		{&s.getToken, getTokenSQL},
		{&s.recordCall, recordCallSQL},
		{&s.isBanned, isBannedSQL},
	} {
		st, err := s.db.PrepareContext(ctx, p.sql)
		if err != nil {
			return fmt.Errorf("preparing %q: %w", p.sql, err)
		}
		*p.stmt = st
	}
	return nil
}

// Close closes the database; it is safe to call more than once.
func (s *SQLite) Close() error {
	for _, st := range []*sql.Stmt{s.getConference, s.getUser, s.getToken, s.recordCall, s.isBanned} {
		if st != nil {
			_ = st.Close()
		}
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("closing database: %w", err)
	}
	return nil
}

// tx runs fn in an IMMEDIATE transaction and commits it when fn succeeds.
func (s *SQLite) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

// micros is how times are stored: integer microseconds since the epoch,
// which sort and compare in SQL and round-trip exactly.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

// ---- conferences ----

const conferenceColumns = `id, name, owner, access, mode, max_participants, locked, settings, created_at, updated_at`

type conferenceRow struct {
	id, name, owner, access, mode string
	maxParticipants               int
	locked                        bool
	settings                      string
	createdAt, updatedAt          int64
}

func conferenceArgs(c conf.Conference) ([]any, error) {
	stored := c
	stored.State = "" // live state is never stored
	settings, err := json.Marshal(stored)
	if err != nil {
		return nil, fmt.Errorf("encoding settings: %w", err)
	}
	var start any
	if !c.Schedule.Start.IsZero() {
		start = micros(c.Schedule.Start)
	}
	schedType := c.Schedule.Type
	if schedType == "" {
		schedType = conf.ScheduleNone
	}
	return []any{c.ID, c.Name, c.Owner, c.Access, c.Mode, c.MaxParticipants, c.Locked,
		schedType, start, string(settings), micros(c.CreatedAt), micros(c.UpdatedAt)}, nil
}

func (r conferenceRow) conference() (conf.Conference, error) {
	var c conf.Conference
	if err := json.Unmarshal([]byte(r.settings), &c); err != nil {
		return conf.Conference{}, fmt.Errorf("%w: conference %s settings: %v", ErrCorrupt, r.id, err)
	}
	c.ID, c.Name, c.Owner, c.Access, c.Mode = r.id, r.name, r.owner, r.access, r.mode
	c.MaxParticipants, c.Locked = r.maxParticipants, r.locked
	c.CreatedAt, c.UpdatedAt = fromMicros(r.createdAt), fromMicros(r.updatedAt)
	if c.Invitations == nil {
		c.Invitations = []conf.Invitation{}
	}
	c.State = ""
	return c, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanConference(sc scanner) (conferenceRow, error) {
	var r conferenceRow
	err := sc.Scan(&r.id, &r.name, &r.owner, &r.access, &r.mode, &r.maxParticipants, &r.locked,
		&r.settings, &r.createdAt, &r.updatedAt)
	return r, err
}

// CreateConference inserts c; conf.ErrExists when its ID is taken.
func (s *SQLite) CreateConference(ctx context.Context, c conf.Conference) error {
	args, err := conferenceArgs(c)
	if err != nil {
		return fmt.Errorf("creating conference %s: %w", c.ID, err)
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO conferences
			(id, name, owner, access, mode, max_participants, locked, schedule_type, schedule_start, settings, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING`, args...)
		if err != nil {
			return fmt.Errorf("creating conference %s: %w", c.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("creating conference %s: %w", c.ID, err)
		} else if n == 0 {
			return fmt.Errorf("creating conference %s: %w", c.ID, conf.ErrExists)
		}
		return nil
	})
}

// GetConference returns conference id; conf.ErrNotFound when there is none.
func (s *SQLite) GetConference(ctx context.Context, id string) (conf.Conference, error) {
	r, err := scanConference(s.getConference.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return conf.Conference{}, fmt.Errorf("conference %s: %w", id, conf.ErrNotFound)
	}
	if err != nil {
		return conf.Conference{}, fmt.Errorf("reading conference %s: %w", id, err)
	}
	return r.conference()
}

// ListConferences returns every conference, ordered by ID (numerically for
// numeric IDs of different lengths).
func (s *SQLite) ListConferences(ctx context.Context) ([]conf.Conference, error) {
	return s.listConferences(ctx, `SELECT `+conferenceColumns+` FROM conferences ORDER BY length(id), id`)
}

// ListScheduledConferences returns the conferences that have a schedule
// (not virtual rooms), through the schedule index.
func (s *SQLite) ListScheduledConferences(ctx context.Context) ([]conf.Conference, error) {
	return s.listConferences(ctx, `SELECT `+conferenceColumns+` FROM conferences
		WHERE schedule_type IN ('once', 'weekly') ORDER BY length(id), id`)
}

func (s *SQLite) listConferences(ctx context.Context, query string) ([]conf.Conference, error) {
	rows, err := s.db.QueryContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("listing conferences: %w", err)
	}
	defer rows.Close()
	out := []conf.Conference{}
	for rows.Next() {
		r, err := scanConference(rows)
		if err != nil {
			return nil, fmt.Errorf("listing conferences: %w", err)
		}
		c, err := r.conference()
		if err != nil {
			return nil, fmt.Errorf("listing conferences: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing conferences: %w", err)
	}
	return out, nil
}

// UpdateConference replaces conference c.ID; conf.ErrNotFound when there
// is none.
func (s *SQLite) UpdateConference(ctx context.Context, c conf.Conference) error {
	args, err := conferenceArgs(c)
	if err != nil {
		return fmt.Errorf("updating conference %s: %w", c.ID, err)
	}
	// Same column order as conferenceArgs, with the ID moved to the end.
	args = append(args[1:], args[0])
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE conferences SET
			name = ?, owner = ?, access = ?, mode = ?, max_participants = ?, locked = ?,
			schedule_type = ?, schedule_start = ?, settings = ?, created_at = ?, updated_at = ?
			WHERE id = ?`, args...)
		if err != nil {
			return fmt.Errorf("updating conference %s: %w", c.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("updating conference %s: %w", c.ID, err)
		} else if n == 0 {
			return fmt.Errorf("updating conference %s: %w", c.ID, conf.ErrNotFound)
		}
		return nil
	})
}

// DeleteConference removes conference id; conf.ErrNotFound when there is
// none. Its call records are kept.
func (s *SQLite) DeleteConference(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM conferences WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("deleting conference %s: %w", id, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("deleting conference %s: %w", id, err)
		} else if n == 0 {
			return fmt.Errorf("deleting conference %s: %w", id, conf.ErrNotFound)
		}
		return nil
	})
}

// ---- users and tokens ----

// userColumns are the columns of a user, in the order userFields scans.
const userColumns = `id, display_name, email, role, password_hash, created_at,
	sip_realm, sip_ha1_md5, sip_ha1_sha256, dial_out`

// userFields are the scan destinations of userColumns.
func userFields(u *conf.User, created *int64) []any {
	return []any{&u.ID, &u.DisplayName, &u.Email, &u.Role, &u.PasswordHash, created,
		&u.SIPRealm, &u.SIPHA1MD5, &u.SIPHA1SHA256, &u.DialOut}
}

// CreateUser inserts u; conf.ErrExists when its ID is taken.
func (s *SQLite) CreateUser(ctx context.Context, u conf.User) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO users (`+userColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING`,
			u.ID, u.DisplayName, u.Email, u.Role, u.PasswordHash, micros(u.CreatedAt),
			u.SIPRealm, u.SIPHA1MD5, u.SIPHA1SHA256, u.DialOut)
		if err != nil {
			return fmt.Errorf("creating user %s: %w", u.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("creating user %s: %w", u.ID, err)
		} else if n == 0 {
			return fmt.Errorf("creating user %s: %w", u.ID, conf.ErrExists)
		}
		return nil
	})
}

// GetUser returns user id; conf.ErrNotFound when there is none.
func (s *SQLite) GetUser(ctx context.Context, id string) (conf.User, error) {
	var u conf.User
	var created int64
	err := s.getUser.QueryRowContext(ctx, id).Scan(userFields(&u, &created)...)
	if errors.Is(err, sql.ErrNoRows) {
		return conf.User{}, fmt.Errorf("user %s: %w", id, conf.ErrNotFound)
	}
	if err != nil {
		return conf.User{}, fmt.Errorf("reading user %s: %w", id, err)
	}
	u.CreatedAt = fromMicros(created)
	return u, nil
}

// SaveToken stores t (replacing a token with the same hash, which cannot
// happen with random tokens but must not fail if it did).
func (s *SQLite) SaveToken(ctx context.Context, t conf.Token) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO tokens (hash, user_id, expires_at) VALUES (?, ?, ?)
			ON CONFLICT(hash) DO UPDATE SET user_id = excluded.user_id, expires_at = excluded.expires_at`,
			t.Hash, t.UserID, micros(t.Expires))
		if err != nil {
			return fmt.Errorf("saving token for %s: %w", t.UserID, err)
		}
		return nil
	})
}

// GetToken returns the token with hash; conf.ErrNotFound when there is
// none. Expiry is the caller's to check.
func (s *SQLite) GetToken(ctx context.Context, hash string) (conf.Token, error) {
	t := conf.Token{Hash: hash}
	var exp int64
	err := s.getToken.QueryRowContext(ctx, hash).Scan(&t.UserID, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return conf.Token{}, fmt.Errorf("token: %w", conf.ErrNotFound)
	}
	if err != nil {
		return conf.Token{}, fmt.Errorf("reading token: %w", err)
	}
	t.Expires = fromMicros(exp)
	return t, nil
}

// DeleteExpiredTokens removes tokens whose expiry is at or before now.
func (s *SQLite) DeleteExpiredTokens(ctx context.Context, now time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE expires_at <= ?`, micros(now)); err != nil {
			return fmt.Errorf("deleting expired tokens: %w", err)
		}
		return nil
	})
}

// ---- call records ----

// RecordCall appends a call record.
func (s *SQLite) RecordCall(ctx context.Context, r conf.CallRecord) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.StmtContext(ctx, s.recordCall).ExecContext(ctx,
			r.ConferenceID, r.Participant, r.UserID, r.DisplayName, r.Protocol, r.Remote,
			micros(r.StartedAt), micros(r.EndedAt), r.Cause)
		if err != nil {
			return fmt.Errorf("recording call of %s in %s: %w", r.Participant, r.ConferenceID, err)
		}
		return nil
	})
}

// RecordCalls appends call records in one transaction.
func (s *SQLite) RecordCalls(ctx context.Context, rs []conf.CallRecord) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		st := tx.StmtContext(ctx, s.recordCall)
		for _, r := range rs {
			if _, err := st.ExecContext(ctx, r.ConferenceID, r.Participant, r.UserID, r.DisplayName, r.Protocol,
				r.Remote, micros(r.StartedAt), micros(r.EndedAt), r.Cause); err != nil {
				return fmt.Errorf("recording call of %s in %s: %w", r.Participant, r.ConferenceID, err)
			}
		}
		return nil
	})
}

// ListCallRecords returns the newest call records of conference
// conferenceID (of every conference when it is ""), newest first, at most
// limit of them (100 when limit is not positive).
func (s *SQLite) ListCallRecords(ctx context.Context, conferenceID string, limit int) ([]conf.CallRecord, error) {
	if limit <= 0 {
		limit = 100
	}
	q := `SELECT id, conference_id, participant, user_id, display_name, protocol, remote, started_at, ended_at, cause
		FROM call_records`
	args := []any{}
	if conferenceID != "" {
		q += ` WHERE conference_id = ?`
		args = append(args, conferenceID)
	}
	q += ` ORDER BY started_at DESC, id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("listing call records: %w", err)
	}
	defer rows.Close()
	out := []conf.CallRecord{}
	for rows.Next() {
		var r conf.CallRecord
		var started, ended int64
		if err := rows.Scan(&r.ID, &r.ConferenceID, &r.Participant, &r.UserID, &r.DisplayName, &r.Protocol,
			&r.Remote, &started, &ended, &r.Cause); err != nil {
			return nil, fmt.Errorf("listing call records: %w", err)
		}
		r.StartedAt, r.EndedAt = fromMicros(started), fromMicros(ended)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing call records: %w", err)
	}
	return out, nil
}
