package conf

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Call strings. A moderator invites a room system, a camera or a colleague
// by a call string; this file is the one parser of them, so that the REST
// API, the CLI, scheduled invitations and every dialer agree on what a
// string means. Parsing is pure syntax: nothing is looked up or dialled,
// and a string that parses is safe to put into a SIP request line or
// header (no CR, LF, spaces, quotes, angle brackets or URI headers).
//
// Forms (TrueConf's notation, plus the dial-in forms of room systems):
//
//	sip:1000@room.example;transport=tcp   SIP URI (RFC 3261 §19.1), sips: for TLS
//	#sip:alice@192.0.2.5   #sip:@192.0.2.5   #sip:alice@[2001:db8::2]:5070
//	#sip:alice                            user through the configured outbound proxy
//	h323:alias@host[:port]  #h323:@192.0.2.7  #h323:alias (through the gatekeeper)
//	rtsp://user:pass@cam.example:554/stream1   #rtsp://cam.example/live
//	#tel:+15551234  tel:+1-555-1234       a telephone number through a SIP trunk
//	alice                                 an address-book user (or group) ID
//	alice@other.example                   a user of another server (SIP)
//	\c\1000                               a conference of this server
//	1000@host  host##1000                 dial-in forms of room systems (SIP, H.323)
//	1000$$1234  1000**1234                Polycom conference ID and PIN
//	...;postd=1234#   tel:+15551234,,1234#   post-dial digits; each comma pauses 1 s

// MaxCallStringLen bounds a call string. Real ones are far shorter; a
// longer one is an attack on whatever header it would end up in.
const MaxCallStringLen = 512

// maxCallStringParams bounds the ;name=value parameters of one URI.
const maxCallStringParams = 16

// Target kinds.
const (
	// TargetAddress is a protocol address to dial; Scheme names the
	// protocol and so the conf.Dialer that dials it.
	TargetAddress = "address"
	// TargetUser is an address-book user or group ID.
	TargetUser = "user"
	// TargetConference is a conference of this server (\c\ID, or a bare
	// Polycom ID with PIN).
	TargetConference = "conference"
)

// Call string schemes; dialers register for them.
const (
	SchemeSIP  = "sip"
	SchemeSIPS = "sips"
	SchemeH323 = "h323"
	SchemeRTSP = "rtsp"
	SchemeTel  = "tel"
)

// ErrBadCallString is what every *CallStringError unwraps to (besides
// ErrInvalid), so that callers can refuse the request before dialling.
var ErrBadCallString = errors.New("conf: bad call string")

// CallStringError says which part of a call string is wrong and why.
// Input is the string with any password removed and cut to 64 bytes, so
// that the error can be logged and returned to clients.
type CallStringError struct {
	Input   string
	Part    string // "length", "characters", "scheme", "user", "password", "host", "port", "param", "postdial", "pin", "path", "conference"
	Message string
}

// Error implements error.
func (e *CallStringError) Error() string {
	return fmt.Sprintf("call string %q: bad %s: %s", e.Input, e.Part, e.Message)
}

// Unwrap makes errors.Is(err, ErrBadCallString) and errors.Is(err,
// ErrInvalid) true.
func (e *CallStringError) Unwrap() []error { return []error{ErrBadCallString, ErrInvalid} }

// Param is one ;name=value parameter of a URI, in the order given. Names
// are lower case; Value is empty for a flag parameter (;lr).
type Param struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
}

