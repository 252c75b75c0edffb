package interop

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Noise-floor probes: levels are measured every probeStep Hz between
// probeMin and the top of the telephone band (or Nyquist, if lower), skipping
// probes within probeGuard of a tone under test. The floor of a window is the
// median probe level, which ignores a few stray spectral lines (harmonics,
// intermodulation) while following broadband codec noise.
const (
	probeMin   = 150.0
	probeMax   = 3800.0
	probeStep  = 50.0
	probeGuard = 60.0
	// silenceDB is the level reported for exact digital silence, so that
	// dB arithmetic never sees -Inf.
	silenceDB = -150.0
)

// WindowLevels is the spectrum summary of one analysis window.
type WindowLevels struct {
	// Start is the window's offset into the analysed clip.
	Start time.Duration
	// ToneDB holds, for each requested frequency in order, the amplitude of
	// that sinusoid in dBFS (a full-scale sine is 0 dBFS).
	ToneDB []float64
	// FloorDB is the window's noise floor, measured the same way at
	// frequencies away from the requested ones.
	FloorDB float64
}

// AnalyzeTones cuts a into consecutive windows of the given length and
// measures, in each, the level of every frequency in freqs and the noise
// floor, with Hann-windowed Goertzel filters. It is how the interop tests
// decide what a phone heard: a tone is "there" when it stands well above the
// floor, and "absent" when it is far below the tones that are there.
func AnalyzeTones(a Audio, freqs []float64, window time.Duration) ([]WindowLevels, error) {
	if a.Rate <= 0 || window <= 0 || len(freqs) == 0 {
		return nil, fmt.Errorf("analysing %d frequencies over %v windows at %d Hz: %w", len(freqs), window, a.Rate, ErrBadParam)
	}
	nyquist := float64(a.Rate) / 2
	for _, f := range freqs {
		if f <= 0 || f >= nyquist {
			return nil, fmt.Errorf("frequency %g Hz at %d Hz sampling: %w", f, a.Rate, ErrBadParam)
		}
	}
	n := int(window * time.Duration(a.Rate) / time.Second)
	if n < 16 {
		return nil, fmt.Errorf("window %v holds %d samples: %w", window, n, ErrBadParam)
	}
	if len(a.Samples) < n {
		return nil, fmt.Errorf("%v of audio, window %v: %w", a.Duration(), window, ErrTooShort)
	}
	probes := noiseProbes(freqs, min(probeMax, nyquist*0.95))
	if len(probes) < 5 {
		return nil, fmt.Errorf("only %d noise probes fit at %d Hz: %w", len(probes), a.Rate, ErrBadParam)
	}
	g := newGoertzelBank(a.Rate, n, freqs, probes)
	out := make([]WindowLevels, 0, len(a.Samples)/n)
	for off := 0; off+n <= len(a.Samples); off += n {
		w := WindowLevels{
			Start:  time.Duration(off) * time.Second / time.Duration(a.Rate),
			ToneDB: make([]float64, len(freqs)),
		}
		w.FloorDB = g.measure(a.Samples[off:off+n], w.ToneDB)
		out = append(out, w)
	}
	return out, nil
}

func noiseProbes(freqs []float64, top float64) []float64 {
	var probes []float64
	for p := probeMin; p <= top; p += probeStep {
		near := false
		for _, f := range freqs {
			if math.Abs(p-f) < probeGuard {
				near = true
				break
			}
		}
		if !near {
			probes = append(probes, p)
		}
	}
	return probes
}

// goertzelBank holds the precomputed window and filter coefficients for one
// window length, so measuring a window allocates nothing.
type goertzelBank struct {
	win        []float64
	norm       float64 // amplitude of a unit sine after windowing: sum(win)/2
	toneCoef   []float64
	probeCoef  []float64
	probeLevel []float64
	buf        []float64
}

