package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	gomail "github.com/wneessen/go-mail"

	"github.com/roomgate/roomgate/conf"
)

// TLS modes of Config.TLS (the smtp.tls setting).
const (
	TLSNone     = "none"     // plain SMTP, never STARTTLS
	TLSStartTLS = "starttls" // STARTTLS is required (RFC 3207)
	TLSImplicit = "tls"      // TLS from the first byte (RFC 8314, port 465)
)

// Defaults for zero Config fields.
const (
	DefaultTimeout = 30 * time.Second
	// maxRecipients bounds one call; conf sends a conference's invitees,
	// which are far fewer.
	maxRecipients = 1000
	// maxAddressLen is the longest address accepted (RFC 5321 4.5.3.1:
	// 64 octets of local part, 255 of domain).
	maxAddressLen = 320
)

// Config configures a Sender; cmd fills it from smtp.* and http.public_url.
type Config struct {
	// Host and Port are the SMTP server. Port 0 is 25, 587 or 465 by TLS.
	Host string
	Port int
	// Username and Password enable SMTP AUTH (PLAIN or LOGIN, whichever
	// the server offers first in that order). The password is sent only
	// over TLS, or to a server on the loopback address.
	Username, Password string
	// From is the sender address, e.g. "Roomgate <roomgate@example.com>".
	From string
	// TLS is none, starttls or tls (TLSNone ...); "" is starttls.
	TLS string
	// Timeout bounds connecting, each SMTP exchange and each message;
	// 0 is DefaultTimeout.
	Timeout time.Duration
	// PublicURL is where users reach the web pages; conference links and
	// the SIP and H.323 host are derived from it.
	PublicURL string
	// Logger receives one line per mail; nil discards.
	Logger *slog.Logger
	// Registerer, when set, gets the sent / failed counters.
	Registerer prometheus.Registerer
	// TLSConfig overrides the TLS settings (trusted roots for a private
	// CA, client certificates); nil verifies Host against the system
	// roots. ServerName defaults to Host.
	TLSConfig *tls.Config
	// Now is the clock of DTSTAMP and Date; nil is time.Now.
	Now func() time.Time
}

// LogValue keeps the password out of logs even when a whole Config is
// logged.
func (c Config) LogValue() slog.Value {
	pw := ""
	if c.Password != "" {
		pw = "REDACTED"
	}
	return slog.GroupValue(
		slog.String("host", c.Host), slog.Int("port", c.Port), slog.String("username", c.Username),
		slog.String("password", pw), slog.String("from", c.From), slog.String("tls", c.TLS),
		slog.Duration("timeout", c.Timeout), slog.String("public_url", c.PublicURL))
}

// Sender mails conference invitations over SMTP; it implements
// conf.Mailer. It is safe for concurrent use: every SendInvitation opens
// its own SMTP session.
type Sender struct {
	cfg     Config
	from    *netmail.Address
	public  *url.URL
	log     *slog.Logger
	metrics *metrics
	now     func() time.Time
}

var _ conf.Mailer = (*Sender)(nil)

