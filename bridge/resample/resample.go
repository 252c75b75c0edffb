// Package resample converts mono 16-bit PCM between the three rates the
// bridge mixes at, 8, 16 and 48 kHz, so that legs on G.711, G.722 and Opus
// can share one mix. Each Resampler carries one stream's filter history
// across frames, so consecutive 20 ms frames join without clicks; Process
// does not allocate, because the mixer calls it for many legs on every tick.
//
// It converts by integer ratios only (2, 3 and 6) with a polyphase
// windowed-sinc FIR, which is exact and cheap for these rates; it does not
// do arbitrary ratios, drift compensation or channel mixing.
package resample

import "fmt"

// Resampler converts one stream from one rate to another. It is not safe
// for use by several goroutines at once.
type Resampler struct {
	from, to int
	up, down int // exactly one is > 1, or both are 1 for equal rates

	// coef holds, for downsampling, the prototype; for upsampling, the up
	// polyphase branches, each scaled by up, interleaved tap by tap so that
	// all branches are computed in one pass over the input window. Both are
	// stored time-reversed, so each output is a forward dot product with a
	// window of buf.
	coef []int32
	taps int // length of one dot product

	// buf holds taps-1 samples of history followed by up to chunk new ones.
	buf   []int16
	chunk int
	// next is, for downsampling, the index in the current input (counted
	// from the first new sample) of the sample the next output ends on; it
	// carries the decimation phase across calls whose length is not a
	// multiple of down.
	next int
}

// New returns a Resampler from fromRate to toRate, each one of 8000, 16000
// and 48000 Hz. Equal rates give a Resampler that copies.
func New(fromRate, toRate int) (*Resampler, error) {
	for _, r := range []int{fromRate, toRate} {
		if r != 8000 && r != 16000 && r != 48000 {
			return nil, fmt.Errorf("creating %d→%d Hz resampler: %d Hz: %w", fromRate, toRate, r, ErrRate)
		}
	}
	r := &Resampler{from: fromRate, to: toRate, up: 1, down: 1}
	switch {
	case fromRate == toRate:
		return r, nil
	case toRate > fromRate:
		r.up = toRate / fromRate
		q := quantize(design(r.up), float64(r.up))
		// Branch p produces output n*up+p from inputs n, n-1, ...:
		// y[n*up+p] = Σk q[k*up+p]·x[n-k]; store each branch reversed.
		r.taps = tapsPerPhase
		r.coef = make([]int32, len(q))
		for p := range r.up {
			for k := range r.taps {
				r.coef[(r.taps-1-k)*r.up+p] = q[k*r.up+p]
			}
		}
	default:
		r.down = fromRate / toRate
		q := quantize(design(r.down), 1)
		r.taps = len(q)
		r.coef = make([]int32, len(q))
		for k, c := range q {
			r.coef[len(q)-1-k] = c
		}
	}
	if err := checkHeadroom(r.coef, r.up); err != nil {
		return nil, fmt.Errorf("creating %d→%d Hz resampler: %w", fromRate, toRate, err)
	}
	// 20 ms of input per chunk, a multiple of down; longer inputs are
	// processed in several chunks.
	r.chunk = fromRate / 50
	r.buf = make([]int16, r.taps-1+r.chunk)
	r.Reset()
	return r, nil
}

// Reset forgets the stream's history, as if the Resampler were new; use it
// when a leg's audio restarts (a new SSRC, or after a long gap).
func (r *Resampler) Reset() {
	clear(r.buf)
	r.next = r.down - 1
}

// FromRate returns the input sample rate.
func (r *Resampler) FromRate() int { return r.from }

// ToRate returns the output sample rate.
func (r *Resampler) ToRate() int { return r.to }

// Delay is the group delay of the filter in output samples (rounded
// down): how far the output lags the input.
func (r *Resampler) Delay() int {
	switch {
	case r.up > 1:
		return (r.up*r.taps - 1) / 2
	case r.down > 1:
		return (r.taps - 1) / 2 / r.down
	}
	return 0
}

// OutLen returns how many samples Process will write for n input samples,
// given the decimation phase left by earlier calls; for whole 20 ms frames
// it is always n*to/from.
func (r *Resampler) OutLen(n int) int {
	switch {
	case r.up > 1:
		return n * r.up
	case r.down > 1:
		if n <= r.next {
			return 0
		}
		return (n-r.next-1)/r.down + 1
	}
	return n
}

// Process converts src and writes the result to dst, returning the number
// of samples written. dst should hold OutLen(len(src)) samples, which is
// len(src)*to/from for whole frames; if it is shorter the excess output is
// dropped (the stream's state still advances over all of src).
func (r *Resampler) Process(dst, src []int16) int {
	if r.up == 1 && r.down == 1 {
		return copy(dst, src)
	}
	written := 0
	for len(src) > 0 {
		n := min(len(src), r.chunk)
		if r.up > 1 {
			written += r.upChunk(dst[min(written, len(dst)):], src[:n])
		} else {
			written += r.downChunk(dst[min(written, len(dst)):], src[:n])
		}
		src = src[n:]
	}
	return min(written, len(dst))
}

