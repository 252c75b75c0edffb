package dtmf

import "errors"

// Errors returned by this package.
var (
	// ErrRate is returned for a sample rate other than 8000, 16000 or 48000 Hz.
	ErrRate = errors.New("dtmf: unsupported sample rate")
	// ErrDigit is returned for a character that is not a DTMF digit
	// (0-9, *, #, A-D).
	ErrDigit = errors.New("dtmf: not a DTMF digit")
	// ErrContentType is returned by ParseInfo for a SIP INFO body type it
	// does not read; the SIP layer answers such a request with 415.
	ErrContentType = errors.New("dtmf: unsupported INFO content type")
	// ErrInfoBody is returned by ParseInfo for a malformed INFO body.
	ErrInfoBody = errors.New("dtmf: malformed INFO body")
	// ErrDuration is returned for a press duration that is negative or
	// longer than MaxDuration.
	ErrDuration = errors.New("dtmf: bad duration")
	// ErrConfig is returned for detector or stream settings out of range.
	ErrConfig = errors.New("dtmf: bad configuration")
)
