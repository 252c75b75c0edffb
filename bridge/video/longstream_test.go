package video

import "testing"

// TestForwardLongStream checks that a source on screen for more than half
// the sequence number space goes on being forwarded: every packet of 2400
// frames (72000 packets, over five minutes of 720p) reaches the receiver,
// in order, while a packet from before the switch is still dropped.
func TestForwardLongStream(t *testing.T) {
	rt, train := benchRouter(t, 1)
	before := rt.Snapshot().Receivers[0].PacketsOut
	s := &stream{ssrc: 0xa, seq: 0, ts: 0}
	// benchRouter's stream ended where train ends; continue its numbering.
	last := train[len(train)-1]
	h, err := ParseRTPHeader(last)
	if err != nil {
		t.Fatal(err)
	}
	s.seq, s.ts = h.SequenceNumber+1, h.Timestamp+3000
	sent := 0
	for range 2400 {
		for _, p := range s.frame(false, 30000) {
			if err := rt.Forward("A", p); err != nil {
				t.Fatal(err)
			}
			sent++
		}
	}
	got := rt.Snapshot().Receivers[0].PacketsOut - before
	if got != uint64(sent) {
		t.Fatalf("receiver got %d of %d packets of a long stream", got, sent)
	}
	if sent < 70000 {
		t.Fatalf("only %d packets sent", sent)
	}
	// A late duplicate from long ago is not forwarded again.
	old := rtpPacket(s.seq-5000, s.ts-500*3000, s.ssrc, false, sliceNAL(100))
	if err := rt.Forward("A", old); err != nil {
		t.Fatal(err)
	}
	if n := rt.Snapshot().Receivers[0].PacketsOut - before; n != uint64(sent) {
		t.Fatalf("a packet 5000 behind the stream was forwarded")
	}
}
