package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomgate/roomgate/conf"
)

// The registrar (RFC 3261 §10.3): address-book users register their SIP
// phones here so that inviting them rings the phones. Every REGISTER is
// authenticated with digest (auth.go) against the credentials conf keeps
// for the user, and a user may register only his own address (the To
// user part is his user ID). Bindings are kept by conf (RegisterContact),
// in memory: see conf/registry.go.
//
// Brute force: every failed authentication counts against the source
// address in conf (SIPAuthFailed); a source that fails too often is
// refused with 403 without its credentials being looked at, for a while.
// Failures are logged and counted in roomgate_sip_auth_failures_total.

// Registrar defaults (RFC 3261 §10.2.1.1 suggests an hour; phones usually
// ask for less).
const (
	DefaultMinExpires     = 60 * time.Second
	DefaultMaxExpires     = 2 * time.Hour
	DefaultRegisterExpiry = time.Hour
	// maxContactsPerRequest bounds the Contact headers of one REGISTER.
	maxContactsPerRequest = 16
)

// Registry is conf's side of the registrar; *conf.Service implements it.
type Registry interface {
	SIPUser(ctx context.Context, id string) (conf.User, error)
	SIPAuthAllowed(ip string) error
	SIPAuthFailed(ctx context.Context, ip, user string) bool
	RegisterContact(ctx context.Context, userID string, b conf.Binding, ttl time.Duration) ([]conf.Binding, error)
	RemoveContacts(ctx context.Context, userID string)
	Contacts(userID string) []conf.Binding
}

// RegistrarConfig configures a Registrar.
type RegistrarConfig struct {
	// Realm of the digest challenges (sip.realm); the users' credentials
	// are made for it.
	Realm string
	// MinExpires is the shortest registration accepted (423 below it);
	// default DefaultMinExpires.
	MinExpires time.Duration
	// MaxExpires caps a registration; default DefaultMaxExpires.
	MaxExpires time.Duration
	// DefaultExpires applies when a REGISTER asks for no expiry; default
	// DefaultRegisterExpiry.
	DefaultExpires time.Duration
	// NonceTTL is how long a nonce is accepted; default DefaultNonceTTL.
	NonceTTL time.Duration
	// Algorithms are the digest algorithms challenged with, in order of
	// preference (AlgMD5, AlgSHA256); default MD5 only. RFC 8760 lets a
	// server offer several challenges, but widely deployed phones (baresip
	// with libre 1.x, for one) give up when any challenge names an
	// algorithm they do not know, so SHA-256 is offered only when the
	// operator knows all his phones support it. Both are always verified.
	Algorithms []string
}

// Registrar answers REGISTER requests of a Server (Server.SetRegistrar).
type Registrar struct {
	cfg RegistrarConfig
	reg Registry
	dig *Digester
	log *slog.Logger

	registrations *prometheus.CounterVec
	authFailures  *prometheus.CounterVec
}

