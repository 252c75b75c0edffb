package call

import (
	"strings"
	"testing"

	"github.com/roomgate/roomgate/h323/internal/vectors"
)

// BenchmarkDecodeSignal measures decoding a captured Fast Connect Setup with
// H.245 in Setup (14 proposals, TCS, MSD): once per call, not per packet; RTP
// never passes through this package.
func BenchmarkDecodeSignal(b *testing.B) {
	var setup []byte
	for _, v := range vectors.Load(b, "q931") {
		if v.Capture == "h323plus-fast-h245insetup.pcapng" && strings.HasPrefix(v.Info, "CS: setup") {
			setup = v.Data
		}
	}
	if setup == nil {
		b.Fatal("captured Setup not found")
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(setup)))
	for b.Loop() {
		if ev := decodeSignal(setup); ev.kind != evSignal {
			b.Fatal(ev.err)
		}
	}
}
