package dtmf

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Source is the method by which a digit arrived.
type Source uint8

// Sources of digits.
const (
	SourceRFC4733 Source = iota + 1 // RTP telephone-event
	SourceINFO                      // SIP INFO body
	SourceInband                    // tones detected in the audio
	SourceH245                      // H.245 UserInputIndication
)

// String names the source for logs and metrics labels.
func (s Source) String() string {
	switch s {
	case SourceRFC4733:
		return "rfc4733"
	case SourceINFO:
		return "info"
	case SourceInband:
		return "inband"
	case SourceH245:
		return "h245"
	}
	return fmt.Sprintf("source(%d)", uint8(s))
}

// Verdict is what a Stream did with a reported digit.
type Verdict uint8

// Verdicts of Stream.Push.
const (
	// Accepted: a new press; pass it on.
	Accepted Verdict = iota + 1
	// Duplicate: another method already reported this press.
	Duplicate
	// Garbage: not a DTMF digit, or an unknown source.
	Garbage
	// Limited: dropped because the leg sends digits faster than allowed.
	Limited
)

// String names the verdict for logs and metrics labels.
func (v Verdict) String() string {
	switch v {
	case Accepted:
		return "accepted"
	case Duplicate:
		return "duplicate"
	case Garbage:
		return "garbage"
	case Limited:
		return "limited"
	}
	return fmt.Sprintf("verdict(%d)", uint8(v))
}

// Stream defaults.
const (
	// DefaultDedupWindow is how long after a press the same digit from
	// another method is taken as the same press. INFO travels through the
	// SIP stack and proxies, so it may trail RTP by a few hundred ms.
	DefaultDedupWindow = 500 * time.Millisecond
	// DefaultRate and DefaultBurst bound accepted digits: no hand presses
	// more than about ten keys a second for long.
	DefaultRate  = 10
	DefaultBurst = 20
)

// recentPresses is how many recent presses a Stream remembers for
// collapsing duplicates; more than any hand presses within a window.
const recentPresses = 16

// StreamConfig tunes a Stream. Zero fields take the defaults.
type StreamConfig struct {
	// DedupWindow: the same digit from a different method within this time
	// of a press is the same press.
	DedupWindow time.Duration
	// Rate is the sustained number of digits per second accepted, Burst the
	// number accepted at once after a quiet time.
	Rate, Burst int
}

// StreamStats counts what a Stream did, per verdict.
type StreamStats struct {
	Accepted, Duplicates, Garbage, Limited uint64
}

// press is a remembered press and the sources that reported it.
type press struct {
	digit   rune
	at      time.Time
	sources uint8 // bit per Source
}

// Stream merges the digits of one leg from every method into one stream of
// presses. The same key press reported by two methods (a phone that sends
// both RFC 4733 and INFO, or in-band tones next to telephone-events) counts
// once: a digit from a method that has not yet reported the latest matching
// press within DedupWindow is that press. The same digit twice from one
// method is two presses. Push is safe for concurrent use (RTP and SIP
// arrive on different goroutines) and does not allocate.
type Stream struct {
	window time.Duration
	rate   float64 // tokens per second
	burst  float64

	mu     sync.Mutex
	recent [recentPresses]press
	next   int // ring position of the next press
	tokens float64
	last   time.Time // of the last token refill

	accepted, duplicates, garbage, limited atomic.Uint64
}

// NewStream returns a Stream for cfg.
func NewStream(cfg StreamConfig) (*Stream, error) {
	if cfg.DedupWindow == 0 {
		cfg.DedupWindow = DefaultDedupWindow
	}
	if cfg.Rate == 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.Burst == 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.DedupWindow < 0 || cfg.Rate < 0 || cfg.Burst < 0 {
		return nil, fmt.Errorf("creating DTMF stream: %+v: %w", cfg, ErrConfig)
	}
	return &Stream{
		window: cfg.DedupWindow,
		rate:   float64(cfg.Rate),
		burst:  float64(cfg.Burst),
		tokens: float64(cfg.Burst),
	}, nil
}

// Push reports digit d from src at time at and returns what became of it,
// with the normalized digit. Only Accepted digits are new presses.
func (s *Stream) Push(d rune, src Source, at time.Time) (rune, Verdict) {
	d, err := Normalize(d)
	if err != nil || src < SourceRFC4733 || src > SourceH245 {
		s.garbage.Add(1)
		return 0, Garbage
	}
	bit := uint8(1) << src

	s.mu.Lock()
	defer s.mu.Unlock()
	// The oldest press of this digit, within the window, that src has not
	// reported yet is the one src is reporting now.
	match := -1
	for i := range recentPresses {
		k := (s.next + i) % recentPresses // oldest first
		p := &s.recent[k]
		if p.digit != d || p.sources&bit != 0 {
			continue
		}
		if age := at.Sub(p.at); age > s.window || age < -s.window {
			continue
		}
		match = k
		break
	}
	if match >= 0 {
		s.recent[match].sources |= bit
		s.duplicates.Add(1)
		return d, Duplicate
	}
	// A new press: remember it even if it is dropped, so that its copy
	// from another method is dropped with it.
	s.recent[s.next] = press{digit: d, at: at, sources: bit}
	s.next = (s.next + 1) % recentPresses
	if !s.take(at) {
		s.limited.Add(1)
		return d, Limited
	}
	s.accepted.Add(1)
	return d, Accepted
}

// take refills the token bucket up to at and spends one token.
func (s *Stream) take(at time.Time) bool {
	if s.last.IsZero() {
		s.last = at
	}
	if el := at.Sub(s.last); el > 0 {
		s.tokens = min(s.burst, s.tokens+el.Seconds()*s.rate)
		s.last = at
	}
	if s.tokens < 1 {
		return false
	}
	s.tokens--
	return true
}

// Stats returns the stream's counters.
func (s *Stream) Stats() StreamStats {
	return StreamStats{
		Accepted:   s.accepted.Load(),
		Duplicates: s.duplicates.Load(),
		Garbage:    s.garbage.Load(),
		Limited:    s.limited.Load(),
	}
}
