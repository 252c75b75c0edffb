package bridge

import "time"

// maxCatchUp is how many overdue frames a late mixer produces in one go.
// Within it, a stall (a slow tick, a descheduled process) costs the legs
// nothing but a short burst: every frame still goes out, with continuous
// sequence numbers and timestamps. Beyond it the frames are stale, and
// bursting them would only flood the peers' jitter buffers: the mixer skips
// them, counts the skip and carries on from the current deadline.
const maxCatchUp = 5

// pacer schedules a room's frames at absolute deadlines: frame n (counting
// from 1) is due at start + n·period. Because the deadlines do not depend on
// when the mixer actually woke up, lateness never accumulates: a wake-up
// that comes 70 ms late is followed at once by the frames it missed, and the
// next deadline is where it always was. The pacer only does the arithmetic;
// room.run owns the timer.
type pacer struct {
	start  time.Time
	period time.Duration
	n      int64 // frames produced or skipped so far
}

// advance accounts for the frames due by now. It returns how many to produce
// now (at most maxCatchUp) and how many overdue frames to skip before them.
func (p *pacer) advance(now time.Time) (produce, skip int) {
	due := int64(now.Sub(p.start) / p.period)
	behind := due - p.n
	if behind <= 0 {
		return 0, 0 // woken early (or the clock stepped back): wait more
	}
	p.n = due
	if behind > maxCatchUp {
		return maxCatchUp, int(behind - maxCatchUp)
	}
	return int(behind), 0
}

// wait returns how long after now the next frame is due (<= 0: already).
func (p *pacer) wait(now time.Time) time.Duration {
	return p.start.Add(time.Duration(p.n+1) * p.period).Sub(now)
}
