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
	// ErrForbidden means the caller is known but his role or his place in
	// the conference does not allow the action (REST 403, SIP 403).
	ErrForbidden = errors.New("conf: forbidden")
	// ErrRemoved means the caller was removed from the conference by a
	// moderator and may not rejoin until invited again (SIP 403).
	ErrRemoved = errors.New("conf: removed from the conference")
	// ErrConflict means the action contradicts the current state: removing
	// the owner, deleting the last administrator, a layout for an
	// asymmetric conference's presenter view (REST 409).
	ErrConflict = errors.New("conf: conflicting state")
	// ErrNotSupported means the store or the leg lacks a capability the
	// action needs (an address book, muting), which is a deployment fault.
	ErrNotSupported = errors.New("conf: not supported")
	// ErrEnded is the cause given to legs hung up because a moderator ended
	// the conference for all.
	ErrEnded = errors.New("conf: conference ended by a moderator")
	// ErrKicked is the cause given to a leg removed by a moderator.
	ErrKicked = errors.New("conf: removed by a moderator")
	// ErrNotStarted means a scheduled conference is outside its time and
	// nobody started it early; Join wraps it with ErrLocked so that
	// signalling refuses the call as it refuses a locked conference.
	ErrNotStarted = errors.New("conf: the conference has not started")
	// ErrScheduleEnded is the cause given to legs hung up because their
	// scheduled conference reached its end.
	ErrScheduleEnded = errors.New("conf: the scheduled conference ended")
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