// Target is a parsed call string. Fields that a form does not have are
// empty. The password of an rtsp:// URL is kept in Password, which is
// never marshalled; Display is the form to log and show.
type Target struct {
	Kind   string `json:"kind"`             // TargetAddress, TargetUser or TargetConference
	Form   string `json:"form"`             // which notation was used, e.g. "#sip", "host##id"
	Scheme string `json:"scheme,omitempty"` // sip, sips, h323, rtsp, tel for addresses
	User   string `json:"user,omitempty"`   // SIP user, H.323 alias, tel number, user ID, RTSP user
	Host   string `json:"host,omitempty"`   // name, IPv4 or IPv6 (without brackets)
	Port   int    `json:"port,omitempty"`   // 0: the scheme's default
	// Transport is the SIP transport asked for (udp, tcp, tls, ws, wss);
	// "tls" for sips: without a transport parameter.
	Transport string  `json:"transport,omitempty"`
	Params    []Param `json:"params,omitempty"`
	Path      string  `json:"path,omitempty"` // rtsp: path and query, starting with "/"
	// Password is the RTSP password; it never leaves the process in JSON.
	Password    string `json:"-"`
	HasPassword bool   `json:"has_password,omitempty"`
	// Postdial are DTMF digits (0-9 * # A-D) to send after answer; each
	// ',' is a one-second pause.
	Postdial string `json:"postdial,omitempty"`
	// PIN is the conference PIN of the Polycom forms id$$pin and id**pin.
	PIN          string `json:"pin,omitempty"`
	ConferenceID string `json:"conference_id,omitempty"`
	// ViaProxy: no host was given (#sip:user, #h323:alias); the call goes
	// through the configured outbound proxy or gatekeeper.
	ViaProxy bool `json:"via_proxy,omitempty"`
	// ViaTrunk: a telephone number, dialled through a configured trunk.
	ViaTrunk bool `json:"via_trunk,omitempty"`
	// Display is the target without password or PIN, for logs and events.
	Display string `json:"display"`
}

// Param returns the value of parameter name and whether it was present.
func (t Target) Param(name string) (string, bool) {
	for _, p := range t.Params {
		if p.Name == name {
			return p.Value, true
		}
	}
	return "", false
}

// HostPort returns host:port as a dial address, brackets around IPv6, or
// the host alone when no port was given.
func (t Target) HostPort() string {
	h := t.Host
	if strings.IndexByte(h, ':') >= 0 {
		h = "[" + h + "]"
	}
	if t.Port != 0 {
		return h + ":" + strconv.Itoa(t.Port)
	}
	return h
}

// csParser carries the input for error messages.
type csParser struct {
	in string // for errors: password removed, cut
}

func (p *csParser) fail(part, format string, args ...any) *CallStringError {
	return &CallStringError{Input: p.in, Part: part, Message: fmt.Sprintf(format, args...)}
}

