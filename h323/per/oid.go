package per

import (
	"fmt"
	"strconv"
	"strings"
)

// checkOID validates BER OBJECT IDENTIFIER contents octets (X.690 8.19): at least one octet,
// and the last octet of every subidentifier has its top bit clear.
func checkOID(b []byte) error {
	if len(b) == 0 {
		return fmt.Errorf("empty object identifier: %w", ErrConstraint)
	}
	if b[len(b)-1]&0x80 != 0 {
		return fmt.Errorf("object identifier ends inside a subidentifier: %w", ErrConstraint)
	}
	return nil
}

// FormatOID renders BER OBJECT IDENTIFIER contents as dotted text, e.g. "0.0.8.2250.0.4".
func FormatOID(b []byte) (string, error) {
	if err := checkOID(b); err != nil {
		return "", err
	}
	var sb strings.Builder
	var v uint64
	first := true
	for _, c := range b {
		if v > 1<<56 {
			return "", fmt.Errorf("object identifier arc too large: %w", ErrConstraint)
		}
		v = v<<7 | uint64(c&0x7F)
		if c&0x80 != 0 {
			continue
		}
		if first {
			a := min(v/40, 2)
			sb.WriteString(strconv.FormatUint(a, 10))
			sb.WriteByte('.')
			sb.WriteString(strconv.FormatUint(v-a*40, 10))
			first = false
		} else {
			sb.WriteByte('.')
			sb.WriteString(strconv.FormatUint(v, 10))
		}
		v = 0
	}
	return sb.String(), nil
}

// ParseOID converts dotted text to BER contents octets.
func ParseOID(s string) ([]byte, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return nil, fmt.Errorf("object identifier %q needs two arcs: %w", s, ErrBadValue)
	}
	arcs := make([]uint64, len(parts))
	for i, p := range parts {
		a, err := strconv.ParseUint(p, 10, 56)
		if err != nil {
			return nil, fmt.Errorf("object identifier %q: %w", s, ErrBadValue)
		}
		arcs[i] = a
	}
	if arcs[0] > 2 || (arcs[0] < 2 && arcs[1] >= 40) {
		return nil, fmt.Errorf("object identifier %q: bad first arcs: %w", s, ErrBadValue)
	}
	out := appendArc(nil, arcs[0]*40+arcs[1])
	for _, a := range arcs[2:] {
		out = appendArc(out, a)
	}
	return out, nil
}

func appendArc(b []byte, v uint64) []byte {
	n := 1
	for x := v >> 7; x > 0; x >>= 7 {
		n++
	}
	for i := n - 1; i >= 0; i-- {
		c := byte(v>>(7*uint(i))) & 0x7F
		if i > 0 {
			c |= 0x80
		}
		b = append(b, c)
	}
	return b
}
