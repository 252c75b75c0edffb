package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/roomgate/roomgate/conf"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func open(t *testing.T, dir string) *SQLite {
	t.Helper()
	s, err := OpenSQLite(t.Context(), dir, nil)
	if err != nil {
		t.Fatalf("OpenSQLite(%s): %v", dir, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC)

func sample(id string) conf.Conference {
	return conf.Conference{
		ID: id, Name: "Board room " + id, Owner: "alice", Description: "weekly sync",
		Access: conf.AccessPublic, Mode: conf.ModeRoleBased, PodiumSeats: 6,
		PIN: "1234", ModeratorPIN: "987654", MaxParticipants: 20,
		WaitingRoom: true, RecordingAllowed: true, Locked: false,
		Schedule: conf.Schedule{Type: conf.ScheduleWeekly, Start: t0.Add(24 * time.Hour),
			DurationMinutes: 45, Days: []string{"mon", "thu"}, TimeZone: "Europe/Berlin"},
		Invitations: []conf.Invitation{{Target: "sip:bob@example.com", Moderator: true}, {Target: "carol"}},
		CreatedAt:   t0, UpdatedAt: t0,
	}
}

func equalConf(t *testing.T, got, want conf.Conference) {
	t.Helper()
	// Times print with their location; compare them with Equal instead.
	if !got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) ||
		!got.Schedule.Start.Equal(want.Schedule.Start) {
		t.Fatalf("times differ:\n got %v %v %v\nwant %v %v %v", got.CreatedAt, got.UpdatedAt, got.Schedule.Start,
			want.CreatedAt, want.UpdatedAt, want.Schedule.Start)
	}
	got.CreatedAt, got.UpdatedAt, got.Schedule.Start = want.CreatedAt, want.UpdatedAt, want.Schedule.Start
	g, w := fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", want)
	if g != w {
		t.Fatalf("conference differs:\n got %s\nwant %s", g, w)
	}
}

func TestConferenceCRUD(t *testing.T) {
	ctx := t.Context()
	s := open(t, t.TempDir())

	if _, err := s.GetConference(ctx, "1000"); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("Get of missing: %v, want ErrNotFound", err)
	}
	c := sample("1000")
	if err := s.CreateConference(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateConference(ctx, sample("1000")); !errors.Is(err, conf.ErrExists) {
		t.Fatalf("second Create: %v, want ErrExists", err)
	}
	got, err := s.GetConference(ctx, "1000")
	if err != nil {
		t.Fatal(err)
	}
	equalConf(t, got, c)

	c.Name, c.Locked, c.MaxParticipants = "Renamed", true, 3
	c.Schedule = conf.Schedule{Type: conf.ScheduleNone}
	c.Invitations = []conf.Invitation{}
	c.UpdatedAt = t0.Add(time.Hour)
	if err := s.UpdateConference(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetConference(ctx, "1000")
	if err != nil {
		t.Fatal(err)
	}
	equalConf(t, got, c)
	if err := s.UpdateConference(ctx, sample("2000")); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("Update of missing: %v, want ErrNotFound", err)
	}

	for _, id := range []string{"20", "3", "100", "1001"} {
		if err := s.CreateConference(ctx, sample(id)); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.ListConferences(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range list {
		ids = append(ids, c.ID)
	}
	if fmt.Sprint(ids) != "[3 20 100 1000 1001]" {
		t.Fatalf("list order %v", ids)
	}

	if err := s.DeleteConference(ctx, "1000"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteConference(ctx, "1000"); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("second Delete: %v, want ErrNotFound", err)
	}
	if _, err := s.GetConference(ctx, "1000"); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("Get after delete: %v", err)
	}
}

func TestUsersAndTokens(t *testing.T) {
	ctx := t.Context()
	s := open(t, t.TempDir())
	u := conf.User{ID: "admin", DisplayName: "Administrator", Role: "admin", PasswordHash: "x$y", CreatedAt: t0}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, u); !errors.Is(err, conf.ErrExists) {
		t.Fatalf("second CreateUser: %v, want ErrExists", err)
	}
	got, err := s.GetUser(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != u.ID || got.Role != u.Role || got.PasswordHash != u.PasswordHash || !got.CreatedAt.Equal(t0) {
		t.Fatalf("GetUser = %+v, want %+v", got, u)
	}
	if _, err := s.GetUser(ctx, "nobody"); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("GetUser missing: %v", err)
	}
	// A token must belong to an existing user (foreign keys are on).
	if err := s.SaveToken(ctx, conf.Token{Hash: "h0", UserID: "nobody", Expires: t0}); err == nil {
		t.Fatal("token of a missing user was saved: foreign keys are off")
	}
	for i, exp := range []time.Time{t0.Add(-time.Second), t0, t0.Add(time.Second)} {
		if err := s.SaveToken(ctx, conf.Token{Hash: fmt.Sprint("h", i+1), UserID: "admin", Expires: exp}); err != nil {
			t.Fatal(err)
		}
	}
	tok, err := s.GetToken(ctx, "h3")
	if err != nil || tok.UserID != "admin" || !tok.Expires.Equal(t0.Add(time.Second)) {
		t.Fatalf("GetToken = %+v, %v", tok, err)
	}
	if err := s.DeleteExpiredTokens(ctx, t0); err != nil {
		t.Fatal(err)
	}
	for hash, want := range map[string]error{"h1": conf.ErrNotFound, "h2": conf.ErrNotFound, "h3": nil} {
		if _, err := s.GetToken(ctx, hash); !errors.Is(err, want) {
			t.Errorf("GetToken(%s) after expiry sweep: %v, want %v", hash, err, want)
		}
	}
}

