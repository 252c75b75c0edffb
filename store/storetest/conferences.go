package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/roomgate/roomgate/conf"
)

// t0 has microsecond precision, what the stores keep.
var t0 = time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC)

// fullConference sets every field of a conference (checked by
// testConferenceRoundTrip), so that a field added to conf.Conference that a
// store loses fails the suite.
func fullConference(id string) conf.Conference {
	return conf.Conference{
		ID: id, Name: "Board room " + id, Owner: "alice", Description: "weekly sync\nsecond line",
		Access: conf.AccessPublic, Mode: conf.ModeRoleBased, PodiumSeats: 6,
		PIN: "1234", ModeratorPIN: "987654", MaxParticipants: 20,
		WaitingRoom: true, JoinWithoutInvitation: true, RecordingAllowed: true, Locked: true,
		Schedule: conf.Schedule{Type: conf.ScheduleWeekly, Start: t0.Add(24 * time.Hour),
			DurationMinutes: 45, Days: []string{"mon", "thu"}, TimeZone: "Europe/Berlin"},
		Invitations:           []conf.Invitation{{Target: "sip:bob@example.com", Moderator: true}, {Target: "carol"}},
		State:                 conf.StateRunning, // never stored: read back as ""
		GuestRights:           &conf.GuestRights{Speak: true, Video: false, Chat: true, ShareContent: false, Record: true},
		MuteMicrophonesOnJoin: true, MuteCamerasOnJoin: true, MuteCameraAudio: true,
		KeyMap: "mute=*1, count=", Tones: "off", DTMFPassthrough: true, AdmitWithoutConfirmation: true,
		CreatedAt: t0, UpdatedAt: t0.Add(time.Second),
	}
}

// plainConference is a conference with only what conf requires.
func plainConference(id string) conf.Conference {
	return conf.Conference{ID: id, Name: "Room " + id, Access: conf.AccessInternal, Mode: conf.ModeSymmetric,
		Schedule: conf.Schedule{Type: conf.ScheduleNone}, Invitations: []conf.Invitation{}, CreatedAt: t0, UpdatedAt: t0}
}

// equalConference fails t unless got is want as a store returns it: State
// empty, times equal (whatever their zone).
func equalConference(t *testing.T, got, want conf.Conference) {
	t.Helper()
	want.State = ""
	if !got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) ||
		!got.Schedule.Start.Equal(want.Schedule.Start) {
		t.Fatalf("conference %s times differ:\n got %v %v %v\nwant %v %v %v", want.ID,
			got.CreatedAt, got.UpdatedAt, got.Schedule.Start, want.CreatedAt, want.UpdatedAt, want.Schedule.Start)
	}
	if got.CreatedAt.Location() != time.UTC || got.UpdatedAt.Location() != time.UTC {
		t.Errorf("conference %s times are not in UTC: %v %v", want.ID, got.CreatedAt, got.UpdatedAt)
	}
	got.CreatedAt, got.UpdatedAt, got.Schedule.Start = want.CreatedAt, want.UpdatedAt, want.Schedule.Start
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("conference %s differs:\n got %+v\nwant %+v", want.ID, got, want)
	}
}

func ids(cs []conf.Conference) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

func testConferenceRoundTrip(t *testing.T, open func(*testing.T) Store) {
	ctx := t.Context()
	s := open(t)
	c := fullConference("1000")
	v := reflect.ValueOf(c)
	for i := range v.NumField() {
		if f := v.Type().Field(i); v.Field(i).IsZero() {
			t.Fatalf("fullConference leaves %s zero: set it so that the suite checks it round-trips", f.Name)
		}
	}
	if err := s.CreateConference(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetConference(ctx, "1000")
	if err != nil {
		t.Fatal(err)
	}
	equalConference(t, got, c)

	// Every field changes, including back to zero values.
	u := plainConference("1000")
	u.Name, u.Owner, u.Description = "Renamed", "bob", ""
	u.MaxParticipants, u.Locked, u.GuestRights = 3, false, nil
	u.Schedule = conf.Schedule{Type: conf.ScheduleOnce, Start: t0.Add(-time.Hour), DurationMinutes: 30}
	u.Invitations = []conf.Invitation{{Target: "h323:room@192.0.2.7"}}
	u.CreatedAt, u.UpdatedAt = t0, t0.Add(time.Hour)
	if err := s.UpdateConference(ctx, u); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetConference(ctx, "1000")
	if err != nil {
		t.Fatal(err)
	}
	equalConference(t, got, u)

	// Times in another zone are the same instants.
	z := plainConference("1001")
	zone := time.FixedZone("UTC+3", 3*3600)
	z.CreatedAt, z.UpdatedAt = t0.In(zone), t0.Add(time.Minute).In(zone)
	if err := s.CreateConference(ctx, z); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetConference(ctx, "1001")
	if err != nil {
		t.Fatal(err)
	}
	equalConference(t, got, z)

	// A nil invitation list reads back as empty, not null.
	n := plainConference("1002")
	n.Invitations = nil
	if err := s.CreateConference(ctx, n); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetConference(ctx, "1002"); err != nil || got.Invitations == nil {
		t.Fatalf("conference with nil invitations: %+v, %v", got.Invitations, err)
	}
}

func testConferenceErrors(t *testing.T, open func(*testing.T) Store) {
	ctx := t.Context()
	s := open(t)
	if _, err := s.GetConference(ctx, "1000"); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("Get of a missing conference: %v, want ErrNotFound", err)
	}
	c := fullConference("1000")
	if err := s.CreateConference(ctx, c); err != nil {
		t.Fatal(err)
	}
	dup := plainConference("1000")
	if err := s.CreateConference(ctx, dup); !errors.Is(err, conf.ErrExists) {
		t.Fatalf("second Create: %v, want ErrExists", err)
	}
	if got, err := s.GetConference(ctx, "1000"); err != nil || got.Name != c.Name {
		t.Fatalf("a refused Create changed the conference: %+v, %v", got, err)
	}
	if err := s.UpdateConference(ctx, plainConference("2000")); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("Update of a missing conference: %v, want ErrNotFound", err)
	}
	if _, err := s.GetConference(ctx, "2000"); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("Update of a missing conference created it: %v", err)
	}
	if err := s.DeleteConference(ctx, "1000"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteConference(ctx, "1000"); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("second Delete: %v, want ErrNotFound", err)
	}
	if _, err := s.GetConference(ctx, "1000"); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
	}
	// The ID is free again.
	if err := s.CreateConference(ctx, dup); err != nil {
		t.Fatalf("re-creating a deleted conference: %v", err)
	}
}

