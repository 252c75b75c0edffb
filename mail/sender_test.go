package mail

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	netmail "net/mail"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/roomgate/roomgate/conf"
)

// leaf is one decoded MIME part.
type leaf struct {
	mediaType string
	params    map[string]string
	header    map[string][]string
	body      string
}

// leaves walks a message's MIME tree and returns its leaf parts,
// decoded (multipart.Reader undoes quoted-printable itself).
func leaves(t *testing.T, contentType string, body io.Reader) []leaf {
	t.Helper()
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		t.Fatalf("content type %q: %v", contentType, err)
	}
	if !strings.HasPrefix(mt, "multipart/") {
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		return []leaf{{mediaType: mt, params: params, body: string(b)}}
	}
	var out []leaf
	mr := multipart.NewReader(body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("multipart: %v", err)
		}
		var r io.Reader = p
		if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "base64") {
			r = base64.NewDecoder(base64.StdEncoding, p)
		}
		sub := leaves(t, p.Header.Get("Content-Type"), r)
		if len(sub) == 1 && sub[0].header == nil {
			sub[0].header = p.Header
		}
		out = append(out, sub...)
	}
}

func findLeaf(ls []leaf, mediaType string) (leaf, bool) {
	for _, l := range ls {
		if l.mediaType == mediaType {
			return l, true
		}
	}
	return leaf{}, false
}

// icsProps is a minimal iCalendar reader for the tests: unfolds, splits
// name;params:value, keeps the components each property is in.
type icsProp struct {
	path   string // e.g. VCALENDAR/VEVENT
	name   string
	params string
	value  string
}

func parseICS(t *testing.T, ics string) []icsProp {
	t.Helper()
	if !strings.HasSuffix(ics, "\r\n") {
		t.Fatalf("calendar does not end in CRLF")
	}
	for i, l := range strings.Split(strings.TrimSuffix(ics, "\r\n"), "\r\n") {
		if len(l) > icsMaxLine {
			t.Errorf("physical line %d is %d octets: %q", i, len(l), l)
		}
		if strings.ContainsAny(l, "\r\n") {
			t.Errorf("physical line %d holds a bare CR or LF: %q", i, l)
		}
	}
	var out []icsProp
	var stack []string
	for _, l := range unfold(ics) {
		colon := strings.IndexByte(l, ':')
		if colon < 0 {
			t.Fatalf("content line without colon: %q", l)
		}
		head, value := l[:colon], l[colon+1:]
		name, params, _ := strings.Cut(head, ";")
		switch name {
		case "BEGIN":
			stack = append(stack, value)
			continue
		case "END":
			if len(stack) == 0 || stack[len(stack)-1] != value {
				t.Fatalf("END:%s does not close %v", value, stack)
			}
			stack = stack[:len(stack)-1]
			continue
		}
		out = append(out, icsProp{path: strings.Join(stack, "/"), name: name, params: params, value: value})
	}
	if len(stack) != 0 {
		t.Fatalf("unclosed components %v", stack)
	}
	return out
}

func icsGet(props []icsProp, path, name string) (icsProp, int) {
	var found icsProp
	n := 0
	for _, p := range props {
		if p.path == path && p.name == name {
			if n == 0 {
				found = p
			}
			n++
		}
	}
	return found, n
}

// weeklyConference is a public weekly conference with a name and a
// description full of characters that need escaping somewhere.
func weeklyConference() conf.Conference {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	return conf.Conference{
		ID:          "4711",
		Name:        "Board, weekly; <b>sync</b> & more",
		Owner:       "maria",
		Description: "Agenda:\n1. numbers; 2. plans, \\ and <script>alert(1)</script>",
		Access:      "public",
		PIN:         "98765",
		Schedule: conf.Schedule{
			Type: conf.ScheduleWeekly,
			// A Sunday: the first occurrence is the Monday after.
			Start:           time.Date(2026, 3, 1, 9, 30, 0, 0, berlin),
			DurationMinutes: 60,
			Days:            []string{"mon", "wed"},
			TimeZone:        "Europe/Berlin",
		},
		CreatedAt: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC),
		UpdatedAt: time.Date(2026, 2, 1, 0, 0, 42, 0, time.UTC),
	}
}

