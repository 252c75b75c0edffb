package conf_test

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/roomgate/roomgate/conf"
)

func TestValidateDefaults(t *testing.T) {
	c := conf.Conference{Name: "  Board room  "}
	if err := conf.ValidateConference(&c, start); err != nil {
		t.Fatal(err)
	}
	if c.Name != "Board room" || c.Access != conf.AccessPublic || c.Mode != conf.ModeSymmetric ||
		c.Schedule.Type != conf.ScheduleNone || c.Invitations == nil || c.MaxParticipants != 0 {
		t.Fatalf("defaults not filled: %+v", c)
	}
	rb := conf.Conference{Name: "x", Mode: conf.ModeRoleBased}
	if err := conf.ValidateConference(&rb, start); err != nil || rb.PodiumSeats != conf.DefaultPodiumSeats {
		t.Fatalf("role-based default seats: %d, %v", rb.PodiumSeats, err)
	}
	w := conf.Conference{Name: "x", Schedule: conf.Schedule{Type: "weekly", Start: start, DurationMinutes: 60,
		Days: []string{"FRI", " mon ", "wed"}, TimeZone: "America/New_York"}}
	if err := conf.ValidateConference(&w, start); err != nil {
		t.Fatal(err)
	}
	if strings.Join(w.Schedule.Days, ",") != "mon,wed,fri" {
		t.Fatalf("days not normalised: %v", w.Schedule.Days)
	}
}

func TestValidateErrors(t *testing.T) {
	long := strings.Repeat("x", 200)
	future := start.Add(time.Hour)
	cases := []struct {
		name  string
		c     conf.Conference
		field string
	}{
		{"id letters", conf.Conference{ID: "12a", Name: "x"}, "id"},
		{"id too long", conf.Conference{ID: strings.Repeat("1", 33), Name: "x"}, "id"},
		{"no name", conf.Conference{Name: "   "}, "name"},
		{"long name", conf.Conference{Name: long}, "name"},
		{"control in name", conf.Conference{Name: "a\x07b"}, "name"},
		{"bad utf8", conf.Conference{Name: "a\xffb"}, "name"},
		{"access", conf.Conference{Name: "x", Access: "private"}, "access"},
		{"mode", conf.Conference{Name: "x", Mode: "lecture"}, "mode"},
		{"podium without role-based", conf.Conference{Name: "x", PodiumSeats: 2}, "podium_seats"},
		{"podium negative", conf.Conference{Name: "x", Mode: conf.ModeRoleBased, PodiumSeats: -1}, "podium_seats"},
		{"podium too many", conf.Conference{Name: "x", Mode: conf.ModeRoleBased, PodiumSeats: 37}, "podium_seats"},
		{"pin short", conf.Conference{Name: "x", PIN: "123"}, "pin"},
		{"pin long", conf.Conference{Name: "x", PIN: strings.Repeat("1", 17)}, "pin"},
		{"pin letters", conf.Conference{Name: "x", PIN: "12ab"}, "pin"},
		{"moderator pin", conf.Conference{Name: "x", ModeratorPIN: "12*4"}, "moderator_pin"},
		{"same pins", conf.Conference{Name: "x", PIN: "1234", ModeratorPIN: "1234"}, "moderator_pin"},
		{"max negative", conf.Conference{Name: "x", MaxParticipants: -1}, "max_participants"},
		{"max huge", conf.Conference{Name: "x", MaxParticipants: 1 << 30}, "max_participants"},
		{"schedule type", conf.Conference{Name: "x", Schedule: conf.Schedule{Type: "daily"}}, "schedule.type"},
		{"none with start", conf.Conference{Name: "x", Schedule: conf.Schedule{Start: future}}, "schedule.start"},
		{"none with days", conf.Conference{Name: "x", Schedule: conf.Schedule{Days: []string{"mon"}}}, "schedule.days"},
		{"none with duration", conf.Conference{Name: "x", Schedule: conf.Schedule{DurationMinutes: 5}}, "schedule.duration_minutes"},
		{"once without start", conf.Conference{Name: "x", Schedule: conf.Schedule{Type: "once", DurationMinutes: 5}}, "schedule.start"},
		{"once without duration", conf.Conference{Name: "x", Schedule: conf.Schedule{Type: "once", Start: future}}, "schedule.duration_minutes"},
		{"once too long", conf.Conference{Name: "x", Schedule: conf.Schedule{Type: "once", Start: future, DurationMinutes: 7*24*60 + 1}}, "schedule.duration_minutes"},
		{"once with days", conf.Conference{Name: "x", Schedule: conf.Schedule{Type: "once", Start: future, DurationMinutes: 5, Days: []string{"mon"}}}, "schedule.days"},
		{"once in the past", conf.Conference{Name: "x", Schedule: conf.Schedule{Type: "once", Start: start.Add(-2 * time.Hour), DurationMinutes: 60}}, "schedule.start"},
		{"bad zone", conf.Conference{Name: "x", Schedule: conf.Schedule{Type: "once", Start: future, DurationMinutes: 5, TimeZone: "Mars/Olympus"}}, "schedule.time_zone"},
		{"zone traversal", conf.Conference{Name: "x", Schedule: conf.Schedule{Type: "once", Start: future, DurationMinutes: 5, TimeZone: "../../etc/passwd"}}, "schedule.time_zone"},
		{"weekly no days", conf.Conference{Name: "x", Schedule: conf.Schedule{Type: "weekly", Start: future, DurationMinutes: 5}}, "schedule.days"},
		{"weekly bad day", conf.Conference{Name: "x", Schedule: conf.Schedule{Type: "weekly", Start: future, DurationMinutes: 5, Days: []string{"monday"}}}, "schedule.days"},
		{"weekly twice", conf.Conference{Name: "x", Schedule: conf.Schedule{Type: "weekly", Start: future, DurationMinutes: 5, Days: []string{"mon", "Mon"}}}, "schedule.days"},
		{"weekly too long", conf.Conference{Name: "x", Schedule: conf.Schedule{Type: "weekly", Start: future, DurationMinutes: 24*60 + 1, Days: []string{"mon"}}}, "schedule.duration_minutes"},
		{"ancient start", conf.Conference{Name: "x", Schedule: conf.Schedule{Type: "weekly", Start: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), DurationMinutes: 5, Days: []string{"mon"}}}, "schedule.start"},
		{"empty invitation", conf.Conference{Name: "x", Invitations: []conf.Invitation{{Target: "a"}, {Target: " "}}}, "invitations[1].target"},
		{"duplicate invitation", conf.Conference{Name: "x", Invitations: []conf.Invitation{{Target: "a"}, {Target: "a"}}}, "invitations[1].target"},
		{"spaced invitation", conf.Conference{Name: "x", Invitations: []conf.Invitation{{Target: "a b"}}}, "invitations[0].target"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			err := conf.ValidateConference(&c, start)
			var ve *conf.ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, conf.ErrInvalid) {
				t.Fatalf("err = %v, want a *ValidationError wrapping ErrInvalid", err)
			}
			if ve.Field != tc.field || ve.Message == "" {
				t.Fatalf("field %q (%s), want %q", ve.Field, ve.Message, tc.field)
			}
		})
	}
}

