package loadgen

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/zaf/g711"
)

func TestULawMatchesReference(t *testing.T) {
	for s := math.MinInt16; s <= math.MaxInt16; s++ {
		got := LinearToULaw(int16(s))
		want := g711.EncodeUlawFrame(int16(s))
		if got != want {
			t.Fatalf("LinearToULaw(%d) = %#x, reference %#x", s, got, want)
		}
	}
	for u := 0; u < 256; u++ {
		got := ULawToLinear(byte(u))
		want := g711.DecodeUlawFrame(uint8(u))
		if got != want {
			t.Fatalf("ULawToLinear(%#x) = %d, reference %d", u, got, want)
		}
	}
	if ULawToLinear(ulawSilence) != 0 {
		t.Errorf("silence code decodes to %d", ULawToLinear(ulawSilence))
	}
}

func rms(pcm []int16) float64 {
	var s float64
	for _, v := range pcm {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(len(pcm)))
}

func dbfsOfRMS(r float64) float64 { return 20 * math.Log10(r*math.Sqrt2/fullScale) }

// goertzelPower is the power of pcm at hz (for spectral checks in tests).
func goertzelPower(pcm []int16, hz float64) float64 {
	w := 2 * math.Pi * hz / SampleRate
	c := 2 * math.Cos(w)
	var s1, s2 float64
	for _, x := range pcm {
		s0 := float64(x) + c*s1 - s2
		s2, s1 = s1, s0
	}
	return s1*s1 + s2*s2 - c*s1*s2
}

func TestSpeechLikeSignal(t *testing.T) {
	const level = -26.0
	pcm := SpeechLikePCM(7, 30*time.Second, level)
	if len(pcm) != 30*SampleRate {
		t.Fatalf("length %d", len(pcm))
	}
	if !slices.Equal(pcm, SpeechLikePCM(7, 30*time.Second, level)) {
		t.Error("same seed gave a different signal")
	}
	if slices.Equal(pcm[:1000], SpeechLikePCM(8, 30*time.Second, level)[:1000]) {
		t.Error("different seeds gave the same signal")
	}

	// Frame energies in 10 ms frames: there must be pauses (near silence)
	// and talk spurts at about the requested level.
	const frame = SampleRate / 100
	var env []float64
	silent, loud := 0, 0
	var voiced []int16
	for i := 0; i+frame <= len(pcm); i += frame {
		r := rms(pcm[i : i+frame])
		env = append(env, r)
		switch {
		case r < 1:
			silent++
		case r > dbfsToAmplitude(level-10)/math.Sqrt2:
			loud++
		}
		if r >= 1 {
			voiced = append(voiced, pcm[i:i+frame]...)
		}
	}
	n := len(env)
	if f := float64(silent) / float64(n); f < 0.05 || f > 0.4 {
		t.Errorf("silent fraction %.2f, want pauses of 5-40 %%", f)
	}
	if f := float64(loud) / float64(n); f < 0.3 {
		t.Errorf("loud fraction %.2f", f)
	}
	// The level is set over voiced phrases; the silent gaps between
	// syllables count as voiced here, so allow a few dB.
	if got := dbfsOfRMS(rms(voiced)); math.Abs(got-level) > 3 {
		t.Errorf("voiced level %.1f dBFS, want about %.1f", got, level)
	}

	// Syllabic modulation: the envelope's spectrum peaks near 4 Hz
	// (between 2.5 and 6 Hz) among 1..10 Hz.
	envPCM := make([]int16, len(env))
	mean := 0.0
	for _, e := range env {
		mean += e
	}
	mean /= float64(len(env))
	for i, e := range env {
		envPCM[i] = int16(e - mean)
	}
	best, bestHz := 0.0, 0.0
	for hz := 1.0; hz <= 10; hz += 0.25 {
		// The envelope is sampled at 100 Hz; rescale to the helper's 8 kHz.
		p := goertzelPower(envPCM, hz*SampleRate/100)
		if p > best {
			best, bestHz = p, hz
		}
	}
	if bestHz < 2.5 || bestHz > 6 {
		t.Errorf("envelope modulation peaks at %.2f Hz, want near 4 Hz", bestHz)
	}

	// Pink-ish: more energy around 300 Hz than around 3 kHz.
	if lo, hi := goertzelPower(pcm, 300), goertzelPower(pcm, 3000); lo < 3*hi {
		t.Errorf("spectrum not tilted: P(300 Hz)=%g P(3 kHz)=%g", lo, hi)
	}
}

func TestNoiseLevel(t *testing.T) {
	pcm := NoisePCM(1, time.Second, -40)
	if got := dbfsOfRMS(rms(pcm)); math.Abs(got+40) > 0.5 {
		t.Errorf("noise at %.2f dBFS, want -40", got)
	}
}

func TestProbeSignal(t *testing.T) {
	pcm := ProbePCM(time.Second, 40*time.Millisecond, -3, -30)
	if len(pcm) != SampleRate {
		t.Fatalf("length %d", len(pcm))
	}
	burst, bed := pcm[:320], pcm[320:]
	if got := dbfsOfRMS(rms(bed)); math.Abs(got+30) > 0.5 {
		t.Errorf("bed at %.2f dBFS, want -30", got)
	}
	// The burst is a 2 kHz tone at -3 dBFS peak (RMS = peak/√2) over the bed.
	if got := dbfsOfRMS(rms(burst)); math.Abs(got+3) > 0.5 {
		t.Errorf("burst at %.2f dBFS, want -3", got)
	}
	if tone, off := goertzelPower(burst, ProbeToneHz), goertzelPower(burst, 1000); tone < 1000*off {
		t.Errorf("burst is not a %d Hz tone: %g vs %g at 1 kHz", ProbeToneHz, tone, off)
	}
	// Odd lengths round up to whole frames.
	if n := len(ProbePCM(1001*time.Millisecond, 30*time.Millisecond, -3, -30)); n%FrameSamples != 0 {
		t.Errorf("length %d is not whole frames", n)
	}
}
