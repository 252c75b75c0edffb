package per

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors returned (wrapped) by the codec, so callers can classify failures with errors.Is.
var (
	// ErrTruncated means the input ended before the encoding was complete.
	ErrTruncated = errors.New("per: input truncated")
	// ErrTooLarge means a length or count exceeds what the remaining input or the codec's limits allow.
	ErrTooLarge = errors.New("per: length exceeds input or limit")
	// ErrConstraint means a value violates its type's constraint (range, size, alphabet, enumeration).
	ErrConstraint = errors.New("per: value violates constraint")
	// ErrTooDeep means the nesting depth exceeded MaxDepth.
	ErrTooDeep = errors.New("per: nesting too deep")
	// ErrTrailing means an open type or a top-level PDU left unconsumed non-padding data.
	ErrTrailing = errors.New("per: trailing data")
	// ErrBadValue means a Value does not match its Type (wrong shape when encoding or converting).
	ErrBadValue = errors.New("per: value does not match type")
	// ErrUnsupported means the encoding uses a form this codec does not implement.
	ErrUnsupported = errors.New("per: unsupported encoding")
)

// PathError reports where in the schema a decode or encode stopped: the chain of type and field
// names from the top-level PDU, the bit offset in the input, and the underlying cause.
type PathError struct {
	Path   []string // outermost first
	BitPos int
	Err    error
}

// Error formats the path, bit offset and cause.
func (e *PathError) Error() string {
	return fmt.Sprintf("per: at %s (bit %d): %v", strings.Join(e.Path, "."), e.BitPos, e.Err)
}

// Unwrap returns the underlying cause.
func (e *PathError) Unwrap() error { return e.Err }

// wrapPath prefixes name to the path of a PathError, or creates one.
func wrapPath(err error, name string, bitPos int) error {
	var pe *PathError
	if errors.As(err, &pe) {
		pe.Path = append(pe.Path, "")
		copy(pe.Path[1:], pe.Path)
		pe.Path[0] = name
		return pe
	}
	return &PathError{Path: []string{name}, BitPos: bitPos, Err: err}
}
