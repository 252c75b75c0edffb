package sip

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/icholy/digest"

	"github.com/roomgate/roomgate/conf"
)

func TestParseAuthorization(t *testing.T) {
	good := `Digest username="alice", realm="rg", nonce="abc", uri="sip:rg", response="ABCDEF", ` +
		`algorithm=SHA-256, cnonce="x\"y", qop=auth, nc=0000000a, opaque=""`
	c, err := ParseAuthorization(good)
	if err != nil {
		t.Fatal(err)
	}
	want := DigestCredentials{Username: "alice", Realm: "rg", Nonce: "abc", URI: "sip:rg", Response: "abcdef",
		Algorithm: AlgSHA256, CNonce: `x"y`, QOP: "auth", NC: 10}
	if c != want {
		t.Fatalf("parsed %+v\nwant   %+v", c, want)
	}
	// RFC 2069 style without qop, MD5 by default.
	c, err = ParseAuthorization(`digest username=bob,realm="rg",nonce="n",uri="sip:x",response="00"`)
	if err != nil || c.Algorithm != AlgMD5 || c.Username != "bob" || c.NC != 0 {
		t.Fatalf("minimal: %+v, %v", c, err)
	}
	for _, bad := range []string{
		``,
		`Basic YWxhZGRpbjpvcGVuc2VzYW1l`,
		`Digest username="a"`, // no realm, nonce, uri, response
		`Digest username="a", username="b", realm="r", nonce="n", uri="u", response="r"`,
		`Digest username="a, realm="r", nonce="n", uri="u", response="r"`,
		`Digest username="a" realm="r", nonce="n", uri="u", response="r"`,
		`Digest username="a", realm="r", nonce="n", uri="u", response="r", algorithm=SHA-512`,
		`Digest username="a", realm="r", nonce="n", uri="u", response="r", qop=auth, nc=1, cnonce="c"`,
		`Digest username="a", realm="r", nonce="n", uri="u", response="r", qop=auth, nc=00000001`,
		`Digest username="a", realm="r", nonce="n", uri="u", response="r", qop=auth, nc=00000000, cnonce="c"`,
		"Digest username=\"a\r\nVia: x\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"r\"",
		`Digest username="a", realm="r", nonce="n", uri="u", response="r", =x`,
		`Digest username="a", realm="r", nonce="n", uri="u", response="r", x="\`,
		`Digest ` + strings.Repeat(`a=b, `, 40),
		`Digest username="` + strings.Repeat("a", maxAuthHeaderLen) + `"`,
	} {
		if _, err := ParseAuthorization(bad); !errors.Is(err, ErrBadAuthorization) {
			t.Errorf("ParseAuthorization(%.60q) = %v, want ErrBadAuthorization", bad, err)
		}
	}
}

func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{
		`Digest username="alice", realm="rg", nonce="abc", uri="sip:rg", response="abc", algorithm=MD5, cnonce="c", qop=auth, nc=00000001`,
		`Digest username=bob,realm="rg",nonce="n",uri="sip:x",response="00"`,
		`Digest username="a\\b", realm="r\"", nonce="", uri="", response=""`,
		`Digest realm="x", , ,`,
		`Basic abc`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseAuthorization(s)
		if err != nil {
			if !errors.Is(err, ErrBadAuthorization) {
				t.Fatalf("error %v does not wrap ErrBadAuthorization", err)
			}
			return
		}
		if c.Algorithm != AlgMD5 && c.Algorithm != AlgSHA256 {
			t.Fatalf("algorithm %q accepted", c.Algorithm)
		}
		if c.QOP != "" && (c.NC == 0 || c.CNonce == "") {
			t.Fatalf("qop without nc/cnonce accepted: %+v", c)
		}
		if len(s) > maxAuthHeaderLen {
			t.Fatalf("over-long header accepted")
		}
	})
}

// stepClock is a settable clock for the Digester.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *stepClock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// answer computes credentials for a challenge with an independent digest
// implementation, as a phone would.
func answer(t *testing.T, chal, method, uri, user, pass string, count int) DigestCredentials {
	t.Helper()
	ch, err := digest.ParseChallenge(chal)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := digest.Digest(ch, digest.Options{Method: method, URI: uri, Username: user, Password: pass, Count: count})
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseAuthorization(cred.String())
	if err != nil {
		t.Fatalf("our parser refuses %q: %v", cred.String(), err)
	}
	return c
}

func TestDigesterVerify(t *testing.T) {
	clk := &stepClock{now: time.Unix(1_700_000_000, 0)}
	d, err := NewDigester("rg.example", time.Minute, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	md5HA1, shaHA1 := conf.DigestHA1("alice", "rg.example", "secret-pw")
	if chals, err := d.Challenges(false, AlgMD5); err != nil || len(chals) != 1 || !strings.Contains(chals[0], "MD5") ||
		strings.Contains(chals[0], "stale") {
		t.Fatalf("challenges %q, %v", chals, err)
	}
	if chals, _ := d.Challenges(true, AlgMD5); !strings.Contains(chals[0], "stale=true") {
		t.Fatalf("stale challenge %q", chals[0])
	}
	chals, err := d.Challenges(false, AlgSHA256, AlgMD5)
	if err != nil || len(chals) != 2 || !strings.Contains(chals[0], "SHA-256") || !strings.Contains(chals[1], "MD5") {
		t.Fatalf("challenges with SHA-256 first %q, %v", chals, err)
	}
	for i, ha1 := range []string{shaHA1, md5HA1} {
		c := answer(t, chals[i], "REGISTER", "sip:rg.example", "alice", "secret-pw", 1)
		if err := d.Verify(c, "REGISTER", ha1); err != nil {
			t.Fatalf("%s: good credentials refused: %v", c.Algorithm, err)
		}
		// The same count again is a replay; the next count is fine.
		if err := d.Verify(c, "REGISTER", ha1); !errors.Is(err, ErrReplay) {
			t.Fatalf("%s: replay: %v", c.Algorithm, err)
		}
		c2 := answer(t, chals[i], "REGISTER", "sip:rg.example", "alice", "secret-pw", 2)
		if err := d.Verify(c2, "REGISTER", ha1); err != nil {
			t.Fatalf("%s: next count refused: %v", c.Algorithm, err)
		}
		// Wrong password; wrong method (a REGISTER response reused for an INVITE).
		bad := answer(t, chals[i], "REGISTER", "sip:rg.example", "alice", "guess", 3)
		if err := d.Verify(bad, "REGISTER", ha1); !errors.Is(err, ErrWrongCredentials) {
			t.Fatalf("%s: wrong password: %v", c.Algorithm, err)
		}
		c4 := answer(t, chals[i], "REGISTER", "sip:rg.example", "alice", "secret-pw", 4)
		if err := d.Verify(c4, "INVITE", ha1); !errors.Is(err, ErrWrongCredentials) {
			t.Fatalf("%s: other method: %v", c.Algorithm, err)
		}
		// The wrong guesses did not burn count 3.
		c3 := answer(t, chals[i], "REGISTER", "sip:rg.example", "alice", "secret-pw", 3)
		if err := d.Verify(c3, "REGISTER", ha1); err != nil {
			t.Fatalf("%s: count 3 after failures: %v", c.Algorithm, err)
		}
	}
	// A forged nonce; another realm.
	c := answer(t, `Digest realm="rg.example", nonce="Zm9yZ2Vk", qop="auth"`, "REGISTER", "sip:x", "alice", "secret-pw", 1)
	if err := d.Verify(c, "REGISTER", md5HA1); !errors.Is(err, ErrBadNonce) {
		t.Fatalf("forged nonce: %v", err)
	}
	c = answer(t, strings.Replace(chals[1], "rg.example", "other", 1), "REGISTER", "sip:x", "alice", "secret-pw", 1)
	if err := d.Verify(c, "REGISTER", md5HA1); !errors.Is(err, ErrBadAuthorization) {
		t.Fatalf("other realm: %v", err)
	}
	// Expiry: stale after the TTL, even with a correct response.
	chals, _ = d.Challenges(false, AlgSHA256, AlgMD5)
	c = answer(t, chals[1], "REGISTER", "sip:rg.example", "alice", "secret-pw", 1)
	clk.add(2 * time.Minute)
	if err := d.Verify(c, "REGISTER", md5HA1); !errors.Is(err, ErrStaleNonce) {
		t.Fatalf("old nonce: %v", err)
	}
	// Counts of expired nonces are forgotten.
	chals, _ = d.Challenges(false, AlgSHA256, AlgMD5)
	if err := d.Verify(answer(t, chals[1], "REGISTER", "sip:rg.example", "alice", "secret-pw", 1), "REGISTER", md5HA1); err != nil {
		t.Fatal(err)
	}
	if n := d.tracked(); n != 1 {
		t.Fatalf("%d nonces tracked, want only the live one", n)
	}
}

func TestDigesterCountWindow(t *testing.T) {
	clk := &stepClock{now: time.Unix(1_700_000_000, 0)}
	d, _ := NewDigester("r", time.Minute, clk.Now)
	n, _ := d.Nonce()
	issued, err := d.issuedAt(n)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		nc   uint32
		want error
	}{
		{5, nil}, {3, nil}, {3, ErrReplay}, {5, ErrReplay}, {100, nil}, {99, nil},
		{100 - ncWindow, ErrReplay}, // out of the window
		{101, nil},
	} {
		if err := d.useCount(n, issued, tc.nc); !errors.Is(err, tc.want) && !(err == nil && tc.want == nil) {
			t.Fatalf("nc %d: %v, want %v", tc.nc, err, tc.want)
		}
	}
}

func TestDigesterBoundedTracking(t *testing.T) {
	clk := &stepClock{now: time.Unix(1_700_000_000, 0)}
	d, _ := NewDigester("r", time.Hour, clk.Now)
	first, _ := d.Nonce()
	firstAt, _ := d.issuedAt(first)
	if err := d.useCount(first, firstAt, 1); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < maxNonceTracks; i++ {
		clk.add(time.Microsecond)
		n, _ := d.Nonce()
		at, _ := d.issuedAt(n)
		if err := d.useCount(n, at, 1); err != nil {
			t.Fatalf("nonce %d: %v", i, err)
		}
	}
	if got := d.tracked(); got != maxNonceTracks {
		t.Fatalf("%d nonces tracked, want the bound %d", got, maxNonceTracks)
	}
	// The first nonce was forgotten: it is now stale, never replayable.
	if err := d.useCount(first, firstAt, 1); !errors.Is(err, ErrStaleNonce) {
		t.Fatalf("forgotten nonce: %v, want ErrStaleNonce", err)
	}
}

func BenchmarkParseAuthorization(b *testing.B) {
	h := fmt.Sprintf(`Digest username="alice", realm="rg", nonce="%s", uri="sip:rg", response="%s", algorithm=MD5, cnonce="c", qop=auth, nc=00000001`,
		strings.Repeat("n", 43), strings.Repeat("0", 32))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseAuthorization(h); err != nil {
			b.Fatal(err)
		}
	}
}
