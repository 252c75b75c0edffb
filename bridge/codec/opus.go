package codec

import (
	"errors"
	"fmt"

	"github.com/thesyncim/gopus"
)

// Opus (RFC 6716) through a pure-Go implementation, kept behind our
// Encoder/Decoder interfaces so that it can be swapped for a cgo libopus
// backend. We always encode mono at 48 kHz in 20 ms frames; RFC 7587 signals
// Opus as opus/48000/2 whatever the content, and a mono decoder downmixes
// stereo packets, which is what the mixer wants anyway.

// Encoder settings: speech at about 32 kbit/s is transparent wideband and
// costs a fraction of G.711's bandwidth; in-band FEC (LBRR) is on because we
// offer useinbandfec=1 and room systems often sit on lossy links.
const (
	opusBitrate     = 32000
	opusLossPercent = 10 // below this, at 32 kbit/s, the encoder finds no room for LBRR data
	opusComplexity  = 3  // one encode per listener on a server: 3 costs about 40 % of 10 and speech stays clean
	opusMaxBytes    = 1500
)

// opusEncoder wraps a gopus encoder, which preallocates its scratch buffers,
// so EncodeInt16 does not allocate.
type opusEncoder struct {
	info Info
	enc  *gopus.Encoder
}

func newOpusEncoder(info Info) (*opusEncoder, error) {
	enc, err := gopus.NewEncoder(gopus.EncoderConfig{SampleRate: info.SampleRate, Channels: 1, Application: gopus.ApplicationVoIP})
	if err != nil {
		return nil, fmt.Errorf("creating opus encoder: %w", err)
	}
	for _, set := range []struct {
		what string
		err  error
	}{
		{"bitrate", enc.SetBitrate(opusBitrate)},
		{"complexity", enc.SetComplexity(opusComplexity)},
		{"in-band FEC", enc.SetInBandFEC(gopus.InBandFECEnabled)},
		{"packet loss", enc.SetPacketLoss(opusLossPercent)},
		{"signal", enc.SetSignal(gopus.SignalVoice)},
		{"frame size", enc.SetFrameSize(info.SamplesPerFrame())},
	} {
		if set.err != nil {
			return nil, fmt.Errorf("configuring opus encoder %s: %w", set.what, set.err)
		}
	}
	return &opusEncoder{info: info, enc: enc}, nil
}

// Info returns the codec this encoder produces.
func (e *opusEncoder) Info() Info { return e.info }

// Encode codes exactly one 20 ms frame (960 samples at 48 kHz).
func (e *opusEncoder) Encode(pcm []int16, out []byte) (int, error) {
	n := e.info.SamplesPerFrame()
	if len(pcm) != n {
		return 0, fmt.Errorf("encoding opus: %d samples, want %d: %w", len(pcm), n, ErrFrameSize)
	}
	if len(out) < MaxPayload {
		return 0, fmt.Errorf("encoding opus: %d-byte buffer, need %d: %w", len(out), MaxPayload, ErrShortBuffer)
	}
	size, err := e.enc.EncodeInt16(pcm, out[:opusMaxBytes])
	if err != nil {
		return 0, fmt.Errorf("encoding opus: %w", err)
	}
	return size, nil
}

// opusDecoder wraps a mono gopus decoder.
type opusDecoder struct {
	info Info
	dec  *gopus.Decoder
	fec  []float32 // one frame, for DecodeFEC
}

func newOpusDecoder(info Info) (*opusDecoder, error) {
	cfg := gopus.DefaultDecoderConfig(info.SampleRate, 1)
	cfg.MaxPacketSamples = MaxDecodeSamples
	dec, err := gopus.NewDecoder(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating opus decoder: %w", err)
	}
	return &opusDecoder{info: info, dec: dec, fec: make([]float32, info.SamplesPerFrame())}, nil
}

// Info returns the codec this decoder consumes.
func (d *opusDecoder) Info() Info { return d.info }

// Decode decodes one Opus packet (2.5 to 120 ms, mono or stereo) into mono
// 48 kHz PCM. pcm needs room for the packet's duration; MaxDecodeSamples is
// always enough.
func (d *opusDecoder) Decode(payload []byte, pcm []int16) (n int, err error) {
	if len(payload) == 0 {
		return 0, fmt.Errorf("decoding opus: empty payload: %w", ErrFrameSize)
	}
	if len(pcm) > MaxDecodeSamples {
		pcm = pcm[:MaxDecodeSamples]
	}
	defer d.contain("decoding opus", &n, &err)
	n, err = d.dec.DecodeInt16(payload, pcm)
	if err != nil {
		return 0, opusError("decoding opus", err)
	}
	return n, nil
}

// Conceal runs Opus's own packet-loss concealment for one 20 ms frame.
func (d *opusDecoder) Conceal(pcm []int16) (n int, err error) {
	want := d.info.SamplesPerFrame()
	if len(pcm) < want {
		return 0, fmt.Errorf("concealing opus: %d-sample buffer, need %d: %w", len(pcm), want, ErrShortBuffer)
	}
	defer d.contain("concealing opus", &n, &err)
	n, err = d.dec.DecodeInt16(nil, pcm[:want])
	if err != nil {
		return 0, opusError("concealing opus", err)
	}
	return n, nil
}

// contain, deferred around every call into the library's decoder, turns a
// panic into ErrCorrupt. The decoder is a large third-party state machine fed
// with bytes from the network; it is fuzzed upstream and here, but a bug in it
// must cost one packet, not the conference. The decoder is reset afterwards,
// since a panic may have left its state half updated.
func (d *opusDecoder) contain(what string, n *int, err *error) {
	if r := recover(); r != nil {
		d.dec.Reset()
		*n, *err = 0, fmt.Errorf("%s: decoder panicked (%v): %w", what, r, ErrCorrupt)
	}
}

// opusError maps the library's errors onto ours: a buffer that is too small
// is the caller's problem, anything else means the packet was bad.
func opusError(what string, err error) error {
	if errors.Is(err, gopus.ErrBufferTooSmall) {
		return fmt.Errorf("%s: %w: %w", what, ErrShortBuffer, err)
	}
	return fmt.Errorf("%s: %w: %w", what, ErrCorrupt, err)
}
