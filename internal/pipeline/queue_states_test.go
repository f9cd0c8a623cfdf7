package pipeline

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/jira/client"
	"github.com/jiraduck/jiraduck/internal/store"
)

// machine drives a queue without workers through the states of its items:
// the test takes items and finishes their runs itself, on a fake clock.
type machine struct {
	t   *testing.T
	h   *harness
	clk *fakeClock
	q   *Queue
	// running holds the item of each key a test took and has not finished.
	running map[string]*item
}

func newMachine(t *testing.T, opts QueueOptions) *machine {
	t.Helper()
	clk := newFakeClock()
	opts.Clock = clk
	h := newHarness(t, opts)
	return &machine{t: t, h: h, clk: clk, q: h.queue, running: map[string]*item{}}
}

// issueID is the id the fake Jira gives key SUP-n: 100+n.
func issueID(key string) string {
	var n int
	fmt.Sscanf(key, "SUP-%d", &n)
	return fmt.Sprint(100 + n)
}

// accept stores an event on key and hands it to the queue, accepted now
// by the machine's clock.
func (m *machine) accept(key string) {
	m.t.Helper()
	e := m.h.event(m.t, "jira:issue_updated", key, issueID(key))
	e.ReceivedAt = m.clk.Now()
	m.q.Accept([]*store.Event{e})
}

// take takes the next ready item as a worker would; it wants key's.
func (m *machine) take(key string) {
	m.t.Helper()
	m.q.mu.Lock()
	w, _ := m.q.nextLocked(m.clk.Now())
	m.q.mu.Unlock()
	if w == nil {
		m.t.Fatalf("take: got nothing ready, want %s", key)
	}
	it := w.it
	if it == nil {
		m.t.Fatalf("take: got %+v, want %s alone", w, key)
	}
	if it.key != key {
		m.t.Fatalf("take: got %s, want %s", it.key, key)
	}
	m.running[key] = it
}

// idle checks that no item is ready to be taken.
func (m *machine) idle() {
	m.t.Helper()
	m.q.mu.Lock()
	w, _ := m.q.nextLocked(m.clk.Now())
	m.q.mu.Unlock()
	if w != nil {
		m.t.Fatalf("take: got %+v, want nothing ready", w)
	}
}

// finish ends the run of key's item with err, as a worker would.
func (m *machine) finish(key string, err error) {
	m.t.Helper()
	it := m.running[key]
	if it == nil {
		m.t.Fatalf("finish %s: not taken", key)
	}
	delete(m.running, key)
	tn := m.q.begin(it)
	m.q.completing(tn.events)
	outcome := Applied
	if err != nil {
		outcome = ""
	}
	m.q.finish(it, tn, outcome, err)
}

// release moves what has come due to the ready list, as a worker looking
// for work does, without taking anything.
func (m *machine) release() {
	m.q.mu.Lock()
	m.q.releaseLocked(m.clk.Now())
	m.q.mu.Unlock()
}

// other keeps a storm going with an event for SUP-n, a cold issue, which
// it runs at once.
func (m *machine) other(n int) {
	m.t.Helper()
	key := fmt.Sprint("SUP-", n)
	m.accept(key)
	m.take(key)
	m.finish(key, nil)
}

// want checks the state of key's item: a state's name, or "removed".
func (m *machine) want(key, state string) {
	m.t.Helper()
	m.q.mu.Lock()
	defer m.q.mu.Unlock()
	got := "removed"
	if it := m.q.items["id:"+issueID(key)]; it != nil {
		got = it.state.String()
	}
	if got != state {
		m.t.Fatalf("%s: got %s, want %s", key, got, state)
	}
}

// wantAttempts checks the attempts and storage failures counted for key.
func (m *machine) wantAttempts(key string, attempts, storageFailures int) {
	m.t.Helper()
	m.q.mu.Lock()
	defer m.q.mu.Unlock()
	it := m.q.items["id:"+issueID(key)]
	if it == nil || it.attempts != attempts || it.storageFailures != storageFailures {
		m.t.Fatalf("%s: got %+v, want %d attempts and %d storage failures", key, it, attempts, storageFailures)
	}
}