var testNow = time.Date(2026, 2, 20, 12, 0, 0, 0, time.UTC)

func newTestSender(t *testing.T, cfg Config) *Sender {
	t.Helper()
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.From == "" {
		cfg.From = "Roomgate <roomgate@example.com>"
	}
	if cfg.TLS == "" {
		cfg.TLS = TLSNone
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.PublicURL == "" {
		cfg.PublicURL = "https://vc.example.com"
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return testNow }
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestSendWeeklyInvitationToTwoRecipients(t *testing.T) {
	sk := startSink(t)
	reg := prometheus.NewRegistry()
	s := newTestSender(t, Config{Port: sk.port, Registerer: reg})
	c := weeklyConference()
	to := []string{"Alice Example <alice@example.org>", "mailto:bob@example.net", "ALICE@example.org"}
	if err := s.SendInvitation(context.Background(), c, to); err != nil {
		t.Fatalf("SendInvitation: %v", err)
	}
	msgs := sk.messages(t)
	if len(msgs) != 2 {
		t.Fatalf("sink stored %d messages, want 2 (one per distinct recipient)", len(msgs))
	}
	if got := testutil.ToFloat64(s.metrics.sent); got != 2 {
		t.Errorf("sent counter = %v, want 2", got)
	}
	var uids []string
	for i, want := range []string{"alice@example.org", "bob@example.net"} {
		m := msgs[i]
		if got := m.Header.Get("X-RcptTo"); got != want {
			t.Errorf("message %d envelope recipients %q, want only %q", i, got, want)
		}
		tos, err := m.Header.AddressList("To")
		if err != nil || len(tos) != 1 || tos[0].Address != want {
			t.Errorf("message %d To = %v (%v), want only %s", i, tos, err, want)
		}
		if m.Header.Get("Cc") != "" || m.Header.Get("Bcc") != "" {
			t.Errorf("message %d has Cc/Bcc", i)
		}
		subj, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
		if err != nil || subj != "Invitation: "+c.Name {
			t.Errorf("Subject = %q (%v)", subj, err)
		}
		ls := leaves(t, m.Header.Get("Content-Type"), m.Body)
		text, ok := findLeaf(ls, "text/plain")
		if !ok {
			t.Fatalf("no text/plain part in %v", ls)
		}
		html, ok := findLeaf(ls, "text/html")
		if !ok {
			t.Fatalf("no text/html part")
		}
		cal, ok := findLeaf(ls, "text/calendar")
		if !ok {
			t.Fatalf("no text/calendar part")
		}
		if cal.params["method"] != "REQUEST" {
			t.Errorf("calendar part parameters %v, want method=REQUEST", cal.params)
		}
		if !strings.HasPrefix(cal.header["Content-Disposition"][0], "attachment") {
			t.Errorf("calendar part disposition %q", cal.header["Content-Disposition"])
		}
		for _, want := range []string{
			"maria invites you", c.Name, "Conference ID: 4711",
			"https://vc.example.com/c/4711", "sip:4711@vc.example.com", "vc.example.com##4711",
			"A PIN is required", "Every Monday and Wednesday, 09:30–10:30",
			"time zone Europe/Berlin", "starting Monday, 2 March 2026", "1. numbers; 2. plans",
		} {
			if !strings.Contains(text.body, want) {
				t.Errorf("text part lacks %q:\n%s", want, text.body)
			}
		}
		for _, body := range []string{text.body, html.body, cal.body} {
			if strings.Contains(body, c.PIN) {
				t.Errorf("the PIN was mailed")
			}
		}
		if strings.Contains(html.body, "<script>") || strings.Contains(html.body, "<b>sync") {
			t.Errorf("HTML part does not escape the conference's text:\n%s", html.body)
		}
		if !strings.Contains(html.body, `<a href="https://vc.example.com/c/4711">`) {
			t.Errorf("HTML part lacks the page link:\n%s", html.body)
		}

		props := parseICS(t, cal.body)
		ev := "VCALENDAR/VEVENT"
		check := func(name, wantParams, wantValue string) {
			t.Helper()
			p, n := icsGet(props, ev, name)
			if n != 1 || p.params != wantParams || p.value != wantValue {
				t.Errorf("%s: %d times, %q:%q; want %q:%q", name, n, p.params, p.value, wantParams, wantValue)
			}
		}
		check("RRULE", "", "FREQ=WEEKLY;BYDAY=MO,WE")
		check("DTSTART", "TZID=Europe/Berlin", "20260302T093000")
		check("DTEND", "TZID=Europe/Berlin", "20260302T103000")
		check("URL", "", "https://vc.example.com/c/4711")
		check("UID", "", "4711@vc.example.com")
		check("DTSTAMP", "", "20260220T120000Z")
		check("SEQUENCE", "", "42")
		check("ATTENDEE", "ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=FALSE", "mailto:"+want)
		check("ORGANIZER", "CN=maria", "mailto:roomgate@example.com")
		sum, _ := icsGet(props, ev, "SUMMARY")
		if got := unescapeText(sum.value); got != c.Name {
			t.Errorf("SUMMARY unescapes to %q, want %q", got, c.Name)
		}
		desc, _ := icsGet(props, ev, "DESCRIPTION")
		if got := unescapeText(desc.value); !strings.HasPrefix(got, c.Description+"\n") ||
			!strings.Contains(got, "sip:4711@vc.example.com") {
			t.Errorf("DESCRIPTION unescapes to %q", got)
		}
		if m, _ := icsGet(props, "VCALENDAR", "METHOD"); m.value != "REQUEST" {
			t.Errorf("METHOD = %q", m.value)
		}
		if tz, n := icsGet(props, "VCALENDAR/VTIMEZONE", "TZID"); n != 1 || tz.value != "Europe/Berlin" {
			t.Errorf("VTIMEZONE TZID = %q (%d)", tz.value, n)
		}
		if r, _ := icsGet(props, "VCALENDAR/VTIMEZONE/DAYLIGHT", "RRULE"); r.value != "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU" {
			t.Errorf("daylight rule %q", r.value)
		}
		uid, _ := icsGet(props, ev, "UID")
		uids = append(uids, uid.value)
	}
	if uids[0] != uids[1] {
		t.Errorf("UID differs between recipients: %v", uids)
	}
}

func TestSendVirtualRoomHasNoCalendar(t *testing.T) {
	sk := startSink(t)
	s := newTestSender(t, Config{Port: sk.port, PublicURL: "http://[::1]:8080/"})
	c := conf.Conference{ID: "1000", Name: "Lobby room", Access: "public", Schedule: conf.Schedule{Type: conf.ScheduleNone}}
	if err := s.SendInvitation(context.Background(), c, []string{"carol@example.com"}); err != nil {
		t.Fatalf("SendInvitation: %v", err)
	}
	msgs := sk.messages(t)
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	ls := leaves(t, msgs[0].Header.Get("Content-Type"), msgs[0].Body)
	if _, ok := findLeaf(ls, "text/calendar"); ok {
		t.Errorf("a virtual room invitation carries a calendar entry")
	}
	text, ok := findLeaf(ls, "text/plain")
	if !ok {
		t.Fatal("no text part")
	}
	for _, want := range []string{"http://[::1]:8080/c/1000", "sip:1000@[::1]", "::1##1000", "virtual room"} {
		if !strings.Contains(text.body, want) {
			t.Errorf("text lacks %q:\n%s", want, text.body)
		}
	}
	if strings.Contains(text.body, "PIN") {
		t.Errorf("PIN line without a PIN:\n%s", text.body)
	}
}

func TestSendAuthenticates(t *testing.T) {
	sk := startSink(t, "--auth", "roomgate:s3cret-pw")
	c := weeklyConference()

	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	good := newTestSender(t, Config{Port: sk.port, Username: "roomgate", Password: "s3cret-pw", Logger: logger})
	if err := good.SendInvitation(context.Background(), c, []string{"dave@example.com"}); err != nil {
		t.Fatalf("with the right password: %v", err)
	}
	if n := len(sk.messages(t)); n != 1 {
		t.Fatalf("%d messages stored, want 1", n)
	}

	bad := newTestSender(t, Config{Port: sk.port, Username: "roomgate", Password: "wrong-pw", Logger: logger})
	err := bad.SendInvitation(context.Background(), c, []string{"erin@example.com"})
	if !errors.Is(err, ErrConnect) || !strings.Contains(err.Error(), "erin@example.com") {
		t.Errorf("wrong password: %v, want ErrConnect naming the recipient", err)
	}

	anon := newTestSender(t, Config{Port: sk.port, Logger: logger})
	if err := anon.SendInvitation(context.Background(), c, []string{"frank@example.com"}); !errors.Is(err, ErrSend) {
		t.Errorf("without credentials: %v, want ErrSend (the server requires AUTH)", err)
	}
	if n := len(sk.messages(t)); n != 1 {
		t.Errorf("%d messages stored, want still 1", n)
	}
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "smtp", good.cfg)
	for _, pw := range []string{"s3cret-pw", "wrong-pw"} {
		if strings.Contains(logs.String(), pw) || (err != nil && strings.Contains(err.Error(), pw)) {
			t.Errorf("password %q leaked into logs or errors:\n%s", pw, logs.String())
		}
	}
	if !strings.Contains(logs.String(), "password=REDACTED") {
		t.Errorf("Config.LogValue does not redact the password:\n%s", logs.String())
	}
}

func TestSendStartTLS(t *testing.T) {
	certFile, keyFile, roots := testCert(t)
	sk := startSink(t, "--starttls", certFile, keyFile)
	c := weeklyConference()

	s := newTestSender(t, Config{Port: sk.port, TLS: TLSStartTLS, TLSConfig: tlsTo(roots)})
	if err := s.SendInvitation(context.Background(), c, []string{"gina@example.com"}); err != nil {
		t.Fatalf("STARTTLS: %v", err)
	}
	if n := len(sk.messages(t)); n != 1 {
		t.Fatalf("%d messages, want 1", n)
	}
	// An untrusted certificate stops the session before any mail.
	untrusted := newTestSender(t, Config{Port: sk.port, TLS: TLSStartTLS})
	if err := untrusted.SendInvitation(context.Background(), c, []string{"hank@example.com"}); !errors.Is(err, ErrConnect) {
		t.Errorf("untrusted certificate: %v, want ErrConnect", err)
	}

	// starttls is mandatory: a server without it is refused.
	plain := startSink(t)
	s2 := newTestSender(t, Config{Port: plain.port, TLS: TLSStartTLS, TLSConfig: tlsTo(roots)})
	if err := s2.SendInvitation(context.Background(), c, []string{"ivan@example.com"}); !errors.Is(err, ErrConnect) {
		t.Errorf("server without STARTTLS: %v, want ErrConnect", err)
	}
	if n := len(plain.messages(t)); n != 0 {
		t.Errorf("mail sent in the clear despite tls=starttls")
	}
}

func TestSendImplicitTLS(t *testing.T) {
	certFile, keyFile, roots := testCert(t)
	sk := startSink(t, "--smtps", certFile, keyFile, "--auth", "u:p")
	s := newTestSender(t, Config{Port: sk.port, TLS: TLSImplicit, TLSConfig: tlsTo(roots), Username: "u", Password: "p"})
	if err := s.SendInvitation(context.Background(), weeklyConference(), []string{"judy@example.com"}); err != nil {
		t.Fatalf("implicit TLS: %v", err)
	}
	if n := len(sk.messages(t)); n != 1 {
		t.Fatalf("%d messages, want 1", n)
	}
}

func TestSendRefusedRecipient(t *testing.T) {
	sk := startSink(t, "--refuse", "nobody")
	reg := prometheus.NewRegistry()
	s := newTestSender(t, Config{Port: sk.port, Registerer: reg})
	err := s.SendInvitation(context.Background(), weeklyConference(),
		[]string{"nobody@example.com", "kim@example.com", "not an address"})
	if !errors.Is(err, ErrSend) || !strings.Contains(err.Error(), "nobody@example.com") {
		t.Errorf("refused recipient: %v, want ErrSend naming nobody@example.com", err)
	}
	if !errors.Is(err, ErrRecipient) || !strings.Contains(err.Error(), `"not an address"`) {
		t.Errorf("invalid recipient: %v, want ErrRecipient naming it", err)
	}
	if strings.Contains(err.Error(), "kim@") {
		t.Errorf("the accepted recipient is reported as failed: %v", err)
	}
	msgs := sk.messages(t)
	if len(msgs) != 1 || msgs[0].Header.Get("X-RcptTo") != "kim@example.com" {
		t.Fatalf("stored %d messages, want kim's only", len(msgs))
	}
	if got := testutil.ToFloat64(s.metrics.failed); got != 2 {
		t.Errorf("failed counter = %v, want 2", got)
	}
	if got := testutil.ToFloat64(s.metrics.sent); got != 1 {
		t.Errorf("sent counter = %v, want 1", got)
	}
	if n, err := testutil.GatherAndCount(reg, "roomgate_mail_invitations_sent_total", "roomgate_mail_invitations_failed_total"); err != nil || n != 2 {
		t.Errorf("registered metrics: %d, %v", n, err)
	}
}

// freePort returns a loopback port that nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	return port
}

