package conf_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/roomgate/roomgate/conf"
)

func TestValidateLayout(t *testing.T) {
	for _, tc := range []struct {
		name  string
		l     conf.Layout
		mode  string
		field string // "" for valid
	}{
		{"defaults", conf.Layout{}, conf.ModeSymmetric, ""},
		{"grid", conf.Layout{Type: "grid", Windows: 4, Participants: []string{"a", "", "sip:b@c"}}, conf.ModeRoleBased, ""},
		{"asymmetric", conf.Layout{}, conf.ModeAsymmetric, "layout"},
		{"type", conf.Layout{Type: "mosaic", Windows: 4}, conf.ModeSymmetric, "layout.type"},
		{"no windows", conf.Layout{Type: "grid"}, conf.ModeSymmetric, "layout.windows"},
		{"too many", conf.Layout{Type: "grid", Windows: 26}, conf.ModeSymmetric, "layout.windows"},
		{"speaker alone", conf.Layout{Type: "speaker", Windows: 1}, conf.ModeSymmetric, "layout.windows"},
		{"content", conf.Layout{Windows: 4, ContentWindow: 5}, conf.ModeSymmetric, "layout.content_window"},
		{"pinned > windows", conf.Layout{Windows: 1, Participants: []string{"a", "b"}}, conf.ModeSymmetric, "layout.participants"},
		{"pinned twice", conf.Layout{Windows: 4, Participants: []string{"a", "a"}}, conf.ModeSymmetric, "layout.participants[1]"},
		{"pinned on content", conf.Layout{Windows: 4, ContentWindow: 2, Participants: []string{"a", "b"}}, conf.ModeSymmetric, "layout.participants[1]"},
		{"space", conf.Layout{Windows: 4, Participants: []string{"a b"}}, conf.ModeSymmetric, "layout.participants[0]"},
		{"names", conf.Layout{Windows: 4, NamePosition: "left"}, conf.ModeSymmetric, "layout.name_position"},
	} {
		err := conf.ValidateLayout(&tc.l, tc.mode)
		var ve *conf.ValidationError
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.field != "" && (!errors.As(err, &ve) || ve.Field != tc.field):
			t.Errorf("%s: %v, want field %s", tc.name, err, tc.field)
		}
	}
	l := conf.Layout{}
	if err := conf.ValidateLayout(&l, ""); err != nil || l.Type != conf.LayoutAuto || l.Windows != 9 || l.NamePosition != conf.NamePositionBottom || l.Participants == nil {
		t.Errorf("defaults %+v %v", l, err)
	}
}

// FuzzLayoutJSON decodes arbitrary layout bodies and validates them: no
// panic, only field errors, and a valid layout validates again unchanged.
func FuzzLayoutJSON(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"type":"grid","windows":4}`, `{"type":"speaker","windows":6,"content_window":2,"participants":["a","",""],"auto_fill":true}`,
		`{"windows":25,"name_position":"none","locked":true}`, `{"windows":-1}`, `{"participants":["\u0000"]}`,
		`{"type":"speaker","windows":1}`, `{"windows":2,"participants":["a","a"]}`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, asym bool) {
		var l conf.Layout
		if json.Unmarshal(body, &l) != nil {
			return
		}
		mode := conf.ModeSymmetric
		if asym {
			mode = conf.ModeAsymmetric
		}
		err := conf.ValidateLayout(&l, mode)
		if err != nil {
			var ve *conf.ValidationError
			if !errors.As(err, &ve) || ve.Field == "" {
				t.Fatalf("error of unexpected kind: %v", err)
			}
			return
		}
		again := l
		again.Participants = append([]string(nil), l.Participants...)
		if err := conf.ValidateLayout(&again, mode); err != nil || !reflect.DeepEqual(again, l) {
			t.Fatalf("not idempotent: %+v -> %+v, %v", l, again, err)
		}
	})
}

// FuzzWeeklyOccurrence checks the schedule arithmetic over arbitrary
// times: a conference is open exactly inside an occurrence.
func FuzzWeeklyOccurrence(f *testing.F) {
	f.Add(int64(0), uint16(60), uint8(0x7f), uint8(0))
	f.Add(int64(86400*3+3600*23), uint16(90), uint8(1), uint8(1))
	f.Add(int64(-3600), uint16(1440), uint8(0x40), uint8(2))
	zones := []string{"", "Europe/Berlin", "America/New_York", "Asia/Kolkata"}
	names := []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
	f.Fuzz(func(t *testing.T, offset int64, dur uint16, dayMask uint8, zone uint8) {
		offset %= 60 * 86400
		if dur == 0 || dur > 1440 || dayMask&0x7f == 0 {
			return
		}
		var days []string
		for i, n := range names {
			if dayMask&(1<<i) != 0 {
				days = append(days, n)
			}
		}
		first := time.Date(2030, 1, 7, 9, 30, 0, 0, time.UTC)
		now := first.Add(time.Duration(offset) * time.Second)
		st, en, ok := conf.OccurrenceAt(conf.Schedule{Type: conf.ScheduleWeekly, Start: first,
			DurationMinutes: int(dur), Days: days, TimeZone: zones[int(zone)%len(zones)]}, now)
		if ok && (now.Before(first) || now.Before(st) || !now.Before(en) || en.Sub(st) != time.Duration(dur)*time.Minute) {
			t.Fatalf("open at %s before the first occurrence %s", now, first)
		}
	})
}
