package pipeline

import "time"

// Clock is the queue's only source of time: when events arrive, when a
// storm ends, when a held issue or a retry is due, and the wait for the
// next of those. Tests give the queue a clock they move by hand, so that a
// storm's quiet period or a hold of a minute passes without sleeping.
type Clock interface {
	// Now is the current time.
	Now() time.Time
	// TimerAt returns a timer whose channel receives once the clock has
	// reached t. It takes a moment rather than a duration so that a clock
	// moved between reading Now and setting the timer cannot push the
	// moment further away.
	TimerAt(t time.Time) Timer
}

// Timer is a pending TimerAt.
type Timer interface {
	// C receives once, when the timer fires.
	C() <-chan time.Time
	// Stop keeps the timer from firing, if it has not yet.
	Stop()
}

// WallClock is the Clock of a running service: time.Now and time.Timer.
type WallClock struct{}

// Now returns time.Now().
func (WallClock) Now() time.Time { return time.Now() }

// TimerAt returns a time.Timer that fires at t.
func (WallClock) TimerAt(t time.Time) Timer { return wallTimer{time.NewTimer(time.Until(t))} }

type wallTimer struct{ t *time.Timer }

func (w wallTimer) C() <-chan time.Time { return w.t.C }
func (w wallTimer) Stop()               { w.t.Stop() }
