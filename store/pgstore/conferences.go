package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/roomgate/roomgate/conf"
)

// ---- conferences ----

const conferenceColumns = `id, name, owner, access, mode, max_participants, locked, settings, created_at, updated_at`

// conferenceParams are the values of a conference row in the order of
// the INSERT and UPDATE statements below.
func conferenceParams(c conf.Conference) ([]any, error) {
	stored := c
	stored.State = "" // live state is never stored
	settings, err := json.Marshal(stored)
	if err != nil {
		return nil, fmt.Errorf("encoding settings: %w", err)
	}
	var start *time.Time
	if !c.Schedule.Start.IsZero() {
		st := c.Schedule.Start.UTC()
		start = &st
	}
	schedType := c.Schedule.Type
	if schedType == "" {
		schedType = conf.ScheduleNone
	}
	return []any{txt(c.ID), txt(c.Name), txt(c.Owner), txt(c.Access), txt(c.Mode), c.MaxParticipants, c.Locked,
		txt(schedType), start, cleanJSON(settings), c.CreatedAt.UTC(), c.UpdatedAt.UTC()}, nil
}

// scanConference reads a row of conferenceColumns; the columns win over
// the JSON copy.
func scanConference(row pgx.Row) (conf.Conference, error) {
	var (
		id, name, owner, access, mode string
		maxParticipants               int
		locked                        bool
		settings                      []byte
		createdAt, updatedAt          time.Time
	)
	if err := row.Scan(&id, &name, &owner, &access, &mode, &maxParticipants, &locked, &settings,
		&createdAt, &updatedAt); err != nil {
		return conf.Conference{}, err
	}
	var c conf.Conference
	if err := json.Unmarshal(settings, &c); err != nil {
		return conf.Conference{}, fmt.Errorf("%w: conference %s settings: %v", ErrCorrupt, id, err)
	}
	c.ID, c.Name, c.Owner, c.Access, c.Mode = id, name, owner, access, mode
	c.MaxParticipants, c.Locked = maxParticipants, locked
	c.CreatedAt, c.UpdatedAt = utc(createdAt), utc(updatedAt)
	if c.Invitations == nil {
		c.Invitations = []conf.Invitation{}
	}
	c.State = ""
	return c, nil
}

// CreateConference inserts c; conf.ErrExists when its ID is taken.
func (s *Store) CreateConference(ctx context.Context, c conf.Conference) error {
	what := "creating conference " + c.ID
	args, err := conferenceParams(c)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO conferences
		(id, name, owner, access, mode, max_participants, locked, schedule_type, schedule_start, settings, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (id) DO NOTHING`, args...)
	return insertedOne(tag, err, what)
}

// GetConference returns conference id; conf.ErrNotFound when there is none.
func (s *Store) GetConference(ctx context.Context, id string) (conf.Conference, error) {
	c, err := scanConference(s.pool.QueryRow(ctx, `SELECT `+conferenceColumns+` FROM conferences WHERE id = $1`, txt(id)))
	if errors.Is(err, pgx.ErrNoRows) {
		return conf.Conference{}, fmt.Errorf("conference %s: %w", id, conf.ErrNotFound)
	}
	if err != nil {
		return conf.Conference{}, fmt.Errorf("reading conference %s: %w", id, err)
	}
	return c, nil
}

// ListConferences returns every conference, ordered by ID (numerically for
// numeric IDs of different lengths).
func (s *Store) ListConferences(ctx context.Context) ([]conf.Conference, error) {
	return s.listConferences(ctx, `SELECT `+conferenceColumns+` FROM conferences ORDER BY length(id), id`)
}

// ListScheduledConferences returns the conferences that have a schedule
// (not virtual rooms), through a partial index.
func (s *Store) ListScheduledConferences(ctx context.Context) ([]conf.Conference, error) {
	return s.listConferences(ctx, `SELECT `+conferenceColumns+` FROM conferences
		WHERE schedule_type IN ('once', 'weekly') ORDER BY length(id), id`)
}

func (s *Store) listConferences(ctx context.Context, query string) ([]conf.Conference, error) {
	rows, err := s.pool.Query(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("listing conferences: %w", err)
	}
	defer rows.Close()
	out := []conf.Conference{}
	for rows.Next() {
		c, err := scanConference(rows)
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
func (s *Store) UpdateConference(ctx context.Context, c conf.Conference) error {
	what := "updating conference " + c.ID
	args, err := conferenceParams(c)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE conferences SET
		name = $2, owner = $3, access = $4, mode = $5, max_participants = $6, locked = $7,
		schedule_type = $8, schedule_start = $9, settings = $10, created_at = $11, updated_at = $12
		WHERE id = $1`, args...)
	return affectedOne(tag, err, what)
}

