package sip

import "time"

// Clock is the time source of the dialog timers (2xx retransmission, ACK
// wait, ringing, session timers), injected so that tests control time.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine after d.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a scheduled call of a Clock.
type Timer interface {
	// Stop prevents the call; it reports whether it did.
	Stop() bool
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
