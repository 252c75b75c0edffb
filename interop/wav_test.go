package interop

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func mustTone(t testing.TB, rate int, freq, amp float64, d time.Duration) []int16 {
	t.Helper()
	s, err := Tone(rate, freq, amp, d)
	if err != nil {
		t.Fatalf("Tone: %v", err)
	}
	return s
}

func wavBytes(t testing.TB, rate int, samples []int16) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteWAV(&b, rate, samples); err != nil {
		t.Fatalf("WriteWAV: %v", err)
	}
	return b.Bytes()
}

func TestWAVRoundTrip(t *testing.T) {
	samples := []int16{0, 1, -1, 32767, -32768, 1234, -4321}
	a, err := ParseWAV(wavBytes(t, 16000, samples))
	if err != nil {
		t.Fatalf("ParseWAV: %v", err)
	}
	if a.Rate != 16000 || len(a.Samples) != len(samples) {
		t.Fatalf("got rate %d, %d samples; want 16000, %d", a.Rate, len(a.Samples), len(samples))
	}
	for i, s := range samples {
		if want := float64(s) / 32768; a.Samples[i] != want {
			t.Errorf("sample %d = %g, want %g", i, a.Samples[i], want)
		}
	}
}

// A recorder stopped mid-call leaves the RIFF and data sizes at their initial
// values; the reader must use the bytes present.
func TestWAVUnfinishedHeader(t *testing.T) {
	samples := mustTone(t, 8000, 440, 0.5, 200*time.Millisecond)
	for _, size := range []uint32{0, 0xFFFFFFFF, 1 << 30} {
		b := wavBytes(t, 8000, samples)
		binary.LittleEndian.PutUint32(b[4:8], size)
		binary.LittleEndian.PutUint32(b[40:44], size)
		b = append(b, 0x7F) // a trailing half sample
		a, err := ParseWAV(b)
		if err != nil {
			t.Fatalf("size %#x: ParseWAV: %v", size, err)
		}
		if len(a.Samples) != len(samples) {
			t.Errorf("size %#x: %d samples, want %d", size, len(a.Samples), len(samples))
		}
	}
}

func TestWAVStereoDownmixAndExtraChunks(t *testing.T) {
	var b bytes.Buffer
	put := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	put(uint32(0))
	b.WriteString("WAVE")
	b.WriteString("LIST")
	put(uint32(3))
	b.WriteString("abc\x00") // odd chunk, padded
	b.WriteString("fmt ")
	put(uint32(16))
	put(uint16(1))
	put(uint16(2))
	put(uint32(48000))
	put(uint32(48000 * 4))
	put(uint16(4))
	put(uint16(16))
	b.WriteString("data")
	put(uint32(8))
	put([]int16{1000, 3000, -2000, -4000})
	a, err := ParseWAV(b.Bytes())
	if err != nil {
		t.Fatalf("ParseWAV: %v", err)
	}
	want := []float64{2000.0 / 32768, -3000.0 / 32768}
	if a.Rate != 48000 || len(a.Samples) != 2 || a.Samples[0] != want[0] || a.Samples[1] != want[1] {
		t.Fatalf("got %+v, want rate 48000 samples %v", a, want)
	}
}

