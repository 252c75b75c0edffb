package h225

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// DefaultPort is the H.225.0 call signalling port (H.225.0 clause 7.3 / RFC 3508).
const DefaultPort = 1720

// Target is where a call string says to dial.
type Target struct {
	Host string // host name or IP address, no brackets
	Port int
	// Dest are the destinationAddress aliases: the alias as h323-ID, plus dialedDigits when it
	// consists of digits only. Empty when the call string names only a host (many MCUs then
	// answer with their lobby).
	Dest []Alias
}

// ParseCallString interprets an H.323 call string: an RFC 3508 URL "h323:alias@host[:port]"
// or "h323:host", the bare forms "alias@host[:port]" and "host", and the Polycom
// "host##alias" notation. URL parameters after ';' are ignored.
func ParseCallString(s string) (Target, error) {
	s = strings.TrimSpace(s)
	if len(s) >= 5 && strings.EqualFold(s[:5], "h323:") {
		s = s[5:]
	}
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s = s[:i]
	}
	var alias, hostport string
	switch {
	case strings.Contains(s, "##"):
		i := strings.Index(s, "##")
		hostport, alias = s[:i], s[i+2:]
	case strings.Contains(s, "@"):
		i := strings.LastIndexByte(s, '@')
		alias, hostport = s[:i], s[i+1:]
	default:
		hostport = s
	}
	t := Target{Port: DefaultPort}
	host := hostport
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		port, err := strconv.Atoi(p)
		if err != nil || port < 1 || port > 65535 {
			return Target{}, fmt.Errorf("call string %q: port %q: %w", s, p, ErrParam)
		}
		host, t.Port = h, port
	} else {
		host = strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]")
	}
	if host == "" || strings.ContainsAny(host, " /@") {
		return Target{}, fmt.Errorf("call string %q: no host: %w", s, ErrParam)
	}
	t.Host = host
	if alias != "" {
		t.Dest = append(t.Dest, H323ID(alias))
		if strings.Trim(alias, "0123456789*#,") == "" {
			t.Dest = append(t.Dest, Digits(alias))
		}
	}
	return t, nil
}
