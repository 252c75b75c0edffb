package mail

import (
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestEscapeText(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                 "plain",
		`a\b`:                   `a\\b`,
		"a;b,c":                 `a\;b\,c`,
		"l1\nl2\r\nl3\rl4":      `l1\nl2\nl3\nl4`,
		"tab\tkept, bell\adrop": "tab\tkept\\, bell" + "drop",
		"END:VEVENT\r\nBEGIN:X": `END:VEVENT\nBEGIN:X`,
		"bad utf8 \xff here":    "bad utf8 \uFFFD here",
		"unicode Grüße, 会议; ok": `unicode Grüße\, 会议\; ok`,
	} {
		if got := escapeText(in); got != want {
			t.Errorf("escapeText(%q) = %q, want %q", in, got, want)
		}
		if got := unescapeText(escapeText(in)); got != cleanText(in) {
			t.Errorf("round trip of %q gives %q", in, got)
		}
	}
}

func TestFoldLine(t *testing.T) {
	for _, l := range []string{
		"SHORT:x",
		"DESCRIPTION:" + strings.Repeat("a", 63), // exactly 75
		"DESCRIPTION:" + strings.Repeat("a", 64), // 76
		"SUMMARY:" + strings.Repeat("ü", 100),    // two-octet runes across folds
		"SUMMARY:" + strings.Repeat("会", 60),     // three-octet runes
		"X:" + strings.Repeat("🎉", 40),           // four-octet runes
	} {
		f := foldLine(l)
		if !strings.HasSuffix(f, "\r\n") {
			t.Errorf("%q: no CRLF at the end", l)
		}
		phys := strings.Split(strings.TrimSuffix(f, "\r\n"), "\r\n")
		for i, p := range phys {
			if len(p) > icsMaxLine {
				t.Errorf("%q: physical line %d has %d octets", l[:10], i, len(p))
			}
			if i > 0 && !strings.HasPrefix(p, " ") {
				t.Errorf("continuation line %d does not start with a space", i)
			}
			if !utf8.ValidString(p) {
				t.Errorf("physical line %d splits a UTF-8 sequence: %q", i, p)
			}
		}
		if len(l) <= icsMaxLine && len(phys) != 1 {
			t.Errorf("%d octets folded into %d lines", len(l), len(phys))
		}
		if got := unfold(f); len(got) != 1 || got[0] != l {
			t.Errorf("unfold(foldLine(%q)) = %q", l, got)
		}
	}
}

func TestMarshalICSUTC(t *testing.T) {
	start := time.Date(2026, 5, 4, 13, 0, 0, 0, time.UTC)
	ics := string(marshalICS(icsEvent{
		UID: "1@vc.example.com", Stamp: start, Start: start, Duration: 90 * time.Minute,
		Location: time.UTC, Summary: "S", Description: "D", URL: "https://vc.example.com/c/1",
	}))
	props := parseICS(t, ics)
	if _, n := icsGet(props, "VCALENDAR/VTIMEZONE", "TZID"); n != 0 {
		t.Errorf("UTC event has a VTIMEZONE")
	}
	for name, want := range map[string]string{"DTSTART": "20260504T130000Z", "DTEND": "20260504T143000Z"} {
		if p, _ := icsGet(props, "VCALENDAR/VEVENT", name); p.value != want || p.params != "" {
			t.Errorf("%s = %q;%q, want %q", name, p.params, p.value, want)
		}
	}
	if _, n := icsGet(props, "VCALENDAR/VEVENT", "RRULE"); n != 0 {
		t.Errorf("one-off event has an RRULE")
	}
}

// observance is a STANDARD or DAYLIGHT block read back by the test.
type observance struct {
	start    string
	from, to int
	rrule    string
}

func parseOffset(t *testing.T, s string) int {
	t.Helper()
	if len(s) != 5 && len(s) != 7 {
		t.Fatalf("bad UTC offset %q", s)
	}
	h, _ := strconv.Atoi(s[1:3])
	m, _ := strconv.Atoi(s[3:5])
	sec := 0
	if len(s) == 7 {
		sec, _ = strconv.Atoi(s[5:7])
	}
	v := h*3600 + m*60 + sec
	if s[0] == '-' {
		v = -v
	}
	return v
}

// onsets expands an observance into the instants it starts within
// [y0, y1], following only the RRULE shape writeVTimezone writes.
func (o observance) onsets(t *testing.T, y0, y1 int) []time.Time {
	t.Helper()
	local, err := time.Parse(icsLocalLayout, o.start)
	if err != nil {
		t.Fatalf("DTSTART %q: %v", o.start, err)
	}
	toUTC := func(l time.Time) time.Time { return l.Add(-time.Duration(o.from) * time.Second) }
	if o.rrule == "" {
		return []time.Time{toUTC(local)}
	}
	var month, ord int
	var wd string
	for _, part := range strings.Split(o.rrule, ";") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "FREQ":
			if v != "YEARLY" {
				t.Fatalf("rule %q", o.rrule)
			}
		case "BYMONTH":
			month, _ = strconv.Atoi(v)
		case "BYDAY":
			ord, _ = strconv.Atoi(v[:len(v)-2])
			wd = v[len(v)-2:]
		}
	}
	var out []time.Time
	for y := max(y0, local.Year()); y <= y1; y++ {
		var days []time.Time
		for d := time.Date(y, time.Month(month), 1, local.Hour(), local.Minute(), local.Second(), 0, time.UTC); d.Month() == time.Month(month); d = d.AddDate(0, 0, 1) {
			if icsWeekday(d.Weekday()) == wd {
				days = append(days, d)
			}
		}
		day := days[len(days)-1]
		if ord > 0 {
			day = days[ord-1]
		}
		out = append(out, toUTC(day))
	}
	return out
}

