package sip

import (
	"errors"
	"fmt"
)

// Errors of this package. Causes of ended calls wrap one of them so that
// context.Cause and logs say why a call ended.
var (
	// ErrBadSDP is an SDP body we could not parse (answered 400).
	ErrBadSDP = errors.New("sip: malformed SDP")
	// ErrNoCommonMedia is an SDP with nothing we can play (answered 488).
	ErrNoCommonMedia = errors.New("sip: no common media")
	// ErrBye is the cause of a call the peer ended with BYE.
	ErrBye = errors.New("sip: remote hung up (BYE)")
	// ErrCancelled is the cause of a call the caller cancelled before the answer.
	ErrCancelled = errors.New("sip: call cancelled")
	// ErrNoAck is the cause of a call whose 200 OK was never acknowledged.
	ErrNoAck = errors.New("sip: no ACK for 200 OK")
	// ErrAckWithoutAnswer is the cause of a late-offer call whose ACK carried no usable answer.
	ErrAckWithoutAnswer = errors.New("sip: ACK without a usable SDP answer")
	// ErrSessionExpired is the cause of a call whose session timer ran out (RFC 4028).
	ErrSessionExpired = errors.New("sip: session timer expired")
	// ErrRefreshFailed is the cause of a call whose session refresh was refused.
	ErrRefreshFailed = errors.New("sip: session refresh failed")
	// ErrShutdown is the cause of calls hung up because the server is closing.
	ErrShutdown = errors.New("sip: server shutting down")
	// ErrClosed is returned by a Server that was closed.
	ErrClosed = errors.New("sip: server closed")
	// ErrConfig is a Config that cannot work.
	ErrConfig = errors.New("sip: invalid configuration")
	// ErrMalformed is a SIP message that could not be parsed.
	ErrMalformed = errors.New("sip: malformed message")
	// ErrNoSuchCall is returned by Server.SendDTMF for a Call-ID that names
	// no answered call.
	ErrNoSuchCall = errors.New("sip: no such call")
	// ErrNotSupported is returned for what a call cannot do, such as
	// sending DTMF as RFC 4733 events, which only the media path can.
	ErrNotSupported = errors.New("sip: not supported")
	// ErrBadMediaControl means an application/media_control+xml body
	// (RFC 5168) could not be read.
	ErrBadMediaControl = errors.New("sip: bad media_control body")
	// ErrNoVideo is returned for a video operation on a call without video.
	ErrNoVideo = errors.New("sip: call has no video")
)

// StatusError is a failure that maps to a SIP final response.
type StatusError struct {
	Status int
	Reason string
	Err    error
}

// Error says which status the failure is answered with and why.
func (e *StatusError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("sip %d %s: %v", e.Status, e.Reason, e.Err)
	}
	return fmt.Sprintf("sip %d %s", e.Status, e.Reason)
}

// Unwrap returns the underlying error.
func (e *StatusError) Unwrap() error { return e.Err }
