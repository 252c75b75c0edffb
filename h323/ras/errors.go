package ras

import (
	"errors"
	"fmt"
)

// Errors of this package.
var (
	// ErrConfig is a Config that cannot work.
	ErrConfig = errors.New("ras: invalid configuration")
	// ErrClosed is returned by a closed or not yet started Client.
	ErrClosed = errors.New("ras: client closed")
	// ErrTimeout means the gatekeeper answered none of the transmissions of a request.
	ErrTimeout = errors.New("ras: gatekeeper did not answer")
	// ErrNotRegistered means admission was asked while we are not registered.
	ErrNotRegistered = errors.New("ras: not registered with the gatekeeper")
	// ErrRejected is what every *RejectError unwraps to.
	ErrRejected = errors.New("ras: request rejected by the gatekeeper")
	// ErrTooMany means too many requests or admitted calls are outstanding.
	ErrTooMany = errors.New("ras: too many outstanding requests")
)

// RejectError is a gatekeeper's GRJ, RRJ, ARJ, URJ or DRJ.
type RejectError struct {
	// Kind is the reject message ("admissionReject", ...), Reason its rejectReason alternative.
	Kind, Reason string
}

// Error names the reject and its reason.
func (e *RejectError) Error() string {
	return fmt.Sprintf("ras: %s (%s)", e.Kind, e.Reason)
}

// Unwrap makes errors.Is(err, ErrRejected) true.
func (e *RejectError) Unwrap() error { return ErrRejected }