// drained reports whether Drain would return now.
func (m *machine) drained() bool {
	m.q.mu.Lock()
	defer m.q.mu.Unlock()
	return m.q.drainedLocked()
}

// TestQueueStates walks the transitions drawn in Queue's comment, one named
// case each, on a fake clock and without workers: the test is the worker.
func TestQueueStates(t *testing.T) {
	quiet := QueueOptions{MaxAttempts: 3, RetryBase: time.Second, RetryMax: time.Second, FollowUp: 250 * time.Millisecond, StormRate: -1}
	storm := func(rate float64, q, maxDelay time.Duration) QueueOptions {
		o := quiet
		o.StormRate, o.StormQuiet, o.StormMaxDelay = rate, q, maxDelay
		return o
	}
	// bulk is a storm of one event a second, and a bulk edit from rate
	// events a second.
	bulk := func(rate float64) QueueOptions {
		o := storm(1, time.Second, time.Hour)
		o.BulkRate = rate
		return o
	}
	// hot is a storm of one event a second whose issues are hot while their
	// events come less than window apart and cool down after quiet.
	hot := func(quiet, window time.Duration) QueueOptions {
		o := storm(1, quiet, time.Hour)
		o.HotWindow = window
		return o
	}
	unavailable := errors.New("fetch issue SUP-1: status 503")
	cases := []struct {
		name string
		opts QueueOptions
		run  func(m *machine)
	}{
		{"an event on a quiet site is ready, then running, then removed when done", quiet, func(m *machine) {
			m.accept("SUP-1")
			m.want("SUP-1", "ready")
			m.take("SUP-1")
			m.want("SUP-1", "running")
			m.finish("SUP-1", nil)
			m.want("SUP-1", "removed")
		}},
		{"a cold issue during a storm is not held", storm(1, time.Hour, time.Hour), func(m *machine) {
			m.accept("SUP-1")
			if !m.q.Storming() {
				m.t.Fatal("storming: got false, want true (one event a second)")
			}
			m.want("SUP-1", "ready")
			m.take("SUP-1")
		}},
		{"a second event makes an issue hot: taken out of ready and held", storm(1, time.Hour, time.Hour), func(m *machine) {
			m.accept("SUP-1")
			m.want("SUP-1", "ready")
			m.clk.Advance(time.Second)
			m.accept("SUP-1")
			m.want("SUP-1", "held")
			m.idle()
		}},
		{"a hot issue is held until the storm has passed, though not cooled down", hot(time.Second, 10*time.Second), func(m *machine) {
			m.accept("SUP-1")
			m.take("SUP-1")
			m.finish("SUP-1", nil)
			m.clk.Advance(3 * time.Second)
			// 3s after the first: cools 6s later; the storm of one event
			// a second passes 1s later.
			m.accept("SUP-1")
			m.want("SUP-1", "held")
			m.clk.Advance(999 * time.Millisecond)
			m.idle()
			m.clk.Advance(time.Millisecond)
			m.take("SUP-1")
		}},
		{"a hot issue is released once cooled down, though the storm goes on", hot(time.Second, 5*time.Second), func(m *machine) {
			m.accept("SUP-1")
			m.clk.Advance(500 * time.Millisecond)
			m.accept("SUP-1") // hot: cools 1s (twice the gap) after this one
			m.want("SUP-1", "held")
			for i := range 3 {
				m.clk.Advance(300 * time.Millisecond)
				m.other(10 + i) // the storm goes on
			}
			m.want("SUP-1", "held")
			m.clk.Advance(99 * time.Millisecond) // 999ms after its last event
			m.idle()
			m.clk.Advance(time.Millisecond)
			if !m.q.Storming() {
				m.t.Fatal("storming: got false, want the storm going on")
			}
			m.take("SUP-1")
		}},
		{"a bulk edit's issue cools down after twice the gap between its rounds", hot(time.Second, 5*time.Second), func(m *machine) {
			for round := range 3 {
				if round > 0 {
					m.clk.Advance(2 * time.Second)
				}
				m.accept("SUP-1")
			}
			m.want("SUP-1", "held")
			// Rounds 2s apart: cools 4s after the last.
			for i := range 7 {
				m.clk.Advance(500 * time.Millisecond)
				m.other(10 + i)
			}
			m.clk.Advance(499 * time.Millisecond)
			m.idle()
			m.clk.Advance(time.Millisecond)
			m.take("SUP-1")
		}},
		{"an issue fetched between two events of a burst is hot at the next", hot(time.Second, 5*time.Second), func(m *machine) {
			m.accept("SUP-1")
			m.take("SUP-1")
			m.finish("SUP-1", nil)
			m.want("SUP-1", "removed")
			m.clk.Advance(4 * time.Second)
			m.accept("SUP-1")
			m.want("SUP-1", "held")
		}},
		{"events HotWindow apart leave an issue cold", hot(time.Second, 5*time.Second), func(m *machine) {
			m.accept("SUP-1")
			m.take("SUP-1")
			m.finish("SUP-1", nil)
			m.clk.Advance(5 * time.Second)
			m.accept("SUP-1")
			m.want("SUP-1", "ready")
		}},
		{"on a quiet site a hot issue is not held", quiet, func(m *machine) {
			m.accept("SUP-1")
			m.accept("SUP-1")
			m.want("SUP-1", "ready")
		}},
		{"a bulk edit is coalesced: one run per issue", hot(time.Second, 5*time.Second), func(m *machine) {
			keys := []string{"SUP-1", "SUP-2", "SUP-3", "SUP-4", "SUP-5"}
			// Five rounds over five issues, 400ms apart; the workers take
			// the first issue only before the second round.
			for round := range 5 {
				if round > 0 {
					m.clk.Advance(400 * time.Millisecond)
				}
				for _, k := range keys {
					m.accept(k)
				}
				if round == 0 {
					m.take("SUP-1")
					m.finish("SUP-1", nil)
				}
			}
			for _, k := range keys {
				m.want(k, "held")
			}
			m.clk.Advance(time.Second) // the storm has passed
			runs := 1
			for _, k := range keys {
				m.take(k)
				m.finish(k, nil)
				runs++
			}
			m.idle()
			if runs != 6 {
				m.t.Errorf("runs: got %d, want 6 (one per issue, one more for the issue taken early)", runs)
			}
		}},
		{"while events come at BulkRate a cold issue is held too, and so are those ready before", bulk(3), func(m *machine) {
			m.accept("SUP-1")
			m.take("SUP-1")
			m.accept("SUP-2")
			m.want("SUP-2", "ready")
			m.accept("SUP-3") // the third event a second: a bulk edit
			m.want("SUP-3", "held")
			m.want("SUP-2", "held")
			m.want("SUP-1", "running")
			m.idle()
		}},
		{"a held issue cools down only once the bulk edit has passed", bulk(3), func(m *machine) {
			m.accept("SUP-1")
			m.accept("SUP-2")
			m.accept("SUP-3")
			m.want("SUP-3", "held")
			// Three events every 500ms for 2s: still a bulk edit.
			for i := range 4 {
				m.clk.Advance(500 * time.Millisecond)
				for j := range 3 {
					m.accept(fmt.Sprint("SUP-", 10+3*i+j))
				}
				m.release()
				m.want("SUP-3", "held")
			}
			// Then one event every 500ms: a storm, and a bulk edit until
			// 1s after the last second that held three events (2.5s).
			for i := range 2 {
				m.clk.Advance(500 * time.Millisecond)
				m.accept(fmt.Sprint("SUP-", 30+i))
				m.release()
				m.want("SUP-3", "held")
			}
			m.clk.Advance(500 * time.Millisecond)
			m.accept("SUP-32")
			if !m.q.Storming() {
				m.t.Fatal("storming: got false, want the storm going on")
			}
			m.release()
			m.want("SUP-3", "ready")
		}},
		{"a held issue runs after StormMaxDelay though the storm goes on", storm(1, time.Hour, time.Minute), func(m *machine) {
			m.accept("SUP-1")
			m.accept("SUP-1")
			m.clk.Advance(time.Minute - time.Millisecond)
			m.idle()
			m.clk.Advance(time.Millisecond)
			m.take("SUP-1")
			if !m.q.Storming() {
				m.t.Error("storming: got false, want true (quiet period of an hour)")
			}
		}},
		{"drain releases a held issue", storm(1, time.Hour, time.Hour), func(m *machine) {
			m.accept("SUP-1")
			m.accept("SUP-1")
			m.want("SUP-1", "held")
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			m.q.Drain(ctx)
			m.take("SUP-1")
		}},
		{"events while running wait for one follow-up, never a second worker", quiet, func(m *machine) {
			m.accept("SUP-1")
			m.take("SUP-1")
			m.accept("SUP-1")
			m.accept("SUP-1")
			m.want("SUP-1", "running")
			m.idle()
			m.finish("SUP-1", nil)
			m.want("SUP-1", "followUp")
			m.clk.Advance(249 * time.Millisecond)
			m.idle()
			m.clk.Advance(time.Millisecond)
			m.take("SUP-1")
			if n := len(m.running["SUP-1"].events); n != 2 {
				m.t.Errorf("events of the follow-up: got %d, want 2", n)
			}
		}},
		{"a follow-up due during a storm is held", storm(2, time.Second, time.Hour), func(m *machine) {
			m.accept("SUP-1")
			m.take("SUP-1")
			m.accept("SUP-1") // the second event a second: a storm
			m.finish("SUP-1", nil)
			m.clk.Advance(250 * time.Millisecond)
			m.idle()
			m.want("SUP-1", "held")
			m.clk.Advance(750 * time.Millisecond)
			m.take("SUP-1")
		}},
		{"under drain a follow-up runs at once", quiet, func(m *machine) {
			m.accept("SUP-1")
			m.take("SUP-1")
			m.accept("SUP-1")
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			m.q.Drain(ctx)
			m.finish("SUP-1", nil)
			m.want("SUP-1", "followUp")
			m.take("SUP-1")
		}},
		{"a failed run waits for its retry, which drain does not wait for", quiet, func(m *machine) {
			m.accept("SUP-1")
			m.take("SUP-1")
			m.finish("SUP-1", unavailable)
			m.want("SUP-1", "retry")
			m.wantAttempts("SUP-1", 1, 0)
			if !m.drained() {
				m.t.Error("drained: got false, want true with only a retry left")
			}
			m.accept("SUP-1") // joins the retry
			m.clk.Advance(time.Second)
			m.take("SUP-1")
			if n := len(m.running["SUP-1"].events); n != 2 {
				m.t.Errorf("events of the retry: got %d, want 2", n)
			}
		}},
		{"a retry is not held during a storm", storm(2, time.Hour, time.Hour), func(m *machine) {
			m.accept("SUP-1")
			m.take("SUP-1")
			m.finish("SUP-1", unavailable)
			m.accept("SUP-2") // the second event a second: a storm
			m.accept("SUP-2") // and SUP-2 is hot
			m.want("SUP-2", "held")
			m.clk.Advance(time.Second)
			m.accept("SUP-1") // hot, but joins a retry
			m.want("SUP-1", "retry")
			m.take("SUP-1")
			m.idle()
			m.want("SUP-2", "held")
		}},
		{"a retry due and ready is not held by an event during a storm", storm(1, time.Hour, time.Hour), func(m *machine) {
			m.accept("SUP-1")
			m.take("SUP-1")
			m.finish("SUP-1", unavailable)
			m.clk.Advance(time.Second)
			m.release()
			m.want("SUP-1", "ready")
			m.accept("SUP-1")
			m.want("SUP-1", "ready")
			m.take("SUP-1")
		}},
		{"the last attempt fails for good, and its events are recorded failed", quiet, func(m *machine) {
			m.accept("SUP-1")
			for i := 1; i < 3; i++ {
				m.take("SUP-1")
				m.finish("SUP-1", unavailable)
				m.want("SUP-1", "retry")
				m.wantAttempts("SUP-1", i, 0)
				m.clk.Advance(time.Second)
			}
			m.take("SUP-1")
			m.finish("SUP-1", unavailable)
			m.want("SUP-1", "removed")
			m.h.drain(m.t)
			if st := m.h.eventStates(m.t); st[store.EventFailed] != 1 {
				m.t.Errorf("event states: got %v, want 1 failed", st)
			}
		}},
		{"a key conflict fails at the first attempt", quiet, func(m *machine) {
			m.accept("SUP-1")
			m.take("SUP-1")
			m.finish("SUP-1", &store.KeyConflictError{Issue: "SUP-1", Other: "SUP-2", Table: "comments", ID: "1", Err: errors.New("duplicate")})
			m.want("SUP-1", "removed")
		}},
		{"a permanent error fails at the first attempt", quiet, func(m *machine) {
			m.accept("SUP-1")
			m.take("SUP-1")
			m.finish("SUP-1", &PermanentError{Err: errors.New("normalize SUP-1: bad payload")})
			m.want("SUP-1", "removed")
		}},
		{"failed for good with events that came in meanwhile: a follow-up", quiet, func(m *machine) {
			m.accept("SUP-1")
			m.take("SUP-1")
			m.accept("SUP-1")
			m.finish("SUP-1", &PermanentError{Err: errors.New("normalize SUP-1: bad payload")})
			m.want("SUP-1", "followUp")
			m.wantAttempts("SUP-1", 0, 0)
		}},
		{"a failing disk is retried beyond MaxAttempts and not counted", quiet, func(m *machine) {
			m.accept("SUP-1")
			full := fmt.Errorf("write issue SUP-1: %w", syscall.ENOSPC)
			for i := 1; i <= 5; i++ {
				m.take("SUP-1")
				m.finish("SUP-1", full)
				m.want("SUP-1", "retry")
				m.wantAttempts("SUP-1", 0, i)
				m.clk.Advance(storageRetryMax)
			}
			if _, err := m.q.StorageTrouble(); !errors.Is(err, syscall.ENOSPC) {
				m.t.Errorf("storage trouble: got %v, want the disk's error", err)
			}
			m.take("SUP-1")
			m.finish("SUP-1", nil)
			m.want("SUP-1", "removed")
			if _, err := m.q.StorageTrouble(); err != nil {
				m.t.Errorf("storage trouble after a stored issue: got %v, want none", err)
			}
		}},
		{"a throttle wait cut short by drain is retried and not counted", quiet, func(m *machine) {
			m.accept("SUP-1")
			m.take("SUP-1")
			m.finish("SUP-1", fmt.Errorf("fetch issue SUP-1: %w", client.ErrWaitAborted))
			m.want("SUP-1", "retry")
			m.wantAttempts("SUP-1", 0, 0)
		}},
		{"a run that fails while the queue closes is dropped", quiet, func(m *machine) {
			m.accept("SUP-1")
			m.take("SUP-1")
			m.q.Close()
			m.finish("SUP-1", context.Canceled)
			m.want("SUP-1", "removed")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(newMachine(t, tc.opts))
		})
	}
}

