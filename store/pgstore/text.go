package pgstore

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// replacement stands in for what PostgreSQL cannot store in text: NUL
// characters and bytes that are not UTF-8.
const replacement = "\uFFFD"

// txt returns s as PostgreSQL can store it in a text column: invalid UTF-8
// sequences and NUL characters become U+FFFD. Valid text, the common case,
// is returned as is without allocating. Applying it to lookups as well as
// writes keeps both sides consistent.
func txt(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, replacement), "\x00", replacement)
}

// txts applies txt to every element, copying only when one changes.
func txts(ss []string) []string {
	for i, s := range ss {
		if t := txt(s); t != s {
			out := make([]string, len(ss))
			copy(out, ss[:i])
			for j := i; j < len(ss); j++ {
				out[j] = txt(ss[j])
			}
			return out
		}
	}
	return ss
}

// jsonNUL is the escape that JSONB refuses: PostgreSQL text cannot hold
// U+0000, even inside a JSON document.
var jsonNUL = []byte(`\u0000`)

// cleanJSON replaces every \u0000 escape of the encoding/json output doc
// (which is valid UTF-8, as json.Marshal writes it) by \ufffd, in place.
// An escaped backslash followed by "u0000" is text, not an escape, and is
// kept: the scan skips over each escape sequence as a whole.
func cleanJSON(doc []byte) []byte {
	if !bytes.Contains(doc, jsonNUL) {
		return doc
	}
	for i := 0; i < len(doc); i++ {
		if doc[i] != '\\' || i+1 >= len(doc) {
			continue
		}
		if doc[i+1] == 'u' && bytes.HasPrefix(doc[i:], jsonNUL) {
			copy(doc[i+2:i+6], "fffd")
		}
		i++ // skip the escaped character; \uXXXX's hex digits hold no backslash
	}
	return doc
}