// silentServer accepts connections and never says a word, like a server
// behind a black-holing firewall; accepted reports each connection.
func silentServer(t *testing.T) (port int, accepted <-chan struct{}) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan struct{}, 8)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				_ = c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			ch <- struct{}{}
		}
	}()
	t.Cleanup(func() { _ = l.Close(); <-done })
	return l.Addr().(*net.TCPAddr).Port, ch
}

func TestSendUnreachableServer(t *testing.T) {
	c := weeklyConference()
	t.Run("connection refused", func(t *testing.T) {
		s := newTestSender(t, Config{Port: freePort(t)})
		err := s.SendInvitation(context.Background(), c, []string{"leo@example.com", "mia@example.com"})
		if !errors.Is(err, ErrConnect) || !strings.Contains(err.Error(), "leo@example.com") || !strings.Contains(err.Error(), "mia@example.com") {
			t.Errorf("got %v, want ErrConnect naming both recipients", err)
		}
		if got := testutil.ToFloat64(s.metrics.failed); got != 2 {
			t.Errorf("failed counter = %v, want 2", got)
		}
	})
	t.Run("silent server, timeout", func(t *testing.T) {
		port, _ := silentServer(t)
		// A one-minute ceiling, against a 200 ms Timeout: generous
		// enough for any machine, far below go-mail's own default.
		s := newTestSender(t, Config{Port: port, Timeout: 200 * time.Millisecond})
		start := time.Now()
		err := s.SendInvitation(context.Background(), c, []string{"ned@example.com"})
		if !errors.Is(err, ErrConnect) {
			t.Errorf("got %v, want ErrConnect", err)
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("got %v, want a timeout", err)
		}
		if d := time.Since(start); d > time.Minute {
			t.Errorf("took %v with Timeout 200ms", d)
		}
	})
	t.Run("silent server, context cancelled", func(t *testing.T) {
		port, accepted := silentServer(t)
		s := newTestSender(t, Config{Port: port, Timeout: 10 * time.Minute})
		ctx, cancel := context.WithCancelCause(context.Background())
		stop := errors.New("shutting down")
		go func() {
			<-accepted
			cancel(stop)
		}()
		err := s.SendInvitation(ctx, c, []string{"olga@example.com"})
		if !errors.Is(err, ErrConnect) || !errors.Is(err, stop) {
			t.Errorf("got %v, want ErrConnect with the context's cause", err)
		}
	})
}

