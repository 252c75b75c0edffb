package video

import (
	"fmt"
	"log/slog"
	"testing"
)

// nullSink counts packets without keeping them.
type nullSink struct{ n, bytes int }

func (s *nullSink) WriteRTP(p []byte) error { s.n++; s.bytes += len(p); return nil }

// benchRouter returns a router with one source on screen for n receivers and
// a 720p-like packet train (1200-byte FU-A packets, ~30 per frame).
func benchRouter(tb testing.TB, receivers int) (*Router, [][]byte) {
	rt, err := NewRouter(Config{RequestKeyframe: func(string) {}, Clock: newFakeClock(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	if err := rt.AddSource("A", nil); err != nil {
		tb.Fatal(err)
	}
	for i := range receivers {
		if err := rt.AddReceiver(fmt.Sprint("R", i), ReceiverConfig{SSRC: uint32(i + 1), Sink: &nullSink{}}); err != nil {
			tb.Fatal(err)
		}
	}
	s := &stream{ssrc: 0xa, inBand: true}
	for _, p := range s.frame(false, 500) {
		if err := rt.Forward("A", p); err != nil {
			tb.Fatal(err)
		}
	}
	rt.Tick()
	for _, p := range s.frame(true, 36000) {
		if err := rt.Forward("A", p); err != nil {
			tb.Fatal(err)
		}
	}
	var train [][]byte
	for range 8 {
		train = append(train, s.frame(false, 36000)...)
	}
	return rt, train
}

func TestForwardAllocatesNothing(t *testing.T) {
	rt, train := benchRouter(t, 4)
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		if err := rt.Forward("A", train[i%len(train)]); err != nil {
			t.Fatal(err)
		}
		i++
	})
	if allocs != 0 {
		t.Fatalf("Forward allocates %.1f times per packet", allocs)
	}
	if rt.Snapshot().Receivers[0].PacketsOut < 1000 {
		t.Fatal("packets were not forwarded")
	}
	payload := train[0][12:]
	if a := testing.AllocsPerRun(1000, func() { _, _ = InspectPayload(payload) }); a != 0 {
		t.Fatalf("InspectPayload allocates %.1f", a)
	}
}

// BenchmarkForward measures the cost of one packet forwarded to N receiver
// streams; ns/stream-pkt is the per-receiver-stream cost.
func BenchmarkForward(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprint("receivers=", n), func(b *testing.B) {
			rt, train := benchRouter(b, n)
			b.ReportAllocs()
			b.SetBytes(int64(len(train[0]) * n))
			b.ResetTimer()
			for i := range b.N {
				if err := rt.Forward("A", train[i%len(train)]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/stream-pkt")
		})
	}
}

func BenchmarkInspectPayload(b *testing.B) {
	payloads := [][]byte{stapA(testSPS, testPPS, idrNAL(200, true)), fuA(idrNAL(3000, true), 1000)[0], sliceNAL(1000)}
	b.ReportAllocs()
	for i := range b.N {
		_, _ = InspectPayload(payloads[i%len(payloads)])
	}
}
