package interop

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// mix builds a clip of the given sines (freq → peak amplitude) plus white
// noise of the given RMS, deterministically.
func mix(rate int, d time.Duration, tones map[float64]float64, noiseRMS float64) Audio {
	n := int(d * time.Duration(rate) / time.Second)
	r := rand.New(rand.NewPCG(1, 2))
	s := make([]float64, n)
	for i := range s {
		for f, a := range tones {
			s[i] += a * math.Sin(2*math.Pi*f*float64(i)/float64(rate)+f)
		}
		s[i] += noiseRMS * r.NormFloat64()
	}
	return Audio{Rate: rate, Samples: s}
}

func dB(amp float64) float64 { return 20 * math.Log10(amp) }

func TestAnalyzeTonesFindsMixedTones(t *testing.T) {
	freqs := []float64{440, 1000, 1700}
	for _, rate := range []int{8000, 16000, 48000} {
		a := mix(rate, 3*time.Second, map[float64]float64{440: 0.25, 1000: 0.1}, 0.001)
		lv, err := AnalyzeTones(a, freqs, 100*time.Millisecond)
		if err != nil {
			t.Fatalf("%d Hz: AnalyzeTones: %v", rate, err)
		}
		if len(lv) != 30 {
			t.Fatalf("%d Hz: %d windows, want 30", rate, len(lv))
		}
		if lv[1].Start != 100*time.Millisecond {
			t.Errorf("%d Hz: second window starts at %v", rate, lv[1].Start)
		}
		sum, err := SummarizeTones(lv, freqs, 20)
		if err != nil {
			t.Fatalf("SummarizeTones: %v", err)
		}
		for _, s := range sum {
			t.Logf("%d Hz sampling: %v", rate, s)
		}
		if s := sum[0]; s.PresentRatio != 1 || math.Abs(s.MedianDB-dB(0.25)) > 0.5 {
			t.Errorf("%d Hz: 440 Hz tone: %v, want present everywhere at %.1f dBFS", rate, s, dB(0.25))
		}
		if s := sum[1]; s.PresentRatio != 1 || math.Abs(s.MedianDB-dB(0.1)) > 0.5 {
			t.Errorf("%d Hz: 1000 Hz tone: %v, want present everywhere at %.1f dBFS", rate, s, dB(0.1))
		}
		if s := sum[2]; s.PresentRatio != 0 || s.MedianDB > sum[1].MedianDB-40 {
			t.Errorf("%d Hz: absent 1700 Hz tone: %v", rate, s)
		}
	}
}

// A frequency between two DFT bins loses at most the Hann window's scalloping
// loss (1.42 dB).
func TestAnalyzeTonesOffBinLevel(t *testing.T) {
	a := mix(8000, time.Second, map[float64]float64{1234.5: 0.5}, 0)
	lv, err := AnalyzeTones(a, []float64{1234.5}, 100*time.Millisecond)
	if err != nil {
		t.Fatalf("AnalyzeTones: %v", err)
	}
	for _, w := range lv {
		if d := w.ToneDB[0] - dB(0.5); d > 0.1 || d < -1.5 {
			t.Fatalf("window at %v: level %.2f dBFS, want %.2f", w.Start, w.ToneDB[0], dB(0.5))
		}
	}
}

// Broadband noise at the tone's level must not count as the tone being there.
func TestAnalyzeTonesNoiseIsNotATone(t *testing.T) {
	a := mix(8000, 2*time.Second, nil, 0.1)
	lv, err := AnalyzeTones(a, []float64{1000}, 100*time.Millisecond)
	if err != nil {
		t.Fatalf("AnalyzeTones: %v", err)
	}
	sum, err := SummarizeTones(lv, []float64{1000}, 20)
	if err != nil {
		t.Fatalf("SummarizeTones: %v", err)
	}
	if sum[0].PresentRatio > 0 || sum[0].MedianAboveFloorDB > 10 {
		t.Fatalf("noise reported as a tone: %v", sum[0])
	}
}

