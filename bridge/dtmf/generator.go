package dtmf

import (
	"fmt"
	"math"
	"time"
)

// Generator defaults.
const (
	// DefaultToneLevel is the peak level of each of the two frequencies in
	// dBFS: about -10 dBm0 per tone in G.711, the middle of Q.23's range.
	DefaultToneLevel = -13.0
	// DefaultToneDuration and DefaultTonePause time each generated press;
	// both are well above the 40 ms receivers require.
	DefaultToneDuration = 100 * time.Millisecond
	DefaultTonePause    = 80 * time.Millisecond
)

// maxQueue bounds the digits a Generator holds.
const maxQueue = 64

// Generator writes DTMF tones into PCM: each queued digit plays for the tone
// duration, followed by the pause, with continuous phase across calls. A leg
// sending DTMF in-band pulls its frames from one. It does not allocate after
// creation and is not safe for concurrent use.
type Generator struct {
	rate        int
	amp         float64
	tone, pause int // samples

	queue      [maxQueue]rune
	head, size int

	digit          rune
	left           int     // samples left of the current tone and pause
	phaseR, phaseC float64 // radians
	stepR, stepC   float64
}

// NewGenerator returns a Generator at rate (8000, 16000 or 48000 Hz) with
// each tone at level dBFS, lasting tone and followed by pause; zero values
// take the defaults.
func NewGenerator(rate int, level float64, tone, pause time.Duration) (*Generator, error) {
	if err := checkRate(rate); err != nil {
		return nil, fmt.Errorf("creating DTMF generator: %w", err)
	}
	if level == 0 {
		level = DefaultToneLevel
	}
	if tone == 0 {
		tone = DefaultToneDuration
	}
	if pause == 0 {
		pause = DefaultTonePause
	}
	// Two tones at level each must not clip: each at most -6 dBFS.
	if level > -6 || tone < 0 || pause < 0 || tone > MaxDuration {
		return nil, fmt.Errorf("creating DTMF generator: level %.1f dBFS, tone %v, pause %v: %w", level, tone, pause, ErrConfig)
	}
	return &Generator{
		rate:  rate,
		amp:   32767 * math.Pow(10, level/20),
		tone:  int(int64(rate) * int64(tone) / int64(time.Second)),
		pause: int(int64(rate) * int64(pause) / int64(time.Second)),
	}, nil
}

// Queue adds digits to play; it rejects the whole string if one character
// is not a DTMF digit or the queue would overflow.
func (g *Generator) Queue(digits string) error {
	if g.size+len(digits) > maxQueue {
		return fmt.Errorf("queueing %d DTMF digits: %d already queued: %w", len(digits), g.size, ErrConfig)
	}
	for _, c := range digits {
		if _, err := Normalize(c); err != nil {
			return fmt.Errorf("queueing DTMF digits %q: %w", digits, err)
		}
	}
	for _, c := range digits {
		c, _ = Normalize(c)
		g.queue[(g.head+g.size)%maxQueue] = c
		g.size++
	}
	return nil
}

// QueueDigit adds one digit to play, like Queue, without the string: the
// bridge queues digits one at a time from its mixer, where it must not
// allocate.
func (g *Generator) QueueDigit(d rune) error {
	c, err := Normalize(d)
	if err != nil {
		return fmt.Errorf("queueing a DTMF digit: %w", err)
	}
	if g.size == maxQueue {
		return fmt.Errorf("queueing DTMF digit %q: %d already queued: %w", c, g.size, ErrConfig)
	}
	g.queue[(g.head+g.size)%maxQueue] = c
	g.size++
	return nil
}

// Busy reports whether a tone or its pause is playing or digits are queued.
func (g *Generator) Busy() bool { return g.left > 0 || g.size > 0 }

// Fill overwrites pcm with the next samples: tones while digits are
// playing, silence after. It returns how many samples (from the start of
// pcm) belonged to a tone or pause; the rest is silence.
func (g *Generator) Fill(pcm []int16) int {
	used := 0
	for i := range pcm {
		if g.left == 0 && !g.next() {
			clear(pcm[i:])
			return used
		}
		used++
		// Samples of the tone come first, then those of the pause.
		if g.left > g.pause {
			v := g.amp * (math.Sin(g.phaseR) + math.Sin(g.phaseC))
			pcm[i] = int16(math.Round(v))
			g.phaseR = wrap(g.phaseR + g.stepR)
			g.phaseC = wrap(g.phaseC + g.stepC)
		} else {
			pcm[i] = 0
		}
		g.left--
	}
	return used
}

// wrap keeps a phase that grows by less than 2π per step within [0, 2π).
func wrap(p float64) float64 {
	if p >= 2*math.Pi {
		p -= 2 * math.Pi
	}
	return p
}

// next starts the next queued digit.
func (g *Generator) next() bool {
	if g.size == 0 {
		return false
	}
	g.digit = g.queue[g.head]
	g.head = (g.head + 1) % maxQueue
	g.size--
	r, c, _ := gridPos(g.digit)
	g.stepR = 2 * math.Pi * rowFreqs[r] / float64(g.rate)
	g.stepC = 2 * math.Pi * colFreqs[c] / float64(g.rate)
	g.phaseR, g.phaseC = 0, 0
	g.left = g.tone + g.pause
	return true
}

// AppendTone appends to dst one DTMF tone for digit at rate, with each
// frequency at level dBFS and lasting d: a convenience for tests and for
// building announcements.
func AppendTone(dst []int16, rate int, digit rune, level float64, d time.Duration) ([]int16, error) {
	g, err := NewGenerator(rate, level, d, 0)
	if err != nil {
		return dst, err
	}
	g.pause = 0
	if err := g.Queue(string(digit)); err != nil {
		return dst, err
	}
	n := g.tone
	start := len(dst)
	dst = append(dst, make([]int16, n)...)
	g.Fill(dst[start:])
	return dst, nil
}
