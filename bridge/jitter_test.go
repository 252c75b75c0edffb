package bridge

import (
	"testing"
)

// newTestPlayout returns a playout on the lossless L16 codec at 8 kHz.
func newTestPlayout(t *testing.T) *playout {
	t.Helper()
	p := &playout{}
	p.configure(&l16{l16Info(8000)})
	return p
}

// frame20 is one 20 ms L16 payload at 8 kHz whose samples all equal v.
func frame20(v int16) []byte {
	pcm := make([]int16, 160)
	for i := range pcm {
		pcm[i] = v
	}
	out := make([]byte, 320)
	_, _ = (&l16{l16Info(8000)}).Encode(pcm, out)
	return out
}

// pullAll pulls n frames and returns the first sample of each (or -1 for
// "nothing").
func pullAll(p *playout, n int) []int {
	got := make([]int, 0, n)
	out := make([]int16, 160)
	for range n {
		if p.pull(out) {
			got = append(got, int(out[0]))
		} else {
			got = append(got, -1)
		}
	}
	return got
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestJitterReorder(t *testing.T) {
	p := newTestPlayout(t)
	// Sequence 10..14 arrive as 10 12 11 14 13.
	for _, s := range []uint16{10, 12, 11, 14, 13} {
		if r := p.jb.insert(s, uint32(s)*160, frame20(int16(s)), false); r != insertOK {
			t.Fatalf("insert %d: %v", s, r)
		}
	}
	got := pullAll(p, 6)
	want := []int{10, 11, 12, 13, 14, -1}
	if !equalInts(got, want) {
		t.Fatalf("played %v, want %v", got, want)
	}
}

func TestJitterLossConcealed(t *testing.T) {
	p := newTestPlayout(t)
	for _, s := range []uint16{1, 2, 4, 5} { // 3 is lost
		p.jb.insert(s, uint32(s)*160, frame20(int16(s)), false)
	}
	got := pullAll(p, 4)
	// L16's concealment is silence (0).
	if want := []int{1, 2, 0, 4}; !equalInts(got, want) {
		t.Fatalf("played %v, want %v", got, want)
	}
	if p.concealed != 1 {
		t.Errorf("concealed %d, want 1", p.concealed)
	}
}

func TestJitterDuplicateAndLate(t *testing.T) {
	p := newTestPlayout(t)
	p.jb.insert(1, 160, frame20(1), false)
	if r := p.jb.insert(1, 160, frame20(1), false); r != insertDuplicate {
		t.Fatalf("duplicate: %v", r)
	}
	p.jb.insert(2, 320, frame20(2), false)
	pullAll(p, 1)
	if r := p.jb.insert(1, 160, frame20(1), false); r != insertLate {
		t.Fatalf("late: %v", r)
	}
}

func TestJitterWrapAround(t *testing.T) {
	p := newTestPlayout(t)
	seqs := []uint16{65534, 65535, 0, 1}
	// Out of order across the wrap.
	for _, s := range []uint16{65534, 0, 65535, 1} {
		if r := p.jb.insert(s, uint32(s)*160, frame20(int16(s%100)), false); r != insertOK {
			t.Fatalf("insert %d: %v", s, r)
		}
	}
	got := pullAll(p, 4)
	want := make([]int, len(seqs))
	for i, s := range seqs {
		want[i] = int(s % 100)
	}
	if !equalInts(got, want) {
		t.Fatalf("played %v, want %v", got, want)
	}
}

func TestJitterRestart(t *testing.T) {
	p := newTestPlayout(t)
	for s := uint16(100); s < 104; s++ {
		p.jb.insert(s, uint32(s)*160, frame20(1), false)
	}
	pullAll(p, 2)
	// The sender restarts far ahead.
	if r := p.jb.insert(20000, 5, frame20(7), false); r != insertReset {
		t.Fatalf("far jump: %v, want reset", r)
	}
	if got := pullAll(p, 1); got[0] != 7 {
		t.Fatalf("after restart played %v", got)
	}

	// A restart to a slightly lower sequence number: a run of "late"
	// packets resets the buffer.
	q := newTestPlayout(t)
	for s := uint16(300); s < 303; s++ {
		q.jb.insert(s, uint32(s)*160, frame20(1), false)
	}
	pullAll(q, 3)
	var last insertResult
	for s := uint16(200); s < 200+jbLateRestart; s++ {
		last = q.jb.insert(s, uint32(s)*160, frame20(9), false)
	}
	if last != insertReset {
		t.Fatalf("run of late packets: %v, want reset", last)
	}
	if got := pullAll(q, 1); got[0] != 9 {
		t.Fatalf("after late-run restart played %v", got)
	}

	// Consecutive sequence numbers with a timestamp jump of minutes.
	j := newTestPlayout(t)
	j.jb.insert(1, 160, frame20(1), false)
	j.jb.insert(2, 320, frame20(2), false)
	if r := j.jb.insert(3, 320+8000*60, frame20(3), false); r != insertReset {
		t.Fatalf("timestamp jump: %v, want reset", r)
	}
	if got := pullAll(j, 1); got[0] != 3 {
		t.Fatalf("after timestamp jump played %v", got)
	}
}

func TestJitterOverflowDropsOldest(t *testing.T) {
	p := newTestPlayout(t)
	for s := uint16(0); s < jbSlots+5; s++ {
		p.jb.insert(s, uint32(s)*160, frame20(int16(s)), false)
	}
	if p.jb.count != jbSlots {
		t.Fatalf("count %d, want %d", p.jb.count, jbSlots)
	}
	if got := pullAll(p, 1); got[0] != 5 {
		t.Fatalf("oldest kept is %v, want 5", got)
	}
}

func TestJitterSkipIsNotLoss(t *testing.T) {
	p := newTestPlayout(t)
	p.jb.insert(1, 160, frame20(1), false)
	p.jb.insert(2, 320, nil, true) // a telephone-event packet
	p.jb.insert(3, 320, frame20(3), false)
	got := pullAll(p, 2)
	if want := []int{1, 3}; !equalInts(got, want) || p.concealed != 0 {
		t.Fatalf("played %v (concealed %d), want %v", got, p.concealed, want)
	}
}

func TestJitterPacketSizes(t *testing.T) {
	for _, ms := range []int{10, 20, 30} {
		p := newTestPlayout(t)
		n := 8 * ms
		sample := 0
		var seq uint16
		var played []int16
		out := make([]int16, 160)
		queued := 0 // samples inserted and not yet played
		for range 30 {
			// Feed enough packets for one 20 ms pull, then pull. (Feeding
			// more would keep the buffer above its target, and compression
			// would rightly drop some.)
			for queued < 160 {
				queued += n
				pcm := make([]int16, n)
				for i := range pcm {
					pcm[i] = int16(sample % 1000)
					sample++
				}
				pay := make([]byte, 2*n)
				for i, v := range pcm {
					pay[2*i], pay[2*i+1] = byte(uint16(v)>>8), byte(v)
				}
				p.jb.insert(seq, uint32(sample-n), pay, false)
				seq++
			}
			if !p.pull(out) {
				t.Fatalf("%d ms: underrun", ms)
			}
			queued -= 160
			played = append(played, out...)
		}
		for i, v := range played {
			if int(v) != i%1000 {
				t.Fatalf("%d ms packets: sample %d is %d, want %d", ms, i, v, i%1000)
			}
		}
	}
}

func TestJitterAdaptsToUnderruns(t *testing.T) {
	p := newTestPlayout(t)
	t0 := p.target()
	p.jb.insert(1, 160, frame20(1), false)
	pullAll(p, 2) // plays one, then underruns
	if p.underruns != 1 || p.target() <= t0 {
		t.Fatalf("underruns %d target %d (was %d): want growth", p.underruns, p.target(), t0)
	}
	p.jitter = 1e6
	if p.target() != p.maxDelay {
		t.Fatalf("target %d, want clamped to %d", p.target(), p.maxDelay)
	}
}
