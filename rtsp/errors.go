package rtsp

import (
	"errors"
	"fmt"

	"github.com/roomgate/roomgate/conf"
)

// Sentinel errors, so that callers (conf's invitation events, the API) can
// tell the classes of failure apart with errors.Is while the wrapped message
// says what was being done.
var (
	// ErrUnauthorized means the camera refused the call string's
	// credentials (RTSP 401, RFC 2326 §11.4.1).
	ErrUnauthorized = errors.New("rtsp: camera refused the credentials")
	// ErrNotFound means the camera has no stream at the path (RTSP 404).
	ErrNotFound = errors.New("rtsp: camera has no such stream")
	// ErrRefused means the camera answered with another error status.
	ErrRefused = errors.New("rtsp: camera refused the request")
	// ErrNoUsableTrack means the camera offers neither H.264 video nor
	// audio this build can forward.
	ErrNoUsableTrack = errors.New("rtsp: camera offers no usable track")
	// ErrConnectTimeout means the camera did not answer in time.
	ErrConnectTimeout = errors.New("rtsp: camera did not answer in time")
	// ErrUnreachable means no TCP connection to the camera could be made.
	ErrUnreachable = errors.New("rtsp: camera unreachable")
	// ErrProtocol means the camera broke the protocol: it answered
	// something that is not RTSP, an SDP that does not parse, or a
	// transport it was not asked for.
	ErrProtocol = errors.New("rtsp: camera broke the protocol")
	// ErrStreamLost means a playing stream stopped: the connection closed
	// or no packet came for Config.ReadTimeout.
	ErrStreamLost = errors.New("rtsp: stream lost")
	// ErrRetriesExhausted is the cause of a puller that gave up
	// reconnecting after Config.Reconnects attempts.
	ErrRetriesExhausted = errors.New("rtsp: reconnection attempts exhausted")
	// ErrClosed means the puller was closed.
	ErrClosed = errors.New("rtsp: puller closed")
	// ErrBadTarget means the call string's target cannot be pulled (not
	// an rtsp address, no host).
	ErrBadTarget = errors.New("rtsp: bad target")
	// ErrBadConfig means a Config value is out of range.
	ErrBadConfig = errors.New("rtsp: bad configuration")
	// ErrHungUp is the cause given to the conference when the camera leg
	// ended because the puller stopped for good.
	ErrHungUp = errors.New("rtsp: camera leg ended")
	// ErrNoVideoRouter means a camera's media cannot reach the bridge's
	// video switching (a media factory without video); it is conf's
	// ErrNotSupported, so the API answers as for any leg without video.
	ErrNoVideoRouter = fmt.Errorf("rtsp: camera media has no video router: %w", conf.ErrNotSupported)
)

// StatusError is an error status the camera answered to a request; it
// unwraps to ErrUnauthorized (401), ErrNotFound (404) or ErrRefused.
type StatusError struct {
	Method string // DESCRIBE, SETUP, PLAY ...
	Code   int    // RTSP status code (RFC 2326 §7.1.1)
	Reason string // the reason phrase the camera gave
}

// Error says which request got which answer.
func (e *StatusError) Error() string {
	if e.Method == "" {
		return fmt.Sprintf("rtsp: camera answered %d %s", e.Code, e.Reason)
	}
	return fmt.Sprintf("rtsp: camera answered %s with %d %s", e.Method, e.Code, e.Reason)
}

// Unwrap maps the status to its sentinel.
func (e *StatusError) Unwrap() error {
	switch e.Code {
	case 401, 403:
		return ErrUnauthorized
	case 404:
		return ErrNotFound
	}
	return ErrRefused
}

// permanent reports whether retrying err cannot help without someone
// changing the call string or the camera: wrong credentials, no such
// stream, no usable track.
func permanent(err error) bool {
	return errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrNoUsableTrack)
}
