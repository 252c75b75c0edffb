package pdu

import "errors"

// ErrKind means the kind is not one of the Kind constants.
var ErrKind = errors.New("pdu: unknown kind")
