package codec

import (
	"errors"
	"strings"
	"testing"
)

// fuzzDecode feeds arbitrary bytes to a fresh decoder of name, twice (so
// that state left by one packet meets the next), plus a concealment, and
// checks that every outcome is a sample count in range or one of our errors.
func fuzzDecode(f *testing.F, name string) {
	info, err := Lookup(name)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte{})
	f.Add([]byte{0x00})
	f.Add(make([]byte, 160))
	f.Add(make([]byte, 1500))
	f.Fuzz(func(t *testing.T, payload []byte) {
		dec, err := NewDecoder(info)
		if err != nil {
			t.Fatal(err)
		}
		pcm := make([]int16, MaxDecodeSamples)
		for range 2 {
			n, err := dec.Decode(payload, pcm)
			checkDecode(t, n, err)
			if n, err := dec.Conceal(pcm); err != nil || n != info.SamplesPerFrame() {
				t.Fatalf("Conceal = %d, %v", n, err)
			}
		}
		if fd, ok := dec.(FECDecoder); ok {
			n, err := fd.DecodeFEC(payload, pcm)
			checkDecode(t, n, err)
			if err == nil && n != info.SamplesPerFrame() {
				t.Fatalf("DecodeFEC wrote %d samples, want %d", n, info.SamplesPerFrame())
			}
		}
		// A buffer of exactly one frame never overflows either.
		n, err := dec.Decode(payload, pcm[:info.SamplesPerFrame()])
		checkDecode(t, n, err)
		if n > info.SamplesPerFrame() {
			t.Fatalf("wrote %d samples into a %d-sample buffer", n, info.SamplesPerFrame())
		}
	})
}

func checkDecode(t *testing.T, n int, err error) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrFrameSize) && !errors.Is(err, ErrShortBuffer) {
			t.Fatalf("Decode error %v is none of ours", err)
		}
		if strings.Contains(err.Error(), "panicked") {
			t.Fatalf("decoder panicked: %v", err)
		}
		if n != 0 {
			t.Fatalf("Decode returned %d samples with error %v", n, err)
		}
		return
	}
	if n <= 0 || n > MaxDecodeSamples {
		t.Fatalf("Decode returned %d samples, want 1..%d", n, MaxDecodeSamples)
	}
}

func FuzzDecodePCMU(f *testing.F) { fuzzDecode(f, "PCMU") }
func FuzzDecodePCMA(f *testing.F) { fuzzDecode(f, "PCMA") }
func FuzzDecodeG722(f *testing.F) { fuzzDecode(f, "G722") }
func FuzzDecodeOpus(f *testing.F) { fuzzDecode(f, "opus") }