// TestVTimezoneMatchesZone reads the VTIMEZONE back, computes the UTC
// offset it gives for every 6 hours of the window, and compares it with
// Go's zone data.
func TestVTimezoneMatchesZone(t *testing.T) {
	for _, tc := range []struct {
		zone      string
		wantRules bool
		wantRule  string
	}{
		{"Europe/Berlin", true, "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU"},
		{"America/New_York", true, "FREQ=YEARLY;BYMONTH=3;BYDAY=2SU"},
		{"Australia/Sydney", true, "FREQ=YEARLY;BYMONTH=10;BYDAY=1SU"},
		{"Asia/Tokyo", false, ""},
		{"America/Sao_Paulo", false, ""},
		{"Asia/Kolkata", false, ""},
		{"Africa/Casablanca", false, ""}, // irregular: each change listed
		{"Europe/Dublin", true, "FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU"},
		{"Pacific/Chatham", true, "FREQ=YEARLY;BYMONTH=4;BYDAY=1SU"},
	} {
		t.Run(tc.zone, func(t *testing.T) {
			loc, err := time.LoadLocation(tc.zone)
			if err != nil {
				t.Fatalf("zone data: %v", err)
			}
			start := time.Date(2026, 1, 12, 9, 0, 0, 0, loc)
			var w icsWriter
			w.line("BEGIN", "VCALENDAR")
			writeVTimezone(&w, tc.zone, loc, start)
			w.line("END", "VCALENDAR")
			props := parseICS(t, w.b.String())
			if tz, _ := icsGet(props, "VCALENDAR/VTIMEZONE", "TZID"); tz.value != tc.zone {
				t.Errorf("TZID %q", tz.value)
			}
			var obs []observance
			var cur *observance
			sawRule := false
			for _, p := range props {
				kind, ok := strings.CutPrefix(p.path, "VCALENDAR/VTIMEZONE/")
				if !ok {
					continue
				}
				if kind != "STANDARD" && kind != "DAYLIGHT" {
					t.Fatalf("component %s", kind)
				}
				switch p.name {
				case "DTSTART":
					obs = append(obs, observance{start: p.value})
					cur = &obs[len(obs)-1]
				case "TZOFFSETFROM":
					cur.from = parseOffset(t, p.value)
				case "TZOFFSETTO":
					cur.to = parseOffset(t, p.value)
				case "RRULE":
					cur.rrule = p.value
					sawRule = sawRule || p.value == tc.wantRule
				}
			}
			if tc.wantRules && !sawRule {
				t.Errorf("no rule %q in %+v", tc.wantRule, obs)
			}
			if len(obs) == 0 {
				t.Fatal("no observance")
			}
			type onset struct {
				at time.Time
				to int
			}
			var all []onset
			for _, o := range obs {
				for _, at := range o.onsets(t, 2025, 2031) {
					all = append(all, onset{at, o.to})
				}
			}
			for ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC); ts.Year() < 2031; ts = ts.Add(6 * time.Hour) {
				var best *onset
				for i := range all {
					if !all[i].at.After(ts) && (best == nil || all[i].at.After(best.at)) {
						best = &all[i]
					}
				}
				_, want := ts.In(loc).Zone()
				if best == nil || best.to != want {
					t.Fatalf("at %v the VTIMEZONE gives %+v, zone data says %d", ts, best, want)
				}
			}
		})
	}
}

func TestFirstOccurrenceAndSchedule(t *testing.T) {
	c := weeklyConference()
	loc, _ := scheduleLocation(c.Schedule)
	if got := firstOccurrence(c.Schedule, loc); !got.Equal(time.Date(2026, 3, 2, 9, 30, 0, 0, loc)) {
		t.Errorf("first occurrence %v, want Monday 2 March 09:30", got)
	}
	once := c.Schedule
	once.Type, once.Days, once.TimeZone = "once", nil, ""
	once.Start = time.Date(2026, 6, 30, 23, 0, 0, 0, time.UTC)
	once.DurationMinutes = 120
	if got, want := describeSchedule(once), "Tuesday, 30 June 2026, 23:00 – Wednesday, 1 July 2026 01:00 (120 minutes, time zone UTC)"; got != want {
		t.Errorf("describeSchedule = %q, want %q", got, want)
	}
}
