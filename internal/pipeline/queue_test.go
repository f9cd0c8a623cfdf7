package pipeline

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/jira/client"
	"github.com/jiraduck/jiraduck/internal/store"
	"github.com/sirupsen/logrus"
)

// stormEvents stores n events round-robin over issues SUP-1..SUP-issues.
func stormEvents(t *testing.T, h *harness, n, issues int) []*store.Event {
	t.Helper()
	var out []*store.Event
	for i := range n {
		k := i%issues + 1
		out = append(out, h.event(t, "jira:issue_updated", fmt.Sprint("SUP-", k), fmt.Sprint(100+k)))
	}
	return out
}

// startStorm adds issues SUP-1..SUP-issues to the fake Jira, stores n
// events over them and starts the queue; the events are not accepted yet.
func startStorm(t *testing.T, h *harness, issues, n int) []*store.Event {
	t.Helper()
	for k := 1; k <= issues; k++ {
		h.jira.add(fmt.Sprint(100+k), fmt.Sprint("SUP-", k), 0)
	}
	events := stormEvents(t, h, n, issues)
	if err := h.queue.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return events
}

func (h *harness) fetches(keys int) int {
	n := 0
	for k := 1; k <= keys; k++ {
		n += h.jira.count(fmt.Sprint("SUP-", k))
	}
	return n
}

// TestStormHoldsFetchesUntilItPasses: 100 events over 10 issues arriving
// faster than StormRate cost about one fetch per issue, not one per event,
// and every event is done once the storm has passed.
func TestStormHoldsFetchesUntilItPasses(t *testing.T) {
	clk := newFakeClock()
	h := newHarness(t, QueueOptions{Workers: 4, StormRate: 5, StormQuiet: 300 * time.Millisecond, Clock: clk})
	events := startStorm(t, h, 10, 100)
	for _, e := range events {
		h.queue.Accept([]*store.Event{e})
	}
	if !h.queue.Storming() {
		t.Error("not storming right after 100 events")
	}
	clk.Advance(300 * time.Millisecond)
	h.settle(t, clk)
	// The events before the rate reached 5 a second are fetched at once
	// (4 issues), the rest once the storm has passed.
	if got := h.fetches(10); got < 10 || got > 14 {
		t.Errorf("fetches: got %d, want 10 to 14 for 100 events over 10 issues", got)
	}
	if st := h.eventStates(t); st[store.EventDone] != 100 {
		t.Errorf("event states: got %v, want 100 done", st)
	}
	if n := h.count(t, `SELECT count(*) FROM issues`); n != 10 {
		t.Errorf("issues: got %d, want 10", n)
	}
}

// TestLoneEventIsNotHeld: on a quiet site an event is fetched at once, even
// with a storm quiet period that would never end.
func TestLoneEventIsNotHeld(t *testing.T) {
	h := newHarness(t, QueueOptions{Workers: 1, StormRate: 5, StormQuiet: time.Hour})
	h.jira.add("101", "SUP-1", 0)
	if err := h.queue.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.queue.Accept([]*store.Event{h.event(t, "jira:issue_updated", "SUP-1", "101")})
	h.drain(t)
	if st := h.eventStates(t); st[store.EventDone] != 1 {
		t.Errorf("event states: got %v, want 1 done", st)
	}
}

// TestStormMaxDelayBoundsTheHold: during a storm that does not end, held
// issues are still fetched once their oldest event has waited StormMaxDelay,
// and not before.
func TestStormMaxDelayBoundsTheHold(t *testing.T) {
	var mu sync.Mutex
	var errs []string
	clk := newFakeClock()
	h := newHarness(t, QueueOptions{Workers: 2, StormRate: 5, StormQuiet: time.Hour, StormMaxDelay: 200 * time.Millisecond, Clock: clk,
		Observe: func(_ Outcome, err error, _ time.Duration) {
			if err != nil {
				mu.Lock()
				errs = append(errs, err.Error())
				mu.Unlock()
			}
		}})
	// Start replays the 30 stored events before its workers run; accepting
	// them again would refetch an issue whose first fetch was still under
	// way, which a loaded machine made happen.
	events := startStorm(t, h, 3, 30)
	// Each issue is held from its first event, events[0..2].
	first, last := events[0].ReceivedAt, events[0].ReceivedAt
	for _, e := range events[:3] {
		first, last = earliest(first, e.ReceivedAt), latest(last, e.ReceivedAt)
	}
	clk.AdvanceTo(first.Add(200*time.Millisecond - time.Millisecond))
	if st, got := h.states(), h.fetches(3); st["held"] != 3 || got != 0 {
		t.Errorf("just before StormMaxDelay: got %v and %d fetches, want 3 held and none", st, got)
	}
	clk.AdvanceTo(last.Add(200 * time.Millisecond))
	h.settle(t, clk)
	if !h.queue.Storming() {
		t.Error("the storm ended, want it going on (quiet period of an hour)")
	}
	// A run that failed (the test machine is shared) is retried: one more
	// fetch each, and not what this test is about.
	mu.Lock()
	if got := h.fetches(3); got != 3+len(errs) {
		t.Errorf("fetches: got %d, want 3 (one per issue) plus %d retried; errors: %q", got, len(errs), errs)
	}
	mu.Unlock()
	if st := h.eventStates(t); st[store.EventDone] != 30 {
		t.Errorf("event states: got %v, want 30 done", st)
	}
}