// testConferenceOrdering checks the order of ListConferences: by length,
// then bytewise, so numeric IDs sort numerically and the order does not
// depend on the database's locale.
func testConferenceOrdering(t *testing.T, open func(*testing.T) Store) {
	ctx := t.Context()
	s := open(t)
	for _, id := range []string{"20", "3", "100", "1001", "b", "B", "abc", "1000", "a-1", "A_1", "ä", "9"} {
		if err := s.CreateConference(ctx, plainConference(id)); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.ListConferences(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"3", "9", "B", "b", "ä", "20", "100", "A_1", "a-1", "abc", "1000", "1001"}
	if got := ids(list); !slices.Equal(got, want) {
		t.Fatalf("ListConferences order\n got %q\nwant %q", got, want)
	}
	for _, c := range list {
		if c.Name != "Room "+c.ID {
			t.Fatalf("listed conference %s has name %q", c.ID, c.Name)
		}
	}
}

func testScheduledConferences(t *testing.T, open func(*testing.T) Store) {
	ctx := t.Context()
	s := open(t)
	for i, typ := range []string{conf.ScheduleNone, conf.ScheduleOnce, conf.ScheduleWeekly, conf.ScheduleNone, conf.ScheduleOnce} {
		c := plainConference(fmt.Sprint(50 - i*10))
		c.Schedule = conf.Schedule{Type: typ}
		if typ != conf.ScheduleNone {
			c.Schedule.Start, c.Schedule.DurationMinutes = t0.Add(time.Duration(i)*time.Hour), 60
		}
		if err := s.CreateConference(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.ListScheduledConferences(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(list), []string{"10", "30", "40"}; !slices.Equal(got, want) {
		t.Fatalf("ListScheduledConferences = %q, want %q", got, want)
	}
	if !list[0].Schedule.Start.Equal(t0.Add(4*time.Hour)) || list[0].Schedule.Type != conf.ScheduleOnce {
		t.Fatalf("scheduled conference read back as %+v", list[0].Schedule)
	}
	// A conference that loses its schedule leaves the list.
	c, err := s.GetConference(ctx, "40")
	if err != nil {
		t.Fatal(err)
	}
	c.Schedule = conf.Schedule{Type: conf.ScheduleNone}
	if err := s.UpdateConference(ctx, c); err != nil {
		t.Fatal(err)
	}
	if list, err := s.ListScheduledConferences(ctx); err != nil || !slices.Equal(ids(list), []string{"10", "30"}) {
		t.Fatalf("after unscheduling 40: %q, %v", ids(list), err)
	}
}

// testEmptyLists checks that every list of an empty store is empty but
// not nil, so the API encodes [] rather than null.
func testEmptyLists(t *testing.T, open func(*testing.T) Store) {
	ctx := t.Context()
	s := open(t)
	check := func(name string, isNil bool, n int, err error) {
		t.Helper()
		if err != nil || isNil || n != 0 {
			t.Errorf("%s of an empty store: nil=%v len=%d err=%v, want an empty slice", name, isNil, n, err)
		}
	}
	cs, err := s.ListConferences(ctx)
	check("ListConferences", cs == nil, len(cs), err)
	cs, err = s.ListScheduledConferences(ctx)
	check("ListScheduledConferences", cs == nil, len(cs), err)
	us, err := s.ListUsers(ctx)
	check("ListUsers", us == nil, len(us), err)
	gs, err := s.ListGroups(ctx)
	check("ListGroups", gs == nil, len(gs), err)
	ts, err := s.ListTemplates(ctx)
	check("ListTemplates", ts == nil, len(ts), err)
	rs, err := s.ListCallRecords(ctx, "", 0)
	check("ListCallRecords", rs == nil, len(rs), err)
	if err := s.RecordCalls(ctx, nil); err != nil {
		t.Errorf("RecordCalls of nothing: %v", err)
	}
	if err := s.LiftBans(ctx, "1000", nil); err != nil {
		t.Errorf("LiftBans of nothing: %v", err)
	}
	if err := s.DeleteExpiredTokens(ctx, t0); err != nil {
		t.Errorf("DeleteExpiredTokens of nothing: %v", err)
	}
}
