package mail

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// This file writes the RFC 5545 iCalendar object attached to invitations.
// It is small on purpose: one VEVENT, optionally one VTIMEZONE, and the
// content-line rules (escaping, folding, CRLF) that every calendar client
// insists on. Nothing here reads calendars from the network.

// icsMaxLine is the longest content line in octets, CRLF excluded
// (RFC 5545 section 3.1).
const icsMaxLine = 75

// icsLocalLayout and icsUTCLayout are DATE-TIME forms (RFC 5545 section
// 3.3.5): local time with a TZID parameter, or UTC.
const (
	icsLocalLayout = "20060102T150405"
	icsUTCLayout   = "20060102T150405Z"
)

// icsEvent is what the calendar object says about one conference.
type icsEvent struct {
	UID         string
	Stamp       time.Time
	Sequence    int64
	Start       time.Time // in Location
	Duration    time.Duration
	Location    *time.Location
	TZID        string   // "" writes UTC times and no VTIMEZONE
	WeeklyDays  []string // RFC 5545 BYDAY codes (MO, TU ...); nil: no RRULE
	Summary     string
	Description string
	URL         string
	Where       string // LOCATION
	Organizer   string // mailto: address
	OrganizerCN string
	Attendee    string // mailto: address
}

// icsWriter accumulates content lines, folded and CRLF-terminated.
type icsWriter struct {
	b strings.Builder
}

// line writes "name[;params]:value" as one folded content line. value
// must already be in its final form (escaped TEXT, URI, DATE-TIME).
func (w *icsWriter) line(name, value string) {
	w.b.WriteString(foldLine(name + ":" + value))
}

// text writes a TEXT property, escaped.
func (w *icsWriter) text(name, value string) {
	w.line(name, escapeText(value))
}

// marshalICS renders ev as a complete VCALENDAR with METHOD:REQUEST, the
// iTIP method (RFC 5546 section 3.2.2) that makes clients offer "accept".
func marshalICS(ev icsEvent) []byte {
	var w icsWriter
	w.line("BEGIN", "VCALENDAR")
	w.line("VERSION", "2.0")
	w.line("PRODID", "-//Roomgate//Roomgate invitation//EN")
	w.line("CALSCALE", "GREGORIAN")
	w.line("METHOD", "REQUEST")
	if ev.TZID != "" {
		writeVTimezone(&w, ev.TZID, ev.Location, ev.Start)
	}
	w.line("BEGIN", "VEVENT")
	w.text("UID", ev.UID)
	w.line("DTSTAMP", ev.Stamp.UTC().Format(icsUTCLayout))
	w.line("SEQUENCE", strconv.FormatInt(ev.Sequence, 10))
	end := ev.Start.Add(ev.Duration)
	if ev.TZID != "" {
		tz := ";TZID=" + paramValue(ev.TZID)
		w.line("DTSTART"+tz, ev.Start.In(ev.Location).Format(icsLocalLayout))
		w.line("DTEND"+tz, end.In(ev.Location).Format(icsLocalLayout))
	} else {
		w.line("DTSTART", ev.Start.UTC().Format(icsUTCLayout))
		w.line("DTEND", end.UTC().Format(icsUTCLayout))
	}
	if len(ev.WeeklyDays) > 0 {
		w.line("RRULE", "FREQ=WEEKLY;BYDAY="+strings.Join(ev.WeeklyDays, ","))
	}
	w.text("SUMMARY", ev.Summary)
	w.text("DESCRIPTION", ev.Description)
	if ev.URL != "" {
		w.line("URL", ev.URL)
	}
	if ev.Where != "" {
		w.text("LOCATION", ev.Where)
	}
	if ev.Organizer != "" {
		params := ""
		if ev.OrganizerCN != "" {
			params = ";CN=" + paramValue(ev.OrganizerCN)
		}
		w.line("ORGANIZER"+params, "mailto:"+ev.Organizer)
	}
	if ev.Attendee != "" {
		w.line("ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=FALSE", "mailto:"+ev.Attendee)
	}
	w.line("STATUS", "CONFIRMED")
	w.line("TRANSP", "OPAQUE")
	w.line("END", "VEVENT")
	w.line("END", "VCALENDAR")
	return []byte(w.b.String())
}

