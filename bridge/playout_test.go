package bridge

import (
	"math/rand/v2"
	"testing"
	"time"
)

// driftRun feeds a playout from a simulated sender whose clock runs ahead of
// the mixer's by ppm parts per million, with up to jitter of random extra
// transit delay per packet, and pulls one frame every 20 ms of simulated
// time. payload(seq) gives each packet's content. It returns the playout,
// the largest depth left after a pull (the audio still waiting: the delay the
// buffer adds) above the target, in frames, the first samples of the packets played (in order), and
// the inserts that overflowed the ring.
func driftRun(t *testing.T, d time.Duration, ppm float64, jitter time.Duration, payload func(seq uint16) []byte) (p *playout, maxOver float64, played []int16, overflows int) {
	t.Helper()
	p = newTestPlayout(t)
	rng := rand.New(rand.NewPCG(1, 2))
	var rx rxStats
	sendPeriod := time.Duration(float64(tickPeriod) / (1 + ppm/1e6))
	type pkt struct {
		at  time.Duration
		seq uint16
	}
	var next pkt
	arrive := func(seq uint16) pkt {
		at := time.Duration(seq)*sendPeriod + time.Duration(rng.Int64N(int64(jitter)+1))
		return pkt{at, seq}
	}
	next = arrive(0)
	out := make([]int16, 160)
	maxOver = -1e9
	ticks := int(d / tickPeriod)
	for i := 1; i <= ticks; i++ {
		now := time.Duration(i)*tickPeriod + 7*time.Millisecond
		for next.at <= now {
			ts := uint32(next.seq) * 160
			rx.update(next.seq, ts, uint32(next.at.Microseconds()*8/1000))
			if p.jb.insert(next.seq, ts, payload(next.seq), false) == insertOverflow {
				overflows++
			}
			p.jitter = rx.jitter
			next = arrive(next.seq + 1)
		}
		if p.pull(out) {
			played = append(played, out[0])
		}
		over := (float64(p.depth()) - float64(p.target())) / float64(p.frameTS)
		maxOver = max(maxOver, over)
	}
	return p, maxOver, played, overflows
}

// seqFrame is an L16 frame whose samples carry the sequence number (offset so
// that it is never silent) or, when silent, zero.
func seqFrame(seq uint16, silent bool) []byte {
	if silent {
		return frame20(0)
	}
	return frame20(int16(1000 + seq%30000))
}

func TestPlayoutDriftKeepsDepth(t *testing.T) {
	// A sender 0.5 % fast gains a frame every 4 s: 15 frames in a minute.
	p, maxOver, played, overflows := driftRun(t, 60*time.Second, 5000, 0, func(seq uint16) []byte {
		return seqFrame(seq, seq%50 >= 30) // 600 ms talkspurts, 400 ms pauses
	})
	if maxOver > 1 {
		t.Errorf("depth reached the target + %.2f frames, want <= 1", maxOver)
	}
	if overflows != 0 || p.underruns != 0 {
		t.Errorf("%d overflows, %d underruns", overflows, p.underruns)
	}
	if p.compressed < 12 || p.compressed > 16 {
		t.Errorf("%d frames compressed, want about 15", p.compressed)
	}
	// Only silent frames were dropped: every talkspurt frame played, in order.
	var want uint16
	for _, v := range played {
		if v == 0 {
			continue
		}
		got := uint16(v - 1000)
		for want%50 >= 30 {
			want++
		}
		if got != want {
			t.Fatalf("played frame %d, want %d: a talkspurt frame was dropped", got, want)
		}
		want++
	}
	if want < 2900*30/50 {
		t.Fatalf("only %d talkspurt frames played", want)
	}
}

func TestPlayoutDriftWithJitter(t *testing.T) {
	// 0.5 % fast with up to 15 ms of transit jitter, speech without pauses:
	// compression has to drop talkspurt frames after waiting for silence.
	p, maxOver, _, overflows := driftRun(t, 60*time.Second, 5000, 15*time.Millisecond, func(seq uint16) []byte {
		return seqFrame(seq, false)
	})
	if maxOver > 2 {
		t.Errorf("depth reached the target + %.2f frames, want <= 2", maxOver)
	}
	if overflows != 0 {
		t.Errorf("%d overflows", overflows)
	}
	if p.compressed == 0 || p.compressed > 20 {
		t.Errorf("%d frames compressed, want about 15", p.compressed)
	}
	t.Logf("target %d ms, underruns %d, compressed %d, max over target %.2f frames",
		p.target()/8, p.underruns, p.compressed, maxOver)
}

func TestPlayoutCompressesBurst(t *testing.T) {
	// A late mixer or a network stall leaves 10 frames queued: the excess
	// over the target is dropped within a window, talkspurt or not, since
	// waiting for silence would keep the delay.
	p := newTestPlayout(t)
	for s := range uint16(11) {
		p.jb.insert(s, uint32(s)*160, frame20(int16(100+s)), false)
	}
	out := make([]int16, 160)
	seq := uint16(11)
	for range compressWindow + 2 {
		p.jb.insert(seq, uint32(seq)*160, frame20(int16(100+seq)), false)
		seq++
		if !p.pull(out) {
			t.Fatal("underrun")
		}
	}
	if over := int(p.depth()) - int(p.target()); over > int(p.frameTS) {
		t.Fatalf("still %d ms above the target", over/8)
	}
	if p.compressed < 8 {
		t.Fatalf("%d frames compressed, want >= 8", p.compressed)
	}
}

func TestPlayoutCatchUpIsNotUnderrun(t *testing.T) {
	p := newTestPlayout(t)
	for s := range uint16(2) {
		p.jb.insert(s, uint32(s)*160, frame20(int16(10+s)), false)
	}
	t0 := p.target()
	// A burst of four overdue frames while the readers are as late as the
	// mixer: two play, two find the buffer empty.
	p.catchUp = true
	got := pullAll(p, 4)
	p.catchUp = false
	if want := []int{10, 11, -1, -1}; !equalInts(got, want) {
		t.Fatalf("catch-up burst played %v, want %v", got, want)
	}
	if p.underruns != 0 || p.catchUpGaps != 2 || !p.playing || p.target() != t0 {
		t.Fatalf("underruns %d, gaps %d, playing %v, target %d (was %d)", p.underruns, p.catchUpGaps, p.playing, p.target(), t0)
	}
	// The late packets arrive; playout carries on without rebuffering.
	for s := uint16(2); s < 5; s++ {
		p.jb.insert(s, uint32(s)*160, frame20(int16(10+s)), false)
	}
	if got := pullAll(p, 3); !equalInts(got, []int{12, 13, 14}) {
		t.Fatalf("after the burst played %v", got)
	}
	// Outside a burst an empty buffer is an underrun, as before.
	pullAll(p, 1)
	if p.underruns != 1 || p.playing {
		t.Fatalf("underruns %d playing %v after running dry", p.underruns, p.playing)
	}
}
