package interop

import "errors"

// Errors returned by the WAV reader and the tone analyser. Callers match them
// with errors.Is; the returned errors wrap them with what was being read.
var (
	// ErrNotWAV means the data does not start with a RIFF/WAVE header.
	ErrNotWAV = errors.New("interop: not a RIFF/WAVE file")
	// ErrUnsupportedWAV means the WAV uses an encoding the reader does not
	// decode (only 16-bit integer PCM is produced by the peers we test).
	ErrUnsupportedWAV = errors.New("interop: unsupported WAV encoding")
	// ErrMalformedWAV means a chunk is truncated or inconsistent.
	ErrMalformedWAV = errors.New("interop: malformed WAV")
	// ErrTooShort means an audio clip holds less than one analysis window.
	ErrTooShort = errors.New("interop: audio too short for analysis")
	// ErrBadParam means an analysis or synthesis parameter is out of range.
	ErrBadParam = errors.New("interop: bad parameter")
)
