package mail

import (
	htmltemplate "html/template"
	"net"
	"net/url"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/roomgate/roomgate/conf"
)

// maxSubjectRunes bounds the subject so that a very long conference name
// cannot produce a header that some servers refuse.
const maxSubjectRunes = 200

// invitation is what every part of one conference's mail says; the
// templates and the .ics read it. Strings are raw: each output escapes
// them its own way (html/template, RFC 5545 TEXT, MIME encoded words).
type invitation struct {
	Inviter     string
	Name        string
	ID          string
	Description string
	// When is the schedule in words, in the conference's time zone; ""
	// for a virtual room.
	When    string
	Virtual bool
	PageURL string
	SIP     string
	H323    string
	// PINRequired says that joining asks for a PIN. The PIN itself is
	// never mailed: mail travels and is stored in the clear, and the
	// owner hands the PIN out by a channel of his choosing.
	PINRequired bool
}

// links derives the ways to join conference id from the public URL: the
// conference page, the SIP URI and the H.323 dial string of DESIGN.md.
func links(publicURL *url.URL, id string) (page, sip, h323 string) {
	page = strings.TrimSuffix(publicURL.String(), "/") + "/c/" + url.PathEscape(id)
	host := publicURL.Hostname()
	sipHost := host
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		sipHost = "[" + host + "]"
	}
	sip = "sip:" + url.PathEscape(id) + "@" + sipHost
	h323 = host + "##" + url.PathEscape(id)
	return page, sip, h323
}

// newInvitation gathers what the mail says about c.
func newInvitation(c conf.Conference, publicURL *url.URL) invitation {
	page, sip, h323 := links(publicURL, c.ID)
	inv := invitation{
		Inviter:     oneLine(c.Owner),
		Name:        oneLine(c.Name),
		ID:          oneLine(c.ID),
		Description: cleanText(c.Description),
		PageURL:     page,
		SIP:         sip,
		H323:        h323,
		PINRequired: c.PIN != "",
		Virtual:     isVirtual(c.Schedule),
	}
	if inv.Name == "" {
		inv.Name = "Conference " + inv.ID
	}
	if !inv.Virtual {
		inv.When = describeSchedule(c.Schedule)
	}
	return inv
}

// isVirtual reports whether sc is a virtual room (no schedule), which is
// mailed without a calendar entry.
func isVirtual(sc conf.Schedule) bool {
	return (sc.Type != conf.ScheduleOnce && sc.Type != conf.ScheduleWeekly) || sc.Start.IsZero()
}

// subject is the Subject header text: one line, bounded, no controls.
func (inv invitation) subject() string {
	s := "Invitation: " + inv.Name
	if utf8.RuneCountInString(s) > maxSubjectRunes {
		r := []rune(s)
		s = string(r[:maxSubjectRunes-1]) + "…"
	}
	return s
}