// ParseCallString parses a call string into a Target, or returns a
// *CallStringError naming the part that is wrong. Leading and trailing
// spaces are ignored; anything that could inject into a SIP message
// (control characters, spaces, quotes, angle brackets, URI headers) is
// refused.
func ParseCallString(s string) (Target, error) {
	p := &csParser{in: safeInput(s)}
	if len(s) > MaxCallStringLen {
		return Target{}, p.fail("length", "%d bytes; at most %d are allowed", len(s), MaxCallStringLen)
	}
	s = strings.Trim(s, " ")
	if s == "" {
		return Target{}, p.fail("length", "empty")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x20 || c == 0x7f:
			return Target{}, p.fail("characters", "control character 0x%02x at offset %d", c, i)
		case c >= 0x80:
			return Target{}, p.fail("characters", "non-ASCII byte at offset %d (write host names in punycode and escape users with %%XX)", i)
		case c == ' ':
			return Target{}, p.fail("characters", "space at offset %d", i)
		case strings.IndexByte("<>\"`{}|^", c) >= 0:
			return Target{}, p.fail("characters", "%q at offset %d is not allowed", c, i)
		case c == '\\' && !(strings.HasPrefix(s, `\c\`) && (i == 0 || i == 2)):
			return Target{}, p.fail("characters", "backslash at offset %d (only the \\c\\ prefix uses it)", i)
		}
	}
	if rest, ok := strings.CutPrefix(s, `\c\`); ok {
		return p.conference(rest)
	}
	hash := false
	if s[0] == '#' {
		hash, s = true, s[1:]
	}
	if scheme, rest, ok := splitScheme(s); ok {
		switch scheme {
		case SchemeSIP, SchemeSIPS:
			return p.sip(scheme, rest, hash)
		case SchemeH323:
			return p.h323(rest, hash)
		case SchemeTel:
			return p.tel(rest, hash)
		case SchemeRTSP:
			return p.rtsp(rest, hash)
		}
		if !hash && strings.Contains(s, "##") {
			// host:port##id, not a scheme.
			host, id, _ := strings.Cut(s, "##")
			return p.hostHashID(host, id)
		}
		return Target{}, p.fail("scheme", "unknown scheme %q; use sip, sips, h323, rtsp or tel", truncate(scheme, 16))
	}
	if hash {
		return Target{}, p.fail("scheme", "'#' must be followed by sip:, h323:, rtsp:// or tel:")
	}
	if host, id, ok := strings.Cut(s, "##"); ok {
		return p.hostHashID(host, id)
	}
	if user, host, ok := strings.Cut(s, "@"); ok {
		return p.userAtHost(user, host)
	}
	if strings.Contains(s, "**") || strings.Contains(s, "$$") {
		t := Target{Kind: TargetConference, Form: "id**pin"}
		if err := p.userPart(&t, s, false); err != nil {
			return Target{}, err
		}
		if !ValidConferenceID(t.User) {
			return Target{}, p.fail("conference", "%q is not a conference ID (1 to %d digits)", truncate(t.User, 16), MaxIDLen)
		}
		t.ConferenceID, t.User = t.User, ""
		t.Display = t.ConferenceID + "******"
		return t, nil
	}
	if !ValidAccountID(s) {
		return Target{}, p.fail("user", "%q is neither a URI (sip:, h323:, rtsp://, tel:) nor a user ID (letters, digits and . _ - @)", truncate(s, 32))
	}
	return Target{Kind: TargetUser, Form: "user-id", User: s, Display: s}, nil
}

// safeInput is s for error messages: printable, password-free, short.
func safeInput(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		auth := s[i+3:]
		if j := strings.IndexByte(auth, '/'); j >= 0 {
			auth = auth[:j]
		}
		if at := strings.LastIndexByte(auth, '@'); at >= 0 {
			if c := strings.IndexByte(auth[:at], ':'); c >= 0 {
				s = s[:i+3] + auth[:c] + ":***" + s[i+3+at:]
			}
		}
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return '?'
		}
		return r
	}, s)
	return truncate(s, 64)
}

// splitScheme splits "scheme:rest" when s starts with a URI scheme
// (RFC 3986 §3.1) before any '@'; the scheme is returned in lower case.
func splitScheme(s string) (scheme, rest string, ok bool) {
	i := strings.IndexByte(s, ':')
	if i <= 0 || strings.IndexByte(s[:i], '@') >= 0 {
		return "", "", false
	}
	for j := 0; j < i; j++ {
		c := s[j]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (j == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return "", "", false
		}
	}
	return strings.ToLower(s[:i]), s[i+1:], true
}

func (p *csParser) conference(id string) (Target, error) {
	if !ValidConferenceID(id) {
		return Target{}, p.fail("conference", "%q is not a conference ID (1 to %d digits)", truncate(id, 16), MaxIDLen)
	}
	return Target{Kind: TargetConference, Form: "conference", ConferenceID: id, Display: `\c\` + id}, nil
}

// sip parses the part after "sip:" or "sips:" (RFC 3261 §19.1, without
// passwords and headers).
func (p *csParser) sip(scheme, rest string, hash bool) (Target, error) {
	t := Target{Kind: TargetAddress, Form: scheme + "-uri", Scheme: scheme}
	if hash {
		t.Form = "#" + scheme
	}
	if strings.IndexByte(rest, '?') >= 0 {
		return Target{}, p.fail("param", "URI headers ('?') are not allowed in a call string")
	}
	addr, params, _ := strings.Cut(rest, ";")
	user, hostport, hasAt := strings.Cut(addr, "@")
	if !hasAt {
		if hash {
			// #sip:user goes through the outbound proxy.
			user, hostport, t.ViaProxy = addr, "", true
			if user == "" {
				return Target{}, p.fail("user", "#sip: needs a user, a host or both")
			}
		} else {
			user, hostport = "", addr // sip:host (RFC 3261 §19.1.1)
		}
	}
	if strings.IndexByte(user, ':') >= 0 {
		return Target{}, p.fail("password", "passwords are not allowed in %s: call strings; configure trunk credentials instead", scheme)
	}
	if err := p.userPart(&t, user, true); err != nil {
		return Target{}, err
	}
	if !t.ViaProxy {
		if err := p.hostPort(&t, hostport); err != nil {
			return Target{}, err
		}
	}
	if err := p.params(&t, params); err != nil {
		return Target{}, err
	}
	if scheme == SchemeSIPS && t.Transport == "" {
		t.Transport = "tls"
	}
	t.Display = t.uriDisplay(hash)
	return t, nil
}

// h323 parses the part after "h323:" (RFC 3508: alias@host:port).
func (p *csParser) h323(rest string, hash bool) (Target, error) {
	t := Target{Kind: TargetAddress, Form: "h323-uri", Scheme: SchemeH323}
	if hash {
		t.Form = "#h323"
	}
	if strings.IndexByte(rest, '?') >= 0 {
		return Target{}, p.fail("param", "'?' is not allowed in an h323: call string")
	}
	addr, params, _ := strings.Cut(rest, ";")
	user, hostport, hasAt := strings.Cut(addr, "@")
	if !hasAt {
		// An alias alone is resolved by the gatekeeper.
		user, hostport, t.ViaProxy = addr, "", true
		if user == "" {
			return Target{}, p.fail("user", "h323: needs an alias, a host or both")
		}
	}
	if err := p.userPart(&t, user, true); err != nil {
		return Target{}, err
	}
	if !t.ViaProxy {
		if err := p.hostPort(&t, hostport); err != nil {
			return Target{}, err
		}
	}
	if err := p.params(&t, params); err != nil {
		return Target{}, err
	}
	t.Display = t.uriDisplay(hash)
	return t, nil
}

// tel parses a telephone number (RFC 3966, global numbers and local
// digits; visual separators - . ( ) are dropped).
func (p *csParser) tel(rest string, hash bool) (Target, error) {
	t := Target{Kind: TargetAddress, Form: "tel", Scheme: SchemeTel, ViaTrunk: true}
	if hash {
		t.Form = "#tel"
	}
	num, params, _ := strings.Cut(rest, ";")
	num, pd, hasPause := strings.Cut(num, ",")
	var b strings.Builder
	for i := 0; i < len(num); i++ {
		c := num[i]
		switch {
		case c >= '0' && c <= '9', c == '*', c == '#':
			b.WriteByte(c)
		case c == '+' && i == 0:
			b.WriteByte(c)
		case c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return Target{}, p.fail("user", "%q in a telephone number (digits, a leading +, * and #)", c)
		}
	}
	t.User = b.String()
	if digits := strings.TrimLeft(t.User, "+"); digits == "" {
		return Target{}, p.fail("user", "telephone number has no digits")
	} else if len(digits) > 32 {
		return Target{}, p.fail("user", "telephone number has more than 32 digits")
	}
	if hasPause {
		if err := p.setPostdial(&t, ","+pd); err != nil {
			return Target{}, err
		}
	}
	if err := p.params(&t, params); err != nil {
		return Target{}, err
	}
	t.Display = t.uriDisplay(hash)
	return t, nil
}

// rtsp parses "//[user[:pass]@]host[:port][/path]" (RFC 2326 §3.2).
func (p *csParser) rtsp(rest string, hash bool) (Target, error) {
	t := Target{Kind: TargetAddress, Form: "rtsp-url", Scheme: SchemeRTSP, Path: "/"}
	if hash {
		t.Form = "#rtsp"
	}
	rest, ok := strings.CutPrefix(rest, "//")
	if !ok {
		return Target{}, p.fail("host", "rtsp: must be followed by //host")
	}
	auth := rest
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		auth, t.Path = rest[:i], rest[i:]
		if t.Path[0] == '?' {
			t.Path = "/" + t.Path
		}
	}
	for i := 0; i < len(t.Path); i++ {
		c := t.Path[i]
		if !isUnreserved(c) && strings.IndexByte("/?%!$&'()*+,;=:@", c) < 0 {
			return Target{}, p.fail("path", "%q is not allowed in an RTSP path", c)
		}
	}
	if err := checkEscapes(t.Path); err != nil {
		return Target{}, p.fail("path", "%v", err)
	}
	if at := strings.LastIndexByte(auth, '@'); at >= 0 {
		user, pass, hasPass := strings.Cut(auth[:at], ":")
		u, err := unescapeCredential(user)
		if err != nil {
			return Target{}, p.fail("user", "%v", err)
		}
		pw, err := unescapeCredential(pass)
		if err != nil {
			return Target{}, p.fail("password", "%v", err)
		}
		if u == "" && hasPass {
			return Target{}, p.fail("user", "a password needs a user")
		}
		t.User, t.Password, t.HasPassword = u, pw, hasPass
		auth = auth[at+1:]
	}
	if err := p.hostPort(&t, auth); err != nil {
		return Target{}, err
	}
	t.Display = t.uriDisplay(hash)
	return t, nil
}

// hostHashID parses the H.323 dial-in form host##id.
func (p *csParser) hostHashID(hostport, id string) (Target, error) {
	t := Target{Kind: TargetAddress, Form: "host##id", Scheme: SchemeH323}
	if err := p.hostPort(&t, hostport); err != nil {
		return Target{}, err
	}
	if id == "" {
		return Target{}, p.fail("user", "nothing after ##")
	}
	if err := p.userPart(&t, id, false); err != nil {
		return Target{}, err
	}
	t.Display = t.HostPort() + "##" + t.User + maskPIN(t.PIN, "**")
	return t, nil
}

// userAtHost parses user@host: a user of another server, or the SIP
// dial-in form id@host of a room system. Both are dialled over SIP; an
// address-book ID containing '@' is matched by whoever dials it.
func (p *csParser) userAtHost(user, hostport string) (Target, error) {
	t := Target{Kind: TargetAddress, Form: "user@host", Scheme: SchemeSIP}
	if user == "" {
		return Target{}, p.fail("user", "nothing before '@'")
	}
	if strings.IndexByte(user, ':') >= 0 {
		return Target{}, p.fail("password", "passwords are not allowed in call strings")
	}
	if err := p.userPart(&t, user, true); err != nil {
		return Target{}, err
	}
	if err := p.hostPort(&t, hostport); err != nil {
		return Target{}, err
	}
	t.Display = t.uriDisplay(false)
	t.Display = strings.TrimPrefix(t.Display, "sip:")
	return t, nil
}

// userPart sets t.User from a URI user part, splitting off a Polycom PIN
// (id$$pin, id**pin) and, when pauses is true, post-dial digits after the
// first comma.
func (p *csParser) userPart(t *Target, user string, pauses bool) error {
	if pauses {
		if u, pd, ok := strings.Cut(user, ","); ok {
			if err := p.setPostdial(t, ","+pd); err != nil {
				return err
			}
			user = u
		}
	}
	for _, sep := range []string{"$$", "**"} {
		if id, pin, ok := strings.Cut(user, sep); ok {
			if id == "" || pin == "" || !allDigits(pin) || len(pin) > MaxIDLen {
				return p.fail("pin", "%s must be followed by a PIN of 1 to %d digits, after a conference ID", sep, MaxIDLen)
			}
			user, t.PIN = id, pin
			break
		}
	}
	for i := 0; i < len(user); i++ {
		c := user[i]
		if !isUnreserved(c) && strings.IndexByte("%&=+$,", c) < 0 {
			return p.fail("user", "%q is not allowed in a user part (escape it as %%%02X)", c, c)
		}
	}
	if err := checkEscapes(user); err != nil {
		return p.fail("user", "%v", err)
	}
	if len(user) > 128 {
		return p.fail("user", "longer than 128 characters")
	}
	t.User = user
	return nil
}

// setPostdial checks and stores post-dial digits.
func (p *csParser) setPostdial(t *Target, pd string) error {
	if t.Postdial != "" {
		return p.fail("postdial", "given twice (commas and ;postd=)")
	}
	if pd == "" || len(pd) > 64 {
		return p.fail("postdial", "must be 1 to 64 characters")
	}
	for i := 0; i < len(pd); i++ {
		c := pd[i]
		if !(c >= '0' && c <= '9' || c == '*' || c == '#' || c == ',' || c >= 'A' && c <= 'D' || c >= 'a' && c <= 'd') {
			return p.fail("postdial", "%q is not a DTMF digit (0-9 * # A-D, ',' pauses)", c)
		}
	}
	t.Postdial = strings.ToUpper(pd)
	return nil
}

// hostPort sets t.Host and t.Port from "host", "host:port", "[v6]" or
// "[v6]:port".
func (p *csParser) hostPort(t *Target, hp string) error {
	host, port := hp, ""
	if strings.HasPrefix(hp, "[") {
		end := strings.IndexByte(hp, ']')
		if end < 0 {
			return p.fail("host", "'[' without ']'")
		}
		host, port = hp[1:end], hp[end+1:]
		if port != "" {
			var ok bool
			if port, ok = strings.CutPrefix(port, ":"); !ok {
				return p.fail("host", "unexpected %q after ']'", truncate(port, 8))
			}
		}
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return p.fail("host", "%q is not an IPv6 address", truncate(host, 48))
		}
		host = a.String()
	} else {
		if i := strings.LastIndexByte(hp, ':'); i >= 0 {
			host, port = hp[:i], hp[i+1:]
			if strings.IndexByte(host, ':') >= 0 {
				return p.fail("host", "IPv6 addresses must be written in brackets: [2001:db8::1]")
			}
		}
		if host == "" {
			return p.fail("host", "missing")
		}
		if err := checkHostName(host); err != nil {
			return p.fail("host", "%v", err)
		}
		host = strings.ToLower(host)
	}
	t.Host = host
	if port != "" || strings.HasSuffix(hp, ":") {
		n, err := strconv.Atoi(port)
		if err != nil || !allDigits(port) || n < 1 || n > 65535 {
			return p.fail("port", "%q is not a port number (1 to 65535)", truncate(port, 8))
		}
		t.Port = n
	}
	return nil
}

// checkHostName accepts an IPv4 address or a DNS name (RFC 1123 labels).
func checkHostName(h string) error {
	if a, err := netip.ParseAddr(h); err == nil {
		if !a.Is4() {
			return fmt.Errorf("%q: IPv6 addresses must be written in brackets", h)
		}
		return nil
	}
	if len(h) > 253 {
		return fmt.Errorf("host name longer than 253 characters")
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("%q: empty or over-long label", truncate(h, 32))
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
			if !alnum && !(c == '-' && i > 0 && i < len(label)-1) && c != '_' {
				return fmt.Errorf("%q: %q is not allowed in a host name", truncate(h, 32), c)
			}
		}
	}
	return nil
}

// params parses ";name[=value]" parameters: transport and postd are
// understood, the others kept for the dialer.
func (p *csParser) params(t *Target, s string) error {
	if s == "" {
		return nil
	}
	parts := strings.Split(s, ";")
	if len(parts) > maxCallStringParams {
		return p.fail("param", "more than %d parameters", maxCallStringParams)
	}
	for _, part := range parts {
		name, value, _ := strings.Cut(part, "=")
		name = strings.ToLower(name)
		if name == "" || !isToken(name) {
			return p.fail("param", "%q is not a parameter name", truncate(name, 16))
		}
		if _, dup := t.Param(name); dup {
			return p.fail("param", "%s given twice", name)
		}
		switch name {
		case "transport":
			v := strings.ToLower(value)
			switch v {
			case "udp", "tcp", "tls", "ws", "wss":
			default:
				return p.fail("param", "transport %q: use udp, tcp, tls, ws or wss", truncate(value, 8))
			}
			if t.Scheme == SchemeSIPS && v == "udp" {
				return p.fail("param", "sips: cannot use transport=udp")
			}
			t.Transport, value = v, v
		case "postd":
			if err := p.setPostdial(t, value); err != nil {
				return err
			}
		case "password", "pwd":
			return p.fail("param", "passwords are not allowed in call strings")
		default:
			for i := 0; i < len(value); i++ {
				c := value[i]
				if !isUnreserved(c) && strings.IndexByte("%[]/:&+$", c) < 0 {
					return p.fail("param", "%s: %q is not allowed in a value", name, c)
				}
			}
			if err := checkEscapes(value); err != nil {
				return p.fail("param", "%s: %v", name, err)
			}
		}
		t.Params = append(t.Params, Param{Name: name, Value: value})
	}
	return nil
}

// uriDisplay renders t in URI form, without password or PIN.
func (t Target) uriDisplay(hash bool) string {
	var b strings.Builder
	if hash {
		b.WriteByte('#')
	}
	b.WriteString(t.Scheme)
	b.WriteByte(':')
	switch t.Scheme {
	case SchemeRTSP:
		b.WriteString("//")
		if t.User != "" {
			b.WriteString(t.User)
			if t.HasPassword {
				b.WriteString(":***")
			}
			b.WriteByte('@')
		}
		b.WriteString(t.HostPort())
		b.WriteString(t.Path)
		return b.String()
	case SchemeTel:
		b.WriteString(t.User)
	default:
		b.WriteString(t.User)
		b.WriteString(maskPIN(t.PIN, "**"))
		if !t.ViaProxy {
			if t.User != "" || hash || t.Scheme == SchemeH323 {
				b.WriteByte('@') // #sip:host or h323:host would name a user
			}
			b.WriteString(t.HostPort())
		}
	}
	for _, p := range t.Params {
		b.WriteByte(';')
		b.WriteString(p.Name)
		if p.Value != "" {
			b.WriteByte('=')
			b.WriteString(p.Value)
		}
	}
	return b.String()
}

// maskPIN shows that a PIN was given without showing it.
func maskPIN(pin, sep string) string {
	if pin == "" {
		return ""
	}
	return sep + "***"
}

func isUnreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("-_.!~*'()", c) >= 0
}

// isToken reports whether s is an RFC 3261 token.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-.!%*_+`'~", c) >= 0) {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// checkEscapes refuses a '%' not followed by two hex digits, and escapes
// of control characters (%0D%0A would come back as CRLF once unescaped).
func checkEscapes(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return fmt.Errorf("'%%' at offset %d is not followed by two hex digits", i)
		}
		v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if v < 0x20 || v == 0x7f {
			return fmt.Errorf("escaped control character %%%s", s[i+1:i+3])
		}
	}
	return nil
}

// unescapeCredential decodes %XX in an RTSP user or password.
func unescapeCredential(s string) (string, error) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isUnreserved(c) && strings.IndexByte("%&=+$,;", c) < 0 {
			return "", fmt.Errorf("%q must be escaped as %%%02X", c, c)
		}
	}
	if err := checkEscapes(s); err != nil {
		return "", err
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' {
			v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b.WriteByte(byte(v))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String(), nil
}
