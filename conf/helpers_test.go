package conf_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/conf"
	"github.com/roomgate/roomgate/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeClock is a settable clock for token expiry and schedules.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

var start = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)

// env is a Service over a real SQLite store in a temporary directory.
type env struct {
	dir   string
	store *store.SQLite
	svc   *conf.Service
	clock *fakeClock
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{dir: t.TempDir(), clock: &fakeClock{now: start}}
	e.open(t)
	return e
}

// open (re)opens the store and builds a new Service over it, as a restart does.
func (e *env) open(t testing.TB) {
	t.Helper()
	st, err := store.OpenSQLite(t.Context(), e.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	e.store = st
	svc := conf.NewService(st, nil, conf.WithClock(e.clock.Now), conf.WithPasswordIterations(1000))
	t.Cleanup(func() {
		if err := svc.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	e.svc = svc
}

// records flushes the queued call records and returns those of conference id.
func (e *env) records(t testing.TB, id string) []conf.CallRecord {
	t.Helper()
	if err := e.svc.FlushCallRecords(t.Context()); err != nil {
		t.Fatal(err)
	}
	recs, err := e.store.ListCallRecords(t.Context(), id, 0)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// fakeLeg is a LegHandle that records hang-ups and returns fixed stats.
type fakeLeg struct {
	mu     sync.Mutex
	causes []error
	stats  bridge.LegStats
}

func (l *fakeLeg) Hangup(cause error) {
	l.mu.Lock()
	l.causes = append(l.causes, cause)
	l.mu.Unlock()
}

func (l *fakeLeg) Stats() bridge.LegStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats
}

func (l *fakeLeg) hangups() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.causes...)
}

// userLeg is a leg whose caller authenticated as an address-book user.
type userLeg struct {
	fakeLeg
	user string
}

func (l *userLeg) UserID() string { return l.user }
