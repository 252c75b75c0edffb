package conf_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/roomgate/roomgate/conf"
	"github.com/roomgate/roomgate/store"
)

// TestReconcileDeleted deletes a running conference from a second process
// (the CLI, here a second store handle and Service on the same directory):
// the server hangs its legs up at the next reconcile.
func TestReconcileDeleted(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	for _, id := range []string{"1", "2"} {
		if _, err := e.svc.CreateConference(ctx, conf.Conference{ID: id, Name: "c"}); err != nil {
			t.Fatal(err)
		}
	}
	gone, stays := &fakeLeg{}, &fakeLeg{}
	if _, err := e.svc.Join(ctx, conf.JoinRequest{ConferenceID: "1", Leg: gone}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Join(ctx, conf.JoinRequest{ConferenceID: "2", Leg: stays}); err != nil {
		t.Fatal(err)
	}
	cli, err := store.OpenSQLite(ctx, e.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if err := conf.NewService(cli, nil).DeleteConference(ctx, "1"); err != nil {
		t.Fatal(err)
	}
	if len(gone.hangups()) != 0 {
		t.Fatal("hung up before reconciling")
	}
	if err := e.svc.ReconcileDeleted(ctx); err != nil {
		t.Fatal(err)
	}
	if h := gone.hangups(); len(h) != 1 || !errors.Is(h[0], conf.ErrConferenceDeleted) {
		t.Fatalf("leg of the deleted conference: %v", h)
	}
	if len(stays.hangups()) != 0 || e.svc.LiveCount("2") != 1 || e.svc.LiveCount("1") != 0 {
		t.Fatal("reconcile touched a conference that still exists")
	}
	if recs := e.records(t, "1"); len(recs) != 1 || recs[0].Cause != conf.ErrConferenceDeleted.Error() {
		t.Fatalf("records %+v", recs)
	}

	// Deleting through this Service what the CLI already deleted ends the
	// legs at once, and still says not found.
	late := &fakeLeg{}
	if _, err := e.svc.Join(ctx, conf.JoinRequest{ConferenceID: "2", Leg: late}); err != nil {
		t.Fatal(err)
	}
	if err := cli.DeleteConference(ctx, "2"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteConference(ctx, "2"); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("delete of an already deleted conference: %v", err)
	}
	if len(stays.hangups()) != 1 || len(late.hangups()) != 1 || e.svc.LiveCount("2") != 0 {
		t.Fatal("legs of a conference deleted elsewhere were not hung up by Delete")
	}
}

// memStore is an in-memory conf.Store for tests that run in a synctest
// bubble, where a real database's goroutines do not belong.
type memStore struct {
	mu    sync.Mutex
	confs map[string]conf.Conference
}

func (m *memStore) CreateConference(_ context.Context, c conf.Conference) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.confs[c.ID]; ok {
		return conf.ErrExists
	}
	m.confs[c.ID] = c
	return nil
}

func (m *memStore) GetConference(_ context.Context, id string) (conf.Conference, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.confs[id]
	if !ok {
		return conf.Conference{}, fmt.Errorf("conference %s: %w", id, conf.ErrNotFound)
	}
	return c, nil
}

func (m *memStore) ListConferences(context.Context) ([]conf.Conference, error) { return nil, nil }

func (m *memStore) UpdateConference(_ context.Context, c conf.Conference) error {
	return m.CreateConference(context.Background(), c)
}

func (m *memStore) DeleteConference(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.confs, id)
	return nil
}

func (m *memStore) CreateUser(context.Context, conf.User) error { return nil }

func (m *memStore) GetUser(context.Context, string) (conf.User, error) {
	return conf.User{}, conf.ErrNotFound
}

func (m *memStore) SaveToken(context.Context, conf.Token) error { return nil }

func (m *memStore) GetToken(context.Context, string) (conf.Token, error) {
	return conf.Token{}, conf.ErrNotFound
}

func (m *memStore) DeleteExpiredTokens(context.Context, time.Time) error { return nil }

func (m *memStore) Close() error { return nil }

// TestRunReconciles checks Run's timer under a fake clock.
func TestRunReconciles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &memStore{confs: map[string]conf.Conference{}}
		svc := conf.NewService(st, nil)
		if _, err := svc.CreateConference(t.Context(), conf.Conference{ID: "5", Name: "x"}); err != nil {
			t.Fatal(err)
		}
		leg := &fakeLeg{}
		if _, err := svc.Join(t.Context(), conf.JoinRequest{ConferenceID: "5", Leg: leg}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			svc.Run(ctx, time.Second)
		}()
		_ = st.DeleteConference(ctx, "5") // behind the Service's back
		time.Sleep(999 * time.Millisecond)
		synctest.Wait()
		if len(leg.hangups()) != 0 {
			t.Fatal("reconciled before the interval")
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if h := leg.hangups(); len(h) != 1 || !errors.Is(h[0], conf.ErrConferenceDeleted) {
			t.Fatalf("after one interval: %v", h)
		}
		cancel()
		<-done
	})
}
