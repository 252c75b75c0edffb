package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roomgate/roomgate/conf"
)

func record(confID, participant string, started time.Time) conf.CallRecord {
	return conf.CallRecord{ConferenceID: confID, Participant: participant, UserID: "alice",
		DisplayName: "Caller " + participant, Protocol: "sip", Remote: "192.0.2.1:5060",
		StartedAt: started, EndedAt: started.Add(time.Hour), Cause: "BYE"}
}

func equalRecord(t *testing.T, got, want conf.CallRecord) {
	t.Helper()
	if got.ID == 0 {
		t.Fatalf("call record %s has no ID", want.Participant)
	}
	if !got.StartedAt.Equal(want.StartedAt) || !got.EndedAt.Equal(want.EndedAt) ||
		got.StartedAt.Location() != time.UTC || got.EndedAt.Location() != time.UTC {
		t.Fatalf("call record %s times %v %v, want %v %v in UTC", want.Participant, got.StartedAt, got.EndedAt,
			want.StartedAt, want.EndedAt)
	}
	want.ID, want.StartedAt, want.EndedAt = got.ID, got.StartedAt, got.EndedAt
	if got != want {
		t.Fatalf("call record differs:\n got %+v\nwant %+v", got, want)
	}
}

func participants(rs []conf.CallRecord) string {
	var b strings.Builder
	for i, r := range rs {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(r.Participant)
	}
	return b.String()
}

