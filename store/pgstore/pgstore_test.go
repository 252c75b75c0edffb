package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/goleak"

	"github.com/roomgate/roomgate/conf"
	"github.com/roomgate/roomgate/store/storetest"
)

// server is the PostgreSQL server of this test binary, started by the
// first test that needs it and stopped by TestMain.
var server = &pgServer{}

func TestMain(m *testing.M) {
	code := m.Run()
	if err := server.stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the PostgreSQL test server:", err)
		code = 1
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// openStore opens a Store on dsn, closed at the end of t.
func openStore(t testing.TB, dsn string) *Store {
	t.Helper()
	s, err := Open(t.Context(), dsn, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestConformance runs the store suite against a real PostgreSQL server,
// with a database of its own for every test.
func TestConformance(t *testing.T) {
	var dsns storetest.PerTest[string]
	storetest.Run(t, func(t *testing.T) storetest.Store {
		return openStore(t, dsns.Get(t, func() string { return server.newDatabase(t) }))
	})
}

func schemaVersions(t *testing.T, s *Store) (n int, applied time.Time) {
	t.Helper()
	if err := s.pool.QueryRow(t.Context(), `SELECT count(*), max(applied_at) FROM schema_version`).Scan(&n, &applied); err != nil {
		t.Fatal(err)
	}
	return n, applied
}

// TestMigrateTwice checks that opening a migrated database changes
// nothing and keeps the data.
func TestMigrateTwice(t *testing.T) {
	dsn := server.newDatabase(t)
	s := openStore(t, dsn)
	n, applied := schemaVersions(t, s)
	if n != len(migrations) {
		t.Fatalf("%d schema_version rows after the first Open, want %d", n, len(migrations))
	}
	if err := s.CreateConference(t.Context(), conf.Conference{ID: "1", Name: "x", Access: "public", Mode: "symmetric"}); err != nil {
		t.Fatal(err)
	}
	s2 := openStore(t, dsn)
	n2, applied2 := schemaVersions(t, s2)
	if n2 != n || !applied2.Equal(applied) {
		t.Fatalf("second Open changed schema_version: %d rows applied %v, before %d rows applied %v", n2, applied2, n, applied)
	}
	if _, err := s2.GetConference(t.Context(), "1"); err != nil {
		t.Fatalf("data after the second Open: %v", err)
	}
}

// TestConcurrentOpen opens a new database from several goroutines at once,
// as servers starting together do: the advisory lock lets exactly one of
// them apply each migration, and none fails.
func TestConcurrentOpen(t *testing.T) {
	dsn := server.newDatabase(t)
	const n = 6
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = Open(t.Context(), dsn, nil)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		t.Cleanup(func() { _ = stores[i].Close() })
	}
	if got, _ := schemaVersions(t, stores[0]); got != len(migrations) {
		t.Fatalf("%d schema_version rows, want %d", got, len(migrations))
	}
	for i, s := range stores {
		if err := s.CreateConference(t.Context(), conf.Conference{ID: fmt.Sprint(i + 1), Name: "x"}); err != nil {
			t.Fatalf("store %d: %v", i, err)
		}
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	dsn := server.newDatabase(t)
	s := openStore(t, dsn)
	if _, err := s.pool.Exec(t.Context(), `INSERT INTO schema_version (version, name, applied_at) VALUES ($1, 'future', now())`,
		latestVersion()+1); err != nil {
		t.Fatal(err)
	}
	if s2, err := Open(t.Context(), dsn, nil); !errors.Is(err, ErrSchemaTooNew) {
		if s2 != nil {
			_ = s2.Close()
		}
		t.Fatalf("Open of a newer schema: %v, want ErrSchemaTooNew", err)
	}
}

func TestCorruptRows(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, server.newDatabase(t))
	if err := s.CreateConference(ctx, conf.Conference{ID: "77", Name: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetLayout(ctx, "77", conf.Layout{Type: "grid", Windows: 4}); err != nil {
		t.Fatal(err)
	}
	// JSONB holds only valid JSON, but not necessarily what decodes into
	// the structs.
	for _, q := range []string{
		`UPDATE conferences SET settings = '{"podium_seats": "many"}' WHERE id = '77'`,
		`UPDATE conference_layouts SET layout = '[]' WHERE conference_id = '77'`,
	} {
		if _, err := s.pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.GetConference(ctx, "77"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("corrupt conference: %v, want ErrCorrupt", err)
	}
	if _, err := s.ListConferences(ctx); !errors.Is(err, ErrCorrupt) {
		t.Errorf("list with a corrupt conference: %v, want ErrCorrupt", err)
	}
	if _, err := s.GetLayout(ctx, "77"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("corrupt layout: %v, want ErrCorrupt", err)
	}
}

// TestOrderingIgnoresLocale checks that IDs sort bytewise in a database
// whose default collation would sort them otherwise.
func TestOrderingIgnoresLocale(t *testing.T) {
	if err := server.start(); err != nil {
		t.Fatalf("PostgreSQL test server: %v", err)
	}
	conn, err := pgx.Connect(t.Context(), server.dsn("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// ICU's root collation sorts a A b B; bytewise order is A B a b.
	name := fmt.Sprintf("rg_locale_%d", server.dbs.Add(1))
	if _, err := conn.Exec(t.Context(), `CREATE DATABASE `+name+
		` TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'und' LOCALE 'C'`); err != nil {
		t.Fatalf("creating a database with an ICU collation: %v", err)
	}
	s := openStore(t, server.dsn(name))
	for _, id := range []string{"b", "B", "a", "A"} {
		if err := s.CreateUser(t.Context(), conf.User{ID: id, Role: "user"}); err != nil {
			t.Fatal(err)
		}
	}
	us, err := s.ListUsers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range us {
		got = append(got, u.ID)
	}
	if strings.Join(got, "") != "ABab" {
		t.Fatalf("users ordered %q, want bytewise A B a b", got)
	}
}

// TestSecretsStayOut checks that neither the log nor the errors of Open
// show the DSN's password.
func TestSecretsStayOut(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	dsn := server.newDatabase(t)
	s, err := Open(t.Context(), dsn, log)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	if strings.Contains(logs.String(), server.password) {
		t.Fatalf("the log shows the password:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "database migrated") {
		t.Fatalf("the log does not say the database was migrated:\n%s", logs.String())
	}

	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	const wrong = "Wr0ng-Passw0rd-Zq"
	u.User = url.UserPassword("postgres", wrong)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err = Open(ctx, u.String(), log)
	if err == nil {
		t.Fatal("Open with a wrong password succeeded")
	}
	if strings.Contains(err.Error(), wrong) || strings.Contains(logs.String(), wrong) {
		t.Fatalf("a failed Open shows the password: %v", err)
	}
	// A DSN that does not parse is not quoted at all.
	_, err = Open(ctx, "postgres://postgres:"+wrong+"@127.0.0.1:notaport/db", log)
	if !errors.Is(err, ErrBadDSN) || strings.Contains(err.Error(), wrong) {
		t.Fatalf("Open of a bad DSN: %v, want ErrBadDSN without the password", err)
	}
}

// TestRecordCallsAtomic checks that a batch of call records is stored
// whole or not at all: a record PostgreSQL refuses (a time beyond
// timestamptz's range) fails the batch, and the records before it are
// not left behind.
func TestRecordCallsAtomic(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, server.newDatabase(t))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	batch := make([]conf.CallRecord, 10)
	for i := range batch {
		batch[i] = conf.CallRecord{ConferenceID: "1000", Participant: fmt.Sprint("p", i), StartedAt: t0, EndedAt: t0}
	}
	batch[7].EndedAt = time.Date(300000, 1, 1, 0, 0, 0, 0, time.UTC)
	// The server refuses the eighth row after taking seven.
	var pe *pgconn.PgError
	if err := s.RecordCalls(ctx, batch); !errors.As(err, &pe) || pe.Code != "22008" {
		t.Fatalf("a batch with an unstorable time: %v, want the server's datetime_field_overflow", err)
	}
	if recs, err := s.ListCallRecords(ctx, "", 0); err != nil || len(recs) != 0 {
		t.Fatalf("a failed batch left %d records (%v)", len(recs), err)
	}
	batch[7].EndedAt = t0
	if err := s.RecordCalls(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if recs, err := s.ListCallRecords(ctx, "", 0); err != nil || len(recs) != len(batch) {
		t.Fatalf("%d records (%v), want %d", len(recs), err, len(batch))
	}
}

func BenchmarkGetConference(b *testing.B) {
	s := openStore(b, server.newDatabase(b))
	if err := s.CreateConference(b.Context(), conf.Conference{ID: "1000", Name: "x", Access: "public", Mode: "symmetric"}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.GetConference(b.Context(), "1000"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecordCalls writes batches of 500 call records, conf's largest
// batch, with one COPY each.
func BenchmarkRecordCalls(b *testing.B) {
	s := openStore(b, server.newDatabase(b))
	batch := make([]conf.CallRecord, 500)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range batch {
		batch[i] = conf.CallRecord{ConferenceID: "1000", Participant: fmt.Sprint("p", i), DisplayName: "Caller",
			Protocol: "sip", Remote: "192.0.2.1:5060", StartedAt: t0, EndedAt: t0.Add(time.Minute), Cause: "BYE"}
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.RecordCalls(b.Context(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/record")
}
