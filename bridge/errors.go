package bridge

import "errors"

// Errors of this package beyond those of the API contract in api.go.
var (
	// ErrBadConfig is returned by New when the configuration cannot work.
	ErrBadConfig = errors.New("bridge: bad configuration")
	// ErrNotStarted is returned by Update before Start.
	ErrNotStarted = errors.New("bridge: leg not started")
	// ErrAlreadyStarted is returned by a second Start; use Update instead.
	ErrAlreadyStarted = errors.New("bridge: leg already started")
	// ErrBadParams is returned when stream parameters are unusable.
	ErrBadParams = errors.New("bridge: bad stream parameters")
	// ErrLegClosed is the cause of a leg closed with a nil cause.
	ErrLegClosed = errors.New("bridge: leg closed")

	// ErrRTPTruncated means a datagram is shorter than its RTP header says.
	ErrRTPTruncated = errors.New("bridge: truncated RTP packet")
	// ErrRTPVersion means a datagram is not RTP version 2.
	ErrRTPVersion = errors.New("bridge: not RTP version 2")
	// ErrRTPPadding means the padding length of an RTP packet is impossible.
	ErrRTPPadding = errors.New("bridge: bad RTP padding")
	// ErrDigitQueueFull is returned by SendDigits when the digits would not
	// fit the digits still waiting to be sent.
	ErrDigitQueueFull = errors.New("bridge: too many DTMF digits queued")
	// ErrBadDigit is returned by SendDigits for a character that is not a
	// DTMF digit or ','.
	ErrBadDigit = errors.New("bridge: not a DTMF digit")

	// ErrEventTruncated means an RFC 4733 telephone-event payload is shorter than 4 bytes.
	ErrEventTruncated = errors.New("bridge: truncated telephone-event payload")
)