// load appends src after the history in buf and returns the valid part.
func (r *Resampler) load(src []int16) []int16 {
	h := r.taps - 1
	copy(r.buf[h:], src)
	return r.buf[:h+len(src)]
}

// keep moves the last taps-1 samples of b to the front of buf as history.
func (r *Resampler) keep(b []int16) {
	copy(r.buf, b[len(b)-(r.taps-1):])
}

// upChunk interpolates: every input sample yields up outputs, one per
// polyphase branch. All branches share the input window, so they are
// computed together, loading each input sample once. It returns how many
// outputs it produced, writing those that fit in dst.
func (r *Resampler) upChunk(dst, src []int16) int {
	b := r.load(src)
	out := 0
	for i := range src {
		w := (*[tapsPerPhase]int16)(b[i : i+tapsPerPhase])
		switch r.up {
		case 2:
			a0, a1 := dot2(r.coef, w)
			out = put(dst, out, a0, a1)
		case 3:
			a0, a1, a2 := dot3(r.coef, w)
			out = put(dst, out, a0, a1, a2)
		case 6:
			a0, a1, a2, a3, a4, a5 := dot6(r.coef, w)
			out = put(dst, out, a0, a1, a2, a3, a4, a5)
		}
	}
	r.keep(b)
	return out
}

// put writes accumulators as samples at dst[out:], as far as dst allows,
// and returns the new output count.
func put(dst []int16, out int, acc ...int32) int {
	for _, a := range acc {
		if out < len(dst) {
			dst[out] = sample(int64(a))
		}
		out++
	}
	return out
}

// dot2, dot3 and dot6 compute all branches of a 2, 3 or 6-fold
// interpolator for one input window; c is interleaved tap by tap.
func dot2(c []int32, w *[tapsPerPhase]int16) (a0, a1 int32) {
	cc := (*[2 * tapsPerPhase]int32)(c)
	for j, x := range w {
		v := int32(x)
		a0 += cc[2*j] * v
		a1 += cc[2*j+1] * v
	}
	return
}

func dot3(c []int32, w *[tapsPerPhase]int16) (a0, a1, a2 int32) {
	cc := (*[3 * tapsPerPhase]int32)(c)
	for j, x := range w {
		v := int32(x)
		a0 += cc[3*j] * v
		a1 += cc[3*j+1] * v
		a2 += cc[3*j+2] * v
	}
	return
}

func dot6(c []int32, w *[tapsPerPhase]int16) (a0, a1, a2, a3, a4, a5 int32) {
	cc := (*[6 * tapsPerPhase]int32)(c)
	for j, x := range w {
		v := int32(x)
		k := 6 * j
		a0 += cc[k] * v
		a1 += cc[k+1] * v
		a2 += cc[k+2] * v
		a3 += cc[k+3] * v
		a4 += cc[k+4] * v
		a5 += cc[k+5] * v
	}
	return
}

// downChunk decimates: it filters and keeps every down-th output.
func (r *Resampler) downChunk(dst, src []int16) int {
	b := r.load(src)
	t := r.taps
	out := 0
	i := r.next
	for ; i < len(src); i += r.down {
		if out < len(dst) {
			dst[out] = dot(r.coef, b[i:i+t])
		}
		out++
	}
	r.next = i - len(src)
	r.keep(b)
	return out
}

// dot is the fixed-point dot product of c and x, rounded and saturated to
// int16. len(c) is a multiple of tapsPerPhase; working on fixed-size blocks
// lets the compiler drop bounds checks, and four accumulators break the
// dependency chain of the multiply-adds. checkHeadroom guarantees that none
// can overflow.
func dot(c []int32, x []int16) int16 {
	var a0, a1, a2, a3 int32
	for len(c) >= tapsPerPhase && len(x) >= tapsPerPhase {
		cb := (*[tapsPerPhase]int32)(c)
		xb := (*[tapsPerPhase]int16)(x)
		for i := 0; i < tapsPerPhase; i += 4 {
			a0 += cb[i] * int32(xb[i])
			a1 += cb[i+1] * int32(xb[i+1])
			a2 += cb[i+2] * int32(xb[i+2])
			a3 += cb[i+3] * int32(xb[i+3])
		}
		c, x = c[tapsPerPhase:], x[tapsPerPhase:]
	}
	return sample(int64(a0) + int64(a1) + int64(a2) + int64(a3))
}

// sample scales a fixed-point sum back to a rounded, saturated int16.
func sample(acc int64) int16 {
	s := (acc + 1<<(coefBits-1)) >> coefBits
	return int16(max(-32768, min(32767, s)))
}