func testCallRecords(t *testing.T, open func(*testing.T) Store) {
	ctx := t.Context()
	s := open(t)
	// One at a time, and a batch; started times interleave.
	first := record("1000", "p0", t0)
	if err := s.RecordCall(ctx, first); err != nil {
		t.Fatal(err)
	}
	var batch []conf.CallRecord
	for i := 1; i < 5; i++ {
		conference := "1000"
		if i%2 == 1 {
			conference = "2000"
		}
		batch = append(batch, record(conference, fmt.Sprint("p", i), t0.Add(time.Duration(i)*time.Minute)))
	}
	if err := s.RecordCalls(ctx, batch); err != nil {
		t.Fatal(err)
	}
	// Same start as p4: the later record comes first.
	if err := s.RecordCall(ctx, record("1000", "p5", t0.Add(4*time.Minute))); err != nil {
		t.Fatal(err)
	}
	recs, err := s.ListCallRecords(ctx, "1000", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := participants(recs); got != "p5 p4 p2 p0" {
		t.Fatalf("records of 1000: %s, want p5 p4 p2 p0", got)
	}
	equalRecord(t, recs[3], first)
	equalRecord(t, recs[1], batch[3])
	seen := map[int64]bool{}
	for _, r := range recs {
		if seen[r.ID] {
			t.Fatalf("duplicate call record ID %d", r.ID)
		}
		seen[r.ID] = true
	}
	all, err := s.ListCallRecords(ctx, "", 3)
	if err != nil || participants(all) != "p5 p4 p3" {
		t.Fatalf("newest 3 of all: %s, %v", participants(all), err)
	}
	if none, err := s.ListCallRecords(ctx, "3000", 0); err != nil || none == nil || len(none) != 0 {
		t.Fatalf("records of a conference without calls: %+v, %v", none, err)
	}

	// The default limit is 100; a conference's history outlives it.
	if err := s.CreateConference(ctx, plainConference("7")); err != nil {
		t.Fatal(err)
	}
	many := make([]conf.CallRecord, 105)
	for i := range many {
		many[i] = record("7", fmt.Sprint("m", i), t0.Add(time.Duration(i)*time.Second))
	}
	if err := s.RecordCalls(ctx, many); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteConference(ctx, "7"); err != nil {
		t.Fatal(err)
	}
	recs, err = s.ListCallRecords(ctx, "7", 0)
	if err != nil || len(recs) != 100 || recs[0].Participant != "m104" || recs[99].Participant != "m5" {
		t.Fatalf("default limit: %d records (%v), first %q", len(recs), err, participants(recs[:min(1, len(recs))]))
	}
	if recs, err := s.ListCallRecords(ctx, "7", 1000); err != nil || len(recs) != 105 {
		t.Fatalf("limit 1000: %d records, %v", len(recs), err)
	}
}

// testHostileText stores what the network may send (NUL characters,
// invalid UTF-8): a store may replace what it cannot keep, but must not
// refuse the write, lose the rest of a batch, or answer a lookup of such
// an ID with anything but "not found".
func testHostileText(t *testing.T, open func(*testing.T) Store) {
	ctx := t.Context()
	s := open(t)
	batch := []conf.CallRecord{record("1000", "p1", t0), record("1000", "p2", t0.Add(time.Second)), record("1000", "p3", t0.Add(2*time.Second))}
	batch[1].DisplayName, batch[1].Remote, batch[1].Cause = "bad\x00name\xff", "\xfe\xff:5060", "BYE \x00"
	if err := s.RecordCalls(ctx, batch); err != nil {
		t.Fatalf("a batch with a hostile display name was refused: %v", err)
	}
	if err := s.RecordCall(ctx, record("1000", "p4\x00", t0.Add(3*time.Second))); err != nil {
		t.Fatalf("a hostile participant ID was refused: %v", err)
	}
	recs, err := s.ListCallRecords(ctx, "1000", 0)
	if err != nil || len(recs) != 4 {
		t.Fatalf("records: %d, %v; want 4", len(recs), err)
	}
	if got := recs[2]; !strings.HasPrefix(got.DisplayName, "bad") || got.Participant != "p2" {
		t.Fatalf("hostile record read back as %+v", got)
	}
	equalRecord(t, recs[1], batch[2])

	for name, err := range map[string]error{
		"GetConference": func() error { _, err := s.GetConference(ctx, "\xff\x00"); return err }(),
		"GetUser":       func() error { _, err := s.GetUser(ctx, "a\x00\xc3"); return err }(),
		"GetToken":      func() error { _, err := s.GetToken(ctx, "\x00"); return err }(),
		"GetGroup":      func() error { _, err := s.GetGroup(ctx, "\xc3("); return err }(),
		"GetTemplate":   func() error { _, err := s.GetTemplate(ctx, "\xed\xa0\x80"); return err }(),
		"GetLayout":     func() error { _, err := s.GetLayout(ctx, "\x00"); return err }(),
		"DeleteUser":    s.DeleteUser(ctx, "\xff"),
	} {
		if !errors.Is(err, conf.ErrNotFound) {
			t.Errorf("%s of a hostile ID: %v, want ErrNotFound", name, err)
		}
	}
	if b, err := s.IsBanned(ctx, "\xff", "guest:\x00"); err != nil || b {
		t.Errorf("IsBanned of hostile text: %v, %v", b, err)
	}
	// Settings kept as JSON may hold a NUL (conf refuses control
	// characters in names, not in every field).
	c := plainConference("1000")
	c.Invitations = []conf.Invitation{{Target: "sip:a\x00b@example.com"}, {Target: `sip:\u0000@example.com`}}
	if err := s.CreateConference(ctx, c); err != nil {
		t.Fatalf("conference with a NUL in an invitation: %v", err)
	}
	got, err := s.GetConference(ctx, "1000")
	if err != nil || len(got.Invitations) != 2 || !strings.HasPrefix(got.Invitations[0].Target, "sip:a") ||
		got.Invitations[1].Target != `sip:\u0000@example.com` {
		t.Fatalf("conference with a NUL read back as %+v, %v", got.Invitations, err)
	}
}

// testReopen writes one of everything, closes the store and opens the
// database again, as a restart does.
func testReopen(t *testing.T, open func(*testing.T) Store) {
	ctx := t.Context()
	s := open(t)
	c := fullConference("4242")
	if err := s.CreateConference(ctx, c); err != nil {
		t.Fatal(err)
	}
	mustCreateUsers(t, s, "alice", "bob")
	tok := conf.Token{Hash: "tokenhash", UserID: "alice", Expires: t0.Add(time.Hour)}
	if err := s.SaveToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	g := conf.Group{ID: "team", Name: "Team", Members: []string{"bob", "alice"}, CreatedAt: t0}
	if err := s.CreateGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	if err := s.AddBan(ctx, "4242", "guest:192.0.2.1", t0); err != nil {
		t.Fatal(err)
	}
	l := fullLayout()
	if err := s.SetLayout(ctx, "4242", l); err != nil {
		t.Fatal(err)
	}
	tpl := conf.Template{ID: "t1", Name: "T", Owner: "bob", Settings: plainConference(""), Layout: &l, CreatedAt: t0}
	if err := s.CreateTemplate(ctx, tpl); err != nil {
		t.Fatal(err)
	}
	rec := record("4242", "p1", t0)
	if err := s.RecordCall(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	s = open(t)
	got, err := s.GetConference(ctx, "4242")
	if err != nil {
		t.Fatal(err)
	}
	equalConference(t, got, c)
	if u, err := s.GetUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	} else {
		equalUser(t, u, user("alice", conf.UserRoleUser))
	}
	if got, err := s.GetToken(ctx, "tokenhash"); err != nil || got.UserID != "alice" || !got.Expires.Equal(tok.Expires) {
		t.Fatalf("token after reopen: %+v, %v", got, err)
	}
	if got, err := s.GetGroup(ctx, "team"); err != nil {
		t.Fatal(err)
	} else {
		equalGroup(t, got, g)
	}
	if b, err := s.IsBanned(ctx, "4242", "guest:192.0.2.1"); err != nil || !b {
		t.Fatalf("ban after reopen: %v, %v", b, err)
	}
	if got, err := s.GetLayout(ctx, "4242"); err != nil || !reflect.DeepEqual(got, l) {
		t.Fatalf("layout after reopen: %+v, %v", got, err)
	}
	if got, err := s.GetTemplate(ctx, "t1"); err != nil {
		t.Fatal(err)
	} else {
		equalTemplate(t, got, tpl)
	}
	recs, err := s.ListCallRecords(ctx, "4242", 0)
	if err != nil || len(recs) != 1 {
		t.Fatalf("call records after reopen: %+v, %v", recs, err)
	}
	equalRecord(t, recs[0], rec)
	// The reopened store writes too.
	if err := s.CreateConference(ctx, plainConference("4243")); err != nil {
		t.Fatalf("writing after reopen: %v", err)
	}
}

// testConcurrent writes from several goroutines at once, as the API, the
// call record writer and joins do.
func testConcurrent(t *testing.T, open func(*testing.T) Store) {
	ctx := t.Context()
	s := open(t)
	const workers, each = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				id := fmt.Sprintf("%d%03d", w+1, i)
				if err := s.CreateConference(ctx, plainConference(id)); err != nil {
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
				if err := s.RecordCall(ctx, record(id, "p", t0)); err != nil {
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
	list, err := s.ListConferences(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := workers * (each - each/5); len(list) != want {
		t.Fatalf("%d conferences, want %d", len(list), want)
	}
	if recs, err := s.ListCallRecords(ctx, "", 1000); err != nil || len(recs) != workers*each {
		t.Fatalf("%d call records (%v), want %d", len(recs), err, workers*each)
	}
}
