package resample

import (
	"errors"
	"fmt"
	"math"
	"math/cmplx"
	"testing"
)

var rates = []int{8000, 16000, 48000}

func tone(n, start int, freq, rate, amp float64) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(math.Round(amp * math.Sin(2*math.Pi*freq*float64(start+i)/rate)))
	}
	return out
}

// amplitude is the peak amplitude of the freq component of x (Goertzel);
// exact when x spans a whole number of periods.
func amplitude(x []int16, freq, rate float64) float64 {
	w := 2 * math.Pi * freq / rate
	coeff := 2 * math.Cos(w)
	var s1, s2 float64
	for _, v := range x {
		s0 := float64(v) + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	return 2 * cmplx.Abs(complex(s1-s2*math.Cos(w), s2*math.Sin(w))) / float64(len(x))
}

// rms is the root mean square of x.
func rms(x []int16) float64 {
	var e float64
	for _, v := range x {
		e += float64(v) * float64(v)
	}
	return math.Sqrt(e / float64(len(x)))
}

// run resamples frames 20 ms frames of a tone frame by frame and returns the
// output after the first two frames (filter warm-up).
func run(t *testing.T, from, to int, freq, amp float64, frames int) []int16 {
	t.Helper()
	r, err := New(from, to)
	if err != nil {
		t.Fatal(err)
	}
	in, out := from/50, to/50
	var got []int16
	dst := make([]int16, out)
	for f := range frames {
		n := r.Process(dst, tone(in, f*in, freq, float64(from), amp))
		if n != out {
			t.Fatalf("%d→%d frame %d: wrote %d samples, want %d", from, to, f, n, out)
		}
		if f >= 2 {
			got = append(got, dst...)
		}
	}
	return got
}

func db(x float64) float64 { return 20 * math.Log10(x) }

// The acceptance test of the anti-aliasing filter.
func TestDown48To8(t *testing.T) {
	const amp = 16000
	pass := run(t, 48000, 8000, 1000, amp, 20)
	if g := db(amplitude(pass, 1000, 8000) / amp); math.Abs(g) > 1 {
		t.Errorf("1 kHz gain %.2f dB, want within ±1 dB", g)
	}
	// 6 kHz would alias to 2 kHz; all that is left of it counts.
	stop := run(t, 48000, 8000, 6000, amp, 20)
	g := db(rms(stop) * math.Sqrt2 / amp)
	t.Logf("6 kHz → %.1f dB", g)
	if g > -30 {
		t.Errorf("6 kHz leaks at %.1f dB, want at most -30 dB", g)
	}
}

func TestAllDirections(t *testing.T) {
	const amp = 16000
	for _, from := range rates {
		for _, to := range rates {
			t.Run(fmt.Sprintf("%d-%d", from, to), func(t *testing.T) {
				// 1 kHz passes everywhere.
				out := run(t, from, to, 1000, amp, 12)
				if g := db(amplitude(out, 1000, float64(to)) / amp); math.Abs(g) > 1 {
					t.Errorf("1 kHz gain %.2f dB, want within ±1 dB", g)
				}
				low := float64(min(from, to))
				high := float64(max(from, to))
				if from == to {
					return
				}
				// A tone at 75 % of the low rate's Nyquist still passes (3 kHz at 8 kHz).
				f := 0.375 * low
				out = run(t, from, to, f, amp, 12)
				if g := db(amplitude(out, f, float64(to)) / amp); math.Abs(g) > 1 {
					t.Errorf("%.0f Hz gain %.2f dB, want within ±1 dB", f, g)
				}
				if to < from {
					// Something well above the output's Nyquist is removed,
					// not folded back.
					f = 0.75 * low
					out = run(t, from, to, f, amp, 12)
					if g := db(rms(out) * math.Sqrt2 / amp); g > -40 {
						t.Errorf("%.0f Hz leaks at %.1f dB, want at most -40 dB", f, g)
					}
					return
				}
				// Upsampling 1 kHz must not create images at low-1k, low+1k, ...
				out = run(t, from, to, 1000, amp, 12)
				for k := 1.0; k*low-1000 < high/2; k++ {
					for _, img := range []float64{k*low - 1000, k*low + 1000} {
						if img >= high/2 {
							continue
						}
						if g := db(amplitude(out, img, high) / amp); g > -40 {
							t.Errorf("image at %.0f Hz at %.1f dB, want at most -40 dB", img, g)
						}
					}
				}
			})
		}
	}
}

func TestIdentity(t *testing.T) {
	for _, rate := range rates {
		r, err := New(rate, rate)
		if err != nil {
			t.Fatal(err)
		}
		src := tone(rate/50, 0, 1234, float64(rate), 20000)
		dst := make([]int16, len(src))
		if n := r.Process(dst, src); n != len(src) {
			t.Fatalf("%d Hz identity wrote %d, want %d", rate, n, len(src))
		}
		for i := range src {
			if dst[i] != src[i] {
				t.Fatalf("%d Hz identity differs at %d: %d != %d", rate, i, dst[i], src[i])
			}
		}
		if r.Delay() != 0 {
			t.Errorf("identity delay %d", r.Delay())
		}
	}
}

// State carries across calls: cutting the stream into frames of any size
// gives exactly the output of one call over the whole stream, so there are
// no discontinuities at frame edges.
func TestStreamingIsSeamless(t *testing.T) {
	for _, from := range rates {
		for _, to := range rates {
			whole, err := New(from, to)
			if err != nil {
				t.Fatal(err)
			}
			src := tone(from/2, 0, 700, float64(from), 12000) // 500 ms, longer than a chunk
			want := make([]int16, whole.OutLen(len(src)))
			if n := whole.Process(want, src); n != len(want) {
				t.Fatalf("%d→%d whole: wrote %d, want %d", from, to, n, len(want))
			}
			for _, size := range []int{from / 50, from / 100, 7, 1, from / 50 * 3} {
				pieces, _ := New(from, to)
				var got []int16
				for s := src; len(s) > 0; {
					n := min(size, len(s))
					dst := make([]int16, pieces.OutLen(n))
					if w := pieces.Process(dst, s[:n]); w != len(dst) {
						t.Fatalf("%d→%d piece %d: wrote %d, want %d", from, to, size, w, len(dst))
					}
					got = append(got, dst...)
					s = s[n:]
				}
				if len(got) != len(want) {
					t.Fatalf("%d→%d in pieces of %d: %d samples, want %d", from, to, size, len(got), len(want))
				}
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("%d→%d in pieces of %d: sample %d = %d, want %d", from, to, size, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// Reset returns to the state of a new Resampler.
func TestReset(t *testing.T) {
	r, _ := New(48000, 16000)
	fresh, _ := New(48000, 16000)
	junk := tone(960, 0, 3000, 48000, 30000)
	dst := make([]int16, 320)
	r.Process(dst, junk[:7]) // also disturbs the decimation phase
	r.Process(dst, junk)
	r.Reset()
	src := tone(960, 0, 500, 48000, 10000)
	a, b := make([]int16, 320), make([]int16, 320)
	if r.Process(a, src) != 320 || fresh.Process(b, src) != 320 {
		t.Fatal("short output")
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("after Reset sample %d = %d, fresh gives %d", i, a[i], b[i])
		}
	}
}

// Full-scale input in the worst pattern must saturate, not wrap.
func TestFullScale(t *testing.T) {
	for _, from := range rates {
		for _, to := range rates {
			r, _ := New(from, to)
			src := make([]int16, from/50)
			for i := range src {
				src[i] = math.MaxInt16
				if i%2 == 1 {
					src[i] = math.MinInt16
				}
			}
			sq := make([]int16, from/50) // square wave at 1/8 of the rate: overshoots
			for i := range sq {
				sq[i] = math.MaxInt16
				if i/4%2 == 1 {
					sq[i] = math.MinInt16
				}
			}
			dst := make([]int16, to/50)
			for range 3 {
				r.Process(dst, src)
				r.Process(dst, sq)
			}
			// A DC input at full scale stays near full scale, positive.
			for i := range src {
				src[i] = math.MaxInt16
			}
			for range 3 {
				r.Process(dst, src)
			}
			for i, v := range dst {
				if v < 32000 {
					t.Fatalf("%d→%d: full-scale DC gives %d at %d", from, to, v, i)
				}
			}
		}
	}
}

func TestShortDst(t *testing.T) {
	r, _ := New(8000, 48000)
	ref, _ := New(8000, 48000)
	src := tone(160, 0, 440, 8000, 8000)
	short := make([]int16, 100)
	if n := r.Process(short, src); n != 100 {
		t.Errorf("short dst: wrote %d, want 100", n)
	}
	full := make([]int16, 960)
	ref.Process(full, src)
	for i := range short {
		if short[i] != full[i] {
			t.Fatalf("short dst sample %d = %d, want %d", i, short[i], full[i])
		}
	}
	// The state advanced over all of src: the next frame matches.
	a, b := make([]int16, 960), make([]int16, 960)
	r.Process(a, src)
	ref.Process(b, src)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("after short dst, sample %d = %d, want %d", i, a[i], b[i])
		}
	}
}

func TestBadRates(t *testing.T) {
	for _, p := range [][2]int{{44100, 48000}, {8000, 32000}, {0, 8000}, {16000, -1}, {12000, 12000}} {
		if _, err := New(p[0], p[1]); !errors.Is(err, ErrRate) {
			t.Errorf("New(%d, %d) err = %v, want ErrRate", p[0], p[1], err)
		}
	}
}

func TestDelay(t *testing.T) {
	// An impulse comes out Delay() samples late (the peak of the filter).
	for _, p := range [][2]int{{8000, 48000}, {48000, 8000}, {16000, 48000}, {48000, 16000}, {8000, 16000}, {16000, 8000}} {
		r, _ := New(p[0], p[1])
		src := make([]int16, p[0]/50)
		src[0] = 30000
		if r.down > 1 {
			src[0], src[r.next] = 0, 30000 // on the decimation phase
		}
		dst := make([]int16, r.OutLen(len(src)))
		r.Process(dst, src)
		peak := 0
		for i, v := range dst {
			if v > dst[peak] {
				peak = i
			}
		}
		if d := r.Delay(); peak < d-1 || peak > d+1 {
			t.Errorf("%d→%d: impulse peak at %d, Delay() = %d", p[0], p[1], peak, d)
		}
	}
}