// DeleteConference removes conference id with its removals and layout;
// conf.ErrNotFound when there is none. Its call records are kept.
func (s *Store) DeleteConference(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM conferences WHERE id = $1`, txt(id))
	return affectedOne(tag, err, "deleting conference "+id)
}

// ---- users and tokens ----

const userColumns = `id, display_name, email, role, password_hash, created_at,
	sip_realm, sip_ha1_md5, sip_ha1_sha256, dial_out`

func scanUser(row pgx.Row) (conf.User, error) {
	var u conf.User
	var created time.Time
	if err := row.Scan(&u.ID, &u.DisplayName, &u.Email, &u.Role, &u.PasswordHash, &created,
		&u.SIPRealm, &u.SIPHA1MD5, &u.SIPHA1SHA256, &u.DialOut); err != nil {
		return conf.User{}, err
	}
	u.CreatedAt = utc(created)
	return u, nil
}

// CreateUser inserts u; conf.ErrExists when its ID is taken.
func (s *Store) CreateUser(ctx context.Context, u conf.User) error {
	tag, err := s.pool.Exec(ctx, `INSERT INTO users (`+userColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING`,
		txt(u.ID), txt(u.DisplayName), txt(u.Email), txt(u.Role), txt(u.PasswordHash), u.CreatedAt.UTC(),
		txt(u.SIPRealm), txt(u.SIPHA1MD5), txt(u.SIPHA1SHA256), txt(u.DialOut))
	return insertedOne(tag, err, "creating user "+u.ID)
}

// GetUser returns user id; conf.ErrNotFound when there is none.
func (s *Store) GetUser(ctx context.Context, id string) (conf.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, txt(id)))
	if errors.Is(err, pgx.ErrNoRows) {
		return conf.User{}, fmt.Errorf("user %s: %w", id, conf.ErrNotFound)
	}
	if err != nil {
		return conf.User{}, fmt.Errorf("reading user %s: %w", id, err)
	}
	return u, nil
}

// ListUsers returns every user ordered by ID.
func (s *Store) ListUsers(ctx context.Context) ([]conf.User, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+userColumns+` FROM users ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("listing users: %w", err)
	}
	defer rows.Close()
	out := []conf.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("listing users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing users: %w", err)
	}
	return out, nil
}

// UpdateUser replaces user u.ID (not his creation time); conf.ErrNotFound
// when there is none.
func (s *Store) UpdateUser(ctx context.Context, u conf.User) error {
	tag, err := s.pool.Exec(ctx, `UPDATE users SET display_name = $2, email = $3, role = $4, password_hash = $5,
		sip_realm = $6, sip_ha1_md5 = $7, sip_ha1_sha256 = $8, dial_out = $9
		WHERE id = $1`, txt(u.ID), txt(u.DisplayName), txt(u.Email), txt(u.Role), txt(u.PasswordHash),
		txt(u.SIPRealm), txt(u.SIPHA1MD5), txt(u.SIPHA1SHA256), txt(u.DialOut))
	return affectedOne(tag, err, "updating user "+u.ID)
}

// DeleteUser removes user id; his tokens and group memberships go with
// him (foreign keys). conf.ErrNotFound when there is none.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM users WHERE id = $1`, txt(id))
	return affectedOne(tag, err, "deleting user "+id)
}

