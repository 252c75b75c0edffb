package call

import (
	"errors"
	"fmt"

	"github.com/roomgate/roomgate/h323/q931"
)

// Q.850 causes used here beyond those package q931 names.
const (
	// CauseUnallocated is "unallocated (unassigned) number": no such conference.
	CauseUnallocated = 1
	// CauseIncompatible is "incompatible destination": no common audio codec.
	CauseIncompatible = 88
	// CauseInvalidMessage is "invalid message, unspecified": the peer sent garbage.
	CauseInvalidMessage = 95
	// CauseRecoveryOnTimer is "recovery on timer expiry": the peer stopped mid-handshake.
	CauseRecoveryOnTimer = 102
	// CauseNumberChanged is "number changed".
	CauseNumberChanged = 22
	// CauseNoRoute is "no route to destination".
	CauseNoRoute = 3
	// CauseDestinationOutOfOrder is "destination out of order": we could not reach it.
	CauseDestinationOutOfOrder = 27
	// CauseInvalidNumber is "invalid number format (address incomplete)".
	CauseInvalidNumber = 28
)

// causeStatusResponse is "response to STATUS ENQUIRY", the cause a Status carries.
const causeStatusResponse = 30

// ieCallState is the Q.931 Call state information element (Q.931 clause 4.5.7).
const ieCallState = 0x14

// Errors of this package. Causes of ended calls wrap one of them, so that
// logs and Call.Cause say why a call ended.
var (
	// ErrConfig is a Config or DialOptions that cannot work.
	ErrConfig = errors.New("h323 call: invalid configuration")
	// ErrNoVideo means the media factory gives no video (no video legs, no video router).
	ErrNoVideo = errors.New("h323 call: no video")
	// ErrClosed is returned by a Server that was closed.
	ErrClosed = errors.New("h323 call: server closed")
	// ErrShutdown is the cause of calls released because the server is closing.
	ErrShutdown = errors.New("h323 call: server shutting down")
	// ErrReleased is the cause of a call the peer released with ReleaseComplete.
	ErrReleased = errors.New("h323 call: released by the peer")
	// ErrEndSession is the cause of a call the peer ended with H.245 endSessionCommand.
	ErrEndSession = errors.New("h323 call: peer ended the H.245 session")
	// ErrConnLost is the cause of a call whose signalling TCP connection closed or failed.
	ErrConnLost = errors.New("h323 call: signalling connection lost")
	// ErrTimeout is the cause of a call whose peer did not complete a step in time.
	ErrTimeout = errors.New("h323 call: peer timed out")
	// ErrProtocol is the cause of a call whose peer sent something unusable.
	ErrProtocol = errors.New("h323 call: protocol error")
	// ErrNoCommonCodec is the cause of a call without an audio codec both sides support.
	ErrNoCommonCodec = errors.New("h323 call: no common audio codec")
	// ErrHangup is the cause of a call we hung up locally without a more specific reason.
	ErrHangup = errors.New("h323 call: hung up")
	// ErrRejected is returned by Dial when the callee released the call before Connect.
	ErrRejected = errors.New("h323 call: call rejected")

	// Dial-out outcomes conf reports (conf.EventDialFailed): every failed
	// Dial or Dialer.Dial wraps one of them next to the cause.

	// ErrBusy: the callee released with cause 17 (user busy).
	ErrBusy = errors.New("h323 call: target busy")
	// ErrDeclined: the callee released with cause 21 (call rejected) or the
	// gatekeeper refused admission.
	ErrDeclined = errors.New("h323 call: call declined")
	// ErrUnknownTarget: no such alias or number (causes 1, 3, 22, 28, or the
	// gatekeeper could not resolve the alias).
	ErrUnknownTarget = errors.New("h323 call: target not found")
	// ErrNoAnswer: nobody answered within the ring timeout, or the callee
	// said so (causes 18, 19).
	ErrNoAnswer = errors.New("h323 call: no answer")
	// ErrUnreachable: the callee's call signalling address could not be reached.
	ErrUnreachable = errors.New("h323 call: target unreachable")
	// ErrNoRoute: the target has no host and no gatekeeper is configured.
	ErrNoRoute = errors.New("h323 call: no host and no gatekeeper to resolve the alias")
)

// dialOutcome adds the dial-out sentinel that a callee's release cause
// means; other errors are returned as they are.
func dialOutcome(err error) error {
	var ce *CauseError
	if !errors.As(err, &ce) || !errors.Is(err, ErrRejected) {
		return err
	}
	var kind error
	switch ce.Cause {
	case q931.CauseUserBusy:
		kind = ErrBusy
	case q931.CauseCallRejected:
		kind = ErrDeclined
	case CauseUnallocated, CauseNoRoute, CauseNumberChanged, CauseInvalidNumber:
		kind = ErrUnknownTarget
	case q931.CauseNoUserResponse, q931.CauseNoAnswer:
		kind = ErrNoAnswer
	default:
		return err
	}
	return fmt.Errorf("%w: %w", kind, err)
}

// CauseError is a call failure that carries its Q.931 (Q.850) cause value,
// the one sent or received in the ReleaseComplete Cause IE.
type CauseError struct {
	Cause uint8
	Err   error
}

// Error names the cause value and what led to it.
func (e *CauseError) Error() string {
	return fmt.Sprintf("q.931 cause %d: %v", e.Cause, e.Err)
}

// Unwrap returns the underlying error.
func (e *CauseError) Unwrap() error { return e.Err }

// causeOf returns the Q.931 cause to send for an error ending a call.
func causeOf(err error) uint8 {
	var ce *CauseError
	switch {
	case errors.As(err, &ce):
		return ce.Cause
	case errors.Is(err, ErrTimeout):
		return CauseRecoveryOnTimer
	case errors.Is(err, ErrProtocol):
		return CauseInvalidMessage
	case errors.Is(err, ErrNoCommonCodec):
		return CauseIncompatible
	}
	return q931.CauseNormalClearing
}
