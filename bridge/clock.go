package bridge

import "time"

// clock is the bridge's view of time. It is injected so that tests drive the
// mixer clock, the media timeout and the RTCP report timer without sleeping.
type clock interface {
	Now() time.Time
	// NewTimer returns a timer that fires once, d from now.
	NewTimer(d time.Duration) timer
}

// timer is the subset of *time.Timer the mixer needs. The mixer schedules
// each wake-up at an absolute deadline (start + n·20 ms) and re-arms the
// timer with Reset, so that the lateness of one wake-up never shifts the
// following ones (a Ticker drops ticks when its reader falls behind).
type timer interface {
	C() <-chan time.Time
	// Reset re-arms the timer to fire d from now (at once when d <= 0).
	Reset(d time.Duration)
	Stop()
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTimer(d time.Duration) timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time   { return r.t.C }
func (r realTimer) Reset(d time.Duration) { r.t.Reset(d) }
func (r realTimer) Stop()                 { r.t.Stop() }
