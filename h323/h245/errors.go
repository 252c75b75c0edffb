package h245

import "errors"

// Sentinel errors of the H.245 builders and parser.
var (
	// ErrParam means a builder was given an unusable parameter.
	ErrParam = errors.New("h245: bad parameter")
	// ErrUnknown means the message is not one Parse understands.
	ErrUnknown = errors.New("h245: unknown message")
)
