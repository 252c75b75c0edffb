package sip

import (
	"container/list"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Digest authentication of SIP requests (RFC 3261 §22, RFC 7616 with
// qop=auth, RFC 8760 for SHA-256), as a server: the registrar challenges
// REGISTER with it, and calls that need an address-book identity are
// challenged the same way.
//
// Nonces carry their own proof: base64url of an 8-byte issue time, 8
// random bytes and an HMAC-SHA-256 (truncated to 16 bytes) of both under a
// key of the process. Verifying one needs no table of issued nonces, so a
// flood of unauthenticated REGISTERs costs no memory. A nonce is valid for
// NonceTTL; an older one (with a correct response) is answered with a new
// challenge marked stale=true, which phones answer without asking the
// user again. The key is random per process: after a restart every phone
// re-authenticates once.
//
// Replays: each nonce may be used with increasing nonce counts (nc). The
// nonce counts seen are kept per nonce in a bounded table (maxNonceTracks
// nonces, a window of ncWindow counts each, dropped with their nonce's
// expiry). When the table is full the nonce issued earliest is forgotten
// and every nonce issued up to it is then treated as stale, so a forgotten
// nonce can never be replayed: its sender just gets a fresh challenge.

// Digest limits.
const (
	// DefaultNonceTTL is how long a nonce is accepted.
	DefaultNonceTTL = 5 * time.Minute
	// maxAuthHeaderLen bounds an Authorization header we parse.
	maxAuthHeaderLen = 4096
	// maxAuthParams bounds its parameters.
	maxAuthParams = 32
	// maxNonceTracks bounds the nonces whose counts are remembered.
	maxNonceTracks = 16384
	// ncWindow is how far below the highest count seen a count may arrive
	// (out of order over UDP) and still be accepted once.
	ncWindow    = 64
	nonceRawLen = 8 + 8 + 16
)

// Digest algorithms we accept.
const (
	AlgMD5    = "MD5"
	AlgSHA256 = "SHA-256"
)

// Authentication errors.
var (
	// ErrBadAuthorization is an Authorization header we cannot parse or
	// that lacks what RFC 7616 requires.
	ErrBadAuthorization = errors.New("sip: malformed Authorization header")
	// ErrBadNonce is a nonce we did not issue (forged or from another
	// process).
	ErrBadNonce = errors.New("sip: nonce not issued by this server")
	// ErrStaleNonce is a nonce that expired (or whose counts we forgot);
	// the client is challenged again with stale=true.
	ErrStaleNonce = errors.New("sip: stale nonce")
	// ErrReplay is a nonce count already used with its nonce.
	ErrReplay = errors.New("sip: replayed nonce count")
	// ErrWrongCredentials is a response that does not match the user's
	// credentials: a wrong password or an unknown user.
	ErrWrongCredentials = errors.New("sip: wrong credentials")
)

// DigestCredentials is a parsed Authorization (or Proxy-Authorization)
// header with the Digest scheme.
type DigestCredentials struct {
	Username  string
	Realm     string
	Nonce     string
	URI       string
	Response  string
	Algorithm string // AlgMD5 when absent
	CNonce    string
	Opaque    string
	QOP       string
	NC        uint32
}

// ParseAuthorization parses the value of an Authorization header with the
// Digest scheme (RFC 7616 §3.4): auth-params separated by commas, values
// tokens or quoted strings with backslash escapes. It requires username,
// realm, nonce, uri and response, refuses duplicates, unknown algorithms
// and, with qop, a missing or malformed nc or cnonce.
func ParseAuthorization(v string) (DigestCredentials, error) {
	var c DigestCredentials
	if len(v) > maxAuthHeaderLen {
		return c, fmt.Errorf("%w: longer than %d bytes", ErrBadAuthorization, maxAuthHeaderLen)
	}
	v = strings.TrimLeft(v, " \t")
	scheme, rest, _ := strings.Cut(v, " ")
	if !strings.EqualFold(scheme, "Digest") {
		return c, fmt.Errorf("%w: scheme %q is not Digest", ErrBadAuthorization, truncateAuth(scheme))
	}
	seen := map[string]bool{}
	var nc string
	p := rest
	for n := 0; ; n++ {
		p = strings.TrimLeft(p, " \t")
		if p == "" {
			break
		}
		if n >= maxAuthParams {
			return c, fmt.Errorf("%w: more than %d parameters", ErrBadAuthorization, maxAuthParams)
		}
		eq := strings.IndexByte(p, '=')
		if eq <= 0 {
			return c, fmt.Errorf("%w: parameter without a value", ErrBadAuthorization)
		}
		name := strings.ToLower(strings.TrimRight(p[:eq], " \t"))
		if !isAuthToken(name) {
			return c, fmt.Errorf("%w: bad parameter name %q", ErrBadAuthorization, truncateAuth(name))
		}
		p = strings.TrimLeft(p[eq+1:], " \t")
		var val string
		if strings.HasPrefix(p, `"`) {
			var b strings.Builder
			i := 1
			closed := false
			for ; i < len(p); i++ {
				switch ch := p[i]; ch {
				case '\\':
					if i+1 >= len(p) {
						return c, fmt.Errorf("%w: escape at the end of %s", ErrBadAuthorization, name)
					}
					i++
					b.WriteByte(p[i])
				case '"':
					closed = true
				case '\r', '\n', 0:
					return c, fmt.Errorf("%w: control character in %s", ErrBadAuthorization, name)
				default:
					b.WriteByte(ch)
				}
				if closed {
					break
				}
			}
			if !closed {
				return c, fmt.Errorf("%w: unterminated quoted %s", ErrBadAuthorization, name)
			}
			val, p = b.String(), p[i+1:]
		} else {
			end := strings.IndexAny(p, ", \t")
			if end < 0 {
				end = len(p)
			}
			val, p = p[:end], p[end:]
			if val == "" || !isAuthToken(val) {
				return c, fmt.Errorf("%w: bad value of %s", ErrBadAuthorization, name)
			}
		}
		p = strings.TrimLeft(p, " \t")
		if p != "" {
			if p[0] != ',' {
				return c, fmt.Errorf("%w: expected a comma after %s", ErrBadAuthorization, name)
			}
			p = p[1:]
		}
		if seen[name] {
			return c, fmt.Errorf("%w: %s given twice", ErrBadAuthorization, name)
		}
		seen[name] = true
		switch name {
		case "username":
			c.Username = val
		case "realm":
			c.Realm = val
		case "nonce":
			c.Nonce = val
		case "uri":
			c.URI = val
		case "response":
			c.Response = strings.ToLower(val)
		case "algorithm":
			c.Algorithm = val
		case "cnonce":
			c.CNonce = val
		case "opaque":
			c.Opaque = val
		case "qop":
			c.QOP = strings.ToLower(val)
		case "nc":
			nc = val
		}
	}
	for _, req := range []string{"username", "realm", "nonce", "uri", "response"} {
		if !seen[req] {
			return c, fmt.Errorf("%w: no %s", ErrBadAuthorization, req)
		}
	}
	switch {
	case c.Algorithm == "" || strings.EqualFold(c.Algorithm, AlgMD5):
		c.Algorithm = AlgMD5
	case strings.EqualFold(c.Algorithm, AlgSHA256):
		c.Algorithm = AlgSHA256
	default:
		return c, fmt.Errorf("%w: algorithm %q not supported", ErrBadAuthorization, truncateAuth(c.Algorithm))
	}
	if c.QOP != "" {
		if len(nc) != 8 {
			return c, fmt.Errorf("%w: nc must be 8 hex digits", ErrBadAuthorization)
		}
		n, err := strconv.ParseUint(nc, 16, 32)
		if err != nil || n == 0 {
			return c, fmt.Errorf("%w: nc must be 8 hex digits above 0", ErrBadAuthorization)
		}
		c.NC = uint32(n)
		if c.CNonce == "" {
			return c, fmt.Errorf("%w: qop without cnonce", ErrBadAuthorization)
		}
	}
	return c, nil
}

// isAuthToken reports whether s is an RFC 3261 token.
func isAuthToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("-.!%*_+`'~", rune(c)) {
			return false
		}
	}
	return true
}