// TestCloseWaitsForAFailureBeingRecorded: a failure decided before Close is
// still written as the events' failed state when the writer is slow: Close
// waits for that write, as for every goroutine of the queue, instead of
// returning while it is under way (and leaving it to a closing writer).
func TestCloseWaitsForAFailureBeingRecorded(t *testing.T) {
	h := newHarness(t, QueueOptions{Workers: 1, MaxAttempts: 1})
	h.jira.add("101", "SUP-1", 0)
	h.jira.failIssue = 1
	if err := h.queue.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	e := h.event(t, "jira:issue_updated", "SUP-1", "101")
	// The processor records the failed fetch through the writer before the
	// queue hears of it; only the queue's own recording must wait behind a
	// held writer. So the fetch waits while the test takes the queue's lock,
	// the fetch then fails and is recorded, and the writer is held before the
	// worker can report to the queue.
	fetching := make(chan struct{})
	h.jira.mu.Lock()
	h.jira.block = fetching
	h.jira.mu.Unlock()
	h.queue.Accept([]*store.Event{e})
	waitUntil(t, "the fetch to start", func() bool {
		h.jira.mu.Lock()
		defer h.jira.mu.Unlock()
		return h.jira.fetches["SUP-1"] > 0
	})
	h.queue.mu.Lock()
	close(fetching)
	waitUntil(t, "the failed fetch to be recorded", func() bool {
		names, err := h.s.FetchFailureNames(context.Background())
		return err == nil && names["SUP-1"]
	})
	busy, release := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	go h.w.Do(context.Background(), func(context.Context, *store.Tx) error {
		close(busy)
		<-release
		return nil
	})
	<-busy
	h.queue.mu.Unlock()
	waitUntil(t, "the failure to be recorded", func() bool {
		h.queue.mu.Lock()
		defer h.queue.mu.Unlock()
		return h.queue.recording == 1
	})
	closed := make(chan struct{})
	go func() {
		h.queue.Close()
		close(closed)
	}()
	select {
	case <-closed:
		t.Fatal("Close returned while the failure was still being recorded")
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	<-closed
	if st := h.eventStates(t); st[store.EventFailed] != 1 {
		t.Errorf("event states after Close: got %v, want 1 failed", st)
	}
}

// waitUntil polls cond until it holds, for at most 30 seconds.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 30s for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// states counts the queue's items by state.
func (h *harness) states() map[string]int {
	h.queue.mu.Lock()
	defer h.queue.mu.Unlock()
	out := map[string]int{}
	for _, it := range h.queue.items {
		out[it.state.String()]++
	}
	return out
}

// settle waits, as drain does, for the queue to empty, on a fake clock:
// follow-ups and retries fall due only as the clock moves, so settle moves
// it to each as it is scheduled, as time passes while a queue works. Holds
// and the end of a storm are left to the test.
func (h *harness) settle(t *testing.T, clk *fakeClock) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		err := h.queue.Wait(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue did not settle in 30s: %v", h.states())
		}
		var due time.Time
		h.queue.mu.Lock()
		for _, it := range h.queue.items {
			if it.state == stateFollowUp || it.state == stateRetry {
				due = earliest(due, it.due)
			}
		}
		h.queue.mu.Unlock()
		if !due.IsZero() {
			clk.AdvanceTo(due)
		}
	}
}

