package conf

import (
	"errors"
	"fmt"
)

// More sentinels of this package; the contract's own (ErrNotFound, ErrExists,
// ErrFull, ErrLocked, ErrUnauthorized, ErrConferenceDeleted) live in api.go.
var (
	// ErrInvalid is what every *ValidationError unwraps to, so callers can map
	// "the request was wrong" to 400 / SIP 400 without knowing the field.
	ErrInvalid = errors.New("conf: invalid input")
	// ErrInvalidJSON means a request body was not the JSON object expected
	// (syntax error, unknown field, trailing data); it is not a field error.
	ErrInvalidJSON = errors.New("conf: invalid JSON")
	// ErrBadPasswordHash means a stored password hash cannot be parsed, which
	// points at a damaged or foreign database row rather than a wrong password.
	ErrBadPasswordHash = errors.New("conf: malformed password hash")
)

// ValidationError names the field of a conference (or other resource) that
// is wrong and says why, so that the REST API and the CLI can point at it.
// Field uses the JSON names, with dots for nesting ("schedule.days").
type ValidationError struct {
	Field   string
	Message string
}

// Error implements error.
func (e *ValidationError) Error() string {
	if e.Field == "" {
		return "conf: invalid input: " + e.Message
	}
	return fmt.Sprintf("conf: invalid %s: %s", e.Field, e.Message)
}

// Unwrap makes errors.Is(err, ErrInvalid) true for every validation error.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

func invalid(field, format string, args ...any) *ValidationError {
	return &ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
}
