package conf

import (
	"context"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Account and token parameters.
const (
	// AdminUser is the account EnsureAdmin creates on first start.
	AdminUser = "admin"
	// DefaultTokenTTL is how long an API token is valid.
	DefaultTokenTTL = 24 * time.Hour
	// DefaultPasswordIterations is the PBKDF2-HMAC-SHA-256 iteration count of
	// new password hashes (OWASP's 2023 recommendation).
	DefaultPasswordIterations = 600_000
	// maxPasswordIterations caps the count read from a stored hash, so a
	// damaged row cannot make a login burn minutes of CPU.
	maxPasswordIterations = 10_000_000
	// MaxPasswordLen bounds passwords: PBKDF2 hashes long inputs first, but
	// there is no reason to accept megabytes.
	MaxPasswordLen = 1024

	passwordHashScheme = "pbkdf2-sha256"
	saltLen            = 16
	derivedKeyLen      = 32
	tokenBytes         = 32
	generatedPassBytes = 18 // 24 base64url characters
)

// Roles of users.
const (
	UserRoleUser     = "user"
	UserRoleOperator = "operator"
	UserRoleAdmin    = "admin"
)

// EnsureAdmin creates the "admin" account (role admin) when it does not
// exist, with password, or with a generated password when password is
// empty; the generated one is returned so that the caller can show it once.
// An existing admin account is left as it is and "" is returned.
func (s *Service) EnsureAdmin(ctx context.Context, password string) (generated string, err error) {
	if _, err := s.store.GetUser(ctx, AdminUser); err == nil {
		return "", nil
	} else if !errors.Is(err, ErrNotFound) {
		return "", fmt.Errorf("looking up the admin account: %w", err)
	}
	if password == "" {
		b := make([]byte, generatedPassBytes)
		if _, err := io.ReadFull(s.rand, b); err != nil {
			return "", fmt.Errorf("generating the admin password: %w", err)
		}
		password = base64.RawURLEncoding.EncodeToString(b)
		generated = password
	}
	if len(password) > MaxPasswordLen {
		return "", invalid("password", "must be at most %d bytes", MaxPasswordLen)
	}
	hash, err := s.HashPassword(password)
	if err != nil {
		return "", fmt.Errorf("hashing the admin password: %w", err)
	}
	u := User{ID: AdminUser, DisplayName: "Administrator", Role: UserRoleAdmin, PasswordHash: hash, CreatedAt: s.clock()}
	s.setSIPCredentials(&u, password) // the admin may register a phone too
	if err := s.store.CreateUser(ctx, u); err != nil {
		if errors.Is(err, ErrExists) {
			// Another process (the CLI) created it first: theirs stands.
			return "", nil
		}
		return "", fmt.Errorf("creating the admin account: %w", err)
	}
	s.log.InfoContext(ctx, "admin account created", "generated_password", generated != "")
	return generated, nil
}

// HashPassword returns a self-describing PBKDF2-HMAC-SHA-256 hash of
// password: "pbkdf2-sha256$<iterations>$<salt>$<key>", salt and key in
// unpadded base64url. It is what User.PasswordHash holds.
func (s *Service) HashPassword(password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := io.ReadFull(s.rand, salt); err != nil {
		return "", fmt.Errorf("reading salt: %w", err)
	}
	key, err := pbkdf2.Key(sha256.New, password, salt, s.pwIter, derivedKeyLen)
	if err != nil {
		return "", fmt.Errorf("deriving key: %w", err)
	}
	enc := base64.RawURLEncoding
	return passwordHashScheme + "$" + strconv.Itoa(s.pwIter) + "$" + enc.EncodeToString(salt) + "$" + enc.EncodeToString(key), nil
}

// CheckPassword reports whether password matches hash (made by
// HashPassword). It returns ErrBadPasswordHash when hash cannot be parsed.
func CheckPassword(hash, password string) (bool, error) {
	scheme, rest, _ := strings.Cut(hash, "$")
	iterText, rest, _ := strings.Cut(rest, "$")
	saltText, keyText, ok := strings.Cut(rest, "$")
	if scheme != passwordHashScheme || !ok {
		return false, ErrBadPasswordHash
	}
	iter, err := strconv.Atoi(iterText)
	if err != nil || iter < 1 || iter > maxPasswordIterations {
		return false, fmt.Errorf("%w: iteration count %q", ErrBadPasswordHash, iterText)
	}
	salt, err1 := base64.RawURLEncoding.DecodeString(saltText)
	want, err2 := base64.RawURLEncoding.DecodeString(keyText)
	if err1 != nil || err2 != nil || len(salt) == 0 || len(want) < 16 || len(want) > 64 {
		return false, fmt.Errorf("%w: bad salt or key", ErrBadPasswordHash)
	}
	got, err := pbkdf2.Key(sha256.New, password, salt, iter, len(want))
	if err != nil {
		return false, fmt.Errorf("deriving key: %w", err)
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// IssueToken checks username and password and returns a new bearer token
// and its expiry. Only the token's SHA-256 is stored, so a copy of the
// database does not hand out sessions. A wrong user name or password gives
// ErrUnauthorized, after the same work in both cases.
func (s *Service) IssueToken(ctx context.Context, username, password string) (token string, expires time.Time, err error) {
	token, expires, err = s.issueToken(ctx, username, password)
	switch {
	case err == nil:
		s.metrics.logins.WithLabelValues("ok").Inc()
	case errors.Is(err, ErrUnauthorized):
		s.metrics.logins.WithLabelValues("refused").Inc()
	default:
		s.metrics.logins.WithLabelValues("error").Inc()
	}
	return token, expires, err
}

func (s *Service) issueToken(ctx context.Context, username, password string) (token string, expires time.Time, err error) {
	if username == "" || len(username) > MaxOwnerLen || len(password) > MaxPasswordLen {
		return "", time.Time{}, fmt.Errorf("issuing token: %w", ErrUnauthorized)
	}
	// Hashing is deliberately slow: bound how many run at once, so a burst
	// of logins queues instead of starving signalling and media of CPU.
	select {
	case s.hashSem <- struct{}{}:
		defer func() { <-s.hashSem }()
	case <-ctx.Done():
		return "", time.Time{}, fmt.Errorf("issuing token: %w", context.Cause(ctx))
	}
	u, err := s.store.GetUser(ctx, username)
	switch {
	case errors.Is(err, ErrNotFound):
		// Spend the time a real check would, so response times do not tell
		// which user names exist.
		s.dummyPasswordCheck(password)
		return "", time.Time{}, fmt.Errorf("issuing token: unknown user: %w", ErrUnauthorized)
	case err != nil:
		return "", time.Time{}, fmt.Errorf("issuing token: looking up user: %w", err)
	}
	ok, err := CheckPassword(u.PasswordHash, password)
	if err != nil {
		s.log.WarnContext(ctx, "stored password hash unusable", "user", u.ID, "err", err)
		return "", time.Time{}, fmt.Errorf("issuing token: %w", ErrUnauthorized)
	}
	if !ok {
		return "", time.Time{}, fmt.Errorf("issuing token: wrong password: %w", ErrUnauthorized)
	}
	b := make([]byte, tokenBytes)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		return "", time.Time{}, fmt.Errorf("issuing token: reading random: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	now := s.clock()
	expires = now.Add(s.tokenTTL)
	if err := s.store.DeleteExpiredTokens(ctx, now); err != nil {
		s.log.WarnContext(ctx, "deleting expired tokens", "err", err)
	}
	if err := s.store.SaveToken(ctx, Token{Hash: tokenHash(token), UserID: u.ID, Expires: expires}); err != nil {
		return "", time.Time{}, fmt.Errorf("issuing token: saving: %w", err)
	}
	s.log.InfoContext(ctx, "token issued", "user", u.ID, "expires", expires)
	return token, expires, nil
}

func (s *Service) dummyPasswordCheck(password string) {
	salt := make([]byte, saltLen)
	_, _ = pbkdf2.Key(sha256.New, password, salt, s.pwIter, derivedKeyLen)
}

// CheckToken returns the user a bearer token was issued to, or
// ErrUnauthorized when the token is unknown or expired.
func (s *Service) CheckToken(ctx context.Context, token string) (User, error) {
	// A token is exactly 43 base64url characters; anything else cannot match.
	if len(token) != base64.RawURLEncoding.EncodedLen(tokenBytes) {
		return User{}, fmt.Errorf("checking token: %w", ErrUnauthorized)
	}
	t, err := s.store.GetToken(ctx, tokenHash(token))
	if errors.Is(err, ErrNotFound) {
		return User{}, fmt.Errorf("checking token: unknown token: %w", ErrUnauthorized)
	} else if err != nil {
		return User{}, fmt.Errorf("checking token: %w", err)
	}
	if !s.clock().Before(t.Expires) {
		return User{}, fmt.Errorf("checking token: expired: %w", ErrUnauthorized)
	}
	u, err := s.store.GetUser(ctx, t.UserID)
	if errors.Is(err, ErrNotFound) {
		return User{}, fmt.Errorf("checking token: user %s is gone: %w", t.UserID, ErrUnauthorized)
	} else if err != nil {
		return User{}, fmt.Errorf("checking token: looking up user: %w", err)
	}
	return u, nil
}

// tokenHash is the stored form of a bearer token: hex SHA-256. A fast hash
// is enough because tokens carry 256 bits of randomness.
func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
