package cameramedia

import (
	"bytes"
	"testing"

	"github.com/pion/rtp"
)

// recorder keeps copies of what a splitter emits.
type recorder struct{ pkts []rtp.Packet }

func (r *recorder) InjectRTP(p *rtp.Packet) {
	c := *p
	c.Payload = append([]byte(nil), p.Payload...)
	r.pkts = append(r.pkts, c)
}

func g711Packet(seq uint16, ts uint32, n int, marker bool) *rtp.Packet {
	payload := make([]byte, n)
	for i := range payload {
		payload[i] = byte(ts + uint32(i))
	}
	return &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: seq, Timestamp: ts, SSRC: 7, Marker: marker}, Payload: payload}
}

func TestG711SplitterCuts(t *testing.T) {
	var s g711Splitter
	var r recorder
	// GStreamer's 1024-sample packets, across a sequence number wrap.
	s.split(g711Packet(65535, 1000, 1024, true), &r)
	s.split(g711Packet(0, 2024, 1024, false), &r)
	if len(r.pkts) != 14 {
		t.Fatalf("%d packets, want 2×7", len(r.pkts))
	}
	for i, p := range r.pkts {
		in := i / 7
		off := (i % 7) * 160
		wantLen := 160
		if i%7 == 6 {
			wantLen = 1024 - 6*160
		}
		if p.SequenceNumber != r.pkts[0].SequenceNumber+uint16(i) {
			t.Errorf("packet %d: seq %d, want dense from %d", i, p.SequenceNumber, r.pkts[0].SequenceNumber)
		}
		if want := uint32(1000 + 1024*in + off); p.Timestamp != want {
			t.Errorf("packet %d: ts %d, want %d", i, p.Timestamp, want)
		}
		if len(p.Payload) != wantLen || p.Payload[0] != byte(1000+1024*in+off) {
			t.Errorf("packet %d: %d bytes starting %d", i, len(p.Payload), p.Payload[0])
		}
		if p.Marker != (i == 0) {
			t.Errorf("packet %d: marker %v", i, p.Marker)
		}
	}
}

func TestG711SplitterLossAndReorder(t *testing.T) {
	var s g711Splitter
	var r recorder
	s.split(g711Packet(10, 0, 320, false), &r)   // 2 chunks: seq o, o+1
	s.split(g711Packet(13, 960, 320, false), &r) // 11 and 12 lost: 4 chunks skipped
	s.split(g711Packet(12, 640, 320, false), &r) // late: dropped
	s.split(g711Packet(13, 960, 320, false), &r) // duplicate: dropped
	s.split(g711Packet(14, 1280, 100, false), &r)
	o := r.pkts[0].SequenceNumber
	want := []uint16{o, o + 1, o + 6, o + 7, o + 8}
	if len(r.pkts) != len(want) {
		t.Fatalf("%d packets, want %d", len(r.pkts), len(want))
	}
	for i, p := range r.pkts {
		if p.SequenceNumber != want[i] {
			t.Errorf("packet %d: seq %d, want %d", i, p.SequenceNumber, want[i])
		}
	}
	if d := s.droppedPackets(); d != 2 {
		t.Errorf("%d dropped, want 2", d)
	}
}

func TestG711SplitterAllocs(t *testing.T) {
	var s g711Splitter
	var sink countSink
	in := g711Packet(1, 0, 1024, false)
	allocs := testing.AllocsPerRun(200, func() {
		in.SequenceNumber++
		in.Timestamp += 1024
		s.split(in, &sink)
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per packet, want 0", allocs)
	}
}

type countSink struct{ n int }

func (c *countSink) InjectRTP(*rtp.Packet) { c.n++ }

// FuzzG711Splitter feeds packets of any size and numbering (as a camera on
// the network may send): every emitted payload is at most 20 ms, the bytes
// of an accepted packet come out whole and in order, and the emitted
// sequence numbers only go forward.
func FuzzG711Splitter(f *testing.F) {
	f.Add([]byte{0, 1, 4, 0, 0, 2, 4, 0})
	f.Add([]byte{0xff, 0xff, 0, 160, 0, 0, 0, 0, 0, 5, 5, 120})
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		var s g711Splitter
		var r recorder
		var last uint16
		first := true
		ts := uint32(0)
		for len(data) >= 4 {
			seq := uint16(data[0])<<8 | uint16(data[1])
			n := (int(data[2])<<8 | int(data[3])) % 1500
			data = data[4:]
			in := g711Packet(seq, ts, n, false)
			ts += uint32(n)
			before := len(r.pkts)
			s.split(in, &r)
			out := r.pkts[before:]
			if len(out) == 0 {
				continue
			}
			var got []byte
			for _, p := range out {
				if len(p.Payload) > g711Frame {
					t.Fatalf("payload of %d bytes", len(p.Payload))
				}
				if !first && int16(p.SequenceNumber-last) <= 0 {
					t.Fatalf("sequence %d after %d", p.SequenceNumber, last)
				}
				first, last = false, p.SequenceNumber
				got = append(got, p.Payload...)
			}
			if !bytes.Equal(got, in.Payload) {
				t.Fatalf("payload of %d bytes came out as %d", len(in.Payload), len(got))
			}
		}
	})
}
