// Package storetest is the conformance suite of Roomgate's stores: one set
// of tests that every implementation of conf.Store and its optional
// interfaces (the SQLite store, the PostgreSQL store) must pass, so that
// conf sees the same behaviour, the same errors and the same ordering
// whichever database is configured.
//
// A store's own tests call Run with a function that opens the store over
// a test's database: the first call in a test (or subtest) starts from an
// empty database, and later calls in the same test reopen that same
// database, as a restart of the server does. PerTest helps write it.
//
// The suite tests behaviour through the interfaces only; what is specific
// to one database (file modes, SQL-level corruption, migrations, server
// concurrency) stays in that store's tests.
package storetest

import (
	"context"
	"sync"
	"testing"

	"github.com/roomgate/roomgate/conf"
)

// Store is what the suite tests: conf.Store with every optional interface
// conf type-asserts, and the call-record listing the CLI and the API use.
type Store interface {
	conf.Store
	conf.CallBatchRecorder
	conf.ScheduledLister
	conf.AddressBook
	conf.BanStore
	conf.TemplateStore
	conf.LayoutStore
	// ListCallRecords returns the newest call records of a conference (of
	// all when conferenceID is ""), newest first, at most limit (100 when
	// limit is not positive).
	ListCallRecords(ctx context.Context, conferenceID string, limit int) ([]conf.CallRecord, error)
}

// Run runs the suite. open must return a store over t's database, empty
// on the first call in t and the same database on later calls; it should
// close the store in t.Cleanup (the suite may close it earlier, so Close
// must be safe to call twice).
func Run(t *testing.T, open func(t *testing.T) Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open func(t *testing.T) Store)
	}{
		{"ConferenceRoundTrip", testConferenceRoundTrip},
		{"ConferenceErrors", testConferenceErrors},
		{"ConferenceOrdering", testConferenceOrdering},
		{"ScheduledConferences", testScheduledConferences},
		{"EmptyLists", testEmptyLists},
		{"Users", testUsers},
		{"Tokens", testTokens},
		{"Groups", testGroups},
		{"Bans", testBans},
		{"Templates", testTemplates},
		{"Layouts", testLayouts},
		{"CallRecords", testCallRecords},
		{"HostileText", testHostileText},
		{"ReopenKeepsEverything", testReopen},
		{"Concurrent", testConcurrent},
		{"ServiceRestart", testServiceRestart},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

// PerTest remembers one value per test, so that an open function can
// create a database on its first call in a test and find it again on the
// next. The zero value is ready to use; it is safe for concurrent use.
type PerTest[V any] struct {
	mu sync.Mutex
	m  map[*testing.T]V
}

// Get returns the value of t, calling create on the first Get in t. The
// value is forgotten when t ends.
func (p *PerTest[V]) Get(t *testing.T, create func() V) V {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if v, ok := p.m[t]; ok {
		return v
	}
	if p.m == nil {
		p.m = make(map[*testing.T]V)
	}
	v := create()
	p.m[t] = v
	t.Cleanup(func() {
		p.mu.Lock()
		delete(p.m, t)
		p.mu.Unlock()
	})
	return v
}
