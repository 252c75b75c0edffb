// Package codec turns 20 ms frames of 16-bit mono PCM into RTP payloads and
// back for the audio codecs the bridge speaks: G.711 µ-law and A-law, G.722
// and Opus. It owns nothing but the codecs; it knows no sockets and no RTP.
//
// Every encoder and decoder works on one 20 ms frame at its own PCM sample
// rate (8 kHz for G.711, 16 kHz for G.722, 48 kHz for Opus), so that the mixer
// only has to resample between 8, 16 and 48 kHz. Encode and Decode must not
// allocate: they are on the per-packet hot path.
package codec

import "errors"

// FrameDuration is the duration of one frame in milliseconds; the bridge mixes
// and packetizes on this period.
const FrameDuration = 20

// Info describes a codec as it appears in SDP.
type Info struct {
	// Name is the encoding name as written in a=rtpmap ("PCMU", "PCMA", "G722", "opus").
	Name string
	// ClockRate is the RTP clock rate of a=rtpmap (8000 for G.722 by RFC 3551's historic error).
	ClockRate int
	// Channels is the channel count of a=rtpmap (2 for Opus, 1 otherwise).
	Channels int
	// SampleRate is the PCM sample rate the encoder consumes and the decoder produces.
	SampleRate int
	// StaticPT is the static payload type, or -1 for a dynamic one.
	StaticPT int
	// Fmtp is the format parameter line we offer and answer, without "a=fmtp:<pt> ".
	Fmtp string
}

// SamplesPerFrame is the number of PCM samples in one 20 ms frame at SampleRate.
func (i Info) SamplesPerFrame() int { return i.SampleRate * FrameDuration / 1000 }

// TimestampStep is how far the RTP timestamp advances per 20 ms frame.
func (i Info) TimestampStep() uint32 { return uint32(i.ClockRate * FrameDuration / 1000) }

// Encoder encodes one 20 ms frame of mono PCM at Info().SampleRate.
type Encoder interface {
	Info() Info
	// Encode writes the payload of pcm (exactly SamplesPerFrame samples) into
	// out and returns its length. out must hold at least MaxPayload bytes.
	Encode(pcm []int16, out []byte) (int, error)
}

// Decoder decodes RTP payloads to mono PCM at Info().SampleRate.
type Decoder interface {
	Info() Info
	// Decode decodes payload into pcm (room for at least SamplesPerFrame
	// samples) and returns the number of samples written.
	Decode(payload []byte, pcm []int16) (int, error)
	// Conceal fills pcm with one frame of loss concealment (SamplesPerFrame
	// samples) after a lost packet and returns the number of samples written.
	Conceal(pcm []int16) (int, error)
}

// MaxPayload bounds every encoded 20 ms payload the bridge produces.
const MaxPayload = 1500

// Errors returned by this package.
var (
	ErrUnknownCodec = errors.New("codec: unknown codec")
	ErrFrameSize    = errors.New("codec: wrong frame size")
	ErrCorrupt      = errors.New("codec: corrupt payload")
)
