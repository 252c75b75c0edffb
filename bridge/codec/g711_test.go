package codec

import (
	"errors"
	"math"
	"testing"

	"github.com/zaf/g711"
)

// The reference for bit-exactness is an independent G.711 implementation;
// every one of the 65536 inputs and 256 codes is compared.
func TestG711MatchesReference(t *testing.T) {
	for x := math.MinInt16; x <= math.MaxInt16; x++ {
		s := int16(x)
		if got, want := ulawCompress(s), g711.EncodeUlawFrame(s); got != want {
			t.Fatalf("µ-law encode %d = %#02x, want %#02x", s, got, want)
		}
		if got, want := alawCompress(s), g711.EncodeAlawFrame(s); got != want {
			t.Fatalf("A-law encode %d = %#02x, want %#02x", s, got, want)
		}
	}
	for c := range 256 {
		if got, want := ulawTable[c], g711.DecodeUlawFrame(uint8(c)); got != want {
			t.Errorf("µ-law decode %#02x = %d, want %d", c, got, want)
		}
		if got, want := alawTable[c], g711.DecodeAlawFrame(uint8(c)); got != want {
			t.Errorf("A-law decode %#02x = %d, want %d", c, got, want)
		}
	}
}

// Spot values from ITU-T G.711 tables 1 and 2: silence codes and full scale.
func TestG711KnownCodes(t *testing.T) {
	tests := []struct {
		name   string
		in     int16
		code   byte
		expand func(byte) int16
		comp   func(int16) byte
		back   int16
	}{
		{"ulaw zero", 0, 0xFF, ulawExpand, ulawCompress, 0},
		{"ulaw -1", -1, 0x7F, ulawExpand, ulawCompress, 0},
		{"ulaw max", math.MaxInt16, 0x80, ulawExpand, ulawCompress, 32124},
		{"ulaw min", math.MinInt16, 0x00, ulawExpand, ulawCompress, -32124},
		{"alaw zero", 0, 0xD5, alawExpand, alawCompress, 8},
		{"alaw -1", -1, 0x55, alawExpand, alawCompress, -8},
		{"alaw max", math.MaxInt16, 0xAA, alawExpand, alawCompress, 32256},
		{"alaw min", math.MinInt16, 0x2A, alawExpand, alawCompress, -32256},
	}
	for _, tt := range tests {
		if got := tt.comp(tt.in); got != tt.code {
			t.Errorf("%s: compress(%d) = %#02x, want %#02x", tt.name, tt.in, got, tt.code)
		}
		if got := tt.expand(tt.code); got != tt.back {
			t.Errorf("%s: expand(%#02x) = %d, want %d", tt.name, tt.code, got, tt.back)
		}
	}
}

// Decoding then re-encoding every code gives the code back (except µ-law's
// negative zero, 0x7F, which decodes to 0 like 0xFF).
func TestG711Idempotent(t *testing.T) {
	for c := range 256 {
		if got := alawCompress(alawExpand(byte(c))); got != byte(c) {
			t.Errorf("A-law %#02x → %#02x", c, got)
		}
		if c == 0x7F {
			continue
		}
		if got := ulawCompress(ulawExpand(byte(c))); got != byte(c) {
			t.Errorf("µ-law %#02x → %#02x", c, got)
		}
	}
}

func TestG711DecodeAnyLength(t *testing.T) {
	for _, name := range []string{"PCMU", "PCMA"} {
		info, _ := Lookup(name)
		dec, err := NewDecoder(info)
		if err != nil {
			t.Fatal(err)
		}
		pcm := make([]int16, MaxDecodeSamples)
		for _, size := range []int{1, 80, 160, 240, 960} {
			n, err := dec.Decode(make([]byte, size), pcm)
			if err != nil || n != size {
				t.Errorf("%s: Decode(%d bytes) = %d, %v; want %d, nil", name, size, n, err, size)
			}
		}
		if _, err := dec.Decode(nil, pcm); !errors.Is(err, ErrFrameSize) {
			t.Errorf("%s: empty payload: err = %v, want ErrFrameSize", name, err)
		}
		if _, err := dec.Decode(make([]byte, 961), pcm); !errors.Is(err, ErrFrameSize) {
			t.Errorf("%s: 121 ms payload: err = %v, want ErrFrameSize", name, err)
		}
		if _, err := dec.Decode(make([]byte, 161), pcm[:160]); !errors.Is(err, ErrShortBuffer) {
			t.Errorf("%s: short pcm: err = %v, want ErrShortBuffer", name, err)
		}
	}
}
