package loadgen

import (
	"math"
	"math/rand/v2"
	"time"
)

// The signals legs send. They are generated once, encoded to µ-law once and
// then replayed in 20 ms slices, so that sending a packet costs a copy and a
// system call and nothing else: the tool must not become the bottleneck of
// the server it measures.

const (
	// SampleRate is the G.711 sample rate in Hz.
	SampleRate = 8000
	// FrameSamples is the number of samples in one 20 ms packet.
	FrameSamples = SampleRate / 50
	// FrameDuration is the packetisation interval.
	FrameDuration = 20 * time.Millisecond
	// ProbeToneHz is the frequency of the probe burst, a quarter of the
	// sample rate, which makes the detector's Goertzel filter exact and cheap.
	ProbeToneHz = SampleRate / 4
)

// fullScale is the amplitude of a 0 dBFS sine peak.
const fullScale = 32767.0

func dbfsToAmplitude(dbfs float64) float64 {
	return fullScale * math.Pow(10, dbfs/20)
}

// framesFor rounds d up to whole 20 ms frames (at least one).
func framesFor(d time.Duration) int {
	n := int((d + FrameDuration - 1) / FrameDuration)
	if n < 1 {
		n = 1
	}
	return n
}

// SpeechLikePCM returns d (rounded up to whole frames) of a speech-like
// signal at 8 kHz: pink noise, amplitude-modulated at a syllable rate near
// 4 Hz, in phrases of 1 to 3 s separated by pauses of 0.2 to 0.8 s. levelDBFS
// sets the RMS level of the voiced parts relative to a full-scale sine's RMS.
// The same seed always yields the same signal.
//
// Such a signal exercises a mixer the way talkers do (loudness changes, talk
// spurts, pauses) without shipping recordings.
func SpeechLikePCM(seed uint64, d time.Duration, levelDBFS float64) []int16 {
	n := framesFor(d) * FrameSamples
	rng := rand.New(rand.NewPCG(seed, 0x5eed5eed))
	out := make([]float64, n)

	// Paul Kellet's economy pink-noise filter over white noise: a -3 dB per
	// octave spectrum like the long-term spectrum of speech above 500 Hz.
	var b0, b1, b2 float64
	// Phrase / pause state machine and the syllable oscillator.
	talking := true
	left := phraseSamples(rng)
	sylHz := 3.5 + rng.Float64()
	phase := rng.Float64() * 2 * math.Pi
	var sumSq float64
	var voiced int
	for i := range out {
		if left == 0 {
			talking = !talking
			if talking {
				left = phraseSamples(rng)
				sylHz = 3.5 + rng.Float64()
			} else {
				left = int(SampleRate * (0.2 + 0.6*rng.Float64()))
			}
		}
		left--
		w := rng.NormFloat64()
		b0 = 0.99765*b0 + w*0.0990460
		b1 = 0.96300*b1 + w*0.2965164
		b2 = 0.57000*b2 + w*1.0526913
		pink := b0 + b1 + b2 + w*0.1848

		phase += 2 * math.Pi * sylHz / SampleRate
		if phase > 2*math.Pi {
			phase -= 2 * math.Pi
		}
		env := 0.0
		if talking {
			// Raised sine: syllable nuclei with short gaps between them.
			s := 0.5 + 0.5*math.Sin(phase)
			env = s * s
		}
		v := pink * env
		out[i] = v
		if talking {
			sumSq += v * v
			voiced++
		}
	}
	scale := 0.0
	if voiced > 0 && sumSq > 0 {
		rms := math.Sqrt(sumSq / float64(voiced))
		// A full-scale sine has RMS fullScale/√2.
		target := dbfsToAmplitude(levelDBFS) / math.Sqrt2
		scale = target / rms
	}
	return toPCM(out, scale)
}

func phraseSamples(rng *rand.Rand) int {
	return int(SampleRate * (1 + 2*rng.Float64()))
}

func toPCM(v []float64, scale float64) []int16 {
	pcm := make([]int16, len(v))
	for i, x := range v {
		x *= scale
		switch {
		case x > math.MaxInt16:
			x = math.MaxInt16
		case x < math.MinInt16:
			x = math.MinInt16
		}
		pcm[i] = int16(math.Round(x))
	}
	return pcm
}

// NoisePCM returns d (rounded up to whole frames) of steady white noise at
// levelDBFS RMS: the comfort noise of a leg that is connected but silent.
func NoisePCM(seed uint64, d time.Duration, levelDBFS float64) []int16 {
	n := framesFor(d) * FrameSamples
	rng := rand.New(rand.NewPCG(seed, 0xc0ffee))
	out := make([]float64, n)
	for i := range out {
		out[i] = rng.NormFloat64()
	}
	return toPCM(out, dbfsToAmplitude(levelDBFS)/math.Sqrt2)
}

// ProbePCM returns one period of the probe signal: a steady white-noise bed
// at bedDBFS RMS throughout, plus a tone burst of ProbeToneHz at toneDBFS peak
// lasting burst (rounded up to whole frames), starting exactly at sample 0;
// the period is rounded up to whole frames.
//
// The burst starts at a frame boundary so the sender knows the send time of
// its first sample: the send time of that packet. The bed keeps the probe leg
// above the bridge's silence floor and louder than the talkers, so that
// talker selection (only the loudest few legs are mixed, with hysteresis)
// keeps it seated and the burst reaches the mix the moment it is sent.
func ProbePCM(period, burst time.Duration, toneDBFS, bedDBFS float64) []int16 {
	pf, bf := framesFor(period), framesFor(burst)
	if bf > pf {
		bf = pf
	}
	n := pf * FrameSamples
	rng := rand.New(rand.NewPCG(3, 0xbeef))
	bedAmp := dbfsToAmplitude(bedDBFS) / math.Sqrt2
	amp := dbfsToAmplitude(toneDBFS)
	v := make([]float64, n)
	for i := range v {
		v[i] = bedAmp * rng.NormFloat64()
		if i < bf*FrameSamples {
			// At fs/4 the sine takes the values 0, A, 0, -A; a phase of
			// π/4 gives ±A/√2 on every sample, so the very first sample
			// already carries the tone.
			v[i] += amp * math.Sin(math.Pi/2*float64(i)+math.Pi/4)
		}
	}
	return toPCM(v, 1)
}

// ULaw encodes pcm to a new µ-law slice.
func ULaw(pcm []int16) []byte {
	return EncodeULaw(make([]byte, len(pcm)), pcm)
}