// latest returns the later of a and b.
func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// TestBacklog: the queue reports a backlog once more issues are ready than
// one write transaction takes (MaxWrites), not while they are held in a
// storm, and no longer once the workers have taken them.
func TestBacklog(t *testing.T) {
	m := newMachine(t, QueueOptions{Workers: 1, MaxWrites: 4, StormRate: -1})
	for i := 1; i <= 4; i++ {
		m.accept(fmt.Sprintf("SUP-%d", i))
	}
	if m.q.Backlog() {
		t.Fatal("4 issues ready, 4 a transaction: got a backlog, want none")
	}
	m.accept("SUP-5")
	if !m.q.Backlog() {
		t.Fatal("5 issues ready, 4 a transaction: got no backlog, want one")
	}
	m.take("SUP-1")
	if m.q.Backlog() {
		t.Error("one of 5 taken: got a backlog, want none")
	}

	// Held issues wait for their burst to end, not for a worker.
	s := newMachine(t, QueueOptions{Workers: 1, MaxWrites: 4, StormRate: 5, BulkRate: 5})
	for i := 1; i <= 10; i++ {
		s.accept(fmt.Sprintf("SUP-%d", i))
	}
	s.want("SUP-10", "held")
	if s.q.Backlog() {
		t.Error("10 issues held in a bulk edit: got a backlog, want none")
	}
}