// oneLine turns s into a single line of printable text: line breaks and
// other controls become spaces and runs of white space collapse. Names
// end up in headers and calendar summaries, where a line break would be
// an injection.
func oneLine(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// scheduleLocation is the time zone a schedule is shown in: its own, or
// UTC when it has none (conf validated the name).
func scheduleLocation(sc conf.Schedule) (*time.Location, string) {
	if sc.TimeZone != "" && sc.TimeZone != "UTC" {
		if loc, err := time.LoadLocation(sc.TimeZone); err == nil {
			return loc, sc.TimeZone
		}
	}
	return time.UTC, "UTC"
}

// dayName is the English name of a schedule.days value.
func dayName(d string) (string, bool) {
	code, ok := icsDay(d)
	if !ok {
		return "", false
	}
	for w := time.Sunday; w <= time.Saturday; w++ {
		if icsWeekday(w) == code {
			return w.String(), true
		}
	}
	return "", false
}

// firstOccurrence is the start of the first run of sc, in its time zone:
// Start for a one-off; for a weekly schedule the first listed weekday at
// or after Start at Start's time of day, as conf schedules it.
func firstOccurrence(sc conf.Schedule, loc *time.Location) time.Time {
	first := sc.Start.In(loc)
	if sc.Type != conf.ScheduleWeekly || len(sc.Days) == 0 {
		return first
	}
	for k := 0; k < 7; k++ {
		d := first.AddDate(0, 0, k)
		t := time.Date(d.Year(), d.Month(), d.Day(), first.Hour(), first.Minute(), first.Second(), 0, loc)
		if t.Before(sc.Start) {
			continue
		}
		for _, day := range sc.Days {
			if code, ok := icsDay(day); ok && code == icsWeekday(t.Weekday()) {
				return t
			}
		}
	}
	return first
}

// describeSchedule says when sc runs, in words and in its time zone.
func describeSchedule(sc conf.Schedule) string {
	loc, zone := scheduleLocation(sc)
	start := firstOccurrence(sc, loc)
	end := start.Add(time.Duration(sc.DurationMinutes) * time.Minute)
	span := start.Format("15:04") + "–" + end.Format("15:04")
	if start.YearDay() != end.YearDay() || start.Year() != end.Year() {
		span = start.Format("15:04") + " – " + end.Format("Monday, 2 January 2006 15:04")
	}
	dur := " (" + strconv.Itoa(sc.DurationMinutes) + " minutes, time zone " + zone + ")"
	if sc.Type != conf.ScheduleWeekly {
		return start.Format("Monday, 2 January 2006") + ", " + span + dur
	}
	var days []string
	for _, d := range sc.Days {
		if n, ok := dayName(d); ok {
			days = append(days, n)
		}
	}
	list := strings.Join(days, ", ")
	if n := len(days); n > 1 {
		list = strings.Join(days[:n-1], ", ") + " and " + days[n-1]
	}
	return "Every " + list + ", " + span + dur + ", starting " + start.Format("Monday, 2 January 2006")
}

// The bodies of the mail. Text is plain text/template (no HTML escaping is
// wanted there; nothing in a text/plain body is interpreted), HTML goes
// through html/template, which escapes every value for its context.
var (
	textBody = texttemplate.Must(texttemplate.New("text").Parse(`{{if .Inviter}}{{.Inviter}} invites you{{else}}You are invited{{end}} to the conference "{{.Name}}".

Conference ID: {{.ID}}
{{if .When}}When: {{.When}}
{{else}}This is a virtual room: you can join at any time.
{{end}}{{if .Description}}
{{.Description}}
{{end}}
How to join:
  In a browser:             {{.PageURL}}
  From a SIP room system:   {{.SIP}}
  From an H.323 system:     {{.H323}}
{{if .PINRequired}}
A PIN is required to join; the organiser will give it to you.
{{end}}`))

	htmlBody = htmltemplate.Must(htmltemplate.New("html").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Name}}</title></head>
<body>
<p>{{if .Inviter}}{{.Inviter}} invites you{{else}}You are invited{{end}} to the conference <strong>{{.Name}}</strong>.</p>
<p>Conference ID: {{.ID}}<br>
{{if .When}}When: {{.When}}{{else}}This is a virtual room: you can join at any time.{{end}}</p>
{{if .Description}}<p style="white-space: pre-line">{{.Description}}</p>
{{end}}<p>How to join:</p>
<ul>
<li>In a browser: <a href="{{.PageURL}}">{{.PageURL}}</a></li>
<li>From a SIP room system: {{.SIP}}</li>
<li>From an H.323 system: {{.H323}}</li>
</ul>
{{if .PINRequired}}<p>A PIN is required to join; the organiser will give it to you.</p>
{{end}}</body></html>
`))
)

// render executes both bodies.
func (inv invitation) render() (text, html string, err error) {
	var tb, hb strings.Builder
	if err := textBody.Execute(&tb, inv); err != nil {
		return "", "", err
	}
	if err := htmlBody.Execute(&hb, inv); err != nil {
		return "", "", err
	}
	return tb.String(), hb.String(), nil
}

// description is the DESCRIPTION of the calendar entry: how to join.
func (inv invitation) calendarDescription() string {
	var b strings.Builder
	if inv.Description != "" {
		b.WriteString(inv.Description)
		b.WriteString("\n\n")
	}
	b.WriteString("Conference ID: " + inv.ID + "\n")
	b.WriteString("Join in a browser: " + inv.PageURL + "\n")
	b.WriteString("SIP: " + inv.SIP + "\n")
	b.WriteString("H.323: " + inv.H323 + "\n")
	if inv.PINRequired {
		b.WriteString("A PIN is required to join.\n")
	}
	return b.String()
}