func TestWAVErrors(t *testing.T) {
	good := wavBytes(t, 8000, []int16{1, 2, 3})
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrNotWAV},
		{"not riff", []byte("RIFX\x00\x00\x00\x00WAVE"), ErrNotWAV},
		{"8 bit", mutate(func(b []byte) []byte { b[34] = 8; return b }), ErrUnsupportedWAV},
		{"float", mutate(func(b []byte) []byte { b[20] = 3; return b }), ErrUnsupportedWAV},
		{"zero channels", mutate(func(b []byte) []byte { b[22] = 0; return b }), ErrMalformedWAV},
		{"zero rate", mutate(func(b []byte) []byte { copy(b[24:28], []byte{0, 0, 0, 0}); return b }), ErrMalformedWAV},
		{"bad block align", mutate(func(b []byte) []byte { b[32] = 3; return b }), ErrMalformedWAV},
		{"short fmt", mutate(func(b []byte) []byte { b[16] = 8; return b }), ErrMalformedWAV},
		{"fmt past end", good[:30], ErrMalformedWAV},
		{"no data", good[:36], ErrMalformedWAV},
		{"data before fmt", mutate(func(b []byte) []byte { copy(b[12:16], "junk"); return b }), ErrMalformedWAV},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseWAV(c.in)
			if !errors.Is(err, c.want) {
				t.Fatalf("ParseWAV error = %v, want %v", err, c.want)
			}
		})
	}
}

func TestWriteToneWAVFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.wav")
	if err := WriteToneWAV(path, 8000, 1000, 0.25, time.Second); err != nil {
		t.Fatalf("WriteToneWAV: %v", err)
	}
	a, err := ReadWAVFile(path)
	if err != nil {
		t.Fatalf("ReadWAVFile: %v", err)
	}
	if a.Duration() != time.Second {
		t.Fatalf("duration %v, want 1s", a.Duration())
	}
	var peak float64
	for _, v := range a.Samples {
		peak = max(peak, math.Abs(v))
	}
	if peak < 0.24 || peak > 0.26 {
		t.Fatalf("peak %g, want 0.25", peak)
	}
	if _, err := ReadWAVFile(filepath.Join(t.TempDir(), "missing.wav")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file error = %v", err)
	}
}

func TestToneRejectsBadParams(t *testing.T) {
	for _, c := range []struct {
		rate      int
		freq, amp float64
		d         time.Duration
	}{
		{0, 440, 0.5, time.Second},
		{8000, 4000, 0.5, time.Second},
		{8000, 440, 0, time.Second},
		{8000, 440, 1.5, time.Second},
		{8000, 440, 0.5, 0},
	} {
		if _, err := Tone(c.rate, c.freq, c.amp, c.d); !errors.Is(err, ErrBadParam) {
			t.Errorf("Tone(%d, %g, %g, %v) error = %v, want ErrBadParam", c.rate, c.freq, c.amp, c.d, err)
		}
	}
}

func TestAudioSlice(t *testing.T) {
	a := Audio{Rate: 1000, Samples: make([]float64, 1000)}
	if got := a.Slice(100*time.Millisecond, 300*time.Millisecond); len(got.Samples) != 200 {
		t.Errorf("Slice(100ms, 300ms) has %d samples, want 200", len(got.Samples))
	}
	if got := a.Slice(-time.Second, 5*time.Second); len(got.Samples) != 1000 {
		t.Errorf("clamped slice has %d samples, want 1000", len(got.Samples))
	}
	if got := a.Slice(800*time.Millisecond, 100*time.Millisecond); len(got.Samples) != 0 {
		t.Errorf("inverted slice has %d samples, want 0", len(got.Samples))
	}
}

func FuzzParseWAV(f *testing.F) {
	f.Add(wavBytes(f, 8000, []int16{1, -1, 300}))
	f.Add(wavBytes(f, 48000, nil))
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00"))
	f.Add([]byte("RIFF\xff\xff\xff\xffWAVEdata\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseWAV(b)
		if err != nil {
			if a.Samples != nil || a.Rate != 0 {
				t.Fatalf("error %v with non-zero audio", err)
			}
			return
		}
		if a.Rate <= 0 || a.Rate > maxWAVRate {
			t.Fatalf("accepted rate %d", a.Rate)
		}
		if 2*len(a.Samples) > len(b) {
			t.Fatalf("%d samples from %d bytes", len(a.Samples), len(b))
		}
		for _, v := range a.Samples {
			if v < -1 || v >= 1 {
				t.Fatalf("sample %g out of range", v)
			}
		}
	})
}
