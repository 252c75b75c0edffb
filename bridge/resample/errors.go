package resample

import "errors"

// ErrRate is returned by New for a rate other than 8000, 16000 or 48000 Hz.
var ErrRate = errors.New("resample: unsupported sample rate")

// errDesign reports a filter whose coefficients break dot's overflow bound;
// it cannot happen with the constants in filter.go, and a test proves it.
var errDesign = errors.New("resample: filter design out of range")
