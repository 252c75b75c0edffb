package codec

import (
	"math"
	"math/cmplx"
)

// tone returns n samples of a sine of freq Hz at rate, peak amp, starting at
// sample offset start (so that consecutive frames join up).
func tone(n, start int, freq, rate, amp float64) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(math.Round(amp * math.Sin(2*math.Pi*freq*float64(start+i)/rate)))
	}
	return out
}

// goertzel returns the DFT bin of x at freq.
func goertzel(x []int16, freq, rate float64) complex128 {
	w := 2 * math.Pi * freq / rate
	coeff := 2 * math.Cos(w)
	var s1, s2 float64
	for _, v := range x {
		s0 := float64(v) + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	return complex(s1-s2*math.Cos(w), s2*math.Sin(w))
}

// toneAmplitude is the peak amplitude of the freq component of x; exact for
// a whole number of periods in x.
func toneAmplitude(x []int16, freq, rate float64) float64 {
	return 2 * cmplx.Abs(goertzel(x, freq, rate)) / float64(len(x))
}

// toneSNR is the ratio, in dB, of the energy of the freq component of x to
// the energy of everything else. It ignores delay and phase, which codecs
// are free to introduce.
func toneSNR(x []int16, freq, rate float64) float64 {
	var total float64
	for _, v := range x {
		total += float64(v) * float64(v)
	}
	a := toneAmplitude(x, freq, rate)
	sig := a * a / 2 * float64(len(x))
	return 10 * math.Log10(sig/math.Max(total-sig, 1e-9))
}

// dominant returns the frequency, on a 50 Hz grid up to rate/2, with the
// most energy in x.
func dominant(x []int16, rate float64) float64 {
	best, bestF := 0.0, 0.0
	for f := 50.0; f < rate/2; f += 50 {
		if p := cmplx.Abs(goertzel(x, f, rate)); p > best {
			best, bestF = p, f
		}
	}
	return bestF
}

// energy is the sum of squares of x.
func energy(x []int16) float64 {
	var e float64
	for _, v := range x {
		e += float64(v) * float64(v)
	}
	return e
}