func truncateAuth(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}

// Digester issues nonces and checks digest responses. It is safe for
// concurrent use.
type Digester struct {
	realm string
	key   []byte
	ttl   time.Duration
	rand  io.Reader
	now   func() time.Time

	mu     sync.Mutex
	tracks map[string]*list.Element // nonce -> *nonceTrack
	order  list.List                // by issue time, oldest first
	// forgotten is the latest issue time of a nonce dropped from a full
	// table: nonces issued up to it are stale.
	forgotten time.Time
}

// nonceTrack is the nonce counts seen with one nonce.
type nonceTrack struct {
	nonce  string
	issued time.Time
	max    uint32
	seen   uint64 // bit i: count max-i was used
}

// NewDigester returns a Digester for realm with a random key; ttl 0 means
// DefaultNonceTTL, now nil the wall clock.
func NewDigester(realm string, ttl time.Duration, now func() time.Time) (*Digester, error) {
	if ttl <= 0 {
		ttl = DefaultNonceTTL
	}
	if now == nil {
		now = time.Now
	}
	key := make([]byte, 32)
	if _, err := io.ReadFull(rand.Reader, key); err != nil {
		return nil, fmt.Errorf("making the nonce key: %w", err)
	}
	return &Digester{realm: realm, key: key, ttl: ttl, rand: rand.Reader, now: now, tracks: make(map[string]*list.Element)}, nil
}