func TestDecodeConference(t *testing.T) {
	c, err := conf.DecodeConference(strings.NewReader(`{"id":"1000","name":"Board","access":"internal",
		"schedule":{"type":"once","start":"2026-05-07T10:00:00+02:00","duration_minutes":30},
		"invitations":[{"target":"sip:a@b","moderator":true}],
		"state":"running","created_at":"whatever","updated_at":12}` + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != "1000" || c.Name != "Board" || c.Access != "internal" || c.State != "" || !c.CreatedAt.IsZero() ||
		c.Schedule.DurationMinutes != 30 || !c.Schedule.Start.Equal(time.Date(2026, 5, 7, 8, 0, 0, 0, time.UTC)) ||
		len(c.Invitations) != 1 || !c.Invitations[0].Moderator {
		t.Fatalf("decoded %+v", c)
	}

	fieldCases := map[string]string{
		`{"name":"x","colour":"red"}`:                   "colour",
		`{"name":5}`:                                    "name",
		`{"name":"x","max_participants":"ten"}`:         "max_participants",
		`{"name":"x","max_participants":1.5}`:           "max_participants",
		`{"name":"x","schedule":{"start":"tomorrow"}}`:  "schedule.start",
		`{"name":"x","schedule":{"days":"mon"}}`:        "schedule.days",
		`{"name":"x","invitations":[{"target":1}]}`:     "invitations.target",
		`{"name":"x","schedule":{"type":"once","x":1}}`: "x",
		`{"name":"x","locked":"yes"}`:                   "locked",
	}
	for body, field := range fieldCases {
		_, err := conf.DecodeConference(strings.NewReader(body))
		var ve *conf.ValidationError
		if !errors.As(err, &ve) || ve.Field != field {
			t.Errorf("%s: err %v, want field %q", body, err, field)
		}
	}
	for _, body := range []string{``, `   `, `{`, `{"name":"x"}{}`, `{"name":"x"} 1`, `[]`, `"x"`, `nul`, `{"name":"x",}`} {
		_, err := conf.DecodeConference(strings.NewReader(body))
		if !errors.Is(err, conf.ErrInvalidJSON) {
			t.Errorf("%q: err %v, want ErrInvalidJSON", body, err)
		}
	}
	// A failing reader is reported as such, not as bad JSON.
	boom := errors.New("boom")
	_, err = conf.DecodeConference(io.MultiReader(strings.NewReader(`{"name":`), iotest.ErrReader(boom)))
	if !errors.Is(err, boom) || errors.Is(err, conf.ErrInvalidJSON) {
		t.Fatalf("reader error: %v", err)
	}
}
