package pgstore

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzText checks txt: its result is always storable (valid UTF-8 without
// NUL), and storable text passes unchanged.
func FuzzText(f *testing.F) {
	for _, s := range []string{"", "plain", "Zoë ☎", "nul\x00inside", "\xff\xfe", "\xed\xa0\x80", "a\x00\xc3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := txt(s)
		if !utf8.ValidString(out) || strings.IndexByte(out, 0) >= 0 {
			t.Fatalf("txt(%q) = %q: not storable", s, out)
		}
		if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 && out != s {
			t.Fatalf("txt(%q) = %q: changed storable text", s, out)
		}
		if got := txts([]string{"ok", s}); got[0] != "ok" || got[1] != out {
			t.Fatalf("txts = %q, want [ok %q]", got, out)
		}
	})
}

// FuzzCleanJSON checks cleanJSON on what encoding/json writes: the result
// is valid JSON that decodes to the same values with every NUL replaced,
// and an escaped backslash before "u0000" is left alone.
func FuzzCleanJSON(f *testing.F) {
	for _, s := range []string{"", "x", "\x00", `\u0000`, `\\u0000`, "a\x00b\\u0000c", "\xff\x00", `"\u0000"`} {
		f.Add(s)
	}
	type doc struct {
		S string            `json:"s"`
		L []string          `json:"l"`
		M map[string]string `json:"m"`
	}
	f.Fuzz(func(t *testing.T, s string) {
		raw, err := json.Marshal(doc{S: s, L: []string{s, "k"}, M: map[string]string{s: s}})
		if err != nil {
			t.Fatal(err)
		}
		var want doc
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatal(err)
		}
		fix := func(v string) string { return strings.ReplaceAll(v, "\x00", replacement) }
		out := cleanJSON(append([]byte(nil), raw...))
		var got doc
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("cleanJSON(%s) = %s: %v", raw, out, err)
		}
		if got.S != fix(want.S) || len(got.L) != 2 || got.L[0] != fix(want.L[0]) || got.L[1] != "k" ||
			len(got.M) != 1 || got.M[fix(s2k(want.M))] != fix(want.M[s2k(want.M)]) {
			t.Fatalf("cleanJSON(%s) = %s: decodes to %+v, want %+v with NUL replaced", raw, out, got, want)
		}
		if strings.Contains(string(out), `\u0000`) && !strings.Contains(string(out), `\\u0000`) {
			t.Fatalf("cleanJSON left a NUL escape: %s", out)
		}
	})
}

// s2k returns the only key of m.
func s2k(m map[string]string) string {
	for k := range m {
		return k
	}
	return ""
}

// FuzzParseDSN checks parseDSN and describe: no input panics, a DSN that
// does not parse fails with ErrBadDSN, and neither the error nor the
// description for the log shows the password.
func FuzzParseDSN(f *testing.F) {
	f.Add("127.0.0.1:5432", "roomgate", "secret", "roomgate", "sslmode=disable", "")
	f.Add("[::1]:5433", "u", "p@ss:w/rd?#", "db", "pool_max_conns=4", "host=x password=y")
	f.Add("db.example.com", "", "", "", "", "postgres://")
	f.Add("h:notaport", "user", "pw", "d b", "connect_timeout=x", "user=a password='q r'")
	f.Fuzz(func(t *testing.T, host, user, pass, db, query, raw string) {
		// Arbitrary text: must not panic, and fails only with ErrBadDSN.
		if _, err := parseDSN(raw); err != nil && !errors.Is(err, ErrBadDSN) {
			t.Fatalf("parseDSN(%q): %v, want ErrBadDSN", raw, err)
		}
		// A URL with a recognisable password.
		const marker = "Zq9~"
		secret := marker + pass
		if strings.Contains(host+user+db+query, marker) {
			return
		}
		u := url.URL{Scheme: "postgres", User: url.UserPassword(user, secret), Host: host, Path: "/" + db, RawQuery: query}
		cfg, err := parseDSN(u.String())
		if err != nil {
			if !errors.Is(err, ErrBadDSN) || strings.Contains(err.Error(), marker) {
				t.Fatalf("parseDSN error %q: want ErrBadDSN without the password", err)
			}
			return
		}
		if d := describe(cfg); strings.Contains(d, marker) {
			t.Fatalf("describe shows the password: %s", d)
		}
		if query == "" && cfg.ConnConfig.Password != secret {
			t.Fatalf("password parsed as %q, want %q", cfg.ConnConfig.Password, secret)
		}
	})
}
