package bridge

import (
	"testing"
	"time"
)

func TestPacerDeadlines(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := pacer{start: t0, period: tickPeriod}
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	steps := []struct {
		now           int // ms since start
		produce, skip int
		wait          time.Duration
	}{
		{19, 0, 0, time.Millisecond},        // woken early
		{20, 1, 0, 20 * time.Millisecond},   // on time
		{41, 1, 0, 19 * time.Millisecond},   // a little late: the next deadline stays at 60
		{130, 4, 0, 10 * time.Millisecond},  // a 70 ms stall: the missed frames, at once
		{140, 1, 0, 20 * time.Millisecond},  // back on the grid
		{140, 0, 0, 20 * time.Millisecond},  // a spurious wake-up produces nothing
		{160, 1, 0, 20 * time.Millisecond},  //
		{300, 5, 2, 20 * time.Millisecond},  // 7 frames behind: 5 produced, 2 skipped
		{5000, 5, 230, 0},                   // a long stall: resync
		{5000, 0, 0, 20 * time.Millisecond}, //
	}
	total := 0
	for _, s := range steps {
		produce, skip := p.advance(at(s.now))
		if produce != s.produce || skip != s.skip {
			t.Fatalf("at %d ms: produce %d skip %d, want %d and %d", s.now, produce, skip, s.produce, s.skip)
		}
		total += produce + skip
		if s.wait != 0 {
			if w := p.wait(at(s.now)); w != s.wait {
				t.Fatalf("at %d ms: wait %v, want %v", s.now, w, s.wait)
			}
		}
	}
	// Every 20 ms of the clock is accounted for, one frame each.
	if total != 5000/20 {
		t.Fatalf("%d frames accounted for in 5 s, want 250", total)
	}
}

// TestMixerCatchUp runs a room's mixer goroutine on the fake clock: a wake-up
// 70 ms late (a slow tick, a descheduled process) is followed by the frames
// it missed, with continuous sequence numbers and timestamps; a stall longer
// than maxCatchUp frames skips the excess, counts it, and lets the
// timestamps jump over the gap with the marker bit set.
func TestMixerCatchUp(t *testing.T) {
	b, clk := newTestBridge(t, Config{})
	p := newPeer(t)
	pcmu := mustLookup(t, "PCMU")
	l, err := b.NewLeg(LegOptions{ID: "c", Room: "clock"})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Start(StreamParams{Codec: pcmu, EventPayloadType: -1, Remote: p.addr}); err != nil {
		t.Fatal(err)
	}
	step := pcmu.TimestampStep()
	var lastSeq uint16
	var lastTS uint32
	first := true
	// expect reads n packets: the first gap frames after the previous one
	// (1 is continuous), the rest continuous.
	expect := func(n int, gap uint32) {
		t.Helper()
		for i := range n {
			pkt, _ := p.recvRTP()
			if first {
				first = false
			} else {
				want := lastTS + step
				if i == 0 {
					want = lastTS + gap*step
				}
				if pkt.SequenceNumber != lastSeq+1 || pkt.Timestamp != want {
					t.Fatalf("packet %d: seq %d ts %d, want seq %d ts %d", i, pkt.SequenceNumber, pkt.Timestamp, lastSeq+1, want)
				}
				if wantMarker := i == 0 && gap > 1; pkt.Marker != wantMarker {
					t.Fatalf("packet %d: marker %v, want %v", i, pkt.Marker, wantMarker)
				}
			}
			lastSeq, lastTS = pkt.SequenceNumber, pkt.Timestamp
		}
	}
	// The mixer's clock starts when its goroutine does.
	waitFor(t, "the mixer's timer", func() bool { return clk.lastTimer() != nil })
	clk.Advance(tickPeriod)
	tickVia(t, clk) // 20 ms: frame 1
	expect(1, 1)
	clk.Advance(70 * time.Millisecond)
	tickVia(t, clk) // 90 ms: frames 2, 3, 4 at once
	expect(3, 1)
	clk.Advance(10 * time.Millisecond)
	tickVia(t, clk) // 100 ms: frame 5, back on the grid
	expect(1, 1)
	tickVia(t, clk) // a spurious wake-up: nothing
	clk.Advance(300 * time.Millisecond)
	tickVia(t, clk) // 400 ms: 15 frames due: 10 skipped, 16..20 sent
	expect(5, 11)
	clk.Advance(tickPeriod)
	tickVia(t, clk)
	expect(1, 1)
	tickVia(t, clk) // returns once the previous wake-up's work is done
	if got := l.Stats().PacketsOut; got != 11 {
		t.Fatalf("%d packets sent, want 11", got)
	}
	late, skipped := b.ClockStats()
	if late != 2+4 || skipped != 10 {
		t.Fatalf("late %d skipped %d, want 6 and 10", late, skipped)
	}
	if v := counterValue(t, b.metrics.skippedFrames); v != 10 {
		t.Fatalf("skipped frames metric %v, want 10", v)
	}
	if _, _, ticks, _ := b.TickStats(); ticks != 11 {
		t.Fatalf("%d ticks recorded, want 11", ticks)
	}
}