// NewRegistrar returns a registrar over reg. promReg, when not nil,
// receives its collectors.
func NewRegistrar(cfg RegistrarConfig, reg Registry, log *slog.Logger, promReg prometheus.Registerer) (*Registrar, error) {
	if reg == nil {
		return nil, fmt.Errorf("%w: the registrar needs a registry", ErrConfig)
	}
	if cfg.Realm == "" || strings.ContainsAny(cfg.Realm, "\"\\\r\n") {
		return nil, fmt.Errorf("%w: realm %q: want 1 or more characters without quotes or backslashes", ErrConfig, cfg.Realm)
	}
	if cfg.MinExpires == 0 {
		cfg.MinExpires = DefaultMinExpires
	}
	if cfg.MaxExpires == 0 {
		cfg.MaxExpires = DefaultMaxExpires
	}
	if cfg.DefaultExpires == 0 {
		cfg.DefaultExpires = DefaultRegisterExpiry
	}
	if cfg.MinExpires < time.Second || cfg.MaxExpires < cfg.MinExpires {
		return nil, fmt.Errorf("%w: registration expiry bounds %v..%v", ErrConfig, cfg.MinExpires, cfg.MaxExpires)
	}
	cfg.DefaultExpires = min(max(cfg.DefaultExpires, cfg.MinExpires), cfg.MaxExpires)
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = []string{AlgMD5}
	}
	for i, a := range cfg.Algorithms {
		switch {
		case strings.EqualFold(a, AlgMD5):
			cfg.Algorithms[i] = AlgMD5
		case strings.EqualFold(a, AlgSHA256):
			cfg.Algorithms[i] = AlgSHA256
		default:
			return nil, fmt.Errorf("%w: digest algorithm %q: accepted are MD5 and SHA-256", ErrConfig, a)
		}
	}
	dig, err := NewDigester(cfg.Realm, cfg.NonceTTL, nil)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Registrar{cfg: cfg, reg: reg, dig: dig, log: log.With("component", "sip", "layer", "registrar"),
		registrations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomgate_sip_registrations_total",
			Help: "REGISTER requests by result: ok, unregistered, challenged, refused, cooling_down, bad_request, interval_too_brief, error.",
		}, []string{"result"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomgate_sip_auth_failures_total",
			Help: "Failed SIP digest authentications by reason: wrong_credentials, no_credentials, bad_nonce, replay, cooling_down.",
		}, []string{"reason"}),
	}
	if promReg != nil {
		for _, c := range []prometheus.Collector{r.registrations, r.authFailures} {
			if err := promReg.Register(c); err != nil {
				return nil, fmt.Errorf("registering registrar metrics: %w", err)
			}
		}
	}
	return r, nil
}

// SetRegistrar makes s answer REGISTER with r; without one REGISTER is
// answered 405.
func (s *Server) SetRegistrar(r *Registrar) { s.registrar.Store(r) }

// handleRegister answers one REGISTER.
func (s *Server) handleRegister(r *Registrar, req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	ctx := s.ctx
	u, ok := r.authenticate(ctx, s, req, tx)
	if !ok {
		return
	}
	if to := req.To(); to.Address.User != u.ID {
		r.registrations.WithLabelValues("refused").Inc()
		r.log.Warn("register refused: address of another user", "user", u.ID, "aor", truncateAuth(to.Address.User), "src", req.Source())
		s.respond(tx, req, 403, "Forbidden - not your address", nil)
		return
	}
	status, reason, hdrs := r.bind(ctx, u.ID, req)
	if status != 200 {
		s.respond(tx, req, status, reason, nil, hdrs...)
		return
	}
	s.respond(tx, req, 200, "OK", nil, hdrs...)
}