// Realm is the realm of the challenges.
func (d *Digester) Realm() string { return d.realm }

// Nonce issues a nonce.
func (d *Digester) Nonce() (string, error) {
	var raw [nonceRawLen]byte
	binary.BigEndian.PutUint64(raw[:8], uint64(d.now().UnixNano()))
	if _, err := io.ReadFull(d.rand, raw[8:16]); err != nil {
		return "", fmt.Errorf("making a nonce: %w", err)
	}
	copy(raw[16:], d.mac(raw[:16]))
	return base64.RawURLEncoding.EncodeToString(raw[:]), nil
}

func (d *Digester) mac(b []byte) []byte {
	m := hmac.New(sha256.New, d.key)
	m.Write([]byte(d.realm))
	m.Write([]byte{0})
	m.Write(b)
	return m.Sum(nil)[:16]
}

// Challenges returns the WWW-Authenticate values for a new challenge, one
// per algorithm of algs (AlgMD5, AlgSHA256) in the server's order of
// preference (RFC 8760 §2.4), each with its own nonce. stale marks a
// challenge that answers a stale nonce.
func (d *Digester) Challenges(stale bool, algs ...string) ([]string, error) {
	var out []string
	for _, alg := range algs {
		n, err := d.Nonce()
		if err != nil {
			return nil, err
		}
		v := fmt.Sprintf(`Digest realm="%s", nonce="%s", algorithm=%s, qop="auth"`, d.realm, n, alg)
		if stale {
			v += ", stale=true"
		}
		out = append(out, v)
	}
	return out, nil
}

// issuedAt checks a nonce's MAC and returns its issue time.
func (d *Digester) issuedAt(nonce string) (time.Time, error) {
	raw, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(raw) != nonceRawLen || !hmac.Equal(raw[16:], d.mac(raw[:16])) {
		return time.Time{}, ErrBadNonce
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(raw[:8]))), nil
}

