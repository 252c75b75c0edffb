package resample

import (
	"encoding/binary"
	"testing"
)

// FuzzProcess drives a Resampler with arbitrary sample values, call lengths
// and destination sizes: it must never panic, must write exactly
// min(OutLen, len(dst)) samples, and must produce the same stream whether
// fed in one call or in pieces.
func FuzzProcess(f *testing.F) {
	f.Add(uint8(0), uint16(160), uint16(960), []byte{1, 2, 3, 4})
	f.Add(uint8(5), uint16(7), uint16(1), []byte{0xff, 0x7f, 0x00, 0x80, 0xff, 0x7f})
	f.Add(uint8(3), uint16(1), uint16(0), make([]byte, 4000))
	f.Fuzz(func(t *testing.T, dir uint8, piece, dstLen uint16, data []byte) {
		pairs := [][2]int{{8000, 16000}, {8000, 48000}, {16000, 48000}, {16000, 8000}, {48000, 8000}, {48000, 16000}, {16000, 16000}}
		p := pairs[int(dir)%len(pairs)]
		src := make([]int16, len(data)/2)
		for i := range src {
			src[i] = int16(binary.LittleEndian.Uint16(data[2*i:]))
		}
		whole, err := New(p[0], p[1])
		if err != nil {
			t.Fatal(err)
		}
		want := make([]int16, whole.OutLen(len(src)))
		if n := whole.Process(want, src); n != len(want) {
			t.Fatalf("whole: wrote %d, want %d", n, len(want))
		}
		r, _ := New(p[0], p[1])
		size := int(piece)%2000 + 1
		var got []int16
		dropped := false
		for s := src; len(s) > 0; {
			n := min(size, len(s))
			full := r.OutLen(n)
			dst := make([]int16, min(full, int(dstLen)%2000))
			if w := r.Process(dst, s[:n]); w != len(dst) {
				t.Fatalf("piece: wrote %d into %d (OutLen %d)", w, len(dst), full)
			}
			dropped = dropped || len(dst) < full
			got = append(got, dst...)
			s = s[n:]
		}
		if dropped {
			return // some output was cut off: nothing to compare
		}
		if len(got) != len(want) {
			t.Fatalf("pieces give %d samples, whole gives %d", len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("sample %d: pieces give %d, whole gives %d", i, got[i], want[i])
			}
		}
	})
}