// New checks cfg and returns a Sender. It does not connect: an SMTP
// server that is down at start-up must not stop the conferencing server.
func New(cfg Config) (*Sender, error) {
	if cfg.Host == "" || strings.ContainsAny(cfg.Host, " /@;<>\"\r\n") {
		return nil, fmt.Errorf("%w: smtp host %q is not a host name or address", ErrConfig, cfg.Host)
	}
	switch cfg.TLS {
	case "":
		cfg.TLS = TLSStartTLS
	case TLSNone, TLSStartTLS, TLSImplicit:
	default:
		return nil, fmt.Errorf("%w: smtp tls %q is not one of none, starttls, tls", ErrConfig, cfg.TLS)
	}
	if cfg.Port == 0 {
		cfg.Port = map[string]int{TLSNone: 25, TLSStartTLS: 587, TLSImplicit: 465}[cfg.TLS]
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("%w: smtp port %d is not between 1 and 65535", ErrConfig, cfg.Port)
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("%w: smtp timeout %s is negative", ErrConfig, cfg.Timeout)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	from, err := netmail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("%w: smtp from %q: %w", ErrConfig, cfg.From, err)
	}
	from.Name = oneLine(from.Name)
	pu, err := url.Parse(cfg.PublicURL)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Hostname() == "" {
		return nil, fmt.Errorf("%w: public URL %q is not an absolute http(s) URL", ErrConfig, cfg.PublicURL)
	}
	pu.RawQuery, pu.Fragment, pu.User = "", "", nil
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Sender{
		cfg:     cfg,
		from:    from,
		public:  pu,
		log:     logger.With("component", "mail"),
		metrics: newMetrics(),
		now:     cfg.Now,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if cfg.Registerer != nil {
		if err := s.metrics.register(cfg.Registerer); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// parseRecipient accepts one address as net/mail reads it ("a@b" or
// "Name <a@b>", also written as a conf mailto: target), nothing that
// could smuggle a header or a second recipient.
func parseRecipient(s string) (*netmail.Address, error) {
	if len(s) > maxAddressLen+200 || strings.ContainsAny(s, "\r\n\x00") {
		return nil, fmt.Errorf("%w %q: not a single address", ErrRecipient, s)
	}
	addr := s
	if len(addr) > len(conf.MailtoScheme) && strings.EqualFold(addr[:len(conf.MailtoScheme)], conf.MailtoScheme) {
		addr = addr[len(conf.MailtoScheme):]
	}
	a, err := netmail.ParseAddress(addr)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrRecipient, s, err)
	}
	if len(a.Address) > maxAddressLen || strings.ContainsAny(a.Address, "\r\n<>\x00") {
		return nil, fmt.Errorf("%w %q: not a single address", ErrRecipient, s)
	}
	a.Name = oneLine(a.Name)
	return a, nil
}

// SendInvitation mails the invitation to conference c to each address in
// to, one message per recipient so that no invitee sees the others. Every
// address is checked first; the valid ones are sent over one SMTP
// session. The error joins one wrapped error per recipient that did not
// get the mail (ErrRecipient, ErrConnect, ErrSend), each naming it.
// Addresses that differ only in letter case get one mail.
func (s *Sender) SendInvitation(ctx context.Context, c conf.Conference, to []string) error {
	log := s.log.With("conf", c.ID)
	if c.ID == "" {
		return fmt.Errorf("%w: conference has no ID to invite to", ErrRecipient)
	}
	if len(to) > maxRecipients {
		return fmt.Errorf("%w: %d recipients, at most %d per call", ErrRecipient, len(to), maxRecipients)
	}
	var errs []error
	var rcpts []*netmail.Address
	seen := map[string]bool{}
	for _, raw := range to {
		a, err := parseRecipient(raw)
		if err != nil {
			s.metrics.failed.Inc()
			log.Warn("invitation not sent", "to", raw, "err", err)
			errs = append(errs, fmt.Errorf("inviting to conference %s: %w", c.ID, err))
			continue
		}
		if key := strings.ToLower(a.Address); !seen[key] {
			seen[key] = true
			rcpts = append(rcpts, a)
		}
	}
	if len(rcpts) == 0 {
		return errors.Join(errs...)
	}

	inv := newInvitation(c, s.public)
	text, html, err := inv.render()
	if err != nil {
		return fmt.Errorf("mail: rendering the invitation to conference %s: %w", c.ID, err)
	}
	now := s.now()
	msgs := make([]*gomail.Msg, len(rcpts))
	for i, a := range rcpts {
		if msgs[i], err = s.message(c, inv, text, html, a, now); err != nil {
			return fmt.Errorf("mail: building the invitation to conference %s for %s: %w", c.ID, a.Address, err)
		}
	}

	client, conns, err := s.client(ctx)
	if err != nil {
		return fmt.Errorf("mail: setting up the SMTP client: %w", err)
	}
	defer conns.closeAll()
	stop := context.AfterFunc(ctx, conns.closeAll)
	defer stop()

	addr := net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port))
	if err := client.DialWithContext(ctx); err != nil {
		err = withCause(ctx, err)
		for _, a := range rcpts {
			s.metrics.failed.Inc()
			errs = append(errs, fmt.Errorf("%w %s for %s (conference %s): %w", ErrConnect, addr, a.Address, c.ID, err))
		}
		log.Warn("invitations not sent", "smtp", addr, "recipients", len(rcpts), "err", err)
		return errors.Join(errs...)
	}
	for i, a := range rcpts {
		if err := client.Send(msgs[i]); err != nil {
			err = withCause(ctx, err)
			s.metrics.failed.Inc()
			log.Warn("invitation not sent", "to", a.Address, "smtp", addr, "err", err)
			errs = append(errs, fmt.Errorf("%w: invitation to conference %s for %s: %w", ErrSend, c.ID, a.Address, err))
			continue
		}
		s.metrics.sent.Inc()
		log.Info("invitation sent", "to", a.Address, "smtp", addr)
	}
	if err := client.Close(); err != nil && ctx.Err() == nil {
		// The messages were accepted before QUIT; a failed QUIT loses none.
		log.Debug("closing the SMTP session", "smtp", addr, "err", err)
	}
	return errors.Join(errs...)
}

// withCause adds why ctx ended to err, when it did: the session was cut
// by closing its connection, which alone reads as a network error.
func withCause(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%w)", err, context.Cause(ctx))
	}
	return err
}

// connSet remembers the connections a client dialled so that a cancelled
// context and the end of SendInvitation can close them; go-mail bounds
// each exchange by Timeout but does not watch a context after dialling,
// and leaves the connection open when the greeting or STARTTLS fails.
type connSet struct {
	mu     sync.Mutex
	conns  []net.Conn
	closed bool
}

