package loadgen

import (
	"net"
	"testing"
	"time"
)

// The per-packet paths of the tool must not allocate: at 2000 legs the tool
// handles 200 000 packets a second and must stay cheaper than the server.

func benchLeg(b *testing.B, role legRole) (*leg, *net.UDPConn) {
	b.Helper()
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close(); sink.Close() })
	l := &leg{
		role:         role,
		conn:         conn,
		remote:       sink.LocalAddr().(*net.UDPAddr).AddrPort(),
		hdr:          newRTPHeader(0),
		src:          ULaw(ProbePCM(time.Second, 40*time.Millisecond, -3, -24)),
		periodFrames: 50,
		clock:        &probeClock{},
	}
	return l, sink
}

func BenchmarkSendFrame(b *testing.B) {
	l, _ := benchLeg(b, roleTalker)
	b.ReportAllocs()
	for b.Loop() {
		l.sendFrame(false)
	}
	if l.sendErrs.Load() > 0 {
		b.Fatalf("%d send errors", l.sendErrs.Load())
	}
}

func BenchmarkOnPacket(b *testing.B) {
	l, _ := benchLeg(b, roleTalker)
	l.listen = true
	l.det.Reset(-30, 500*time.Millisecond)
	l.stats.LateThreshold = 480
	e := &engine{codec: PCMU, epoch: time.Now(), maxDelay: 900 * time.Millisecond}
	e.phase.Store(phaseSteady)
	mix := ULaw(SpeechLikePCM(5, time.Second, -20))
	pkt := make([]byte, rtpHeaderLen+FrameSamples)
	now := time.Now()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		f := i % 50
		PutRTPHeader(pkt, RTPHeader{Seq: uint16(i), Timestamp: uint32(i) * FrameSamples, SSRC: 9})
		copy(pkt[rtpHeaderLen:], mix[f*FrameSamples:(f+1)*FrameSamples])
		l.onPacket(e, pkt, now.Add(time.Duration(i)*FrameDuration))
	}
	if l.stats.Snapshot().Gaps != 0 {
		b.Fatal("gaps in a gapless stream")
	}
}

func BenchmarkBurstDetectorFeed(b *testing.B) {
	u := ULaw(ProbePCM(time.Second, 40*time.Millisecond, -3, -24))
	d := NewBurstDetector(-30, 500*time.Millisecond)
	t0 := time.Now()
	b.ReportAllocs()
	b.SetBytes(FrameSamples)
	for i := 0; b.Loop(); i++ {
		f := i % 50
		d.Feed(u[f*FrameSamples:(f+1)*FrameSamples], t0.Add(time.Duration(i)*FrameDuration))
	}
}

// TestHotPathsDoNotAllocate turns the benchmarks' claim into a test.
func TestHotPathsDoNotAllocate(t *testing.T) {
	for name, bench := range map[string]func(*testing.B){
		"send": BenchmarkSendFrame, "receive": BenchmarkOnPacket, "detect": BenchmarkBurstDetectorFeed,
	} {
		r := testing.Benchmark(bench)
		if r.N == 0 {
			t.Fatalf("%s: benchmark failed", name)
		}
		if a := r.AllocsPerOp(); a != 0 {
			t.Errorf("%s: %d allocations per packet", name, a)
		}
	}
}
