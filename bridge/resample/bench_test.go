package resample

import (
	"fmt"
	"testing"
)

// BenchmarkProcess converts one 20 ms frame per iteration in each direction.
func BenchmarkProcess(b *testing.B) {
	for _, from := range rates {
		for _, to := range rates {
			if from == to {
				continue
			}
			b.Run(fmt.Sprintf("%dto%d", from/1000, to/1000), func(b *testing.B) {
				r, err := New(from, to)
				if err != nil {
					b.Fatal(err)
				}
				src := tone(from/50, 0, 440, float64(from), 10000)
				dst := make([]int16, to/50)
				b.ReportAllocs()
				b.SetBytes(int64(2 * len(src)))
				for b.Loop() {
					r.Process(dst, src)
				}
			})
		}
	}
}

func BenchmarkIdentity(b *testing.B) {
	r, _ := New(48000, 48000)
	src := make([]int16, 960)
	dst := make([]int16, 960)
	b.ReportAllocs()
	for b.Loop() {
		r.Process(dst, src)
	}
}