// bind applies the Contact headers of req to user's bindings and returns
// the response to send.
func (r *Registrar) bind(ctx context.Context, user string, req *sipmsg.Request) (int, string, []sipmsg.Header) {
	bad := func(why string) (int, string, []sipmsg.Header) {
		r.registrations.WithLabelValues("bad_request").Inc()
		return 400, "Bad Request - " + why, nil
	}
	ttl := r.cfg.DefaultExpires
	headerExpires := -1
	if h := req.GetHeader("Expires"); h != nil {
		n, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32)
		if err != nil {
			return bad("malformed Expires")
		}
		headerExpires = int(n)
	}
	var contacts []*sipmsg.ContactHeader
	for _, h := range req.GetHeaders("Contact") {
		c, ok := h.(*sipmsg.ContactHeader)
		if !ok {
			return bad("malformed Contact")
		}
		contacts = append(contacts, c)
	}
	if len(contacts) > maxContactsPerRequest {
		return bad("too many Contact headers")
	}
	callID := callIDOf(req)
	cseq := req.CSeq().SeqNo
	// Contact: * removes every binding (RFC 3261 §10.3 step 6), and only
	// with Expires: 0 and nothing else.
	for _, c := range contacts {
		if c.Address.Wildcard {
			if len(contacts) != 1 || headerExpires != 0 {
				return bad("Contact * needs Expires: 0 and no other contact")
			}
			r.reg.RemoveContacts(ctx, user)
			r.registrations.WithLabelValues("unregistered").Inc()
			return 200, "OK", []sipmsg.Header{sipmsg.NewHeader("Date", time.Now().UTC().Format(http1123))}
		}
	}
	type change struct {
		uri string
		ttl time.Duration
	}
	changes := make([]change, 0, len(contacts))
	for _, c := range contacts {
		sc := c.Address.Scheme
		if sc != "sip" && sc != "sips" {
			return bad("contact is not a sip or sips URI")
		}
		want := headerExpires
		if v, ok := c.Params.Get("expires"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
			if err != nil {
				return bad("malformed expires parameter")
			}
			want = int(n)
		}
		d := ttl
		if want >= 0 {
			d = time.Duration(want) * time.Second
		}
		if d > 0 && d < r.cfg.MinExpires {
			r.registrations.WithLabelValues("interval_too_brief").Inc()
			return 423, "Interval Too Brief", []sipmsg.Header{
				sipmsg.NewHeader("Min-Expires", strconv.Itoa(int(r.cfg.MinExpires/time.Second)))}
		}
		d = min(d, r.cfg.MaxExpires)
		uri := c.Address.String()
		if len(uri) > conf.MaxContactLen || strings.ContainsAny(uri, "\r\n\x00") {
			return bad("contact too long")
		}
		changes = append(changes, change{uri, d})
	}
	src := req.Source()
	ua := ""
	if h := req.GetHeader("User-Agent"); h != nil {
		ua = truncateAuth(h.Value())
	}
	result := "ok"
	for _, ch := range changes {
		b := conf.Binding{Contact: ch.uri, CallID: callID, CSeq: cseq, Source: src, UserAgent: ua}
		if _, err := r.reg.RegisterContact(ctx, user, b, ch.ttl); err != nil {
			switch {
			case errors.Is(err, conf.ErrStaleRegistration):
				// RFC 3261 §10.3 step 7.
				r.registrations.WithLabelValues("bad_request").Inc()
				return 500, "Server Internal Error - out-of-order REGISTER", []sipmsg.Header{sipmsg.NewHeader("Retry-After", "1")}
			case errors.Is(err, conf.ErrTooManyContacts):
				r.registrations.WithLabelValues("refused").Inc()
				return 403, "Forbidden - too many registered devices", nil
			default:
				r.registrations.WithLabelValues("error").Inc()
				r.log.Error("registering a contact", "user", user, "err", err)
				return 500, "Server Internal Error", nil
			}
		}
		if ch.ttl == 0 {
			result = "unregistered"
		}
	}
	r.registrations.WithLabelValues(result).Inc()
	hdrs := []sipmsg.Header{sipmsg.NewHeader("Date", time.Now().UTC().Format(http1123))}
	for _, b := range r.reg.Contacts(user) {
		secs := int((b.TTL + time.Second - 1) / time.Second)
		hdrs = append(hdrs, sipmsg.NewHeader("Contact", "<"+b.Contact+">;expires="+strconv.Itoa(secs)))
	}
	if len(changes) > 0 {
		r.log.Debug("register", "user", user, "contacts", len(changes), "src", src)
	}
	return 200, "OK", hdrs
}

// http1123 is the SIP Date format (RFC 3261 §20.17).
const http1123 = "Mon, 02 Jan 2006 15:04:05 GMT"