func TestCallRecords(t *testing.T) {
	ctx := t.Context()
	s := open(t, t.TempDir())
	for i := range 5 {
		conference := "1000"
		if i%2 == 1 {
			conference = "2000"
		}
		err := s.RecordCall(ctx, conf.CallRecord{ConferenceID: conference, Participant: fmt.Sprint("p", i),
			DisplayName: "Caller", Protocol: "sip", Remote: "127.0.0.1:5060",
			StartedAt: t0.Add(time.Duration(i) * time.Minute), EndedAt: t0.Add(time.Hour), Cause: "normal"})
		if err != nil {
			t.Fatal(err)
		}
	}
	recs, err := s.ListCallRecords(ctx, "1000", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0].Participant != "p4" || recs[2].Participant != "p0" {
		t.Fatalf("records of 1000: %+v", recs)
	}
	if r := recs[2]; r.ID == 0 || r.Protocol != "sip" || r.Remote != "127.0.0.1:5060" || r.Cause != "normal" ||
		!r.StartedAt.Equal(t0) || !r.EndedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("record round trip: %+v", r)
	}
	all, err := s.ListCallRecords(ctx, "", 2)
	if err != nil || len(all) != 2 || all[0].Participant != "p4" {
		t.Fatalf("newest 2: %+v, %v", all, err)
	}
}

