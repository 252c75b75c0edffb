package codec

import "fmt"

// FECDecoder is implemented by decoders whose payloads can carry a coarse
// copy of the frame before them: Opus in-band FEC (RFC 6716 section 2.1.7,
// signalled with useinbandfec=1, RFC 7587 section 6.1). When packet N is lost
// but N+1 has arrived, a jitter buffer calls DecodeFEC(N+1) in place of
// Conceal for N, then Decode(N+1) as usual. Check for it with a type
// assertion; G.711 and G.722 do not implement it.
type FECDecoder interface {
	Decoder
	// DecodeFEC writes one frame (SamplesPerFrame samples) recovered from
	// the redundancy in next, the payload that follows the lost one. If next
	// carries none, it conceals the loss instead, as Conceal would.
	DecodeFEC(next []byte, pcm []int16) (int, error)
}

// DecodeFEC recovers the frame lost before next from next's LBRR data.
func (d *opusDecoder) DecodeFEC(next []byte, pcm []int16) (n int, err error) {
	want := d.info.SamplesPerFrame()
	if len(pcm) < want {
		return 0, fmt.Errorf("recovering opus frame: %d-sample buffer, need %d: %w", len(pcm), want, ErrShortBuffer)
	}
	if len(next) == 0 {
		return 0, fmt.Errorf("recovering opus frame: empty payload: %w", ErrFrameSize)
	}
	defer d.contain("recovering opus frame", &n, &err)
	// The library offers FEC on float32 PCM only; fec is preallocated.
	n, err = d.dec.DecodeWithFEC(next, d.fec[:want], true)
	if err != nil {
		return 0, opusError("recovering opus frame", err)
	}
	for i, v := range d.fec[:n] {
		pcm[i] = floatToInt16(v)
	}
	return n, nil
}

// floatToInt16 converts a [-1, 1) sample to int16, rounding and clipping.
func floatToInt16(v float32) int16 {
	s := v * 32768
	if s >= 32767 {
		return 32767
	}
	if s <= -32768 {
		return -32768
	}
	if s < 0 {
		return int16(s - 0.5)
	}
	return int16(s + 0.5)
}
