package bridge

import (
	"math"
	"testing"
)

// The Q14 factors are the 3 dB steps, and scaling saturates instead of
// wrapping.
func TestGainArithmetic(t *testing.T) {
	for step := -6; step <= 6; step++ {
		want := math.Pow(10, float64(3*clampGain(step))/20)
		got := float64(gainQ14(step)) / unityQ14
		if math.Abs(20*math.Log10(got/want)) > 0.01 {
			t.Errorf("step %d: factor %.5f, want %.5f", step, got, want)
		}
	}
	if clampGain(9) != 4 || clampGain(-9) != -4 {
		t.Error("steps not clamped to ±4")
	}
	pcm := []int16{32767, -32768, 20000, -20000, 1000, 0}
	scaleQ14(pcm, gainQ14(4))
	want := []int16{32767, -32768, 32767, -32768, 3981, 0}
	for i := range pcm {
		if pcm[i] != want[i] {
			t.Fatalf("+12 dB: %v, want %v", pcm, want)
		}
	}
	pcm = []int16{32767, -32768, 1000}
	scaleQ14(pcm, gainQ14(-4))
	if pcm[0] != 8230 || pcm[1] != -8230 || pcm[2] != 251 {
		t.Errorf("-12 dB: %v", pcm)
	}
	dst := []int16{10000, -30000, 32000}
	duckAndAdd(dst, []int16{1000, -10000, 30000})
	if dst[0] != 3162+1000 || dst[1] != -9487-10000 || dst[2] != 32767 {
		t.Errorf("duck and add: %v", dst)
	}
}

// SetGain changes what the room hears of a leg (talk) and what a leg hears
// of the room (listen) by the expected number of dB, in real packets.
func TestLegSetGainLevels(t *testing.T) {
	cases := []struct {
		talk, listen int
		want         float64 // dB, at the listener
	}{
		{0, 0, 0},
		{2, 0, 6},
		{-3, 0, -9},
		{0, -4, -12},
		{0, 1, 3},
		{1, -2, -3},
		{7, 0, 12}, // clamped
	}
	var ref float64
	for _, c := range cases {
		b, clk := newTestBridge(t, Config{})
		pcmu := mustLookup(t, "PCMU")
		talker := newTonePeer(t, b, "gain", "talker", pcmu, 0, 500)
		listener := newTonePeer(t, b, "gain", "listener", pcmu, 0, 0)
		talker.leg.SetGain(0, c.talk)
		listener.leg.SetGain(c.listen, 0)
		runRoom(t, clk, []*tonePeer{talker, listener}, 30)
		p := goertzel(listener.heard[len(listener.heard)-1600:], 8000, 500)
		if c.talk == 0 && c.listen == 0 {
			ref = p
			continue
		}
		if got := 10 * math.Log10(p/ref); math.Abs(got-c.want) > 0.5 {
			t.Errorf("talk %d, listen %d: level changed by %.2f dB, want %.0f", c.talk, c.listen, got, c.want)
		}
		if l, tk := talker.leg.Gain(); l != 0 || tk != clampGain(c.talk) {
			t.Errorf("Gain() = %d, %d", l, tk)
		}
		_ = b.Close()
	}
}
