// Package pgstore keeps Roomgate's persistent state in PostgreSQL: the
// second implementation of conf.Store and of every optional interface the
// SQLite store (package store) implements, with the same semantics and
// errors, for deployments that run several servers on one database or
// already operate PostgreSQL. It is selected by database.dsn
// (postgres://...); SQLite stays the default.
//
// Decisions, and why:
//   - The layout follows the SQLite store: columns for what queries filter
//     or sort on, and the whole conference (or template, or layout) as JSON
//     in a JSONB column, so that new conference fields persist without a
//     migration. The columns win over the JSON copy when both are read.
//   - Times are timestamptz, written and read in UTC at microsecond
//     precision, which is what conf's clock keeps.
//   - Identifiers use the "C" collation, so that ORDER BY sorts bytewise
//     whatever locale the database was created with, exactly as SQLite's
//     BINARY collation does (ListConferences sorts numeric IDs numerically
//     by ordering on length first).
//   - The schema is versioned by forward-only numbered migrations
//     (migrations.go). Each runs in its own transaction under a
//     transaction-scoped advisory lock, so servers starting at once against
//     a new database apply each migration exactly once between them.
//   - Single-statement writes rely on PostgreSQL's statement atomicity;
//     writes of several statements run in one transaction, so nothing is
//     ever half-written.
//   - PostgreSQL rejects NUL characters and invalid UTF-8 in text, which
//     SQLite stores as given. Text that reaches the store from the network
//     (display names of call records, IDs looked up from a SIP URI) is
//     therefore made valid (text.go) instead of failing the write, so that
//     a hostile display name cannot lose a batch of call records and a
//     lookup of garbage answers conf.ErrNotFound, not an SQL error.
//   - The DSN is never logged or quoted in an error: it may hold a
//     password. Logs name the host, port, database and user only.
//
// The store holds no rules: validation, defaults and rights live in conf.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/roomgate/roomgate/conf"
)

// SQLSTATE codes mapped to conf's sentinels (PostgreSQL manual, appendix A).
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
)

// applicationName is reported to the server (pg_stat_activity) unless the
// DSN names another.
const applicationName = "roomgate"

// Store is the PostgreSQL implementation of conf.Store and its optional
// interfaces. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	now  func() time.Time
}

var (
	_ conf.Store             = (*Store)(nil)
	_ conf.CallRecorder      = (*Store)(nil)
	_ conf.CallBatchRecorder = (*Store)(nil)
	_ conf.ScheduledLister   = (*Store)(nil)
	_ conf.AddressBook       = (*Store)(nil)
	_ conf.BanStore          = (*Store)(nil)
	_ conf.TemplateStore     = (*Store)(nil)
	_ conf.LayoutStore       = (*Store)(nil)
)

// parseDSN parses dsn (a postgres:// URL or key=value pairs, as libpq
// accepts) into a pool configuration. Its errors never quote the DSN:
// pgx's own parse errors redact passwords only on a best-effort basis.
func parseDSN(dsn string) (*pgxpool.Config, error) {
	if dsn == "" {
		return nil, fmt.Errorf("%w: it is empty", ErrBadDSN)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("%w: check its syntax (it is not shown because it may hold a password)", ErrBadDSN)
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = applicationName
	}
	return cfg, nil
}

// describe names the server and database of cfg for logs and errors,
// without the password.
func describe(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	return fmt.Sprintf("database %s on %s as %s", strconv.Quote(c.Database),
		net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port))), strconv.Quote(c.User))
}

// Open connects to the PostgreSQL database of dsn and migrates its schema.
// ctx bounds the connection and the migration only; the Store lives until
// Close.
func Open(ctx context.Context, dsn string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, err := parseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("opening PostgreSQL database: %w", err)
	}
	where := describe(cfg)
	pool, err := pgxpool.NewWithConfig(context.WithoutCancel(ctx), cfg)
	if err != nil {
		return nil, fmt.Errorf("opening PostgreSQL %s: %w", where, err)
	}
	s := &Store{pool: pool, log: log, now: time.Now}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("opening PostgreSQL %s: %w", where, err)
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("opening PostgreSQL %s: %w", where, err)
	}
	log.DebugContext(ctx, "database open", "database", cfg.ConnConfig.Database,
		"host", cfg.ConnConfig.Host, "port", cfg.ConnConfig.Port, "user", cfg.ConnConfig.User)
	return s, nil
}

// Close closes every connection, waiting for those in use to be released;
// it is safe to call more than once.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// inTx runs fn in a transaction and commits it when fn succeeds.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		// The rollback error adds nothing when the transaction already
		// failed, and a broken connection is discarded by the pool.
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

// wrap describes err as the failure of what, mapping unique violations to
// conf.ErrExists and foreign-key violations (a referenced row is missing,
// possibly deleted by a concurrent transaction) to conf.ErrNotFound. The
// original error stays in the chain.
func wrap(what string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case uniqueViolation:
			return fmt.Errorf("%s: %w: %w", what, conf.ErrExists, err)
		case foreignKeyViolation:
			return fmt.Errorf("%s: %w: %w", what, conf.ErrNotFound, err)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// affectedOne turns the result of a write of one row into an error:
// conf.ErrNotFound when no row matched.
func affectedOne(tag pgconn.CommandTag, err error, what string) error {
	if err != nil {
		return wrap(what, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s: %w", what, conf.ErrNotFound)
	}
	return nil
}

// insertedOne turns the result of an INSERT ... ON CONFLICT DO NOTHING
// into an error: conf.ErrExists when the row was already there.
func insertedOne(tag pgconn.CommandTag, err error, what string) error {
	if err != nil {
		return wrap(what, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s: %w", what, conf.ErrExists)
	}
	return nil
}

// utc returns t in UTC: pgx returns timestamptz values in the local zone.
func utc(t time.Time) time.Time { return t.UTC() }
