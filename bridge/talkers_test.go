package bridge

import "testing"

// runTalkers feeds frames of energies (one row per tick, one column per leg)
// and returns the talking flags after each tick.
func runTalkers(sp []*speaker, seats int, rows [][]float64) [][]bool {
	var out [][]bool
	for _, row := range rows {
		for i, s := range sp {
			s.observe(row[i], row[i] >= 0)
		}
		selectTalkers(sp, seats)
		flags := make([]bool, len(sp))
		for i, s := range sp {
			flags[i] = s.talking
		}
		out = append(out, flags)
	}
	return out
}

func speakers(n int) []*speaker {
	sp := make([]*speaker, n)
	for i := range sp {
		sp[i] = &speaker{}
	}
	return sp
}

func repeat(row []float64, n int) [][]float64 {
	out := make([][]float64, n)
	for i := range out {
		out[i] = row
	}
	return out
}

const loud, louder, quiet = 4e6, 2e7, 0.0

func TestTalkersLoudestEnter(t *testing.T) {
	sp := speakers(5)
	got := runTalkers(sp, 2, repeat([]float64{loud, quiet, louder, 2 * loud, quiet}, 5))
	last := got[len(got)-1]
	if want := []bool{false, false, true, true, false}; !equalBools(last, want) {
		t.Fatalf("talkers %v, want %v", last, want)
	}
}

func TestTalkersHangover(t *testing.T) {
	sp := speakers(2)
	runTalkers(sp, 1, repeat([]float64{loud, quiet}, 5))
	if !sp[0].talking {
		t.Fatal("leg 0 should talk")
	}
	// A short pause (a breath) keeps the seat.
	got := runTalkers(sp, 1, repeat([]float64{quiet, quiet}, 10))
	if !got[len(got)-1][0] {
		t.Fatal("talker dropped during a 200 ms pause")
	}
	// A long silence gives it up.
	got = runTalkers(sp, 1, repeat([]float64{quiet, quiet}, 60))
	if got[len(got)-1][0] {
		t.Fatal("talker kept its seat through 1.4 s of silence")
	}
}

func TestTalkersCoughDoesNotDisplace(t *testing.T) {
	sp := speakers(3)
	runTalkers(sp, 2, repeat([]float64{loud, loud, quiet}, 10))
	// Leg 2 coughs: 100 ms much louder than the talkers.
	got := runTalkers(sp, 2, repeat([]float64{loud, loud, 10 * louder}, 5))
	for _, f := range got {
		if f[2] {
			t.Fatal("a cough took a seat")
		}
	}
	// Sustained louder speech does displace the quietest talker.
	got = runTalkers(sp, 2, repeat([]float64{loud, 0.5 * loud, louder}, displaceFrames+2))
	last := got[len(got)-1]
	if want := []bool{true, false, true}; !equalBools(last, want) {
		t.Fatalf("after sustained speech talkers %v, want %v", last, want)
	}
}

func TestTalkersHeldLegAbsent(t *testing.T) {
	sp := speakers(1)
	runTalkers(sp, 4, repeat([]float64{loud}, 5))
	// Absent frames (-1: held, underrun) count as silence.
	got := runTalkers(sp, 4, repeat([]float64{-1}, hangoverFrames+1))
	if got[len(got)-1][0] {
		t.Fatal("absent leg still talking")
	}
}

func equalBools(a, b []bool) bool {
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

func TestFrameEnergy(t *testing.T) {
	naive := func(pcm []int16) float64 {
		var acc float64
		for _, v := range pcm {
			acc += float64(v) * float64(v)
		}
		return acc / float64(len(pcm))
	}
	full := make([]int16, 963) // not a multiple of the four lanes
	for i := range full {
		full[i] = int16(int32(i*7919)%65536 - 32768)
	}
	full[0], full[1] = -32768, 32767
	for _, n := range []int{0, 1, 3, 4, 5, 160, 320, 963} {
		pcm := full[:n]
		want := 0.0
		if n > 0 {
			want = naive(pcm)
		}
		if got := frameEnergy(pcm); got != want {
			t.Errorf("%d samples: energy %v, want %v", n, got, want)
		}
	}
}

func BenchmarkFrameEnergy(b *testing.B) {
	pcm := make([]int16, 160)
	tone(pcm, 8000, 440, 8000, 0)
	b.ReportAllocs()
	for b.Loop() {
		frameEnergy(pcm)
	}
}
