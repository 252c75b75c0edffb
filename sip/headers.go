package sip

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
)

// headerGetter is what requests and responses share for header access.
type headerGetter interface {
	GetHeaders(name string) []sipmsg.Header
}

// headerValues returns the comma-separated values of a header under its long
// and compact names, trimmed, in order.
func headerValues(m headerGetter, names ...string) []string {
	var out []string
	for _, n := range names {
		for _, h := range m.GetHeaders(n) {
			for _, v := range strings.Split(h.Value(), ",") {
				if v = strings.TrimSpace(v); v != "" {
					out = append(out, v)
				}
			}
		}
	}
	return out
}

// hasToken reports whether a token list header (Supported, Require, Allow)
// contains tok, compared without case.
func hasToken(m headerGetter, tok string, names ...string) bool {
	for _, v := range headerValues(m, names...) {
		if strings.EqualFold(v, tok) {
			return true
		}
	}
	return false
}

func supports(m headerGetter, option string) bool {
	return hasToken(m, option, "Supported", "k")
}

func allows(m headerGetter, method string) bool {
	return hasToken(m, method, "Allow")
}

// sessionExpires is a parsed Session-Expires header (RFC 4028 §4).
type sessionExpires struct {
	Delta     time.Duration
	Refresher string // "uac", "uas" or ""
}

// maxSessionExpires bounds a peer's Session-Expires (one day), far above
// anything real, so arithmetic on it cannot overflow.
const maxSessionExpires = 24 * time.Hour

// parseSessionExpires reads Session-Expires (compact "x"); ok is false when
// the header is absent.
func parseSessionExpires(m headerGetter) (sessionExpires, bool, error) {
	vals := headerValues(m, "Session-Expires", "x")
	if len(vals) == 0 {
		return sessionExpires{}, false, nil
	}
	parts := strings.Split(vals[0], ";")
	d, err := parseDeltaSeconds(parts[0])
	if err != nil {
		return sessionExpires{}, true, fmt.Errorf("Session-Expires %q: %w", vals[0], err)
	}
	se := sessionExpires{Delta: d}
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(strings.TrimSpace(k), "refresher") {
			switch v = strings.ToLower(strings.TrimSpace(v)); v {
			case "uac", "uas":
				se.Refresher = v
			default:
				return sessionExpires{}, true, fmt.Errorf("Session-Expires refresher %q: want uac or uas", v)
			}
		}
	}
	return se, true, nil
}

// parseMinSE reads Min-SE; zero when absent.
func parseMinSE(m headerGetter) (time.Duration, error) {
	vals := headerValues(m, "Min-SE")
	if len(vals) == 0 {
		return 0, nil
	}
	v, _, _ := strings.Cut(vals[0], ";")
	d, err := parseDeltaSeconds(v)
	if err != nil {
		return 0, fmt.Errorf("Min-SE %q: %w", vals[0], err)
	}
	return d, nil
}

func parseDeltaSeconds(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("want a positive number of seconds")
	}
	d := time.Duration(n) * time.Second
	if d > maxSessionExpires {
		d = maxSessionExpires
	}
	return d, nil
}

// seconds formats a duration as whole seconds for headers.
func seconds(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) }