// authenticate checks the digest credentials of req and returns the
// user; when they are missing or wrong it has answered req itself
// (401 challenge, 403, or 400) and reports false.
func (r *Registrar) authenticate(ctx context.Context, s *Server, req *sipmsg.Request, tx sipmsg.ServerTransaction) (conf.User, bool) {
	ip := sourceIP(req.Source())
	if err := r.reg.SIPAuthAllowed(ip); err != nil {
		r.count(req, "cooling_down")
		r.authFailures.WithLabelValues("cooling_down").Inc()
		r.log.Info("sip request refused: source cooling down", "method", req.Method.String(), "src", req.Source())
		s.respond(tx, req, 403, "Forbidden - too many failed attempts", nil)
		return conf.User{}, false
	}
	h := req.GetHeader("Authorization")
	if h == nil {
		r.challenge(s, req, tx, false)
		return conf.User{}, false
	}
	c, err := ParseAuthorization(h.Value())
	if err != nil {
		r.count(req, "bad_request")
		r.log.Info("bad authorization header", "src", req.Source(), "err", err)
		s.respond(tx, req, 400, "Bad Request - "+sanitizeReason(err.Error()), nil)
		return conf.User{}, false
	}
	if c.Realm != r.cfg.Realm {
		// Credentials for another realm (an old configuration): ask again.
		r.challenge(s, req, tx, false)
		return conf.User{}, false
	}
	fail := func(reason string, err error) (conf.User, bool) {
		r.authFailures.WithLabelValues(reason).Inc()
		r.count(req, "refused")
		cooling := r.reg.SIPAuthFailed(ctx, ip, c.Username)
		r.log.Warn("sip authentication failed", "method", req.Method.String(), "user", truncateAuth(c.Username),
			"src", req.Source(), "reason", reason, "cooling_down", cooling, "err", err)
		s.respond(tx, req, 403, "Forbidden", nil)
		return conf.User{}, false
	}
	u, err := r.reg.SIPUser(ctx, c.Username)
	if err != nil {
		if errors.Is(err, conf.ErrNoSIPCredentials) {
			return fail("no_credentials", err)
		}
		if errors.Is(err, conf.ErrNotFound) {
			return fail("wrong_credentials", err)
		}
		r.count(req, "error")
		r.log.Error("reading sip user", "user", truncateAuth(c.Username), "err", err)
		s.respond(tx, req, 500, "Server Internal Error", nil)
		return conf.User{}, false
	}
	ha1 := u.SIPHA1MD5
	if c.Algorithm == AlgSHA256 {
		ha1 = u.SIPHA1SHA256
	}
	switch err := r.dig.Verify(c, req.Method.String(), ha1); {
	case err == nil:
		return u, true
	case errors.Is(err, ErrStaleNonce):
		r.challenge(s, req, tx, true)
	case errors.Is(err, ErrReplay):
		r.authFailures.WithLabelValues("replay").Inc()
		r.log.Info("replayed digest nonce count", "user", u.ID, "src", req.Source())
		r.challenge(s, req, tx, false)
	case errors.Is(err, ErrBadNonce):
		return fail("bad_nonce", err)
	case errors.Is(err, ErrWrongCredentials):
		return fail("wrong_credentials", err)
	default:
		r.count(req, "bad_request")
		s.respond(tx, req, 400, "Bad Request - "+sanitizeReason(err.Error()), nil)
	}
	return conf.User{}, false
}

// challenge answers req with 401 and fresh digest challenges.
func (r *Registrar) challenge(s *Server, req *sipmsg.Request, tx sipmsg.ServerTransaction, stale bool) {
	chals, err := r.dig.Challenges(stale, r.cfg.Algorithms...)
	if err != nil {
		r.count(req, "error")
		r.log.Error("making a digest challenge", "err", err)
		s.respond(tx, req, 500, "Server Internal Error", nil)
		return
	}
	r.count(req, "challenged")
	hdrs := make([]sipmsg.Header, 0, len(chals))
	for _, c := range chals {
		hdrs = append(hdrs, sipmsg.NewHeader("WWW-Authenticate", c))
	}
	s.respond(tx, req, 401, "Unauthorized", nil, hdrs...)
}

// count counts the outcome of a REGISTER; the authentication of other
// requests (calls to users) is counted by roomgate_sip_auth_failures_total
// only.
func (r *Registrar) count(req *sipmsg.Request, result string) {
	if req.Method == sipmsg.REGISTER {
		r.registrations.WithLabelValues(result).Inc()
	}
}
