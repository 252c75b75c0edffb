package store_test

import (
	"testing"

	"github.com/roomgate/roomgate/store"
	"github.com/roomgate/roomgate/store/storetest"
)

// TestConformance runs the store suite against SQLite: each test gets a
// data directory of its own, which later opens in the same test reopen.
func TestConformance(t *testing.T) {
	var dirs storetest.PerTest[string]
	storetest.Run(t, func(t *testing.T) storetest.Store {
		dir := dirs.Get(t, t.TempDir)
		s, err := store.OpenSQLite(t.Context(), dir, nil)
		if err != nil {
			t.Fatalf("OpenSQLite(%s): %v", dir, err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