// Verify checks credentials c sent with a request of method against the
// user's HA1 for c.Algorithm (lower-case hex). It returns
// ErrBadAuthorization for a realm or qop we did not offer, ErrBadNonce,
// ErrStaleNonce (challenge again with stale=true), ErrReplay or
// ErrWrongCredentials. The nonce count is consumed only by a correct
// response, so a wrong guess cannot burn the counts of a real client.
func (d *Digester) Verify(c DigestCredentials, method, ha1 string) error {
	if c.Realm != d.realm {
		return fmt.Errorf("%w: realm %q is not ours", ErrBadAuthorization, truncateAuth(c.Realm))
	}
	if c.QOP != "auth" {
		return fmt.Errorf("%w: qop must be auth", ErrBadAuthorization)
	}
	issued, err := d.issuedAt(c.Nonce)
	if err != nil {
		return err
	}
	want := digestResponse(c, method, ha1)
	if subtle.ConstantTimeCompare([]byte(want), []byte(c.Response)) != 1 {
		return ErrWrongCredentials
	}
	now := d.now()
	if now.Sub(issued) > d.ttl || issued.After(now.Add(time.Minute)) {
		return ErrStaleNonce
	}
	return d.useCount(c.Nonce, issued, c.NC)
}

// useCount records count nc of nonce, refusing one already used.
func (d *Digester) useCount(nonce string, issued time.Time, nc uint32) error {
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	// Drop the tracks of expired nonces, oldest first.
	for e := d.order.Front(); e != nil; e = d.order.Front() {
		t := e.Value.(*nonceTrack)
		if now.Sub(t.issued) <= d.ttl {
			break
		}
		d.order.Remove(e)
		delete(d.tracks, t.nonce)
	}
	e := d.tracks[nonce]
	if e == nil {
		if !issued.After(d.forgotten) {
			return ErrStaleNonce
		}
		for len(d.tracks) >= maxNonceTracks {
			old := d.order.Front()
			t := old.Value.(*nonceTrack)
			d.order.Remove(old)
			delete(d.tracks, t.nonce)
			if t.issued.After(d.forgotten) {
				d.forgotten = t.issued
			}
		}
		if !issued.After(d.forgotten) {
			return ErrStaleNonce
		}
		t := &nonceTrack{nonce: nonce, issued: issued, max: nc, seen: 1}
		// Keep order by issue time: walk back from the newest.
		at := d.order.Back()
		for at != nil && at.Value.(*nonceTrack).issued.After(issued) {
			at = at.Prev()
		}
		if at == nil {
			d.tracks[nonce] = d.order.PushFront(t)
		} else {
			d.tracks[nonce] = d.order.InsertAfter(t, at)
		}
		return nil
	}
	t := e.Value.(*nonceTrack)
	switch {
	case nc > t.max:
		shift := nc - t.max
		if shift >= ncWindow {
			t.seen = 0
		} else {
			t.seen <<= shift
		}
		t.seen |= 1
		t.max = nc
	case t.max-nc >= ncWindow:
		return ErrReplay
	default:
		bit := uint64(1) << (t.max - nc)
		if t.seen&bit != 0 {
			return ErrReplay
		}
		t.seen |= bit
	}
	return nil
}

// tracked returns how many nonces have counts remembered, for tests.
func (d *Digester) tracked() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.tracks)
}

// digestResponse computes the expected response of RFC 7616 §3.4.1 with
// qop=auth: H(HA1:nonce:nc:cnonce:qop:H(method:uri)).
func digestResponse(c DigestCredentials, method, ha1 string) string {
	var h func() hash.Hash = md5.New
	if c.Algorithm == AlgSHA256 {
		h = sha256.New
	}
	hx := func(s string) string {
		m := h()
		m.Write([]byte(s))
		return hex.EncodeToString(m.Sum(nil))
	}
	ha2 := hx(method + ":" + c.URI)
	return hx(ha1 + ":" + c.Nonce + ":" + fmt.Sprintf("%08x", c.NC) + ":" + c.CNonce + ":" + c.QOP + ":" + ha2)
}