// SaveToken stores t (replacing a token with the same hash, which cannot
// happen with random tokens but must not fail if it did). A token of a
// user that does not exist is refused with conf.ErrNotFound.
func (s *Store) SaveToken(ctx context.Context, t conf.Token) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO tokens (hash, user_id, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (hash) DO UPDATE SET user_id = excluded.user_id, expires_at = excluded.expires_at`,
		txt(t.Hash), txt(t.UserID), t.Expires.UTC())
	if err != nil {
		return wrap("saving token for "+t.UserID, err)
	}
	return nil
}

// GetToken returns the token with hash; conf.ErrNotFound when there is
// none. Expiry is the caller's to check.
func (s *Store) GetToken(ctx context.Context, hash string) (conf.Token, error) {
	t := conf.Token{Hash: hash}
	var exp time.Time
	err := s.pool.QueryRow(ctx, `SELECT user_id, expires_at FROM tokens WHERE hash = $1`, txt(hash)).Scan(&t.UserID, &exp)
	if errors.Is(err, pgx.ErrNoRows) {
		return conf.Token{}, fmt.Errorf("token: %w", conf.ErrNotFound)
	}
	if err != nil {
		return conf.Token{}, fmt.Errorf("reading token: %w", err)
	}
	t.Expires = utc(exp)
	return t, nil
}

// DeleteExpiredTokens removes tokens whose expiry is at or before now.
func (s *Store) DeleteExpiredTokens(ctx context.Context, now time.Time) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM tokens WHERE expires_at <= $1`, now.UTC()); err != nil {
		return fmt.Errorf("deleting expired tokens: %w", err)
	}
	return nil
}

// ---- call records ----

// callRecordColumns are the columns written for a call record, in the
// order of callRecordValues.
var callRecordColumns = []string{"conference_id", "participant", "user_id", "display_name", "protocol",
	"remote", "started_at", "ended_at", "cause"}

func callRecordValues(r conf.CallRecord) []any {
	return []any{txt(r.ConferenceID), txt(r.Participant), txt(r.UserID), txt(r.DisplayName), txt(r.Protocol),
		txt(r.Remote), r.StartedAt.UTC(), r.EndedAt.UTC(), txt(r.Cause)}
}

// RecordCall appends a call record; the database assigns its ID.
func (s *Store) RecordCall(ctx context.Context, r conf.CallRecord) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO call_records
		(conference_id, participant, user_id, display_name, protocol, remote, started_at, ended_at, cause)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, callRecordValues(r)...)
	if err != nil {
		return wrap(fmt.Sprintf("recording call of %s in %s", r.Participant, r.ConferenceID), err)
	}
	return nil
}

// RecordCalls appends call records atomically, with one COPY: a COPY is a
// single statement, so either every record is stored or none is, and the
// batches of a busy server (conf writes up to 500 at once) cost one round
// trip instead of one per record.
func (s *Store) RecordCalls(ctx context.Context, rs []conf.CallRecord) error {
	if len(rs) == 0 {
		return nil
	}
	_, err := s.pool.CopyFrom(ctx, pgx.Identifier{"call_records"}, callRecordColumns,
		pgx.CopyFromSlice(len(rs), func(i int) ([]any, error) { return callRecordValues(rs[i]), nil }))
	if err != nil {
		return wrap(fmt.Sprintf("recording %d calls", len(rs)), err)
	}
	return nil
}

// ListCallRecords returns the newest call records of conference
// conferenceID (of every conference when it is ""), newest first, at most
// limit of them (100 when limit is not positive).
func (s *Store) ListCallRecords(ctx context.Context, conferenceID string, limit int) ([]conf.CallRecord, error) {
	if limit <= 0 {
		limit = 100
	}
	const cols = `SELECT id, conference_id, participant, user_id, display_name, protocol, remote, started_at, ended_at, cause
		FROM call_records`
	var (
		rows pgx.Rows
		err  error
	)
	if conferenceID != "" {
		rows, err = s.pool.Query(ctx, cols+` WHERE conference_id = $1 ORDER BY started_at DESC, id DESC LIMIT $2`,
			txt(conferenceID), limit)
	} else {
		rows, err = s.pool.Query(ctx, cols+` ORDER BY started_at DESC, id DESC LIMIT $1`, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("listing call records: %w", err)
	}
	defer rows.Close()
	out := []conf.CallRecord{}
	for rows.Next() {
		var r conf.CallRecord
		var started, ended time.Time
		if err := rows.Scan(&r.ID, &r.ConferenceID, &r.Participant, &r.UserID, &r.DisplayName, &r.Protocol,
			&r.Remote, &started, &ended, &r.Cause); err != nil {
			return nil, fmt.Errorf("listing call records: %w", err)
		}
		r.StartedAt, r.EndedAt = utc(started), utc(ended)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing call records: %w", err)
	}
	return out, nil
}
