package video

import (
	"bytes"
	"testing"
	"time"
)

// switchPending sets up C seeing A with a switch to B pending.
func switchPending(t *testing.T) *rig {
	g := newRig(t, Config{Hold: time.Second})
	g.source("A", 0xa0a0, true)
	g.source("B", 0xb0b0, true)
	g.receiver("C", 0x0c0c)
	g.rt.SetSpeaker("A")
	g.frame("A", false)
	g.frame("B", false)
	g.rt.Tick()
	g.frame("A", true)
	g.rt.SetSpeaker("B")
	g.clk.Advance(time.Second)
	g.rt.Tick()
	if g.pending("C") != "B" || g.seen("C") != "A" {
		t.Fatal("switch not pending")
	}
	return g
}

func TestRouterCutWaitsForOldFrameEnd(t *testing.T) {
	g := switchPending(t)
	aFrame := g.streams["A"].frame(false, 3500) // 4 packets
	bIDR := g.streams["B"].frame(true, 3500)    // STAP-A + 4 FU-A
	fwd := func(id string, p []byte) {
		if err := g.rt.Forward(id, p); err != nil {
			t.Fatal(err)
		}
	}
	before := len(g.sinks["C"].all())
	fwd("A", aFrame[0])
	fwd("A", aFrame[1])
	// B's IDR starts while A's frame is half sent.
	for _, p := range bIDR[:3] {
		fwd("B", p)
	}
	if got := len(g.sinks["C"].all()) - before; got != 2 {
		t.Fatalf("C got %d packets, want only A's first two", got)
	}
	fwd("A", aFrame[2])
	fwd("A", aFrame[3]) // A's frame ends: the held IDR follows
	fwd("B", bIDR[3])
	fwd("B", bIDR[4])
	out := g.sinks["C"].all()[before:]
	if len(out) != 4+1+4 {
		t.Fatalf("C got %d packets, want A's 4, SPS/PPS and B's 4", len(out))
	}
	for i := range 4 {
		if !bytes.Equal(payloadOf(t, out[i]), payloadOf(t, aFrame[i])) {
			t.Fatalf("packet %d is not A's frame", i)
		}
	}
	if !bytes.Equal(payloadOf(t, out[4]), stapA(testSPS, testPPS)) {
		t.Fatal("no SPS/PPS before the held IDR")
	}
	for i := 1; i < 5; i++ {
		if !bytes.Equal(payloadOf(t, out[4+i]), payloadOf(t, bIDR[i])) {
			t.Fatalf("packet %d is not B's IDR", 4+i)
		}
	}
	checkContinuous(t, g.sinks["C"].all(), 0x0c0c)
	if g.seen("C") != "B" {
		t.Fatal("not switched")
	}
}

func TestRouterCutWhenOldFrameEndIsLost(t *testing.T) {
	g := switchPending(t)
	aFrame := g.streams["A"].frame(false, 3500)
	before := len(g.sinks["C"].all())
	for _, p := range aFrame[:2] {
		if err := g.rt.Forward("A", p); err != nil {
			t.Fatal(err)
		}
	}
	bIDR := g.frame("B", true)
	// A's marker packet is lost; A's next frame must not reach C.
	aNext := g.frame("A", false)
	out := g.sinks["C"].all()[before:]
	if len(out) != 2+len(bIDR) {
		t.Fatalf("C got %d packets, want %d", len(out), 2+len(bIDR))
	}
	for _, p := range out[2:] {
		for _, a := range aNext {
			if bytes.Equal(payloadOf(t, p), payloadOf(t, a)) {
				t.Fatal("old source's next frame forwarded")
			}
		}
	}
	checkContinuous(t, g.sinks["C"].all(), 0x0c0c)

	// The old source goes silent mid-frame: the held cut happens on Tick.
	g2 := switchPending(t)
	for _, p := range g2.streams["A"].frame(false, 3500)[:2] {
		if err := g2.rt.Forward("A", p); err != nil {
			t.Fatal(err)
		}
	}
	g2.frame("B", true)
	if g2.seen("C") != "A" {
		t.Fatal("cut before the old frame ended")
	}
	g2.clk.Advance(maxCutDelay)
	g2.rt.Tick()
	if g2.seen("C") != "B" {
		t.Fatal("held cut never happened")
	}
	checkContinuous(t, g2.sinks["C"].all(), 0x0c0c)
}

func TestRouterHeldCutFlushesBeforeRingWraps(t *testing.T) {
	g := switchPending(t)
	aFrame := g.streams["A"].frame(false, 3500)
	for _, p := range aFrame[:2] {
		if err := g.rt.Forward("A", p); err != nil {
			t.Fatal(err)
		}
	}
	// A huge IDR from B while A stays mid-frame: the cut may not wait past
	// half the ring.
	bIDR := g.streams["B"].frame(true, 80_000)
	for i, p := range bIDR {
		if err := g.rt.Forward("B", p); err != nil {
			t.Fatal(err)
		}
		if i < sourceRingSize/2 && g.seen("C") != "A" {
			t.Fatalf("cut after %d packets", i)
		}
	}
	if g.seen("C") != "B" {
		t.Fatal("held cut not flushed")
	}
	out := g.sinks["C"].all()
	checkContinuous(t, out, 0x0c0c)
	if n := len(out) - 1; !bytes.Equal(payloadOf(t, out[n]), payloadOf(t, bIDR[len(bIDR)-1])) {
		t.Fatal("IDR not complete after the flush")
	}
}
