package codec

import (
	"fmt"

	"github.com/gotranspile/g722"
)

// G.722 (ITU-T G.722, 09/2012) sub-band ADPCM at 64 kbit/s: 16 kHz PCM, two
// samples per byte, so 320 samples become 160 bytes every 20 ms. The RTP
// clock is 8000 Hz nonetheless (RFC 3551 section 4.5.2); only the timestamp
// step reflects that, the PCM here is always 16 kHz.

// g722Encoder encodes 20 ms frames; the library's state lives inline, so
// Encode does not allocate.
type g722Encoder struct {
	info Info
	enc  *g722.Encoder
}

func newG722Encoder(info Info) *g722Encoder {
	return &g722Encoder{info: info, enc: g722.NewEncoder(g722.Rate64000, 0)}
}

// Info returns the codec this encoder produces.
func (e *g722Encoder) Info() Info { return e.info }

// Encode codes exactly one 20 ms frame (320 samples) into 160 bytes.
func (e *g722Encoder) Encode(pcm []int16, out []byte) (int, error) {
	n := e.info.SamplesPerFrame()
	if len(pcm) != n {
		return 0, fmt.Errorf("encoding G722: %d samples, want %d: %w", len(pcm), n, ErrFrameSize)
	}
	if len(out) < n/2 {
		return 0, fmt.Errorf("encoding G722: %d-byte buffer, need %d: %w", len(out), n/2, ErrShortBuffer)
	}
	return e.enc.Encode(out[:n/2], pcm), nil
}

// g722Decoder decodes payloads of any length (each byte is one complete
// 64 kbit/s code word for two samples), so 10 ms and 30 ms packets work too.
type g722Decoder struct {
	info Info
	dec  *g722.Decoder
	plc  concealer
}

func newG722Decoder(info Info) *g722Decoder {
	return &g722Decoder{info: info, dec: g722.NewDecoder(g722.Rate64000, 0), plc: newConcealer(info)}
}

// Info returns the codec this decoder consumes.
func (d *g722Decoder) Info() Info { return d.info }

// Decode decodes payload into 2*len(payload) samples of 16 kHz PCM.
func (d *g722Decoder) Decode(payload []byte, pcm []int16) (int, error) {
	n := 2 * len(payload)
	if n == 0 || n > d.info.SampleRate*MaxPacketDuration/1000 {
		return 0, fmt.Errorf("decoding G722: %d-byte payload: %w", len(payload), ErrFrameSize)
	}
	if len(pcm) < n {
		return 0, fmt.Errorf("decoding G722: %d-sample buffer, need %d: %w", len(pcm), n, ErrShortBuffer)
	}
	n = d.dec.Decode(pcm[:n], payload)
	d.plc.remember(pcm[:n])
	return n, nil
}

// Conceal repeats the last frame with a fading gain. The ADPCM state is left
// as it was, so the next real packet decodes from where the stream stopped.
func (d *g722Decoder) Conceal(pcm []int16) (int, error) {
	return d.plc.conceal(pcm)
}