func TestPersistsAcrossReopen(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "nested", "data")
	s, err := OpenSQLite(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := sample("4242")
	if err := s.CreateConference(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, conf.User{ID: "admin", Role: "admin", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveToken(ctx, conf.Token{Hash: "abc", UserID: "admin", Expires: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o750 {
		t.Fatalf("data dir mode: %v %v", fi.Mode(), err)
	}
	for _, name := range []string{FileName, FileName + "-wal"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err == nil && fi.Mode().Perm()&0o077 != 0 {
			t.Fatalf("%s is readable by others: %v", name, fi.Mode())
		}
		if err != nil && name == FileName {
			t.Fatal(err)
		}
	}

	s2 := open(t, dir)
	got, err := s2.GetConference(ctx, "4242")
	if err != nil {
		t.Fatal(err)
	}
	equalConf(t, got, c)
	if _, err := s2.GetToken(ctx, "abc"); err != nil {
		t.Fatalf("token lost across reopen: %v", err)
	}
	var mode string
	if err := s2.db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v", mode, err)
	}
	var versions int
	if err := s2.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_version`).Scan(&versions); err != nil || versions != len(migrations) {
		t.Fatalf("schema_version rows = %d, %v (migrations applied twice?)", versions, err)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	if _, err := s.db.ExecContext(t.Context(), `INSERT INTO schema_version(version, name, applied_at) VALUES (?, 'future', 0)`,
		latestVersion()+1); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenSQLite(t.Context(), dir, nil); !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("open of newer schema: %v, want ErrSchemaTooNew", err)
	}
}

func TestBadDataDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "plainfile")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenSQLite(t.Context(), file, nil); err == nil {
		t.Fatal("a regular file was accepted as data dir")
	}
	if _, err := OpenSQLite(t.Context(), "", nil); !errors.Is(err, ErrBadDataDir) {
		t.Fatalf("empty dir: %v", err)
	}
	if _, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "a?b"), nil); !errors.Is(err, ErrBadDataDir) {
		t.Fatalf("dir with '?': %v", err)
	}
}

func TestCorruptSettings(t *testing.T) {
	s := open(t, t.TempDir())
	if err := s.CreateConference(t.Context(), sample("77")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(t.Context(), `UPDATE conferences SET settings = '{' WHERE id = '77'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetConference(t.Context(), "77"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("corrupt row: %v, want ErrCorrupt", err)
	}
}

// TestConcurrentProcesses opens the same database twice, as the server and
// the CLI do, and writes from both at once: WAL and the busy timeout must
// serialise them without SQLITE_BUSY errors.
func TestConcurrentProcesses(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	a, b := open(t, dir), open(t, dir)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 8 {
		s := a
		if w%2 == 1 {
			s = b
		}
		wg.Go(func() {
			for i := range 25 {
				id := fmt.Sprintf("%d%03d", w+1, i)
				if err := s.CreateConference(ctx, sample(id)); err != nil {
					errs <- err
					return
				}
				if _, err := s.GetConference(ctx, id); err != nil {
					errs <- err
					return
				}
				if _, err := s.ListConferences(ctx); err != nil {
					errs <- err
					return
				}
				if err := s.RecordCall(ctx, conf.CallRecord{ConferenceID: id, Participant: "p", StartedAt: t0, EndedAt: t0}); err != nil {
					errs <- err
					return
				}
				if i%5 == 0 {
					if err := s.DeleteConference(ctx, id); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	list, err := b.ListConferences(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 8*20 {
		t.Fatalf("%d conferences, want %d", len(list), 8*20)
	}
}

// TestConcurrentMigration opens a fresh database from several goroutines
// at once: exactly one of them applies each migration.
func TestConcurrentMigration(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	stores := make([]*SQLite, 4)
	errs := make([]error, 4)
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = OpenSQLite(t.Context(), dir, nil) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		t.Cleanup(func() { _ = stores[i].Close() })
	}
	var n int
	if err := stores[0].db.QueryRow(`SELECT COUNT(*) FROM schema_version`).Scan(&n); err != nil || n != len(migrations) {
		t.Fatalf("schema_version rows %d, %v", n, err)
	}
}

func BenchmarkGetConference(b *testing.B) {
	s, err := OpenSQLite(b.Context(), b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateConference(b.Context(), sample("1000")); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.GetConference(b.Context(), "1000"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRecordCall(b *testing.B) {
	s, err := OpenSQLite(b.Context(), b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r := conf.CallRecord{ConferenceID: "1000", Participant: "p", StartedAt: t0, EndedAt: t0}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.RecordCall(b.Context(), r); err != nil {
			b.Fatal(err)
		}
	}
}
