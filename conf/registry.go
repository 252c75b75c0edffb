package conf

import (
	"cmp"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Registered SIP devices of address-book users. A user's phone registers
// with the SIP registrar (sip/registrar.go), which authenticates it with
// the digest credentials kept beside the password (SIPHA1MD5,
// SIPHA1SHA256) and records the phone's Contact here. Inviting the user
// then rings every contact he has (dialer.go).
//
// Bindings are soft state, kept in memory only: a phone refreshes its
// registration every few minutes anyway (RFC 3261 §10.2.4), so after a
// restart it is reachable again within one registration interval, and
// nothing stale survives a crash. Expiry is judged on the Service's clock.

// Registration limits.
const (
	// MaxContactsPerUser bounds the devices one user may register, so that
	// one account cannot fill memory or make an invitation ring hundreds
	// of addresses.
	MaxContactsPerUser = 10
	// MaxContactLen bounds a contact URI as stored.
	MaxContactLen = 512
	// registrySweepEvery is how often RegisterContact drops the expired
	// bindings of every user (users who stopped registering).
	registrySweepEvery = time.Minute
)

// Brute-force limits of SIP digest authentication per source address
// (defaults; WithSIPAuthLimits changes them): like PIN guessing, a
// source with DefaultSIPAuthFailures wrong credentials within
// DefaultSIPAuthWindow is refused for DefaultSIPAuthCooldown.
const (
	DefaultSIPAuthFailures = 10
	DefaultSIPAuthWindow   = time.Minute
	DefaultSIPAuthCooldown = 5 * time.Minute
)

// Dial-out rules of a user (User.DialOut).
const (
	// DialOutNone: the server calls nobody on his behalf.
	DialOutNone = "none"
	// DialOutInternal: SIP, H.323 and RTSP addresses and address-book
	// users, but no telephone numbers through a trunk.
	DialOutInternal = "internal"
	// DialOutTrunks: everything, telephone numbers included.
	DialOutTrunks = "trunks"
)

// Registration errors. (They live here rather than in errors.go to keep
// this feature's changes in its own files.)
var (
	// ErrNoSIPCredentials: the user has no digest credentials for the
	// configured realm (his password was set before they existed, or for
	// another realm); he must set his password again.
	ErrNoSIPCredentials = errors.New("conf: user has no SIP credentials for this realm")
	// ErrTooManyContacts: a user tried to register more than
	// MaxContactsPerUser devices.
	ErrTooManyContacts = errors.New("conf: too many registered contacts")
	// ErrStaleRegistration: a REGISTER repeated an older CSeq of the same
	// Call-ID (RFC 3261 §10.3 step 7), e.g. a retransmission overtaken by
	// a refresh.
	ErrStaleRegistration = errors.New("conf: out-of-order registration")
	// ErrAuthCoolDown: a source address failed SIP authentication too
	// often and is refused for a while. It is also ErrUnauthorized.
	ErrAuthCoolDown = fmt.Errorf("conf: source address in authentication cool-down: %w", ErrUnauthorized)
)

// Binding is one registered device (Contact) of a user.
type Binding struct {
	// Contact is the device's SIP URI, without angle brackets or header
	// parameters; it identifies the binding.
	Contact string `json:"contact"`
	// Expires is when the binding lapses unless refreshed; RegisterContact
	// sets it from its ttl on the Service's clock.
	Expires time.Time `json:"expires"`
	// TTL is how long the binding has left, as of the call that returned
	// it; the registrar sends it back as the contact's expires.
	TTL time.Duration `json:"-"`
	// CallID and CSeq of the REGISTER that made it, to refuse
	// out-of-order requests (RFC 3261 §10.3).
	CallID string `json:"-"`
	CSeq   uint32 `json:"-"`
	// Source is the signalling address the REGISTER came from.
	Source string `json:"source,omitempty"`
	// UserAgent is the device's User-Agent, for the operator.
	UserAgent string `json:"user_agent,omitempty"`
}

// userState is what the Service keeps for registered users, invitation
// retries and SIP authentication; it lives in dialState.
type userState struct {
	mu        sync.Mutex
	realm     string
	bindings  map[string][]Binding // user ID -> live bindings, by expiry
	lastSweep time.Time
	guard     *pinGuard
	// retries and retryInterval: how often and how far apart a scheduled
	// conference calls invitees who did not answer (WithInviteRetries).
	retries       int
	retryInterval time.Duration
	// admits are the callers waiting for an owner (owner_call.go).
	admits map[string]*admitRequest
}

// WithSIPRealm sets the realm of the SIP digest credentials that setting a
// password makes (sip.realm); without it none are made.
func WithSIPRealm(realm string) Option {
	return func(s *Service) { s.dial.users.realm = realm }
}

// WithSIPAuthLimits sets how many failed SIP authentications a source
// address may have within window before it is refused for cooldown.
func WithSIPAuthLimits(failures int, window, cooldown time.Duration) Option {
	return func(s *Service) {
		if failures > 0 && window > 0 && cooldown > 0 {
			s.dial.users.guard = newPINGuard(failures, window, cooldown, maxPINSources)
		}
	}
}

// WithInviteRetries makes a scheduled conference call an invitee who did
// not answer up to retries more times, interval apart (invite.retries,
// invite.retry_interval).
func WithInviteRetries(retries int, interval time.Duration) Option {
	return func(s *Service) {
		if retries >= 0 && interval > 0 {
			s.dial.users.retries, s.dial.users.retryInterval = retries, interval
		}
	}
}

// SIPRealm is the realm of the users' digest credentials, empty when none
// is configured.
func (s *Service) SIPRealm() string { return s.dial.users.realm }

// DigestHA1 returns H(user:realm:password) of RFC 7616 §3.4.2 in MD5 and
// SHA-256 (RFC 8760), lower-case hex.
func DigestHA1(user, realm, password string) (md5hex, sha256hex string) {
	a1 := user + ":" + realm + ":" + password
	m := md5.Sum([]byte(a1))
	h := sha256.Sum256([]byte(a1))
	return hex.EncodeToString(m[:]), hex.EncodeToString(h[:])
}

// setSIPCredentials derives u's digest credentials from password for the
// configured realm, or clears them when no realm is configured (old ones
// would no longer match the password).
func (s *Service) setSIPCredentials(u *User, password string) {
	realm := s.dial.users.realm
	if realm == "" {
		u.SIPRealm, u.SIPHA1MD5, u.SIPHA1SHA256 = "", "", ""
		return
	}
	u.SIPRealm = realm
	u.SIPHA1MD5, u.SIPHA1SHA256 = DigestHA1(u.ID, realm, password)
}

// SIPUser returns address-book user id with his digest credentials for
// the configured realm: ErrNotFound when there is no such user,
// ErrNoSIPCredentials when he has none for this realm.
func (s *Service) SIPUser(ctx context.Context, id string) (User, error) {
	u, err := s.GetUser(ctx, id)
	if err != nil {
		return User{}, err
	}
	if realm := s.dial.users.realm; realm == "" || u.SIPRealm != realm || u.SIPHA1MD5 == "" {
		return User{}, fmt.Errorf("user %s: %w", id, ErrNoSIPCredentials)
	}
	return u, nil
}

func (s *Service) authGuard() *pinGuard {
	st := &s.dial.users
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.guard == nil {
		st.guard = newPINGuard(DefaultSIPAuthFailures, DefaultSIPAuthWindow, DefaultSIPAuthCooldown, maxPINSources)
	}
	return st.guard
}

// SIPAuthAllowed returns ErrAuthCoolDown when source address ip failed
// authentication too often lately; the registrar then refuses it without
// looking at its credentials.
func (s *Service) SIPAuthAllowed(ip string) error {
	if cooling, until := s.authGuard().coolingDown(ip, s.clock()); cooling {
		return fmt.Errorf("source %s refused until %s: %w", ip, until.Format(time.RFC3339), ErrAuthCoolDown)
	}
	return nil
}

// SIPAuthFailed records a failed authentication of user from ip and
// reports whether ip is now refused (ErrAuthCoolDown); it logs the start
// of a cool-down as a warning.
func (s *Service) SIPAuthFailed(ctx context.Context, ip, user string) (coolingDown bool) {
	started, cooling := s.authGuard().fail(ip, s.clock())
	if started {
		s.log.WarnContext(ctx, "sip authentication: source refused after repeated failures", "src", ip, "user", user)
	}
	return cooling
}

// RegisterContact adds or refreshes binding b of user userID for ttl, or
// removes it when ttl is not positive, and returns the user's bindings
// after the change. It refuses a request older than the binding's (same
// Call-ID, CSeq not higher) with ErrStaleRegistration and an additional
// device beyond MaxContactsPerUser with ErrTooManyContacts.
func (s *Service) RegisterContact(ctx context.Context, userID string, b Binding, ttl time.Duration) ([]Binding, error) {
	if err := s.registerContact(ctx, userID, b, ttl); err != nil {
		return nil, err
	}
	return s.Contacts(userID), nil
}

func (s *Service) registerContact(ctx context.Context, userID string, b Binding, ttl time.Duration) error {
	if !ValidAccountID(userID) {
		return fmt.Errorf("registering a contact of %q: %w", truncate(userID, MaxOwnerLen), ErrNotFound)
	}
	if b.Contact == "" || len(b.Contact) > MaxContactLen {
		return invalid("contact", "must be 1 to %d bytes", MaxContactLen)
	}
	now := s.clock()
	b.Expires, b.TTL = now.Add(max(ttl, 0)), 0
	st := &s.dial.users
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.bindings == nil {
		st.bindings = make(map[string][]Binding)
	}
	if now.Sub(st.lastSweep) >= registrySweepEvery {
		st.lastSweep = now
		for id, bs := range st.bindings {
			if bs = liveBindings(bs, now); len(bs) == 0 {
				delete(st.bindings, id)
			} else {
				st.bindings[id] = bs
			}
		}
	}
	bs := liveBindings(st.bindings[userID], now)
	i := slices.IndexFunc(bs, func(o Binding) bool { return o.Contact == b.Contact })
	if i >= 0 && bs[i].CallID == b.CallID && b.CallID != "" && b.CSeq <= bs[i].CSeq {
		st.bindings[userID] = bs
		return fmt.Errorf("registering %s for %s: CSeq %d not above %d: %w", b.Contact, userID, b.CSeq, bs[i].CSeq, ErrStaleRegistration)
	}
	switch {
	case !b.Expires.After(now):
		if i >= 0 {
			bs = slices.Delete(bs, i, i+1)
			s.log.InfoContext(ctx, "sip contact unregistered", "user", userID, "contact", b.Contact)
		}
	case i >= 0:
		bs[i] = b
	case len(bs) >= MaxContactsPerUser:
		st.bindings[userID] = bs
		return fmt.Errorf("registering a contact of %s: %d already: %w", userID, len(bs), ErrTooManyContacts)
	default:
		bs = append(bs, b)
		s.log.InfoContext(ctx, "sip contact registered", "user", userID, "contact", b.Contact, "expires", b.Expires, "src", b.Source)
	}
	if len(bs) == 0 {
		delete(st.bindings, userID)
		return nil
	}
	slices.SortStableFunc(bs, func(a, b Binding) int { return cmp.Compare(a.Contact, b.Contact) })
	st.bindings[userID] = bs
	return nil
}

// RemoveContacts drops every binding of userID (REGISTER with Contact: *).
func (s *Service) RemoveContacts(ctx context.Context, userID string) {
	st := &s.dial.users
	st.mu.Lock()
	n := len(st.bindings[userID])
	delete(st.bindings, userID)
	st.mu.Unlock()
	if n > 0 {
		s.log.InfoContext(ctx, "sip contacts unregistered", "user", userID, "contacts", n)
	}
}

// Contacts returns the live bindings of userID, ordered by contact.
func (s *Service) Contacts(userID string) []Binding {
	now := s.clock()
	st := &s.dial.users
	st.mu.Lock()
	defer st.mu.Unlock()
	bs := liveBindings(st.bindings[userID], now)
	if len(bs) == 0 {
		delete(st.bindings, userID)
		return nil
	}
	st.bindings[userID] = bs
	out := slices.Clone(bs)
	for i := range out {
		out[i].TTL = out[i].Expires.Sub(now)
	}
	return out
}

// liveBindings returns bs without the bindings expired at now, in place.
func liveBindings(bs []Binding, now time.Time) []Binding {
	return slices.DeleteFunc(bs, func(b Binding) bool { return !b.Expires.After(now) })
}

// DialOutRule returns u's effective dial-out rule: his own, or the default
// of his role (trunks for operators and administrators, who could always
// call numbers; internal for users).
func DialOutRule(u User) string {
	if u.DialOut != "" {
		return u.DialOut
	}
	if isStaff(u) {
		return DialOutTrunks
	}
	return DialOutInternal
}

func validateDialOut(r string) error {
	switch r {
	case "", DialOutNone, DialOutInternal, DialOutTrunks:
		return nil
	}
	return invalid("dial_out", "must be %q, %q or %q", DialOutNone, DialOutInternal, DialOutTrunks)
}

// mayDial checks that actor's dial-out rule lets the server call t.
func mayDial(actor User, t Target) error {
	switch rule := DialOutRule(actor); {
	case rule == DialOutNone:
		return fmt.Errorf("calling %s: user %q may not make the server call anyone: %w", t.Display, actor.ID, ErrForbidden)
	case t.ViaTrunk && rule != DialOutTrunks:
		return fmt.Errorf("calling telephone number %s: user %q may not call numbers through a trunk: %w", t.Display, actor.ID, ErrForbidden)
	}
	return nil
}

// contactDisplay is a contact for logs and results: the URI without its
// parameters, which may carry tokens of the device.
func contactDisplay(c string) string {
	if i := strings.IndexAny(c, ";?"); i >= 0 {
		return c[:i]
	}
	return c
}
