package cameramedia

import "errors"

// Errors of camera media.
var (
	// ErrNoMedia means the camera's tracks hold neither audio nor video the
	// bridge can take.
	ErrNoMedia = errors.New("cameramedia: no usable audio or video track")
	// ErrUnsupportedCodec means a track's codec is not one the bridge takes
	// from a camera (PCMU, PCMA and Opus audio, H.264 video).
	ErrUnsupportedCodec = errors.New("cameramedia: unsupported codec")
	// ErrBadOptions means CameraMediaOptions lack the conference or leg ID.
	ErrBadOptions = errors.New("cameramedia: bad options")
	// ErrClosed means the media was closed.
	ErrClosed = errors.New("cameramedia: closed")
)
