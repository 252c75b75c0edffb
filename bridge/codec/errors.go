package codec

import "errors"

// ErrShortBuffer is returned when the caller's output buffer cannot hold the
// result: an Encode out smaller than the payload, or a Decode pcm smaller than
// the samples the payload carries. Sizing pcm to MaxDecodeSamples avoids it.
var ErrShortBuffer = errors.New("codec: output buffer too small")