func newGoertzelBank(rate, n int, freqs, probes []float64) *goertzelBank {
	g := &goertzelBank{
		win:        make([]float64, n),
		toneCoef:   make([]float64, len(freqs)),
		probeCoef:  make([]float64, len(probes)),
		probeLevel: make([]float64, len(probes)),
		buf:        make([]float64, n),
	}
	var sum float64
	for i := range g.win {
		g.win[i] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(n-1))
		sum += g.win[i]
	}
	g.norm = sum / 2
	for i, f := range freqs {
		g.toneCoef[i] = 2 * math.Cos(2*math.Pi*f/float64(rate))
	}
	for i, f := range probes {
		g.probeCoef[i] = 2 * math.Cos(2*math.Pi*f/float64(rate))
	}
	return g
}

// measure writes the level of every tone into tones and returns the floor.
func (g *goertzelBank) measure(x []float64, tones []float64) float64 {
	for i, v := range x {
		g.buf[i] = v * g.win[i]
	}
	for i, c := range g.toneCoef {
		tones[i] = g.level(c)
	}
	for i, c := range g.probeCoef {
		g.probeLevel[i] = g.level(c)
	}
	slices.Sort(g.probeLevel)
	return median(g.probeLevel)
}

// level runs one Goertzel filter over the windowed buffer and returns the
// amplitude of the sinusoid at that frequency in dBFS.
func (g *goertzelBank) level(coef float64) float64 {
	var s1, s2 float64
	for _, v := range g.buf {
		s1, s2 = v+coef*s1-s2, s1
	}
	p := s1*s1 + s2*s2 - coef*s1*s2
	if p <= 0 {
		return silenceDB
	}
	return max(silenceDB, 20*math.Log10(math.Sqrt(p)/g.norm))
}

// median of a sorted, non-empty slice.
func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// ToneSummary condenses one frequency's levels over all windows.
type ToneSummary struct {
	// Freq is the frequency in Hz.
	Freq float64
	// PresentRatio is the share of windows where the tone stood at least
	// the requested margin above that window's noise floor.
	PresentRatio float64
	// MedianDB is the median level of the tone over all windows, in dBFS.
	MedianDB float64
	// MedianAboveFloorDB is the median of (tone level − floor) in dB.
	MedianAboveFloorDB float64
}

// SummarizeTones turns per-window levels into one ToneSummary per frequency
// (same order as the freqs given to AnalyzeTones), counting a tone as present
// in a window when it is at least marginDB above the window's floor.
func SummarizeTones(levels []WindowLevels, freqs []float64, marginDB float64) ([]ToneSummary, error) {
	if len(levels) == 0 {
		return nil, fmt.Errorf("summarising no windows: %w", ErrTooShort)
	}
	out := make([]ToneSummary, len(freqs))
	lv := make([]float64, len(levels))
	snr := make([]float64, len(levels))
	for k, f := range freqs {
		present := 0
		for i, w := range levels {
			if len(w.ToneDB) != len(freqs) {
				return nil, fmt.Errorf("window %d has %d levels for %d frequencies: %w", i, len(w.ToneDB), len(freqs), ErrBadParam)
			}
			lv[i] = w.ToneDB[k]
			snr[i] = w.ToneDB[k] - w.FloorDB
			if snr[i] >= marginDB {
				present++
			}
		}
		slices.Sort(lv)
		slices.Sort(snr)
		out[k] = ToneSummary{
			Freq:               f,
			PresentRatio:       float64(present) / float64(len(levels)),
			MedianDB:           median(lv),
			MedianAboveFloorDB: median(snr),
		}
	}
	return out, nil
}

// String renders a summary for test logs.
func (s ToneSummary) String() string {
	return fmt.Sprintf("%g Hz: present in %.0f%% of windows, median %.1f dBFS, %.1f dB above floor",
		s.Freq, 100*s.PresentRatio, s.MedianDB, s.MedianAboveFloorDB)
}