// TestDrainReleasesHeldIssues: a shutdown does not wait out a storm; held
// issues run at once.
func TestDrainReleasesHeldIssues(t *testing.T) {
	h := newHarness(t, QueueOptions{Workers: 2, StormRate: 5, StormQuiet: time.Hour, StormMaxDelay: time.Hour})
	events := startStorm(t, h, 3, 30)
	h.queue.Accept(events)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.queue.Drain(ctx); err != nil {
		t.Fatalf("drain: %v (depth %d)", err, h.queue.Depth())
	}
	if st := h.eventStates(t); st[store.EventDone] != 30 {
		t.Errorf("event states: got %v, want 30 done", st)
	}
}

// TestDrainDoesNotWaitForAThrottledIssue: an issue that Jira throttles with
// a Retry-After of an hour does not hold a shutdown: Drain returns, its
// event stays pending for the next start, and an unthrottled issue queued
// with it is stored.
func TestDrainDoesNotWaitForAThrottledIssue(t *testing.T) {
	h := newHarnessWith(t, QueueOptions{Workers: 2}, func(o *client.Options) {
		o.MaxAttempts = 5
		o.MaxRetryWait = 2 * time.Hour
		o.Sleep = nil // the real wait
	})
	h.jira.add("101", "SUP-1", 0)
	h.jira.throttle = true
	if err := h.queue.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.queue.Accept([]*store.Event{h.event(t, "jira:issue_updated", "SUP-1", "101")})
	deadline := time.Now().Add(10 * time.Second)
	for h.jira.count("SUP-1") == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.queue.Drain(ctx); err != nil {
		t.Fatalf("drain: %v (depth %d), want it to return while the issue is throttled", err, h.queue.Depth())
	}
	if st := h.eventStates(t); st[store.EventPending] != 1 {
		t.Errorf("event states: got %v, want 1 pending for the next start", st)
	}
	if got := h.queue.Depth(); got != 1 {
		t.Errorf("depth: got %d, want 1 (the throttled issue, waiting to be retried)", got)
	}
}

// TestUnrecordableFailureIsRetried: when an issue fails for good and its
// events' failed state cannot be written either, the events go back into
// the queue instead of being forgotten until a restart.
func TestUnrecordableFailureIsRetried(t *testing.T) {
	h := newHarness(t, QueueOptions{Workers: 1, MaxAttempts: 1, RetryMax: 100 * time.Millisecond})
	log := logrus.New()
	log.SetOutput(&strings.Builder{})
	seen := &logSeen{want: "could not record failed events", ch: make(chan struct{})}
	log.AddHook(seen)
	h.queue.log = log
	h.jira.add("101", "SUP-1", 0)
	h.jira.failIssue = 1
	// The event is stored after Start, so that only Accept hands it over:
	// stored before, Start replayed it at once, and its fetch could fail
	// and be recorded before the table below was away.
	if err := h.queue.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	e := h.event(t, "jira:issue_updated", "SUP-1", "101")
	// Make the failed state unwritable: the table it goes to is away.
	// (DuckDB renames no table that has an index.)
	if _, err := h.s.DB().Exec(`DROP INDEX webhook_events_body_sha256; ALTER TABLE webhook_events RENAME TO webhook_events_away`); err != nil {
		t.Fatal(err)
	}
	h.queue.Accept([]*store.Event{e})
	select {
	case <-seen.ch:
	case <-time.After(30 * time.Second):
		t.Fatal("the failure was never recorded nor logged")
	}
	if _, err := h.s.DB().Exec(`ALTER TABLE webhook_events_away RENAME TO webhook_events;
		CREATE INDEX webhook_events_body_sha256 ON webhook_events (body_sha256)`); err != nil {
		t.Fatal(err)
	}
	h.drain(t)
	if got := h.jira.count("SUP-1"); got < 2 {
		t.Errorf("fetches: got %d, want 2 or more (the failure, then retries)", got)
	}
	if st := h.eventStates(t); st[store.EventDone] != 1 {
		t.Errorf("event states: got %v, want 1 done", st)
	}
}