func TestAnalyzeTonesSilence(t *testing.T) {
	a := Audio{Rate: 8000, Samples: make([]float64, 8000)}
	lv, err := AnalyzeTones(a, []float64{1000}, 100*time.Millisecond)
	if err != nil {
		t.Fatalf("AnalyzeTones: %v", err)
	}
	for _, w := range lv {
		if w.ToneDB[0] != silenceDB || w.FloorDB != silenceDB {
			t.Fatalf("silence measured as tone %g dB, floor %g dB", w.ToneDB[0], w.FloorDB)
		}
	}
}

func TestAnalyzeTonesErrors(t *testing.T) {
	a := Audio{Rate: 8000, Samples: make([]float64, 8000)}
	cases := []struct {
		name   string
		a      Audio
		freqs  []float64
		window time.Duration
		want   error
	}{
		{"no freqs", a, nil, 100 * time.Millisecond, ErrBadParam},
		{"above nyquist", a, []float64{4000}, 100 * time.Millisecond, ErrBadParam},
		{"negative freq", a, []float64{-1}, 100 * time.Millisecond, ErrBadParam},
		{"tiny window", a, []float64{1000}, time.Millisecond, ErrBadParam},
		{"no rate", Audio{}, []float64{1000}, 100 * time.Millisecond, ErrBadParam},
		{"too short", Audio{Rate: 8000, Samples: make([]float64, 100)}, []float64{1000}, 100 * time.Millisecond, ErrTooShort},
		{"no room for probes", Audio{Rate: 400, Samples: make([]float64, 400)}, []float64{100}, 100 * time.Millisecond, ErrBadParam},
	}
	for _, c := range cases {
		if _, err := AnalyzeTones(c.a, c.freqs, c.window); !errors.Is(err, c.want) {
			t.Errorf("%s: error = %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := SummarizeTones(nil, []float64{1}, 20); !errors.Is(err, ErrTooShort) {
		t.Errorf("SummarizeTones(nil) error = %v", err)
	}
	if _, err := SummarizeTones([]WindowLevels{{ToneDB: []float64{1}}}, []float64{1, 2}, 20); !errors.Is(err, ErrBadParam) {
		t.Errorf("SummarizeTones with mismatched levels error = %v", err)
	}
}

func TestSummarizeTonesCountsWindows(t *testing.T) {
	lv := []WindowLevels{
		{ToneDB: []float64{-10}, FloorDB: -40},
		{ToneDB: []float64{-10}, FloorDB: -25},
		{ToneDB: []float64{-30}, FloorDB: -60},
		{ToneDB: []float64{-20}, FloorDB: -30},
	}
	s, err := SummarizeTones(lv, []float64{700}, 20)
	if err != nil {
		t.Fatalf("SummarizeTones: %v", err)
	}
	want := ToneSummary{Freq: 700, PresentRatio: 0.5, MedianDB: -15, MedianAboveFloorDB: 22.5}
	if s[0] != want {
		t.Fatalf("got %+v, want %+v", s[0], want)
	}
}

// BenchmarkAnalyzeTones measures a 10 s opus recording (48 kHz), the largest
// the interop tests analyse.
func BenchmarkAnalyzeTones(b *testing.B) {
	a := mix(48000, 10*time.Second, map[float64]float64{440: 0.2, 1000: 0.2}, 0.001)
	freqs := []float64{440, 1000, 1700}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := AnalyzeTones(a, freqs, 100*time.Millisecond); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGoertzelWindow is the per-window inner loop; it must not allocate.
func BenchmarkGoertzelWindow(b *testing.B) {
	a := mix(8000, 100*time.Millisecond, map[float64]float64{440: 0.2}, 0.001)
	freqs := []float64{440, 1000, 1700}
	g := newGoertzelBank(8000, len(a.Samples), freqs, noiseProbes(freqs, probeMax))
	tones := make([]float64, len(freqs))
	b.ReportAllocs()
	for b.Loop() {
		g.measure(a.Samples, tones)
	}
	if n := testing.AllocsPerRun(10, func() { g.measure(a.Samples, tones) }); n != 0 {
		b.Fatalf("measure allocates %v times per window", n)
	}
}
