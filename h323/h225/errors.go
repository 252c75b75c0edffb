package h225

import "errors"

var (
	// ErrNotH225 means a decoded PDU lacks a part every H.225.0 message has.
	ErrNotH225 = errors.New("h225: message lacks required content")
	// ErrParam means a builder was given an unusable parameter (address, alias, reason).
	ErrParam = errors.New("h225: bad parameter")
)
