package conf_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/conf"
)

func TestCreateConference(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	c, err := e.svc.CreateConference(ctx, conf.Conference{ID: "1000", Name: "Board room"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Access != conf.AccessPublic || c.Mode != conf.ModeSymmetric || c.State != conf.StateIdle ||
		!c.CreatedAt.Equal(start) || !c.UpdatedAt.Equal(start) {
		t.Fatalf("created %+v", c)
	}
	if _, err := e.svc.CreateConference(ctx, conf.Conference{ID: "1000", Name: "Again"}); !errors.Is(err, conf.ErrExists) {
		t.Fatalf("duplicate: %v, want ErrExists", err)
	}
	if _, err := e.svc.CreateConference(ctx, conf.Conference{ID: "1000"}); !errors.Is(err, conf.ErrInvalid) {
		t.Fatalf("no name: %v, want ErrInvalid", err)
	}
	got, err := e.svc.GetConference(ctx, "1000")
	if err != nil || got.Name != "Board room" || got.State != conf.StateIdle {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	for _, id := range []string{"999", "", "abc", "1000/../1"} {
		if _, err := e.svc.GetConference(ctx, id); !errors.Is(err, conf.ErrNotFound) {
			t.Errorf("Get(%q): %v, want ErrNotFound", id, err)
		}
	}
}

func TestGeneratedIDs(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	idShape := regexp.MustCompile(`^[1-9][0-9]{5}$`)
	seen := map[string]bool{}
	for range 20 {
		c, err := e.svc.CreateConference(ctx, conf.Conference{Name: "Generated"})
		if err != nil {
			t.Fatal(err)
		}
		if !idShape.MatchString(c.ID) || seen[c.ID] {
			t.Fatalf("generated ID %q (seen before: %v)", c.ID, seen[c.ID])
		}
		seen[c.ID] = true
	}

	// A random source that always gives the same digits forces collisions:
	// the service must retry and then use longer IDs.
	zero := conf.NewService(e.store, nil, conf.WithRandom(bytes.NewReader(make([]byte, 1<<16))))
	first, err := zero.CreateConference(ctx, conf.Conference{Name: "a"})
	if err != nil || first.ID != "100000" {
		t.Fatalf("first = %q, %v", first.ID, err)
	}
	second, err := zero.CreateConference(ctx, conf.Conference{Name: "b"})
	if err != nil || second.ID != "1000000" {
		t.Fatalf("second after collisions = %q, %v", second.ID, err)
	}
}

func TestUpdateConference(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	if _, err := e.svc.CreateConference(ctx, conf.Conference{ID: "1000", Name: "Board",
		Schedule: conf.Schedule{Type: "once", Start: start.Add(time.Hour), DurationMinutes: 30}}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(3 * time.Hour) // the one-off conference is over now
	got, _ := e.svc.GetConference(ctx, "1000")
	got.Name = "Renamed"
	up, err := e.svc.UpdateConference(ctx, got)
	if err != nil {
		t.Fatalf("renaming a past conference must work when its schedule is unchanged: %v", err)
	}
	if up.Name != "Renamed" || !up.CreatedAt.Equal(start) || !up.UpdatedAt.Equal(start.Add(3*time.Hour)) {
		t.Fatalf("updated %+v", up)
	}
	got.Schedule.DurationMinutes = 45
	if _, err := e.svc.UpdateConference(ctx, got); !errors.Is(err, conf.ErrInvalid) {
		t.Fatalf("moving the schedule into the past: %v, want ErrInvalid", err)
	}
	if _, err := e.svc.UpdateConference(ctx, conf.Conference{ID: "2000", Name: "x"}); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("update of missing: %v", err)
	}
	if _, err := e.svc.UpdateConference(ctx, conf.Conference{Name: "x"}); !errors.Is(err, conf.ErrInvalid) {
		t.Fatalf("update without ID: %v", err)
	}
}

func TestJoinRules(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	mk := func(c conf.Conference) {
		t.Helper()
		if _, err := e.svc.CreateConference(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	mk(conf.Conference{ID: "1", Name: "two seats", MaxParticipants: 2})
	mk(conf.Conference{ID: "2", Name: "locked", Locked: true})
	mk(conf.Conference{ID: "3", Name: "internal", Access: conf.AccessInternal, JoinWithoutInvitation: true})
	mk(conf.Conference{ID: "4", Name: "invited only", Access: conf.AccessInternal})

	join := func(id string, leg conf.LegHandle) (*conf.Participant, error) {
		return e.svc.Join(ctx, conf.JoinRequest{ConferenceID: id, DisplayName: "Alice", Protocol: "sip",
			Remote: "127.0.0.1:5062", Leg: leg})
	}
	if _, err := join("404", &fakeLeg{}); !errors.Is(err, conf.ErrNotFound) {
		t.Errorf("unknown conference: %v", err)
	}
	if _, err := join("not-digits", &fakeLeg{}); !errors.Is(err, conf.ErrNotFound) {
		t.Errorf("malformed ID: %v", err)
	}
	if _, err := join("1", nil); !errors.Is(err, conf.ErrInvalid) {
		t.Errorf("nil leg: %v", err)
	}
	if _, err := join("2", &fakeLeg{}); !errors.Is(err, conf.ErrLocked) {
		t.Errorf("locked: %v", err)
	}
	if _, err := join("3", &fakeLeg{}); !errors.Is(err, conf.ErrUnauthorized) {
		t.Errorf("guest into internal: %v", err)
	}
	if _, err := join("4", &userLeg{user: "bob"}); !errors.Is(err, conf.ErrForbidden) || !errors.Is(err, conf.ErrUnauthorized) {
		t.Errorf("uninvited user into internal: %v", err)
	}
	member, err := join("3", &userLeg{user: "bob"})
	if err != nil || member.Role() != conf.RoleParticipant || member.UserID() != "bob" {
		t.Fatalf("user into internal: %v, %v", member, err)
	}

	a, err := join("1", &fakeLeg{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Role() != conf.RoleGuest || a.ConferenceID() != "1" || a.DisplayName() != "Alice" ||
		a.Protocol() != "sip" || a.Remote() != "127.0.0.1:5062" || !a.JoinedAt().Equal(start) ||
		!regexp.MustCompile(`^[0-9a-f]{8}$`).MatchString(a.ID()) {
		t.Fatalf("participant %+v", a)
	}
	b, err := join("1", &fakeLeg{})
	if err != nil || b.ID() == a.ID() {
		t.Fatalf("second: %v (ids %s %s)", err, a.ID(), b.ID())
	}
	if _, err := join("1", &fakeLeg{}); !errors.Is(err, conf.ErrFull) {
		t.Fatalf("third into two seats: %v, want ErrFull", err)
	}
	if c, _ := e.svc.GetConference(ctx, "1"); c.State != conf.StateRunning {
		t.Fatalf("state with legs = %q", c.State)
	}
	e.svc.Leave(a, nil)
	e.svc.Leave(a, nil) // idempotent
	if n := e.svc.LiveCount("1"); n != 1 {
		t.Fatalf("live after leave = %d", n)
	}
	if _, err := join("1", &fakeLeg{}); err != nil {
		t.Fatalf("a seat was freed: %v", err)
	}

	// Locking through an update stops new joins at once.
	c, _ := e.svc.GetConference(ctx, "1")
	c.Locked, c.MaxParticipants = true, 0
	if _, err := e.svc.UpdateConference(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := join("1", &fakeLeg{}); !errors.Is(err, conf.ErrLocked) {
		t.Fatalf("after lock: %v", err)
	}

	recs := e.records(t, "1")
	if len(recs) != 1 {
		t.Fatalf("call records %+v (want exactly one after a double Leave)", recs)
	}
	if r := recs[0]; r.Participant != a.ID() || r.Cause != "normal" || r.Protocol != "sip" || r.DisplayName != "Alice" {
		t.Fatalf("record %+v", r)
	}
}

func TestParticipantsAndDelete(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	if _, err := e.svc.CreateConference(ctx, conf.Conference{ID: "1000", Name: "Board"}); err != nil {
		t.Fatal(err)
	}
	if ps, err := e.svc.Participants(ctx, "1000"); err != nil || len(ps) != 0 {
		t.Fatalf("empty conference: %v, %v", ps, err)
	}
	if _, err := e.svc.Participants(ctx, "2000"); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("participants of missing: %v", err)
	}
	legs := []*fakeLeg{
		{stats: bridge.LegStats{Codec: "PCMU", Remote: netip.MustParseAddrPort("127.0.0.1:40000"),
			PacketsIn: 10, PacketsOut: 12, Lost: 1, JitterMs: 2.5, Talking: true}},
		{stats: bridge.LegStats{Codec: "opus"}},
	}
	var ps []*conf.Participant
	for i, l := range legs {
		p, err := e.svc.Join(ctx, conf.JoinRequest{ConferenceID: "1000", DisplayName: fmt.Sprint("leg", i),
			Protocol: "sip", Remote: "127.0.0.1:5060", Leg: l})
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
		e.clock.Advance(time.Second)
	}
	info, err := e.svc.Participants(ctx, "1000")
	if err != nil || len(info) != 2 {
		t.Fatalf("participants %+v, %v", info, err)
	}
	want := conf.ParticipantInfo{ID: ps[0].ID(), DisplayName: "leg0", Protocol: "sip", Role: "guest", Talking: true,
		Codec: "PCMU", Remote: "127.0.0.1:40000", JoinedAt: start,
		Stats: conf.LegStats{PacketsIn: 10, PacketsOut: 12, Lost: 1, JitterMs: 2.5}}
	if info[0] != want {
		t.Fatalf("info[0] = %+v\nwant %+v", info[0], want)
	}
	if info[1].Remote != "127.0.0.1:5060" || info[1].Codec != "opus" || info[1].DisplayName != "leg1" {
		t.Fatalf("info[1] = %+v (signalling address when media has none)", info[1])
	}

	if err := e.svc.DeleteConference(ctx, "1000"); err != nil {
		t.Fatal(err)
	}
	for i, l := range legs {
		if h := l.hangups(); len(h) != 1 || !errors.Is(h[0], conf.ErrConferenceDeleted) {
			t.Fatalf("leg %d hang-ups %v", i, h)
		}
	}
	e.svc.Leave(ps[0], errors.New("BYE")) // the signalling side reports the hang-up: nothing more happens
	recs := e.records(t, "1000")
	if len(recs) != 2 {
		t.Fatalf("records %+v", recs)
	}
	for _, r := range recs {
		if r.Cause != conf.ErrConferenceDeleted.Error() {
			t.Fatalf("record cause %q", r.Cause)
		}
	}
	if err := e.svc.DeleteConference(ctx, "1000"); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	// The ID can be used again, and starts empty.
	if _, err := e.svc.CreateConference(ctx, conf.Conference{ID: "1000", Name: "New"}); err != nil {
		t.Fatal(err)
	}
	if n := e.svc.LiveCount("1000"); n != 0 {
		t.Fatalf("recreated conference has %d legs", n)
	}
}

// TestConcurrentJoinDelete races joins and leaves against deletion and
// re-creation: no leg may stay in a conference that was deleted after it
// joined without being hung up.
func TestConcurrentJoinDelete(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	if _, err := e.svc.CreateConference(ctx, conf.Conference{ID: "7", Name: "busy"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	type joinedLeg struct {
		leg  *fakeLeg
		left bool
	}
	var joined []joinedLeg
	for w := range 8 {
		wg.Go(func() {
			for i := range 30 {
				l := &fakeLeg{}
				p, err := e.svc.Join(ctx, conf.JoinRequest{ConferenceID: "7", Protocol: "sip", Leg: l})
				if errors.Is(err, conf.ErrNotFound) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				left := (w+i)%3 == 0
				if left {
					e.svc.Leave(p, nil)
				}
				mu.Lock()
				joined = append(joined, joinedLeg{l, left})
				mu.Unlock()
			}
		})
	}
	wg.Go(func() {
		for range 5 {
			if err := e.svc.DeleteConference(ctx, "7"); err != nil && !errors.Is(err, conf.ErrNotFound) {
				t.Error(err)
			}
			if _, err := e.svc.CreateConference(ctx, conf.Conference{ID: "7", Name: "busy"}); err != nil {
				t.Error(err)
			}
			if _, err := e.svc.Participants(ctx, "7"); err != nil && !errors.Is(err, conf.ErrNotFound) {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	if err := e.svc.DeleteConference(ctx, "7"); err != nil {
		t.Fatal(err)
	}
	if n := e.svc.LiveCount("7"); n != 0 {
		t.Fatalf("%d legs left in a deleted conference", n)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, j := range joined {
		n := len(j.leg.hangups())
		if j.left && n > 1 || !j.left && n != 1 {
			t.Fatalf("a leg (left: %v) was hung up %d times", j.left, n)
		}
	}
}

func TestListConferencesState(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	if list, err := e.svc.ListConferences(ctx); err != nil || list == nil || len(list) != 0 {
		t.Fatalf("empty list: %#v, %v", list, err)
	}
	for _, id := range []string{"1", "2"} {
		if _, err := e.svc.CreateConference(ctx, conf.Conference{ID: id, Name: "c" + id}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.svc.Join(ctx, conf.JoinRequest{ConferenceID: "2", Leg: &fakeLeg{}}); err != nil {
		t.Fatal(err)
	}
	list, err := e.svc.ListConferences(ctx)
	if err != nil || len(list) != 2 || list[0].State != conf.StateIdle || list[1].State != conf.StateRunning {
		t.Fatalf("list %+v, %v", list, err)
	}
}

// BenchmarkJoinLeave measures admitting and removing one leg with a real
// SQLite store (one indexed read per join, one call record per leave).
func BenchmarkJoinLeave(b *testing.B) {
	e := newEnv(b)
	ctx := b.Context()
	if _, err := e.svc.CreateConference(ctx, conf.Conference{ID: "1000", Name: "bench"}); err != nil {
		b.Fatal(err)
	}
	leg := &fakeLeg{}
	b.ReportAllocs()
	for b.Loop() {
		p, err := e.svc.Join(ctx, conf.JoinRequest{ConferenceID: "1000", Protocol: "sip", Leg: leg})
		if err != nil {
			b.Fatal(err)
		}
		e.svc.Leave(p, nil)
	}
}

// BenchmarkJoinCrowded measures a join into a conference that already has
// 2000 live legs, the load test's end state.
func BenchmarkJoinCrowded(b *testing.B) {
	e := newEnv(b)
	ctx := b.Context()
	if _, err := e.svc.CreateConference(ctx, conf.Conference{ID: "1000", Name: "bench"}); err != nil {
		b.Fatal(err)
	}
	leg := &fakeLeg{}
	for range 2000 {
		if _, err := e.svc.Join(ctx, conf.JoinRequest{ConferenceID: "1000", Leg: leg}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.svc.Join(ctx, conf.JoinRequest{ConferenceID: "1000", Leg: leg}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCallRecordsQueued checks the call record writer: many hang-ups at
// once are all written, in batches, and Close waits for them.
func TestCallRecordsQueued(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	if _, err := e.svc.CreateConference(ctx, conf.Conference{ID: "9", Name: "many"}); err != nil {
		t.Fatal(err)
	}
	const n = 1200
	var wg sync.WaitGroup
	for i := range n {
		p, err := e.svc.Join(ctx, conf.JoinRequest{ConferenceID: "9", DisplayName: fmt.Sprint(i), Leg: &fakeLeg{}})
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			wg.Go(func() { e.svc.Leave(p, errors.New("BYE")) })
		}
	}
	wg.Wait()
	if err := e.svc.DeleteConference(ctx, "9"); err != nil { // the other half, in one go
		t.Fatal(err)
	}
	if err := e.svc.Close(ctx); err != nil {
		t.Fatal(err)
	}
	recs, err := e.store.ListCallRecords(ctx, "9", 10*n)
	if err != nil {
		t.Fatal(err)
	}
	causes := map[string]int{}
	for _, r := range recs {
		causes[r.Cause]++
	}
	if len(recs) != n || causes["BYE"] != n/2 || causes[conf.ErrConferenceDeleted.Error()] != n/2 {
		t.Fatalf("%d records, causes %v", len(recs), causes)
	}
}
