package mail

import (
	"bytes"
	"mime"
	netmail "net/mail"
	"strings"
	"testing"
	_ "time/tzdata" // zone data for the tests even where the system has none

	gomail "github.com/wneessen/go-mail"
)

// FuzzICSText checks the TEXT escaping and line folding of the .ics:
// the escaped value never holds a line break, every physical line stays
// within 75 octets without splitting UTF-8, and unfolding then
// unescaping gives the input back (after cleanText, which drops what
// TEXT cannot carry).
func FuzzICSText(f *testing.F) {
	for _, s := range []string{
		"", "plain", `back\slash`, "semi;colon,comma", "line\nbreak\r\nand\rcr",
		"END:VEVENT\r\nBEGIN:VEVENT", strings.Repeat("ü", 80), strings.Repeat("a", 74) + "会",
		"\\n is not a newline", "ctl\x00\x1b\x7f", "bad \xff\xfe utf8", "trailing backslash\\",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		esc := escapeText(s)
		if strings.ContainsAny(esc, "\r\n") {
			t.Fatalf("escaped value holds a line break: %q", esc)
		}
		clean := cleanText(s)
		if cleanText(clean) != clean {
			t.Fatalf("cleanText is not idempotent on %q", s)
		}
		if got := unescapeText(esc); got != clean {
			t.Fatalf("unescape(escape(%q)) = %q, want %q", s, got, clean)
		}
		folded := foldLine("DESCRIPTION:" + esc)
		for i, p := range strings.Split(strings.TrimSuffix(folded, "\r\n"), "\r\n") {
			if len(p) > icsMaxLine {
				t.Fatalf("physical line %d has %d octets", i, len(p))
			}
			if strings.ContainsAny(p, "\r\n") {
				t.Fatalf("bare CR or LF in physical line %d", i)
			}
		}
		lines := unfold(folded)
		if len(lines) != 1 || lines[0] != "DESCRIPTION:"+esc {
			t.Fatalf("unfold gives %q", lines)
		}
		if got := unescapeText(strings.TrimPrefix(lines[0], "DESCRIPTION:")); got != clean {
			t.Fatalf("round trip through folding gives %q, want %q", got, clean)
		}
		if p := paramValue(s); strings.ContainsAny(strings.Trim(p, `"`), "\"\r\n") {
			t.Fatalf("parameter value %q can break out", p)
		}
	})
}

// FuzzRecipient checks recipient validation: an accepted address is one
// address without line breaks, and the To header built from it reads
// back as that same single address.
func FuzzRecipient(f *testing.F) {
	for _, s := range []string{
		"a@example.com", "Alice <alice@example.com>", `"Quoted, Name" <q@example.com>`,
		"a@example.com, b@example.com", "x@example.com\r\nBcc: v@example.com", "=?utf-8?q?J=C3=B6rg?= <j@example.com>",
		"<>", "@", "a@[127.0.0.1]", `"a b"@example.com`, "Name\n <a@example.com>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := parseRecipient(s)
		if err != nil {
			return
		}
		if strings.ContainsAny(a.Address, "\r\n") || strings.ContainsAny(a.Name, "\r\n") {
			t.Fatalf("accepted %q with a line break: %#v", s, a)
		}
		m := gomail.NewMsg()
		m.ToMailAddress(a)
		m.SetBodyString(gomail.TypeTextPlain, "x")
		var buf bytes.Buffer
		if _, err := m.WriteTo(&buf); err != nil {
			t.Fatalf("writing: %v", err)
		}
		pm, err := netmail.ReadMessage(&buf)
		if err != nil {
			t.Fatalf("message to %q does not parse: %v", s, err)
		}
		if len(pm.Header["Bcc"]) != 0 || len(pm.Header["Cc"]) != 0 {
			t.Fatalf("recipient %q added a header", s)
		}
		tos, err := pm.Header.AddressList("To")
		if err != nil {
			// A display name net/mail cannot read back is harmless as
			// long as no header was added, which was checked above.
			return
		}
		if len(tos) != 1 || tos[0].Address != a.Address {
			t.Fatalf("To of %q reads back as %v", s, tos)
		}
	})
}

// FuzzInvitation feeds hostile conference fields into a whole message:
// it must parse, carry exactly the expected headers, a one-line subject
// and a calendar with one event.
func FuzzInvitation(f *testing.F) {
	f.Add("Weekly sync", "maria", "Agenda", "4711")
	f.Add("Evil\r\nBcc: v@example.com", "m\r\nReply-To: x@y", "END:VEVENT\r\nBEGIN:VEVENT", "1")
	f.Add(strings.Repeat("Долгое имя ", 40), "", "\x00\x01\x7f", "123")
	f.Add("--boundary\r\n\r\n", "<b>", "</p><script>", "9")
	f.Fuzz(func(t *testing.T, name, owner, desc, id string) {
		if id == "" {
			return
		}
		s := newTestSender(t, Config{Port: 25})
		c := weeklyConference()
		c.Name, c.Owner, c.Description, c.ID = name, owner, desc, id
		pm, _ := renderMessage(t, s, c, "peggy@example.com")
		for k := range pm.Header {
			ok := false
			for _, h := range recipientHeaders {
				ok = ok || h == k
			}
			if !ok {
				t.Fatalf("unexpected header %q", k)
			}
		}
		subj, err := new(mime.WordDecoder).DecodeHeader(pm.Header.Get("Subject"))
		if err != nil || strings.ContainsAny(subj, "\r\n") {
			t.Fatalf("Subject %q (%v)", subj, err)
		}
		ls := leaves(t, pm.Header.Get("Content-Type"), pm.Body)
		if len(ls) != 3 {
			t.Fatalf("%d MIME leaves, want 3", len(ls))
		}
		cal, ok := findLeaf(ls, "text/calendar")
		if !ok {
			t.Fatal("no calendar")
		}
		props := parseICS(t, cal.body)
		if _, n := icsGet(props, "VCALENDAR/VEVENT", "UID"); n != 1 {
			t.Fatalf("%d UIDs", n)
		}
		if sum, _ := icsGet(props, "VCALENDAR/VEVENT", "SUMMARY"); strings.ContainsAny(unescapeText(sum.value), "\r\n") {
			t.Fatalf("SUMMARY spans lines: %q", sum.value)
		}
	})
}
