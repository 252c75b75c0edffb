package loadgen

import "math/bits"

// G.711 µ-law (ITU-T G.711, section 2, the North American companding law).
// The tool encodes its signals once at start-up and decodes what the server
// sends on every received packet, so decoding is a table look-up.

const (
	ulawBias   = 0x84 // bias of the 16-bit decoder
	ulawBias14 = 0x21 // the same bias on the 14-bit scale of the encoder
	ulawClip14 = 0x1FFF
	// ulawSilence is the µ-law code of a zero sample.
	ulawSilence = 0xFF
)

// ulawDecodeTable maps each µ-law byte to its linear 16-bit sample. It is
// computed once and never written afterwards.
var ulawDecodeTable = buildULawDecodeTable()

func buildULawDecodeTable() (t [256]int16) {
	for i := range t {
		t[i] = ulawToLinearSlow(byte(i))
	}
	return t
}

func ulawToLinearSlow(u byte) int16 {
	u = ^u
	exponent := (u >> 4) & 0x07
	mantissa := int32(u & 0x0F)
	s := ((mantissa << 3) + ulawBias) << exponent
	s -= ulawBias
	if u&0x80 != 0 {
		return int16(-s)
	}
	return int16(s)
}

// LinearToULaw encodes one 16-bit linear sample to µ-law the way the ITU-T
// G.191 reference coder does: on the 14 most significant bits, with negative
// values folded by one's complement.
func LinearToULaw(sample int16) byte {
	x := int32(sample) >> 2 // 14-bit magnitude range
	sign := byte(0x80)      // the sign bit is set for positive samples
	if x < 0 {
		x = ^x
		sign = 0
	}
	x += ulawBias14
	if x > ulawClip14 {
		x = ulawClip14
	}
	// Segment 1..8 is the position of the highest set bit above bit 5.
	seg := bits.Len32(uint32(x >> 5))
	mantissa := byte(x>>seg) & 0x0F
	return sign | byte(8-seg)<<4 | (0x0F - mantissa)
}

// ULawToLinear decodes one µ-law byte to a 16-bit linear sample.
func ULawToLinear(u byte) int16 {
	return ulawDecodeTable[u]
}

// EncodeULaw encodes pcm into dst (which must be at least len(pcm) long) and
// returns the filled part of dst.
func EncodeULaw(dst []byte, pcm []int16) []byte {
	dst = dst[:len(pcm)]
	for i, s := range pcm {
		dst[i] = LinearToULaw(s)
	}
	return dst
}
