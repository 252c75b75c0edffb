package conf_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/roomgate/roomgate/conf"
)

func TestEnsureAdmin(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	gen, err := e.svc.EnsureAdmin(ctx, "")
	if err != nil || len(gen) < 20 {
		t.Fatalf("generated password %q, %v", gen, err)
	}
	again, err := e.svc.EnsureAdmin(ctx, "other")
	if err != nil || again != "" {
		t.Fatalf("second EnsureAdmin = %q, %v: an existing admin must be left alone", again, err)
	}
	u, err := e.store.GetUser(ctx, conf.AdminUser)
	if err != nil || u.Role != conf.UserRoleAdmin || strings.Contains(u.PasswordHash, gen) {
		t.Fatalf("admin %+v, %v", u, err)
	}
	if _, _, err := e.svc.IssueToken(ctx, "admin", "other"); !errors.Is(err, conf.ErrUnauthorized) {
		t.Fatalf("the second password must not have replaced the first: %v", err)
	}
	if _, _, err := e.svc.IssueToken(ctx, "admin", gen); err != nil {
		t.Fatalf("login with the generated password: %v", err)
	}

	e2 := newEnv(t)
	gen, err = e2.svc.EnsureAdmin(ctx, "s3cret-given")
	if err != nil || gen != "" {
		t.Fatalf("given password: %q, %v", gen, err)
	}
	if _, _, err := e2.svc.IssueToken(ctx, "admin", "s3cret-given"); err != nil {
		t.Fatal(err)
	}
}

func TestTokens(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	if _, err := e.svc.EnsureAdmin(ctx, "pw-admin"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ user, pass string }{
		{"admin", "wrong"}, {"admin", ""}, {"nobody", "pw-admin"}, {"", ""}, {"admin", strings.Repeat("x", 2000)},
	} {
		if _, _, err := e.svc.IssueToken(ctx, c.user, c.pass); !errors.Is(err, conf.ErrUnauthorized) {
			t.Errorf("IssueToken(%q, %q): %v, want ErrUnauthorized", c.user, c.pass, err)
		}
	}
	tok, exp, err := e.svc.IssueToken(ctx, "admin", "pw-admin")
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) != 43 || !exp.Equal(start.Add(conf.DefaultTokenTTL)) {
		t.Fatalf("token %q expires %v", tok, exp)
	}
	u, err := e.svc.CheckToken(ctx, tok)
	if err != nil || u.ID != "admin" {
		t.Fatalf("CheckToken = %+v, %v", u, err)
	}
	for _, bad := range []string{"", "x", tok[:42], tok[:42] + "A", strings.Repeat("A", 43)} {
		if bad == tok {
			continue
		}
		if _, err := e.svc.CheckToken(ctx, bad); !errors.Is(err, conf.ErrUnauthorized) {
			t.Errorf("CheckToken(%q): %v, want ErrUnauthorized", bad, err)
		}
	}
	// The database keeps only a hash of the token.
	if _, err := e.store.GetToken(ctx, tok); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("raw token found in the store: %v", err)
	}

	// Tokens survive a restart.
	e.open(t)
	if _, err := e.svc.CheckToken(ctx, tok); err != nil {
		t.Fatalf("token after restart: %v", err)
	}
	e.clock.Advance(conf.DefaultTokenTTL - time.Microsecond)
	if _, err := e.svc.CheckToken(ctx, tok); err != nil {
		t.Fatalf("token just before expiry: %v", err)
	}
	e.clock.Advance(time.Microsecond)
	if _, err := e.svc.CheckToken(ctx, tok); !errors.Is(err, conf.ErrUnauthorized) {
		t.Fatalf("expired token: %v", err)
	}
	// Issuing a new token sweeps the expired one away.
	if _, _, err := e.svc.IssueToken(ctx, "admin", "pw-admin"); err != nil {
		t.Fatal(err)
	}
	short := conf.NewService(e.store, nil, conf.WithClock(e.clock.Now), conf.WithTokenTTL(time.Minute))
	tok2, exp2, err := short.IssueToken(ctx, "admin", "pw-admin")
	if err != nil || !exp2.Equal(e.clock.Now().Add(time.Minute)) {
		t.Fatalf("short TTL: %v, %v", exp2, err)
	}
	if _, err := short.CheckToken(ctx, tok2); err != nil {
		t.Fatal(err)
	}
}

func TestPasswordHash(t *testing.T) {
	svc := conf.NewService(nil, nil, conf.WithPasswordIterations(1000))
	h, err := svc.HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "pbkdf2-sha256$1000$") {
		t.Fatalf("hash %q is not self-describing", h)
	}
	h2, _ := svc.HashPassword("correct horse")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: salt is not random")
	}
	if ok, err := conf.CheckPassword(h, "correct horse"); !ok || err != nil {
		t.Fatalf("right password: %v, %v", ok, err)
	}
	if ok, err := conf.CheckPassword(h, "correct horsE"); ok || err != nil {
		t.Fatalf("wrong password: %v, %v", ok, err)
	}
	def, err := conf.NewService(nil, nil).HashPassword("x")
	if err != nil || !strings.HasPrefix(def, "pbkdf2-sha256$600000$") {
		t.Fatalf("default hash %q, %v", def, err)
	}
	parts := strings.Split(h, "$")
	for _, bad := range []string{
		"", "plain", "md5$1$a$b", "pbkdf2-sha256$0$" + parts[2] + "$" + parts[3],
		"pbkdf2-sha256$99999999999$" + parts[2] + "$" + parts[3],
		"pbkdf2-sha256$x$" + parts[2] + "$" + parts[3],
		"pbkdf2-sha256$1000$!!$" + parts[3], "pbkdf2-sha256$1000$" + parts[2] + "$AA",
		"pbkdf2-sha256$1000$" + parts[2],
	} {
		if ok, err := conf.CheckPassword(bad, "correct horse"); ok || !errors.Is(err, conf.ErrBadPasswordHash) {
			t.Errorf("CheckPassword(%q) = %v, %v; want ErrBadPasswordHash", bad, ok, err)
		}
	}
}
