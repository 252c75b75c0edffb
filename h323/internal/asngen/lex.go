package main

import (
	"fmt"
	"strings"
	"unicode"
)

// token is one lexical item of the ASN.1 subset the H.323 modules use.
type token struct {
	text string
	str  bool // a quoted "string"
	line int
}

// lex splits ASN.1 source into tokens, dropping comments ("--" to the next "--" or line end).
func lex(src string) ([]token, error) {
	var out []token
	line := 1
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f':
			i++
		case strings.HasPrefix(src[i:], "--"):
			i += 2
			for i < len(src) && src[i] != '\n' {
				if strings.HasPrefix(src[i:], "--") {
					i += 2
					break
				}
				i++
			}
		case strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("line %d: unterminated comment", line)
			}
			line += strings.Count(src[i:i+2+end], "\n")
			i += end + 4
		case c == '"':
			j := i + 1
			for j < len(src) && src[j] != '"' {
				j++
			}
			if j >= len(src) {
				return nil, fmt.Errorf("line %d: unterminated string", line)
			}
			out = append(out, token{text: src[i+1 : j], str: true, line: line})
			i = j + 1
		case strings.HasPrefix(src[i:], "::="):
			out = append(out, token{text: "::=", line: line})
			i += 3
		case strings.HasPrefix(src[i:], "..."):
			out = append(out, token{text: "...", line: line})
			i += 3
		case strings.HasPrefix(src[i:], ".."):
			out = append(out, token{text: "..", line: line})
			i += 2
		case strings.HasPrefix(src[i:], ".&"):
			j := i + 2
			for j < len(src) && isIdent(rune(src[j])) {
				j++
			}
			out = append(out, token{text: src[i:j], line: line})
			i = j
		case c == '-' && i+1 < len(src) && unicode.IsDigit(rune(src[i+1])) || unicode.IsDigit(rune(c)):
			j := i + 1
			for j < len(src) && unicode.IsDigit(rune(src[j])) {
				j++
			}
			out = append(out, token{text: src[i:j], line: line})
			i = j
		case unicode.IsLetter(rune(c)):
			j := i + 1
			for j < len(src) && isIdent(rune(src[j])) && !strings.HasPrefix(src[j:], "--") {
				j++
			}
			out = append(out, token{text: src[i:j], line: line})
			i = j
		case strings.ContainsRune("{}()[],;|^!.<>@:", rune(c)):
			out = append(out, token{text: string(c), line: line})
			i++
		default:
			return nil, fmt.Errorf("line %d: unexpected character %q", line, c)
		}
	}
	return out, nil
}

func isIdent(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' }