func TestSendInvalidRecipientsNeverConnect(t *testing.T) {
	port, accepted := silentServer(t)
	s := newTestSender(t, Config{Port: port, Timeout: 10 * time.Minute})
	bad := []string{
		"",
		"a@example.com, b@example.com",
		"x@example.com\r\nBcc: victim@example.net",
		"Name <x@example.com>\nSubject: spam",
		"no-at-sign",
		"<x@example.com>>",
		strings.Repeat("a", 400) + "@example.com",
	}
	err := s.SendInvitation(context.Background(), weeklyConference(), bad)
	for _, b := range bad {
		if !strings.Contains(err.Error(), strconv.Quote(b)) {
			t.Errorf("error does not name %q: %v", b, err)
		}
	}
	if !errors.Is(err, ErrRecipient) || errors.Is(err, ErrConnect) {
		t.Errorf("got %v, want ErrRecipient only", err)
	}
	select {
	case <-accepted:
		t.Errorf("connected to the server with no valid recipient")
	default:
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	base := Config{Host: "smtp.example.com", From: "r@example.com", PublicURL: "https://vc.example.com"}
	for name, mod := range map[string]func(*Config){
		"no host":        func(c *Config) { c.Host = "" },
		"host with port": func(c *Config) { c.Host = "smtp.example.com/25" },
		"bad tls":        func(c *Config) { c.TLS = "ssl" },
		"bad port":       func(c *Config) { c.Port = 70000 },
		"bad from":       func(c *Config) { c.From = "roomgate" },
		"no public url":  func(c *Config) { c.PublicURL = "" },
		"relative url":   func(c *Config) { c.PublicURL = "/conferences" },
		"negative time":  func(c *Config) { c.Timeout = -time.Second },
	} {
		cfg := base
		mod(&cfg)
		if _, err := New(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: got %v, want ErrConfig", name, err)
		}
	}
	s, err := New(base)
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg.TLS != TLSStartTLS || s.cfg.Port != 587 || s.cfg.Timeout != DefaultTimeout {
		t.Errorf("defaults: tls %q port %d timeout %v", s.cfg.TLS, s.cfg.Port, s.cfg.Timeout)
	}
	reg := prometheus.NewRegistry()
	base.Registerer = reg
	if _, err := New(base); err != nil {
		t.Fatal(err)
	}
	if _, err := New(base); err == nil {
		t.Errorf("registering the metrics twice on one registry succeeded")
	}
}

// recipientHeaders are the only headers an invitation may carry.
var recipientHeaders = []string{"Content-Type", "Date", "From", "Message-Id", "Mime-Version", "Subject", "To"}

// renderMessage builds the message for one recipient the way
// SendInvitation does and returns it parsed.
func renderMessage(t testing.TB, s *Sender, c conf.Conference, to string) (*netmail.Message, []byte) {
	a, err := parseRecipient(to)
	if err != nil {
		t.Fatalf("recipient %q: %v", to, err)
	}
	inv := newInvitation(c, s.public)
	text, html, err := inv.render()
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.message(c, inv, text, html, a, testNow)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	pm, err := netmail.ReadMessage(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("the message does not parse: %v\n%s", err, buf.String())
	}
	return pm, buf.Bytes()
}

func TestHostileConferenceCannotInjectHeaders(t *testing.T) {
	s := newTestSender(t, Config{Port: 25})
	c := weeklyConference()
	c.Name = "Weekly\r\nBcc: victim@evil.example\r\n\r\n--boundary\r\nContent-Type: text/html\n<script>x</script>"
	c.Owner = "mallory\r\nReply-To: mallory@evil.example"
	c.Description = "line\r\nBCC: victim@evil.example\r\n.\r\nMAIL FROM:<x@y>\r\nEND:VEVENT\r\nBEGIN:VEVENT"
	pm, raw := renderMessage(t, s, c, "Peggy <peggy@example.com>")
	for k := range pm.Header {
		found := false
		for _, h := range recipientHeaders {
			found = found || h == k
		}
		if !found {
			t.Errorf("unexpected header %q: %q", k, pm.Header[k])
		}
	}
	subj, err := new(mime.WordDecoder).DecodeHeader(pm.Header.Get("Subject"))
	if err != nil || strings.ContainsAny(subj, "\r\n") || !strings.HasPrefix(subj, "Invitation: Weekly Bcc: victim@evil.example") {
		t.Errorf("Subject = %q (%v)", subj, err)
	}
	ls := leaves(t, pm.Header.Get("Content-Type"), pm.Body)
	if len(ls) != 3 {
		t.Fatalf("%d MIME leaves, want text, html, calendar", len(ls))
	}
	cal, _ := findLeaf(ls, "text/calendar")
	props := parseICS(t, cal.body)
	if _, n := icsGet(props, "VCALENDAR/VEVENT", "UID"); n != 1 {
		t.Errorf("description injected a calendar component")
	}
	if d, _ := icsGet(props, "VCALENDAR/VEVENT", "DESCRIPTION"); !strings.HasPrefix(unescapeText(d.value), cleanText(c.Description)) {
		t.Errorf("DESCRIPTION = %q", unescapeText(d.value))
	}
	if bytes.Contains(raw, []byte("\nBcc:")) || bytes.Contains(raw, []byte("\nReply-To:")) {
		t.Errorf("raw message carries an injected header:\n%s", raw)
	}
}
