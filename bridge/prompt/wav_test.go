package prompt

import (
	"encoding/binary"
	"errors"
	"slices"
	"testing"
)

// chunk builds a RIFF chunk, padded to an even size.
func chunk(id string, body []byte) []byte {
	b := append([]byte(id), 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(body)))
	b = append(b, body...)
	if len(body)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

func fmtBody(tag, channels uint16, rate uint32, bits uint16) []byte {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint16(b[0:], tag)
	binary.LittleEndian.PutUint16(b[2:], channels)
	binary.LittleEndian.PutUint32(b[4:], rate)
	binary.LittleEndian.PutUint32(b[8:], rate*uint32(channels)*uint32(bits)/8)
	binary.LittleEndian.PutUint16(b[12:], channels*bits/8)
	binary.LittleEndian.PutUint16(b[14:], bits)
	return b
}

func riff(chunks ...[]byte) []byte {
	b := []byte("RIFF\x00\x00\x00\x00WAVE")
	for _, c := range chunks {
		b = append(b, c...)
	}
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)-8))
	return b
}

func TestDecodeWAV(t *testing.T) {
	samples := []byte{1, 0, 2, 0, 0xff, 0xff}
	want := []int16{1, 2, -1}
	ext := append(fmtBody(0xfffe, 1, 16000, 16), 22, 0, 16, 0, 4, 0, 0, 0, 1, 0)
	ext = append(ext, make([]byte, 14)...)
	cases := []struct {
		name string
		b    []byte
		rate int
		err  bool
	}{
		{"plain", riff(chunk("fmt ", fmtBody(1, 1, 8000, 16)), chunk("data", samples)), 8000, false},
		{"odd LIST chunk first", riff(chunk("LIST", []byte("abc")), chunk("fmt ", fmtBody(1, 1, 48000, 16)), chunk("data", samples)), 48000, false},
		{"extensible", riff(chunk("fmt ", ext), chunk("data", samples)), 16000, false},
		{"data size past the end", func() []byte {
			b := riff(chunk("fmt ", fmtBody(1, 1, 16000, 16)), chunk("data", samples))
			binary.LittleEndian.PutUint32(b[len(b)-len(samples)-4:], 0xffffffff)
			return b
		}(), 16000, false},
		{"odd byte of data dropped", riff(chunk("fmt ", fmtBody(1, 1, 8000, 16)), chunk("data", append(slices.Clone(samples), 7))), 8000, false},
		{"stereo", riff(chunk("fmt ", fmtBody(1, 2, 8000, 16)), chunk("data", samples)), 0, true},
		{"8 bit", riff(chunk("fmt ", fmtBody(1, 1, 8000, 8)), chunk("data", samples)), 0, true},
		{"float", riff(chunk("fmt ", fmtBody(3, 1, 8000, 16)), chunk("data", samples)), 0, true},
		{"44.1 kHz", riff(chunk("fmt ", fmtBody(1, 1, 44100, 16)), chunk("data", samples)), 0, true},
		{"data before fmt", riff(chunk("data", samples), chunk("fmt ", fmtBody(1, 1, 8000, 16))), 0, true},
		{"no data", riff(chunk("fmt ", fmtBody(1, 1, 8000, 16))), 0, true},
		{"empty data", riff(chunk("fmt ", fmtBody(1, 1, 8000, 16)), chunk("data", nil)), 0, true},
		{"short fmt", riff(chunk("fmt ", make([]byte, 10)), chunk("data", samples)), 0, true},
		{"fmt past the end", riff(chunk("fmt ", fmtBody(1, 1, 8000, 16)))[:30], 0, true},
		{"not RIFF", []byte("RIFX\x00\x00\x00\x00WAVE"), 0, true},
		{"empty", nil, 0, true},
	}
	for _, c := range cases {
		pcm, rate, err := decodeWAV(c.b)
		if c.err {
			if !errors.Is(err, ErrFormat) {
				t.Errorf("%s: error %v, want ErrFormat", c.name, err)
			}
			continue
		}
		if err != nil || rate != c.rate || !slices.Equal(pcm, want) {
			t.Errorf("%s: %v at %d Hz, %v", c.name, pcm, rate, err)
		}
	}
	// Longer than MaxClip.
	long := riff(chunk("fmt ", fmtBody(1, 1, 8000, 16)), chunk("data", make([]byte, 2*8000*MaxClip+2)))
	if _, _, err := decodeWAV(long); !errors.Is(err, ErrFormat) {
		t.Errorf("too long: %v", err)
	}
}

// FuzzDecodeWAV: a prompt file from a configured directory may be
// anything; decoding returns samples or ErrFormat, never panics.
func FuzzDecodeWAV(f *testing.F) {
	f.Add(encodeWAV([]int16{1, 2, 3}, 16000))
	f.Add(riff(chunk("LIST", []byte("abc")), chunk("fmt ", fmtBody(1, 1, 48000, 16)), chunk("data", []byte{1, 2})))
	f.Add([]byte("RIFF\xff\xff\xff\xffWAVEfmt \xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pcm, rate, err := decodeWAV(b)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if len(pcm) == 0 || len(pcm) > MaxClip*rate || 2*len(pcm) > len(b) {
			t.Fatalf("%d samples at %d Hz from %d bytes", len(pcm), rate, len(b))
		}
		if rate != 8000 && rate != 16000 && rate != 48000 {
			t.Fatalf("rate %d", rate)
		}
	})
}
