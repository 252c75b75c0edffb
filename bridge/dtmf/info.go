package dtmf

import (
	"bytes"
	"fmt"
	"mime"
	"strconv"
	"strings"
	"time"
)

// MaxDuration bounds a press duration read from the network or asked of the
// Generator; longer values are refused as garbage rather than trusted.
const MaxDuration = time.Minute

// maxInfoBody bounds an INFO body; real ones are a few dozen bytes.
const maxInfoBody = 1024

// INFO body content types.
const (
	// ContentTypeRelay is the de facto standard body of Cisco and most
	// phones: "Signal=5\r\nDuration=160\r\n".
	ContentTypeRelay = "application/dtmf-relay"
	// ContentTypeDTMF is the body holding one digit (or event number).
	ContentTypeDTMF = "application/dtmf"
)

// InfoDigit is a digit read from a SIP INFO body.
type InfoDigit struct {
	// Digit is the key, normalized: 0-9, *, #, A-D.
	Digit rune
	// Duration is the press duration the sender announced, or 0 when the
	// body did not say.
	Duration time.Duration
}

// ParseInfo reads the DTMF digit of a SIP INFO request from its
// Content-Type header value and body. It returns ErrContentType for other
// bodies, and ErrInfoBody, ErrDigit or ErrDuration for bad ones.
//
// application/dtmf-relay holds "key=value" lines; Signal is required and
// Duration (milliseconds) optional, other keys are ignored. Both body types
// accept a digit character or an RFC 4733 §3.2 event number (10 for *, 11
// for #, 12-15 for A-D), which some phones send.
func ParseInfo(contentType string, body []byte) (InfoDigit, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return InfoDigit{}, fmt.Errorf("parsing INFO content type %q: %w", contentType, ErrContentType)
	}
	if len(body) > maxInfoBody {
		return InfoDigit{}, fmt.Errorf("parsing %s body of %d bytes: too large: %w", mt, len(body), ErrInfoBody)
	}
	switch mt {
	case ContentTypeRelay:
		return parseRelay(body)
	case ContentTypeDTMF:
		d, err := parseSignal(string(bytes.TrimSpace(body)))
		if err != nil {
			return InfoDigit{}, fmt.Errorf("parsing %s body: %w", mt, err)
		}
		return InfoDigit{Digit: d}, nil
	}
	return InfoDigit{}, fmt.Errorf("parsing INFO body of type %q: %w", mt, ErrContentType)
}

// parseRelay reads an application/dtmf-relay body.
func parseRelay(body []byte) (InfoDigit, error) {
	var out InfoDigit
	haveSignal, haveDuration := false, false
	for line := range strings.Lines(string(body)) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			return InfoDigit{}, fmt.Errorf("parsing %s line %q: no '=': %w", ContentTypeRelay, line, ErrInfoBody)
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch {
		case strings.EqualFold(key, "Signal"):
			if haveSignal {
				return InfoDigit{}, fmt.Errorf("parsing %s: two Signal lines: %w", ContentTypeRelay, ErrInfoBody)
			}
			d, err := parseSignal(val)
			if err != nil {
				return InfoDigit{}, fmt.Errorf("parsing %s Signal: %w", ContentTypeRelay, err)
			}
			out.Digit, haveSignal = d, true
		case strings.EqualFold(key, "Duration"):
			if haveDuration {
				return InfoDigit{}, fmt.Errorf("parsing %s: two Duration lines: %w", ContentTypeRelay, ErrInfoBody)
			}
			ms, err := strconv.ParseUint(val, 10, 32)
			if err != nil || time.Duration(ms)*time.Millisecond > MaxDuration {
				return InfoDigit{}, fmt.Errorf("parsing %s Duration %q: %w", ContentTypeRelay, val, ErrDuration)
			}
			out.Duration, haveDuration = time.Duration(ms)*time.Millisecond, true
		}
	}
	if !haveSignal {
		return InfoDigit{}, fmt.Errorf("parsing %s: no Signal line: %w", ContentTypeRelay, ErrInfoBody)
	}
	return out, nil
}

// parseSignal reads a digit character or an RFC 4733 event number 0-15.
func parseSignal(s string) (rune, error) {
	if len(s) == 1 {
		return Normalize(rune(s[0]))
	}
	if len(s) == 2 && s[0] == '1' && s[1] >= '0' && s[1] <= '5' {
		return rune(Digits[eventIndex[s[1]-'0']]), nil
	}
	if s == "" {
		return 0, fmt.Errorf("empty signal: %w", ErrInfoBody)
	}
	return 0, fmt.Errorf("signal %.16q: %w", s, ErrDigit)
}

// eventIndex maps RFC 4733 events 10-15 (*, #, A, B, C, D) to their index
// in Digits.
var eventIndex = [6]int{12, 14, 3, 7, 11, 15}

// AppendRelayBody appends an application/dtmf-relay body for digit and
// duration to dst, for sending DTMF to a leg by SIP INFO.
func AppendRelayBody(dst []byte, digit rune, d time.Duration) ([]byte, error) {
	digit, err := Normalize(digit)
	if err != nil {
		return dst, fmt.Errorf("building %s body: %w", ContentTypeRelay, err)
	}
	if d < 0 || d > MaxDuration {
		return dst, fmt.Errorf("building %s body: %v: %w", ContentTypeRelay, d, ErrDuration)
	}
	dst = append(dst, "Signal="...)
	dst = append(dst, byte(digit))
	dst = append(dst, "\r\nDuration="...)
	dst = strconv.AppendInt(dst, d.Milliseconds(), 10)
	return append(dst, "\r\n"...), nil
}
