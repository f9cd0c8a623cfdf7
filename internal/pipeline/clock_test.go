package pipeline

import (
	"sync"
	"testing"
	"time"
)

var _ Clock = (*fakeClock)(nil)

// fakeClock is a Clock that moves only when a test moves it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c  *fakeClock
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) TimerAt(at time.Time) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: at, ch: make(chan time.Time, 1)}
	if !at.After(c.now) {
		t.ch <- c.now
		return t
	}
	c.timers = append(c.timers, t)
	return t
}

// Advance moves the clock d forward and fires the timers it reaches.
func (c *fakeClock) Advance(d time.Duration) { c.AdvanceTo(c.Now().Add(d)) }

// AdvanceTo moves the clock to t, if t is later, and fires the timers it
// reaches.
func (c *fakeClock) AdvanceTo(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
	kept := c.timers[:0]
	for _, tm := range c.timers {
		if tm.at.After(c.now) {
			kept = append(kept, tm)
			continue
		}
		tm.ch <- c.now
	}
	c.timers = kept
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Stop() {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	for i, tm := range t.c.timers {
		if tm == t {
			t.c.timers = append(t.c.timers[:i], t.c.timers[i+1:]...)
			return
		}
	}
}

// TestFakeClock: a timer fires once the clock reaches its moment, at once
// when that moment has passed, and never once stopped.
func TestFakeClock(t *testing.T) {
	c := newFakeClock()
	start := c.Now()
	fired := func(tm Timer) bool {
		select {
		case <-tm.C():
			return true
		default:
			return false
		}
	}
	cases := []struct {
		name    string
		at      time.Duration // from start
		advance time.Duration // from start, before checking
		stop    bool
		want    bool
	}{
		{"not yet", time.Second, 999 * time.Millisecond, false, false},
		{"reached", time.Second, time.Second, false, true},
		{"passed", time.Second, 2 * time.Second, false, true},
		{"in the past when set", -time.Second, 0, false, true},
		{"stopped", time.Second, 2 * time.Second, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newFakeClock()
			c.now = start
			tm := c.TimerAt(start.Add(tc.at))
			if tc.stop {
				tm.Stop()
			}
			c.AdvanceTo(start.Add(tc.advance))
			if got := fired(tm); got != tc.want {
				t.Errorf("fired: got %v, want %v", got, tc.want)
			}
			if got := c.Now(); got != start.Add(max(tc.advance, 0)) {
				t.Errorf("now: got %v, want %v", got, start.Add(tc.advance))
			}
		})
	}
}

// TestWallClock: a timer of the wall clock set to a moment already past
// fires at once.
func TestWallClock(t *testing.T) {
	c := WallClock{}
	tm := c.TimerAt(c.Now().Add(-time.Second))
	defer tm.Stop()
	select {
	case <-tm.C():
	case <-time.After(10 * time.Second):
		t.Fatal("a timer set in the past did not fire")
	}
}
