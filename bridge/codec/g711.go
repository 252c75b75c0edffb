package codec

import (
	"fmt"
	"math/bits"
)

// G.711 (ITU-T G.711, 11/1988) companding, written from the reference
// algorithm of ITU-T G.191 (STL g711.c): 16-bit linear PCM is reduced to 14
// bits (µ-law) or 13 bits (A-law), negative samples use the one's complement
// magnitude, and decoding returns the middle of each quantisation interval.
// Encoding is arithmetic and decoding is a 256-entry table, so neither
// allocates or branches much per sample.

// ulawCompress encodes one linear sample as a µ-law byte (G.711 table 2a).
func ulawCompress(x int16) byte {
	var mag int32
	var sign byte
	if x < 0 {
		mag = int32(^x) >> 2 // one's complement: -1 maps to magnitude 0
	} else {
		mag = int32(x) >> 2
		sign = 0x80
	}
	mag += 33 // bias, so that segment boundaries fall on powers of two
	if mag > 0x1FFF {
		mag = 0x1FFF
	}
	seg := bits.Len32(uint32(mag >> 6)) // 0..7
	mant := byte(mag>>(seg+1)) & 0x0F
	return sign | byte(7-seg)<<4 | (0x0F - mant)
}

// ulawExpand decodes one µ-law byte to a 16-bit linear sample.
func ulawExpand(y byte) int16 {
	m := ^y
	exp := int32(m>>4) & 0x07
	mant := int32(m & 0x0F)
	step := int32(4) << (exp + 1)
	v := (0x80 << exp) + step*mant + step/2 - 4*33
	if y < 0x80 {
		return int16(-v)
	}
	return int16(v)
}

// alawCompress encodes one linear sample as an A-law byte (G.711 table 1a),
// including the even-bit inversion (XOR 0x55).
func alawCompress(x int16) byte {
	var mag int32
	var sign byte
	if x < 0 {
		mag = int32(^x) >> 4
	} else {
		mag = int32(x) >> 4
		sign = 0x80
	}
	if mag > 15 {
		exp := int32(bits.Len32(uint32(mag))) - 4 // 1..7
		mag = (mag >> (exp - 1)) - 16 + exp<<4
	}
	return (sign | byte(mag)) ^ 0x55
}

// alawExpand decodes one A-law byte to a 16-bit linear sample.
func alawExpand(y byte) int16 {
	ix := y ^ 0x55
	exp := int32(ix&0x7F) >> 4
	mant := int32(ix & 0x0F)
	if exp > 0 {
		mant += 16
	}
	mant = mant<<4 + 8
	if exp > 1 {
		mant <<= exp - 1
	}
	if ix > 0x7F {
		return int16(mant)
	}
	return int16(-mant)
}

// g711Table maps every code to its linear value.
type g711Table [256]int16

func makeTable(expand func(byte) int16) g711Table {
	var t g711Table
	for i := range t {
		t[i] = expand(byte(i))
	}
	return t
}

// Decode tables, computed once and never written afterwards.
var (
	ulawTable = makeTable(ulawExpand)
	alawTable = makeTable(alawExpand)
)

// g711Encoder encodes 8 kHz PCM, one byte per sample. G.711 has no state.
type g711Encoder struct {
	info Info
	alaw bool // A-law (PCMA) rather than µ-law (PCMU)
}

// Info returns the codec this encoder produces.
func (e *g711Encoder) Info() Info { return e.info }

// Encode compands exactly one 20 ms frame (160 samples) into 160 bytes.
func (e *g711Encoder) Encode(pcm []int16, out []byte) (int, error) {
	n := e.info.SamplesPerFrame()
	if len(pcm) != n {
		return 0, fmt.Errorf("encoding %s: %d samples, want %d: %w", e.info.Name, len(pcm), n, ErrFrameSize)
	}
	if len(out) < n {
		return 0, fmt.Errorf("encoding %s: %d-byte buffer, need %d: %w", e.info.Name, len(out), n, ErrShortBuffer)
	}
	out = out[:n]
	// Two direct loops rather than a function value, so the compressor inlines.
	if e.alaw {
		for i, s := range pcm {
			out[i] = alawCompress(s)
		}
	} else {
		for i, s := range pcm {
			out[i] = ulawCompress(s)
		}
	}
	return n, nil
}

// g711Decoder expands any whole number of samples, so 10 ms and 30 ms
// packets decode as well as 20 ms ones; the caller handles framing.
type g711Decoder struct {
	info  Info
	table *g711Table
	plc   concealer
}

// Info returns the codec this decoder consumes.
func (d *g711Decoder) Info() Info { return d.info }

// Decode expands payload, one sample per byte, into pcm.
func (d *g711Decoder) Decode(payload []byte, pcm []int16) (int, error) {
	n := len(payload)
	if n == 0 || n > d.info.SampleRate*MaxPacketDuration/1000 {
		return 0, fmt.Errorf("decoding %s: %d-byte payload: %w", d.info.Name, n, ErrFrameSize)
	}
	if len(pcm) < n {
		return 0, fmt.Errorf("decoding %s: %d-sample buffer, need %d: %w", d.info.Name, len(pcm), n, ErrShortBuffer)
	}
	pcm = pcm[:n]
	for i, b := range payload {
		pcm[i] = d.table[b]
	}
	d.plc.remember(pcm)
	return n, nil
}

// Conceal repeats the last frame with a fading gain.
func (d *g711Decoder) Conceal(pcm []int16) (int, error) {
	return d.plc.conceal(pcm)
}