// logSeen closes ch the first time a log message contains want.
type logSeen struct {
	want string
	ch   chan struct{}
	once sync.Once
}

func (l *logSeen) Levels() []logrus.Level { return logrus.AllLevels }

func (l *logSeen) Fire(e *logrus.Entry) error {
	if strings.Contains(e.Message, l.want) {
		l.once.Do(func() { close(l.ch) })
	}
	return nil
}

// TestLoneEventAfterAStormIsNotHeld: once a storm is over, an event on its
// own is fetched at once; it does not start storm mode again because the
// storm's events still weigh on the count.
func TestLoneEventAfterAStormIsNotHeld(t *testing.T) {
	clk := newFakeClock()
	h := newHarness(t, QueueOptions{Workers: 2, StormRate: 5, StormQuiet: 100 * time.Millisecond, Clock: clk})
	for k := 1; k <= 3; k++ {
		h.jira.add(fmt.Sprint(100+k), fmt.Sprint("SUP-", k), 0)
	}
	stormEvents(t, h, 60, 3)
	// Start replays the burst, 60 events at once: a storm.
	if err := h.queue.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !h.queue.Storming() {
		t.Fatal("not storming after 60 events at once")
	}
	clk.Advance(100 * time.Millisecond)
	h.settle(t, clk)
	// Past the one-second window and the quiet period.
	clk.Advance(1200 * time.Millisecond)
	if h.queue.Storming() {
		t.Fatal("still storming well after the storm")
	}
	h.queue.Accept([]*store.Event{h.event(t, "jira:issue_updated", "SUP-1", "101")})
	if h.queue.Storming() {
		t.Error("a lone event after a storm started storm mode again")
	}
	if st := h.states(); st["held"] != 0 {
		t.Errorf("states after a lone event: got %v, want none held", st)
	}
	h.settle(t, clk)
	if st := h.eventStates(t); st[store.EventDone] != 61 {
		t.Errorf("event states: got %v, want 61 done", st)
	}
}

// TestKeyConflictFailsOnce: Jira sends SUP-2 with a comment id the store
// holds for SUP-1. Retrying cannot help, so the issue fails at the first
// attempt, its event is marked failed with a message naming both issues,
// and SUP-1 keeps its rows.
func TestKeyConflictFailsOnce(t *testing.T) {
	h := newHarness(t, QueueOptions{Workers: 1, MaxAttempts: 5})
	h.jira.add("100", "SUP-1", 1)
	h.jira.add("200", "SUP-2", 1)
	if err := h.queue.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.queue.Accept([]*store.Event{h.event(t, "jira:issue_updated", "SUP-1", "100")})
	h.drain(t)
	// SUP-1 now holds the id Jira gives SUP-2's comment.
	if _, err := h.s.DB().Exec(`UPDATE comments SET comment_id = '200000' WHERE issue_key = 'SUP-1'`); err != nil {
		t.Fatal(err)
	}
	h.queue.Accept([]*store.Event{h.event(t, "jira:issue_updated", "SUP-2", "200")})
	h.drain(t)
	failed, err := h.s.FailedEvents(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) != 1 || failed[0].Attempts != 1 || !strings.Contains(failed[0].LastError, "SUP-1") ||
		!strings.Contains(failed[0].LastError, "SUP-2") {
		t.Fatalf("failed events: got %+v, want one after 1 attempt naming SUP-1 and SUP-2", failed)
	}
	if got := h.jira.count("SUP-2"); got != 1 {
		t.Errorf("fetches of SUP-2: got %d, want 1", got)
	}
	if n := h.count(t, `SELECT count(*) FROM comments WHERE comment_id = '200000' AND issue_key = 'SUP-1'`); n != 1 {
		t.Errorf("SUP-1's comment rows: got %d, want 1", n)
	}
	t.Logf("failure recorded: %s", failed[0].LastError)
}