// cleanText is what a TEXT value can carry: valid UTF-8, line breaks as
// LF, no other control characters than tab (RFC 5545 section 3.3.11
// excludes CONTROL). escapeText(s) unescapes back to cleanText(s).
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\r':
			return '\n'
		case r == '\n' || r == '\t':
			return r
		case r < 0x20 || r == 0x7f:
			return -1
		}
		return r
	}, s)
}

// escapeText escapes a TEXT value (RFC 5545 section 3.3.11): backslash,
// semicolon, comma and line breaks; the result holds no CR or LF, so no
// value can start a property of its own.
func escapeText(s string) string {
	s = cleanText(s)
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case ';':
			b.WriteString(`\;`)
		case ',':
			b.WriteString(`\,`)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// unescapeText reverses escapeText; "\N" is a line break too.
func unescapeText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 'n', 'N':
			b.WriteByte('\n')
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// paramValue makes s a safe parameter value (RFC 5545 section 3.2):
// quoted when it holds ':', ';' or ','; DQUOTE and controls, which a
// parameter cannot carry at all, are dropped.
func paramValue(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '"' || r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	if strings.ContainsAny(s, ":;,") {
		return `"` + s + `"`
	}
	return s
}

// foldLine terminates a content line with CRLF and folds it so that no
// physical line passes 75 octets, never splitting a UTF-8 sequence (RFC
// 5545 section 3.1). A continuation line starts with one space, which
// counts towards its 75 octets.
func foldLine(l string) string {
	var b strings.Builder
	b.Grow(len(l) + len(l)/icsMaxLine*3 + 2)
	width := 0
	for len(l) > 0 {
		_, size := utf8.DecodeRuneInString(l)
		if width+size > icsMaxLine {
			b.WriteString("\r\n ")
			width = 1
		}
		b.WriteString(l[:size])
		width += size
		l = l[size:]
	}
	b.WriteString("\r\n")
	return b.String()
}

// unfold joins folded lines back (RFC 5545 section 3.1: a CRLF followed
// by one space or tab is removed) and splits the result into content
// lines.
func unfold(ics string) []string {
	ics = strings.ReplaceAll(ics, "\r\n ", "")
	ics = strings.ReplaceAll(ics, "\r\n\t", "")
	lines := strings.Split(ics, "\r\n")
	if n := len(lines); n > 0 && lines[n-1] == "" {
		lines = lines[:n-1]
	}
	return lines
}

// icsDay is the RFC 5545 BYDAY code of a schedule.days name.
func icsDay(d string) (string, bool) {
	switch d {
	case "mon":
		return "MO", true
	case "tue":
		return "TU", true
	case "wed":
		return "WE", true
	case "thu":
		return "TH", true
	case "fri":
		return "FR", true
	case "sat":
		return "SA", true
	case "sun":
		return "SU", true
	}
	return "", false
}

// icsWeekday is the BYDAY code of w.
func icsWeekday(w time.Weekday) string {
	return [...]string{"SU", "MO", "TU", "WE", "TH", "FR", "SA"}[w]
}

// tzTransition is one change of a zone's UTC offset.
type tzTransition struct {
	at       time.Time // instant of the change
	from, to int       // offsets in seconds east of UTC
	name     string    // abbreviation after the change
	dst      bool      // the new offset is daylight saving time
}

// tzWindowYears is how far VTIMEZONE looks: from the year before the
// first occurrence (so the observance in effect at DTSTART is covered)
// to this many years after it.
const tzWindowYears = 6

// transitions lists loc's offset changes in [from, to).
func transitions(loc *time.Location, from, to time.Time) []tzTransition {
	var out []tzTransition
	t := from
	for guard := 0; t.Before(to) && guard < 1000; guard++ {
		_, end := t.In(loc).ZoneBounds()
		if end.IsZero() || !end.Before(to) {
			break
		}
		_, fromOff := end.Add(-time.Second).In(loc).Zone()
		name, toOff := end.In(loc).Zone()
		if fromOff != toOff {
			out = append(out, tzTransition{at: end, from: fromOff, to: toOff, name: name, dst: end.In(loc).IsDST()})
		}
		t = end
	}
	return out
}

// ruleKey describes a transition as a yearly rule: month, weekday, the
// weekday's ordinal in the month (-1 for the last), local wall time
// before the change and the offsets.
type ruleKey struct {
	month    time.Month
	weekday  time.Weekday
	ordinal  int
	clock    string
	from, to int
	name     string
	dst      bool
}

func keyOf(tr tzTransition) ruleKey {
	lt := tr.at.In(time.FixedZone("", tr.from))
	ord := (lt.Day()-1)/7 + 1
	if lt.Day()+7 > daysIn(lt.Year(), lt.Month()) {
		ord = -1
	}
	return ruleKey{month: lt.Month(), weekday: lt.Weekday(), ordinal: ord, clock: lt.Format("150405"),
		from: tr.from, to: tr.to, name: tr.name, dst: tr.dst}
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// writeVTimezone describes loc around start (RFC 5545 section 3.6.5).
// When the zone's changes in the window follow the same yearly rules
// every year they are written as RRULEs, which clients extend for a
// weekly series that never ends; otherwise each change in the window is
// listed once. A zone without changes gets one STANDARD observance.
func writeVTimezone(w *icsWriter, tzid string, loc *time.Location, start time.Time) {
	w.line("BEGIN", "VTIMEZONE")
	w.text("TZID", tzid)
	y := start.In(loc).Year()
	from := time.Date(y-1, 1, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(y+tzWindowYears, 1, 1, 0, 0, 0, 0, time.UTC)
	trs := transitions(loc, from, to)
	if len(trs) == 0 {
		name, off := start.In(loc).Zone()
		writeObservance(w, false, time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC).Format(icsLocalLayout), off, off, name, "")
		w.line("END", "VTIMEZONE")
		return
	}
	if rules, ok := yearlyRules(trs); ok {
		for _, tr := range rules {
			k := keyOf(tr)
			ord := strconv.Itoa(k.ordinal)
			rrule := fmt.Sprintf("FREQ=YEARLY;BYMONTH=%d;BYDAY=%s%s", int(k.month), ord, icsWeekday(k.weekday))
			writeObservance(w, tr.dst, tr.at.In(time.FixedZone("", tr.from)).Format(icsLocalLayout), tr.from, tr.to, tr.name, rrule)
		}
	} else {
		for _, tr := range trs {
			writeObservance(w, tr.dst, tr.at.In(time.FixedZone("", tr.from)).Format(icsLocalLayout), tr.from, tr.to, tr.name, "")
		}
	}
	w.line("END", "VTIMEZONE")
}

// yearlyRules returns the first transition of each rule when every year
// of trs has the same set of rules, each once.
func yearlyRules(trs []tzTransition) ([]tzTransition, bool) {
	perYear := map[int][]ruleKey{}
	var years []int
	var first []tzTransition
	firstYear := trs[0].at.Year()
	for _, tr := range trs {
		y := tr.at.Year()
		if _, ok := perYear[y]; !ok {
			years = append(years, y)
		}
		perYear[y] = append(perYear[y], keyOf(tr))
		if y == firstYear {
			first = append(first, tr)
		}
	}
	if len(years) < 2 {
		return nil, false
	}
	for i, y := range years {
		if i > 0 && y != years[i-1]+1 {
			return nil, false
		}
		ks := perYear[y]
		if len(ks) != len(first) {
			return nil, false
		}
		for j, k := range ks {
			if k != keyOf(first[j]) {
				return nil, false
			}
		}
	}
	return first, true
}

// writeObservance writes one STANDARD or DAYLIGHT sub-component.
func writeObservance(w *icsWriter, dst bool, start string, from, to int, name, rrule string) {
	kind := "STANDARD"
	if dst {
		kind = "DAYLIGHT"
	}
	w.line("BEGIN", kind)
	w.line("DTSTART", start)
	w.line("TZOFFSETFROM", utcOffset(from))
	w.line("TZOFFSETTO", utcOffset(to))
	if rrule != "" {
		w.line("RRULE", rrule)
	}
	if name != "" {
		w.text("TZNAME", name)
	}
	w.line("END", kind)
}

// utcOffset formats seconds east of UTC as RFC 5545 UTC-OFFSET (+hhmm or
// +hhmmss).
func utcOffset(sec int) string {
	sign := "+"
	if sec < 0 {
		sign = "-"
		sec = -sec
	}
	s := fmt.Sprintf("%s%02d%02d", sign, sec/3600, sec/60%60)
	if sec%60 != 0 {
		s += fmt.Sprintf("%02d", sec%60)
	}
	return s
}
