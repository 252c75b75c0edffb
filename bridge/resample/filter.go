package resample

import (
	"fmt"
	"math"
)

// Filter design. One low-pass prototype serves both directions of a ratio:
// downsampling uses it as the anti-aliasing filter, upsampling as the
// anti-imaging (interpolation) filter split into polyphase branches.
//
// The prototype is a Kaiser-windowed sinc at the high rate with its cutoff
// (-6 dB) at the Nyquist frequency of the low rate. With tapsPerPhase taps
// per branch the transition band is about 15 % of the low rate wide, i.e.
// roughly 3.4 to 4.6 kHz for 8 kHz: aliases land only above the telephone
// band, and the stopband is about 55 dB down. The cost per output sample of
// the low-rate side is ratio*tapsPerPhase multiply-adds, whichever way we
// convert, so it stays cheap enough for hundreds of legs per tick.
const (
	tapsPerPhase = 24
	kaiserBeta   = 5.1 // ≈ 55 dB stopband (Kaiser's formula 0.1102*(A-8.7))
	coefBits     = 14  // Q14 coefficients: enough precision for 55 dB, and headroom for sums
)

// design returns the windowed-sinc prototype of ratio*tapsPerPhase taps,
// normalised to unity gain at DC.
func design(ratio int) []float64 {
	n := ratio * tapsPerPhase
	fc := 0.5 / float64(ratio) // cutoff in cycles per high-rate sample
	mid := float64(n-1) / 2
	h := make([]float64, n)
	var sum float64
	for i := range h {
		t := float64(i) - mid
		v := 2 * fc
		if t != 0 {
			v = math.Sin(2*math.Pi*fc*t) / (math.Pi * t)
		}
		r := t / (mid + 0.5) // window spans the n taps symmetrically
		v *= bessel0(kaiserBeta*math.Sqrt(max(0, 1-r*r))) / bessel0(kaiserBeta)
		h[i] = v
		sum += v
	}
	for i := range h {
		h[i] /= sum
	}
	return h
}

// bessel0 is the modified Bessel function of the first kind, order 0, by
// its power series; it converges quickly for the small arguments used here.
func bessel0(x float64) float64 {
	sum, term := 1.0, 1.0
	q := x * x / 4
	for k := 1; k < 50; k++ {
		term *= q / float64(k*k)
		sum += term
		if term < sum*1e-12 {
			break
		}
	}
	return sum
}

// quantize converts gain*h to fixed point with coefBits fraction bits.
func quantize(h []float64, gain float64) []int32 {
	q := make([]int32, len(h))
	for i, v := range h {
		q[i] = int32(math.Round(v * gain * (1 << coefBits)))
	}
	return q
}

// checkHeadroom verifies that no dot product of a branch with int16 samples
// can overflow the int32 accumulators of dot. coef interleaves branches
// filters: branch p is coef[p], coef[p+branches], ...
func checkHeadroom(coef []int32, branches int) error {
	for p := range branches {
		var abs int64
		for i := p; i < len(coef); i += branches {
			abs += int64(max(coef[i], -coef[i]))
		}
		if abs*(1<<15) > math.MaxInt32 {
			return fmt.Errorf("filter gain %d/%d could overflow: %w", abs, 1<<coefBits, errDesign)
		}
	}
	return nil
}
