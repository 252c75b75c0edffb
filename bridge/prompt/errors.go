package prompt

import "errors"

// Errors returned by this package.
var (
	// ErrFormat is returned for a prompt file that is not a WAV file of
	// 16-bit mono PCM at 8, 16 or 48 kHz, or is empty or too long.
	ErrFormat = errors.New("prompt: unsupported audio file")
	// ErrUnknown is returned when asked for a prompt the library lacks.
	ErrUnknown = errors.New("prompt: unknown prompt")
	// ErrRate is returned for a playback rate other than 8, 16 or 48 kHz.
	ErrRate = errors.New("prompt: unsupported sample rate")
	// ErrCount is returned for a negative number to announce.
	ErrCount = errors.New("prompt: bad number")

	// errShort reports a resampler that returned less than it should; it
	// cannot happen with bridge/resample's integer ratios.
	errShort = errors.New("prompt: resampler output short")
)