func (cs *connSet) add(c net.Conn) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.closed {
		return false
	}
	cs.conns = append(cs.conns, c)
	return true
}

func (cs *connSet) closeAll() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.closed = true
	for _, c := range cs.conns {
		_ = c.Close()
	}
	cs.conns = nil
}

// client builds the go-mail client of one session.
func (s *Sender) client(ctx context.Context) (*gomail.Client, *connSet, error) {
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.cfg.TLSConfig != nil {
		tlsCfg = s.cfg.TLSConfig.Clone()
	}
	if tlsCfg.ServerName == "" {
		tlsCfg.ServerName = s.cfg.Host
	}
	conns := &connSet{}
	implicit := s.cfg.TLS == TLSImplicit
	dial := func(dctx context.Context, network, address string) (net.Conn, error) {
		d := &net.Dialer{}
		var c net.Conn
		var err error
		if implicit {
			c, err = (&tls.Dialer{NetDialer: d, Config: tlsCfg}).DialContext(dctx, network, address)
		} else {
			c, err = d.DialContext(dctx, network, address)
		}
		if err != nil {
			return nil, err
		}
		if !conns.add(c) {
			_ = c.Close()
			return nil, context.Cause(ctx)
		}
		return c, nil
	}
	opts := []gomail.Option{
		gomail.WithPort(s.cfg.Port),
		gomail.WithTimeout(s.cfg.Timeout),
		gomail.WithTLSConfig(tlsCfg),
		gomail.WithDialContextFunc(dial),
	}
	switch s.cfg.TLS {
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSImplicit:
		// The dialer does the TLS; WithSSL keeps go-mail from trying
		// STARTTLS inside it.
		opts = append(opts, gomail.WithSSL())
	}
	if s.cfg.Username != "" {
		opts = append(opts,
			gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthPlain, gomail.SMTPAuthLogin),
			gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.cfg.Password))
	}
	c, err := gomail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return nil, nil, err
	}
	return c, conns, nil
}

// message builds the mail for one recipient: text and HTML alternatives,
// and for a scheduled conference the .ics with that recipient as
// attendee.
func (s *Sender) message(c conf.Conference, inv invitation, text, html string, to *netmail.Address, now time.Time) (*gomail.Msg, error) {
	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	m.FromMailAddress(s.from)
	m.ToMailAddress(to)
	m.Subject(inv.subject())
	m.SetDateWithValue(now)
	domain := s.from.Address[strings.LastIndexByte(s.from.Address, '@')+1:]
	m.SetMessageIDWithValue(strings.ToLower(rand.Text()) + "@" + domain)
	m.SetBodyString(gomail.TypeTextPlain, text)
	m.AddAlternativeString(gomail.TypeTextHTML, html)
	if inv.Virtual {
		return m, nil
	}
	ics := marshalICS(s.calendarEvent(c, inv, to.Address, now))
	if err := m.AttachReader("invitation.ics", bytes.NewReader(ics),
		gomail.WithFileContentType("text/calendar; method=REQUEST; charset=UTF-8")); err != nil {
		return nil, fmt.Errorf("attaching the calendar entry: %w", err)
	}
	return m, nil
}

// calendarEvent describes conference c for the .ics of one attendee.
func (s *Sender) calendarEvent(c conf.Conference, inv invitation, attendee string, now time.Time) icsEvent {
	sc := c.Schedule
	loc, zone := scheduleLocation(sc)
	ev := icsEvent{
		// Stable per conference, so that a later invitation updates the
		// entry instead of adding a second one (RFC 5545 3.8.4.7).
		UID:         c.ID + "@" + s.public.Hostname(),
		Stamp:       now,
		Start:       firstOccurrence(sc, loc),
		Duration:    time.Duration(sc.DurationMinutes) * time.Minute,
		Location:    loc,
		Summary:     inv.Name,
		Description: inv.calendarDescription(),
		URL:         inv.PageURL,
		Where:       inv.PageURL,
		Organizer:   s.from.Address,
		OrganizerCN: s.from.Name,
		Attendee:    attendee,
	}
	if inv.Inviter != "" {
		ev.OrganizerCN = inv.Inviter
	}
	// SEQUENCE must grow with each revision (RFC 5546 2.1.4); seconds
	// between creation and last change do, without keeping a counter.
	if !c.UpdatedAt.IsZero() && !c.CreatedAt.IsZero() && c.UpdatedAt.After(c.CreatedAt) {
		ev.Sequence = int64(c.UpdatedAt.Sub(c.CreatedAt) / time.Second)
	}
	if zone != "UTC" {
		ev.TZID = zone
	}
	if sc.Type == conf.ScheduleWeekly {
		for _, d := range sc.Days {
			if code, ok := icsDay(d); ok {
				ev.WeeklyDays = append(ev.WeeklyDays, code)
			}
		}
	}
	return ev
}
