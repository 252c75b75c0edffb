package loadgen

import (
	"errors"
	"math"
	"testing"
	"time"
)

func TestParseRTP(t *testing.T) {
	pkt := make([]byte, rtpHeaderLen+FrameSamples)
	PutRTPHeader(pkt, RTPHeader{PayloadType: 8, Marker: true, Seq: 65535, Timestamp: 0xdeadbeef, SSRC: 42})
	h, p, err := ParseRTP(pkt)
	if err != nil || h != (RTPHeader{PayloadType: 8, Marker: true, Seq: 65535, Timestamp: 0xdeadbeef, SSRC: 42}) || len(p) != FrameSamples {
		t.Fatalf("round trip: %+v %d %v", h, len(p), err)
	}
	// CSRCs, an extension and padding are skipped.
	ext := []byte{0xB2, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, // V=2 P X CC=2
		1, 1, 1, 1, 2, 2, 2, 2, // CSRCs
		0xBE, 0xDE, 0, 1, 9, 9, 9, 9, // extension of one word
		0xAA, 0xBB, 0, 0, 3} // payload AA BB, 3 bytes padding
	h, p, err = ParseRTP(ext)
	if err != nil || string(p) != "\xAA\xBB" || h.SSRC != 3 {
		t.Fatalf("extended packet: %+v %x %v", h, p, err)
	}
	for name, b := range map[string][]byte{
		"short":       pkt[:11],
		"version 1":   append([]byte{0x40}, pkt[1:]...),
		"csrc beyond": {0x8F, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		"ext beyond":  {0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xBE, 0xDE, 0, 9},
		"pad zero":    {0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0},
		"pad beyond":  {0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 200},
	} {
		if _, _, err := ParseRTP(b); !errors.Is(err, ErrShortPacket) && !errors.Is(err, ErrBadRTPVersion) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

// stream feeds packets (seq, arrival offset in ms) of a 20 ms stream whose
// timestamps follow the sequence numbers.
func stream(s *RecvStats, ssrc uint32, seqs []uint16, arrivalsMS []float64) {
	for i, seq := range seqs {
		ts := uint32(seq) * FrameSamples
		s.Update(RTPHeader{Seq: seq, Timestamp: ts, SSRC: ssrc}, uint32(arrivalsMS[i]*SampleRate/1000))
	}
}

func TestRecvStatsGapsReorderWrap(t *testing.T) {
	var s RecvStats
	seqs := []uint16{65533, 65534, 65535, 0, 1, 4, 3, 5, 5, 6}
	arr := make([]float64, len(seqs))
	for i, q := range seqs {
		arr[i] = float64(uint16(q-65533)) * 20
	}
	stream(&s, 1, seqs, arr)
	got := s.Snapshot()
	// 65533..6 is 10 packets; 2 missing then 3 arrives late; 5 duplicated.
	want := StreamSnapshot{Received: 10, Expected: 10, Gaps: 1, GapPackets: 2, Reordered: 1, Duplicates: 1}
	got.JitterMS = 0
	if got != want {
		t.Errorf("snapshot %+v, want %+v", got, want)
	}
	if got.Lost() != 0 {
		t.Errorf("lost %d: the late packet arrived", got.Lost())
	}

	// A window that only loses packets.
	before := s.Snapshot()
	stream(&s, 1, []uint16{7, 10, 11}, []float64{7 * 20, 10 * 20, 11 * 20})
	w := s.Snapshot().Sub(before)
	if w.Expected != 5 || w.Received != 3 || w.Lost() != 2 || w.Gaps != 1 {
		t.Errorf("window %+v lost %d", w, w.Lost())
	}

	// A new SSRC restarts the sequence without counting a gap.
	stream(&s, 2, []uint16{30000, 30001}, []float64{300, 320})
	after := s.Snapshot().Sub(before)
	if after.SSRCChanges != 1 || after.Gaps != 1 || after.Expected != 7 {
		t.Errorf("after SSRC change %+v", after)
	}
}

func TestRecvStatsJitter(t *testing.T) {
	// Perfectly paced packets: no jitter.
	var s RecvStats
	seqs := make([]uint16, 500)
	arr := make([]float64, 500)
	for i := range seqs {
		seqs[i] = uint16(i)
		arr[i] = float64(i) * 20
	}
	stream(&s, 1, seqs, arr)
	if j := s.Snapshot().JitterMS; j != 0 {
		t.Errorf("jitter of a paced stream = %v", j)
	}
	// Arrival alternates ±2 ms around the schedule: |D| is 4 ms on every
	// packet, so J converges to 4 ms (RFC 3550 A.8).
	var a RecvStats
	for i := range arr {
		arr[i] = float64(i)*20 + 1000 + 2*math.Pow(-1, float64(i))
	}
	stream(&a, 1, seqs, arr)
	if j := a.Snapshot().JitterMS; math.Abs(j-4) > 0.01 {
		t.Errorf("jitter = %v ms, want 4", j)
	}
}

func TestRecvStatsLate(t *testing.T) {
	s := RecvStats{LateThreshold: 60 * SampleRate / 1000}
	// On time, then one packet 100 ms late, then on time again.
	stream(&s, 1, []uint16{1, 2, 3, 4}, []float64{20, 40, 160, 80})
	if got := s.Snapshot().Late; got != 1 {
		t.Errorf("late = %d, want 1", got)
	}
}

func BenchmarkRecvStatsUpdate(b *testing.B) {
	var s RecvStats
	s.LateThreshold = 480
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.Update(RTPHeader{Seq: uint16(i), Timestamp: uint32(i) * FrameSamples, SSRC: 1}, uint32(i)*FrameSamples+uint32(i%7))
	}
}

func BenchmarkParseRTP(b *testing.B) {
	pkt := make([]byte, rtpHeaderLen+FrameSamples)
	PutRTPHeader(pkt, RTPHeader{Seq: 1})
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseRTP(pkt); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzParseRTP(f *testing.F) {
	pkt := make([]byte, rtpHeaderLen+FrameSamples)
	PutRTPHeader(pkt, RTPHeader{Seq: 1, PayloadType: 0})
	f.Add(pkt)
	f.Add([]byte{0xB2, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 1, 1, 1, 1, 2, 2, 2, 2, 0xBE, 0xDE, 0, 1, 9, 9, 9, 9, 0xAA, 0xBB, 0, 0, 3})
	f.Add([]byte{0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 200})
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, p, err := ParseRTP(b)
		if err != nil {
			return
		}
		if len(p) > len(b)-rtpHeaderLen {
			t.Fatalf("payload of %d bytes from a %d-byte packet", len(p), len(b))
		}
		var s RecvStats
		s.LateThreshold = 480
		s.Update(h, 1)
		var d BurstDetector
		d.Reset(-30, 0)
		d.Feed(p, time.Unix(0, 0))
	})
}
