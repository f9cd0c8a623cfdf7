// Package pipeline turns accepted webhook events into fetched, stored issues:
// a queue that coalesces events per issue, a pool of workers that never runs
// two fetches of one issue at once, and the Processor that fetches an issue
// whole and writes it in one transaction.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/jiraduck/jiraduck/internal/jira"
	"github.com/jiraduck/jiraduck/internal/jira/client"
	"github.com/jiraduck/jiraduck/internal/logx"
	"github.com/jiraduck/jiraduck/internal/normalize"
	"github.com/jiraduck/jiraduck/internal/store"
	"github.com/sirupsen/logrus"
)

// QueueOptions configure a Queue.
type QueueOptions struct {
	Workers int
	// MaxAttempts bounds the tries of one item before its events are marked
	// failed (default 6).
	MaxAttempts int
	// RetryBase and RetryMax shape the backoff between tries (1s, 2m).
	RetryBase, RetryMax time.Duration
	// FollowUp delays the fetch that serves events which arrived while the
	// issue was being fetched, so a burst of edits costs two fetches, not one
	// per edit (default 250ms).
	FollowUp time.Duration
	// MaxWrites bounds the issue writes handed to the writer and not done
	// yet: one writer transaction's worth, its batch (default 64).
	MaxWrites int
	// BulkFetch is how many issues, at least, must be ready for a worker to
	// take several of them and read them with one bulk fetch (up to
	// jira.MaxBulkFetch a call, about a worker's share of what is ready)
	// instead of one GET issue each: a storm's release, a bulk edit or a
	// replay (default 16; below 0, never). Each issue is then completed
	// (remote links, cut lists) and written by whichever worker is free.
	// Deletions are always fetched alone: the 404 is what they wait for.
	BulkFetch int
	// StormRate, HotWindow, StormQuiet and StormMaxDelay shape storm mode.
	// While events arrive faster than StormRate per second (default 20; a
	// bulk edit in Jira, a replay, a busy site) and until StormQuiet after
	// that (default 1s), the issues that are hot are held rather than
	// fetched as their events come in, so that one fetch serves every event
	// of a burst. An issue is hot while its events come less than HotWindow
	// apart (default 5s); an event for a cold issue is fetched at once, storm
	// or not, so a busy site keeps every issue that is edited now and then
	// fresh. A held issue is fetched once it has cooled: no event for twice
	// the mean gap between its events, at least StormQuiet and at most
	// HotWindow; once the storm has passed; or, at the latest, StormMaxDelay
	// from its oldest pending event (default 60s). StormRate < 0 turns storm
	// mode off.
	//
	// While events arrive faster than BulkRate per second (default 100, at
	// least StormRate: a bulk edit or a replay, faster than the workers
	// fetch) and until StormQuiet after that, cold issues are held too,
	// issues that were ready and not tried yet when that rate was reached
	// are held, and a held issue cools down only once that rate has fallen:
	// the first round of a bulk edit that goes round its issues would
	// otherwise cost each issue one fetch more.
	StormRate     float64
	BulkRate      float64
	HotWindow     time.Duration
	StormQuiet    time.Duration
	StormMaxDelay time.Duration
	Logger        logrus.FieldLogger
	// Clock tells the queue the time and wakes it when something is due
	// (default WallClock).
	Clock Clock
	// Observe, if set, is told the outcome of every processed item and how
	// long it took from its oldest event's acceptance to the commit.
	Observe func(outcome Outcome, err error, sinceAccepted time.Duration)
}

// Queue holds the work: one item per issue, however many events name it.
//
// Each item is in one state at a time, and sits in the list that state
// names:
//
//	idle      just created or just finished; seen only under q.mu, by the
//	          call that moves it on or removes it
//	ready     in q.ready, for the next free worker
//	held      in q.held: storm mode, a hot issue waiting to cool down or
//	          for the storm to pass
//	followUp  in q.delayed until due: events came in while it ran
//	retry     in q.delayed until due: its last run failed
//	running   taken by a worker, until its write has committed; an item
//	          taken with others for one bulk fetch is running from then
//	          on, and waits in q.fetched, read, for the next free worker
//
// Transitions:
//
//	idle     -> ready     an event for a cold issue, or any event or
//	                      Enqueue on a quiet site
//	idle     -> held      an event for a hot issue during a storm, or for
//	                      any issue while events come at BulkRate
//	idle     -> retry     requeue: its events' failure could not be recorded
//	ready    -> running   a worker takes it, alone or with other ready
//	                      items for one bulk fetch (not a deletion)
//	ready    -> held      not tried yet, and an event that would hold it
//	                      were it idle, or events reach BulkRate
//	held     -> ready     it has cooled down (not at BulkRate), the storm
//	                      has passed, its oldest event has waited
//	                      StormMaxDelay, or Drain
//	followUp -> ready     due (at once under Drain)
//	followUp -> held      due when idle -> held would hold it
//	retry    -> ready     due; a retry is never held, its events have waited
//	running  -> retry     a retryable failure, a failing disk, or a wait on
//	                      a throttled Jira that Drain cut short
//	running  -> followUp  done, or failed for good, and events came in
//	                      while it ran
//	running  -> (removed) done, or failed for good, and nothing came in; or
//	                      failed because the queue is closing
//
// An event for an item that is ready, held, followUp or retry joins the
// coming run at once; one for a running item waits in next for the
// follow-up. Whether an issue is hot is read from its burst, the events
// that came less than HotWindow apart, which outlives the item (q.bursts)
// so that an issue fetched between two events of a burst is still hot at
// the next. Only a running item is ever given to a worker, so two workers
// never run one issue. Every helper whose name ends in Locked expects q.mu
// held; every goroutine the queue starts is counted in q.wg, which Close
// waits for.
type Queue struct {
	p     *Processor
	s     *store.Store
	w     *store.Writer
	opts  QueueOptions
	log   logrus.FieldLogger
	clock Clock

	mu        sync.Mutex
	items     map[string]*item
	ready     []*item
	fetched   []fetchedTurn // running items a bulk fetch read, for a worker
	fetching  int           // running items in a bulk fetch under way
	delayed   []*item       // followUp and retry items, until due
	held      []*item       // storm mode: waiting for the storm to pass
	remaining map[int64]int // event id -> targets not yet processed
	wake      chan struct{}
	// changed is closed, and replaced, whenever an item leaves the queue or
	// starts waiting for a retry, or a failure's recording ends: what Wait
	// and Drain wait for.
	changed chan struct{}

	// arrivals counts the events of the last second in tenths of a second
	// (arrivalsAt is the tenth the last count went to); stormAt is the last
	// moment the count reached StormRate. A sliding count, not a decaying
	// average: one second after a storm a lone event is a lone event again.
	arrivals   [10]int
	arrivalsAt int64
	stormAt    time.Time
	bulkAt     time.Time // the last moment the count reached BulkRate
	// bursts keeps the burst of an issue whose item left the queue, until
	// its latest event is HotWindow old (prunedAt: the last sweep of the
	// old ones).
	bursts   map[string]burst
	prunedAt time.Time

	// draining is set by Drain: held and follow-up items run at once and
	// throttled fetches stop waiting (stopWaits is closed) so that the
	// queue empties of everything but retries.
	draining  bool
	stopWaits chan struct{}

	// writeSlots bounds the writes handed to the writer and not yet done.
	writeSlots chan struct{}
	// recording counts failures being written as the events' failed state:
	// until that write is done (or its events are queued again) the queue
	// is not empty, though no item holds them.
	recording int

	// ctx ends at Close; wg counts every goroutine the queue started:
	// workers, writes under way and failures being recorded.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// storageErr and storageSince describe the disk failure that the
	// latest run hit, until a run stores an issue again (see StorageTrouble).
	storageErr   error
	storageSince time.Time
}

// itemState is where an item stands; see Queue for the states and their
// transitions.
type itemState int

const (
	stateIdle itemState = iota
	stateReady
	stateHeld
	stateFollowUp
	stateRetry
	stateRunning
)

func (s itemState) String() string {
	switch s {
	case stateIdle:
		return "idle"
	case stateReady:
		return "ready"
	case stateHeld:
		return "held"
	case stateFollowUp:
		return "followUp"
	case stateRetry:
		return "retry"
	case stateRunning:
		return "running"
	}
	return fmt.Sprintf("itemState(%d)", int(s))
}

type item struct {
	ident   string
	id, key string
	state   itemState
	// due is when a followUp or retry item leaves q.delayed.
	due time.Time

	// The coming run's work: the events it completes, whether one of them
	// deletes the issue, and when the oldest was accepted.
	delete   bool
	events   []int64
	accepted time.Time
	// What came in while the item was running, for the follow-up run.
	again   bool
	next    []int64
	nextDel bool
	nextAcc time.Time

	attempts int
	// storageFailures counts the runs in a row that the disk failed; they
	// do not count as attempts (see failedLocked).
	storageFailures int

	// burst is the issue's latest events that came less than HotWindow
	// apart: what makes it hot.
	burst burst
}

// burst is a run of an issue's events, each less than a window after the
// one before: when it began, its latest event, and how many it holds.
type burst struct {
	first, last time.Time
	n           int
}

// add counts an event at now, which starts a new burst when the latest one
// is window old or more.
func (b burst) add(now time.Time, window time.Duration) burst {
	if b.n == 0 || now.Sub(b.last) >= window {
		return burst{first: now, last: now, n: 1}
	}
	b.last = now
	b.n++
	return b
}

// coolsAt is when an issue whose events came in b has cooled down: after
// no event for twice the mean gap between them, between quiet and window.
// A bulk edit that goes round its issues touches each about once a round,
// so twice the gap lets a round run late without the issue being fetched
// in the middle of the edit; a quick run of saves on one issue cools after
// quiet.
func (b burst) coolsAt(quiet, window time.Duration) time.Time {
	wait := quiet
	if b.n >= 2 {
		wait = 2 * b.last.Sub(b.first) / time.Duration(b.n-1)
	}
	return b.last.Add(min(max(wait, quiet), window))
}

// hot reports whether two or more events came in b and it has not cooled
// down by now.
func (b burst) hot(now time.Time, quiet, window time.Duration) bool {
	return b.n >= 2 && now.Before(b.coolsAt(quiet, window))
}

// turn is what one run of an item works on, read under the lock when the
// run starts: later events may change the item meanwhile.
type turn struct {
	id, key, keyOrID string
	delete           bool
	accepted         time.Time
	events           []int64
}

// fetchedTurn is the run of an item that a bulk fetch of its group began:
// its turn, read before the fetch, and what the fetch returned for it (nil:
// the issue is fetched alone, which tells a deleted issue from a failure).
type fetchedTurn struct {
	it *item
	tn turn
	bi *client.BulkIssue
}

// work is what a worker takes: one running item, a group of running items
// to read with one bulk fetch, or the run of an item such a fetch read.
type work struct {
	it      *item
	group   []*item
	fetched *fetchedTurn
}

// NewQueue builds a queue; Start runs its workers.
func NewQueue(p *Processor, s *store.Store, w *store.Writer, opts QueueOptions) *Queue {
	if opts.Workers < 1 {
		opts.Workers = 4
	}
	if opts.MaxAttempts < 1 {
		opts.MaxAttempts = 6
	}
	if opts.MaxWrites < 1 {
		opts.MaxWrites = 64
	}
	if opts.BulkFetch == 0 {
		opts.BulkFetch = 16
	}
	if opts.RetryBase <= 0 {
		opts.RetryBase = time.Second
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = 2 * time.Minute
	}
	if opts.StormRate == 0 {
		opts.StormRate = 20
	}
	if opts.StormQuiet <= 0 {
		opts.StormQuiet = time.Second
	}
	if opts.BulkRate <= 0 {
		opts.BulkRate = 100
	}
	opts.BulkRate = max(opts.BulkRate, opts.StormRate)
	if opts.HotWindow <= 0 {
		opts.HotWindow = 5 * time.Second
	}
	opts.HotWindow = max(opts.HotWindow, opts.StormQuiet)
	if opts.StormMaxDelay <= 0 {
		opts.StormMaxDelay = time.Minute
	}
	if opts.FollowUp < 0 {
		opts.FollowUp = 0
	} else if opts.FollowUp == 0 {
		opts.FollowUp = 250 * time.Millisecond
	}
	if opts.Clock == nil {
		opts.Clock = WallClock{}
	}
	log := opts.Logger
	if log == nil {
		log = logx.Discard()
	}
	q := &Queue{p: p, s: s, w: w, opts: opts, log: log.WithField("component", "queue"), clock: opts.Clock,
		items: map[string]*item{}, remaining: map[int64]int{}, bursts: map[string]burst{}, wake: make(chan struct{}, 1),
		changed: make(chan struct{}), stopWaits: make(chan struct{}), writeSlots: make(chan struct{}, opts.MaxWrites)}
	ctx, cancel := context.WithCancel(context.Background())
	q.ctx, q.cancel = client.StopWaits(ctx, q.stopWaits), cancel
	return q
}

// Start replays every accepted but unfinished event, then runs the workers.
func (q *Queue) Start(ctx context.Context) error {
	pending, err := q.s.PendingEvents(ctx)
	if err != nil {
		return err
	}
	if len(pending) > 0 {
		q.log.WithField("events", len(pending)).Info("replaying pending events")
	}
	q.Accept(pending)
	for range q.opts.Workers {
		q.wg.Go(q.worker)
	}
	return nil
}

// Close stops the workers after their current item and waits for every
// goroutine of the queue, failures being recorded included; unprocessed
// events stay pending in the store and are replayed at the next start.
// Drain first for a clean stop.
func (q *Queue) Close() {
	q.cancel()
	q.wg.Wait()
}

// Drain runs everything that is waiting only for a storm to pass or for a
// follow-up delay, stops waits on a throttled Jira, and returns once nothing
// is left but items waiting to be retried after a failure (their events stay
// pending in the store and are replayed at the next start), or when ctx
// ends. The queue keeps accepting; a drained queue is usually closed next.
func (q *Queue) Drain(ctx context.Context) error {
	q.mu.Lock()
	if !q.draining {
		q.draining = true
		close(q.stopWaits)
	}
	q.signal()
	q.mu.Unlock()
	return q.waitFor(ctx, q.drainedLocked)
}

// Wait returns once the queue holds nothing at all, retries included, or
// when ctx ends. Unlike Drain it changes nothing: storms are still waited
// out and throttled fetches still wait.
func (q *Queue) Wait(ctx context.Context) error {
	return q.waitFor(ctx, func() bool { return len(q.items) == 0 && q.recording == 0 })
}

// waitFor waits until cond, called with q.mu held, is true, or until ctx
// ends or the queue is closed.
func (q *Queue) waitFor(ctx context.Context, cond func() bool) error {
	for {
		q.mu.Lock()
		ok, changed := cond(), q.changed
		q.mu.Unlock()
		if ok {
			return ctx.Err()
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-q.ctx.Done():
			return ctx.Err()
		}
	}
}

// changedLocked wakes the callers of waitFor to check their condition again.
func (q *Queue) changedLocked() {
	close(q.changed)
	q.changed = make(chan struct{})
}

// drainedLocked reports whether every item left waits for a retry.
func (q *Queue) drainedLocked() bool {
	if q.recording > 0 {
		return false
	}
	for _, it := range q.items {
		if it.state != stateRetry {
			return false
		}
	}
	return true
}

// Depth is the number of issues waiting or being processed.
func (q *Queue) Depth() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// Backlog reports whether more issues wait for a worker or for the writer
// than one write transaction takes (MaxWrites): a storm's release or a bulk
// edit being worked off, whose writes will go on dirtying the same months.
// Issues in a bulk fetch under way, or read by one and waiting for a
// worker, wait as ready ones do.
// A steady stream of edits keeps a few dozen writes waiting for each
// commit on a large store (P8), which is no backlog: with four per worker
// as the bound, the exporter waited its 10 s under such a stream. Held
// issues do not count: they wait for their burst to end, however long that
// takes.
func (q *Queue) Backlog() bool {
	q.mu.Lock()
	ready := len(q.ready) + q.fetching + len(q.fetched)
	q.mu.Unlock()
	return ready+len(q.writeSlots) > q.opts.MaxWrites
}

// OldestPending is when the oldest event still in the queue was accepted.
func (q *Queue) OldestPending() time.Time {
	q.mu.Lock()
	defer q.mu.Unlock()
	var oldest time.Time
	for _, it := range q.items {
		if !it.accepted.IsZero() && (oldest.IsZero() || it.accepted.Before(oldest)) {
			oldest = it.accepted
		}
	}
	return oldest
}

// StorageTrouble reports the disk failure that keeps issues from being
// stored: since when it has lasted and the latest error, or a nil error once
// a run got past the store again.
func (q *Queue) StorageTrouble() (since time.Time, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.storageSince, q.storageErr
}

// target is one issue an event names.
type target struct {
	id, key string
	delete  bool
}

func targetsOf(e *store.Event) []target {
	if e.Type == "jira:issue_deleted" {
		return []target{{id: e.IssueID, key: e.IssueKey, delete: true}}
	}
	var out []target
	if e.IssueID != "" || e.IssueKey != "" {
		out = append(out, target{id: e.IssueID, key: e.IssueKey})
	}
	if e.RelatedIssueID != "" && e.RelatedIssueID != e.IssueID {
		out = append(out, target{id: e.RelatedIssueID})
	}
	return out
}

// Accept queues committed events (the intake's Sink).
func (q *Queue) Accept(events []*store.Event) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	q.countLocked(len(events), now)
	for _, e := range events {
		ts := targetsOf(e)
		if len(ts) == 0 {
			continue
		}
		q.remaining[e.ID] += len(ts)
		for _, t := range ts {
			q.enqueueLocked(t, e.ID, e.ReceivedAt, now)
		}
	}
	q.signal()
}

// Enqueue asks for an issue to be fetched without an event (test endpoint,
// reconcile).
func (q *Queue) Enqueue(id, key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	q.enqueueLocked(target{id: id, key: key}, 0, now, now)
	q.signal()
}

// enqueueLocked adds an event (or none: 0) of target t to its issue's item
// and, when the item was idle, gives it its turn: held when the issue is hot
// during a storm, else ready. A ready item that this event makes hot during
// a storm is held instead: no worker has taken it yet, and the burst it is
// in will bring more.
func (q *Queue) enqueueLocked(t target, event int64, accepted, now time.Time) {
	var events []int64
	if event != 0 {
		events = []int64{event}
	}
	it := q.addLocked(t, events, accepted)
	if event == 0 {
		if it.state == stateIdle {
			q.readyLocked(it)
		}
		return
	}
	if q.opts.StormRate >= 0 {
		it.burst = it.burst.add(now, q.opts.HotWindow)
	}
	switch {
	case it.state == stateIdle && q.holdingLocked(it, now):
		q.holdLocked(it)
	case it.state == stateIdle:
		q.readyLocked(it)
	case it.state == stateReady && it.attempts == 0 && it.storageFailures == 0 && q.holdingLocked(it, now):
		// A retry is never held: its events have waited.
		q.unreadyLocked(it)
		q.holdLocked(it)
	}
}

// holdingLocked reports whether it is to be held: its issue is hot during
// a storm, or events come in at BulkRate.
func (q *Queue) holdingLocked(it *item, now time.Time) bool {
	return q.bulkingLocked(now) || q.stormingLocked(now) && it.burst.hot(now, q.opts.StormQuiet, q.opts.HotWindow)
}

// addLocked adds events of target t to its issue's item, creating the item
// when there is none: to the next run when one is running, else to the
// coming one. An item that comes back idle is new and the caller gives it
// its turn; in any other state it already has one.
func (q *Queue) addLocked(t target, events []int64, accepted time.Time) *item {
	ident := "id:" + t.id
	if t.id == "" {
		// Key-only work is keyed by key. An item for the same issue keyed by
		// id may run at the same time; the writer's check of `updated` keeps
		// the older snapshot from overwriting the newer one.
		ident = "key:" + t.key
	}
	it := q.items[ident]
	if it == nil {
		it = &item{ident: ident, id: t.id, key: t.key, burst: q.bursts[ident]}
		delete(q.bursts, ident)
		q.items[ident] = it
	}
	if it.key == "" {
		it.key = t.key
	}
	if it.state == stateRunning {
		it.again = true
		it.next = append(it.next, events...)
		it.nextDel = it.nextDel || t.delete
		if it.nextAcc.IsZero() || accepted.Before(it.nextAcc) {
			it.nextAcc = accepted
		}
		return it
	}
	it.events = append(it.events, events...)
	it.delete = it.delete || t.delete
	if it.accepted.IsZero() || accepted.Before(it.accepted) {
		it.accepted = accepted
	}
	return it
}

// readyLocked puts it in line for the next free worker.
func (q *Queue) readyLocked(it *item) {
	it.state, it.due = stateReady, time.Time{}
	q.ready = append(q.ready, it)
}

// unreadyLocked takes it, ready, out of the ready list.
func (q *Queue) unreadyLocked(it *item) {
	if i := slices.Index(q.ready, it); i >= 0 {
		q.ready = slices.Delete(q.ready, i, i+1)
	}
	it.state = stateIdle
}

// holdLocked holds it until it has cooled down or the storm has passed.
func (q *Queue) holdLocked(it *item) {
	it.state, it.due = stateHeld, time.Time{}
	q.held = append(q.held, it)
}

// delayLocked puts it, a followUp or a retry, aside until due.
func (q *Queue) delayLocked(it *item, state itemState, due time.Time) {
	it.state, it.due = state, due
	q.delayed = append(q.delayed, it)
	q.signal() // a worker asleep until a later moment sets its timer again
}

// retryLocked runs it again after wait, with whatever came in while it
// ran. Drain does not wait for a retry.
func (q *Queue) retryLocked(it *item, wait time.Duration) {
	q.mergeNextLocked(it)
	q.delayLocked(it, stateRetry, q.clock.Now().Add(wait))
	q.changedLocked()
}

// followUpLocked runs it again, after FollowUp (at once when draining), for
// the events that came in while it ran.
func (q *Queue) followUpLocked(it *item) {
	q.mergeNextLocked(it)
	due := q.clock.Now()
	if !q.draining {
		due = due.Add(q.opts.FollowUp)
	}
	q.delayLocked(it, stateFollowUp, due)
}

// removeLocked drops it from the queue: nothing is left for it to do, or
// the queue is closing and its events are replayed at the next start.
func (q *Queue) removeLocked(it *item) {
	delete(q.items, it.ident)
	if it.burst.n > 0 {
		// The burst may go on: the next event of the issue is then hot.
		q.bursts[it.ident] = it.burst
	}
	q.changedLocked()
}

// countLocked adds n arrived events to the count of the last second.
func (q *Queue) countLocked(n int, now time.Time) {
	if q.opts.StormRate < 0 || n == 0 {
		return
	}
	tenth := now.UnixNano() / int64(100*time.Millisecond)
	for t := max(q.arrivalsAt+1, tenth-9); t <= tenth; t++ {
		q.arrivals[t%10] = 0 // tenths no event came in
	}
	q.arrivalsAt = max(q.arrivalsAt, tenth)
	q.arrivals[tenth%10] += n
	if now.Sub(q.prunedAt) >= q.opts.HotWindow {
		// Bursts whose latest event is HotWindow old are over; sweeping
		// once a window keeps the map to the issues of the last two.
		for ident, b := range q.bursts {
			if now.Sub(b.last) >= q.opts.HotWindow {
				delete(q.bursts, ident)
			}
		}
		q.prunedAt = now
	}
	sum := 0
	for _, c := range q.arrivals {
		sum += c
	}
	if float64(sum) >= q.opts.StormRate {
		q.stormAt = now
	}
	if float64(sum) >= q.opts.BulkRate {
		if !q.bulkingLocked(now) {
			q.holdReadyLocked()
		}
		q.bulkAt = now
	}
}

// stormingLocked reports whether events came in faster than StormRate a
// second within the last StormQuiet.
func (q *Queue) stormingLocked(now time.Time) bool {
	return !q.draining && !q.stormAt.IsZero() && now.Sub(q.stormAt) < q.opts.StormQuiet
}

// bulkingLocked reports whether events came in faster than BulkRate a
// second within the last StormQuiet.
func (q *Queue) bulkingLocked(now time.Time) bool {
	return !q.draining && !q.bulkAt.IsZero() && now.Sub(q.bulkAt) < q.opts.StormQuiet
}

// holdReadyLocked holds the ready items that have events and were not
// tried yet: a bulk edit has begun, and the events that came before its
// rate was reached are its first.
func (q *Queue) holdReadyLocked() {
	kept := q.ready[:0]
	for _, it := range q.ready {
		if len(it.events) > 0 && it.attempts == 0 && it.storageFailures == 0 {
			q.holdLocked(it)
			continue
		}
		kept = append(kept, it)
	}
	clear(q.ready[len(kept):])
	q.ready = kept
}

// Storming reports whether the queue is in storm mode (see QueueOptions):
// events come faster than StormRate, or BulkRate, a second.
func (q *Queue) Storming() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	return q.stormingLocked(now) || q.bulkingLocked(now)
}

// signal wakes one waiting worker, or the next one to wait.
func (q *Queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take returns the next work, its items now running, waiting for some; nil
// when stopping.
func (q *Queue) take() *work {
	for {
		q.mu.Lock()
		now := q.clock.Now()
		w, next := q.nextLocked(now)
		q.mu.Unlock()
		if w != nil {
			return w
		}
		if next.IsZero() {
			next = now.Add(time.Hour)
		}
		timer := q.clock.TimerAt(next)
		select {
		case <-q.ctx.Done():
			timer.Stop()
			return nil
		case <-q.wake:
		case <-timer.C():
		}
		timer.Stop()
	}
}

// nextLocked releases what has come due at now and takes the next work: an
// item a bulk fetch read, else a group of ready items to read in bulk when
// enough are ready, else the first ready item. Without any it returns when
// the next item falls due (zero: none does).
func (q *Queue) nextLocked(now time.Time) (*work, time.Time) {
	next := q.releaseLocked(now)
	var w *work
	switch {
	case len(q.fetched) > 0:
		f := q.fetched[0]
		q.fetched[0] = fetchedTurn{}
		q.fetched = q.fetched[1:]
		w = &work{fetched: &f}
	case len(q.ready) == 0:
		return nil, next
	default:
		if group := q.groupLocked(); group != nil {
			w = &work{group: group}
			break
		}
		it := q.ready[0]
		q.ready = q.ready[1:]
		it.state = stateRunning
		w = &work{it: it}
	}
	if len(q.ready) > 0 || len(q.fetched) > 0 {
		q.signal()
	}
	return w, next
}

// groupLocked takes a worker's share of the ready items, at least BulkFetch
// and at most jira.MaxBulkFetch, for one bulk fetch, when at least BulkFetch
// are ready, and the rest with them when fewer than BulkFetch would be
// left; deletions stay ready. The items taken are running. Nil: no group.
func (q *Queue) groupLocked() []*item {
	if q.opts.BulkFetch < 0 || len(q.ready) < q.opts.BulkFetch {
		return nil
	}
	size := min(jira.MaxBulkFetch, max(q.opts.BulkFetch, (len(q.ready)+q.opts.Workers-1)/q.opts.Workers))
	if len(q.ready)-size < q.opts.BulkFetch {
		// What would be left is too few for a group: this one takes it.
		size = min(jira.MaxBulkFetch, len(q.ready))
	}
	var group []*item
	kept := q.ready[:0]
	for _, it := range q.ready {
		if len(group) < size && !it.delete {
			group = append(group, it)
			continue
		}
		kept = append(kept, it)
	}
	if len(group) < 2 {
		// Deletions nearly all: back in line as they were, taken alone.
		q.ready = append(group, kept...)
		return nil
	}
	clear(q.ready[len(kept):])
	q.ready = kept
	for _, it := range group {
		it.state = stateRunning
	}
	q.fetching += len(group)
	return group
}

// releaseLocked moves the delayed and held items whose time has come to the
// ready list (follow-ups due during a storm to the held ones) and returns
// when the next of the others is due (zero: none).
func (q *Queue) releaseLocked(now time.Time) (next time.Time) {
	storming := q.stormingLocked(now)
	kept := q.delayed[:0]
	for _, it := range q.delayed {
		switch {
		case it.state == stateRetry && !it.due.After(now):
			q.readyLocked(it)
		case it.state == stateFollowUp && (!it.due.After(now) || q.draining):
			if q.holdingLocked(it, now) {
				q.holdLocked(it)
			} else {
				q.readyLocked(it)
			}
		default:
			next = earliest(next, it.due)
			kept = append(kept, it)
		}
	}
	q.delayed = kept
	// Release held items once the storm and the bulk edit have passed, or
	// each when its oldest event has waited StormMaxDelay or, unless events
	// still come at BulkRate, it has cooled down.
	bulking := q.bulkingLocked(now)
	keptHeld := q.held[:0]
	for _, it := range q.held {
		release := it.accepted.Add(q.opts.StormMaxDelay)
		if !bulking {
			release = earliest(release, it.burst.coolsAt(q.opts.StormQuiet, q.opts.HotWindow))
		}
		if !storming && !bulking || !release.After(now) {
			q.readyLocked(it)
			continue
		}
		next = earliest(next, release)
		keptHeld = append(keptHeld, it)
	}
	q.held = keptHeld
	if len(q.held) > 0 {
		next = earliest(next, q.stormAt.Add(q.opts.StormQuiet))
		if bulking {
			next = earliest(next, q.bulkAt.Add(q.opts.StormQuiet))
		}
	}
	return next
}

// earliest returns the earlier of a and b, where zero stands for none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

func (q *Queue) worker() {
	for w := q.take(); w != nil; w = q.take() {
		switch {
		case w.group != nil:
			q.fetchGroup(w.group)
		case w.fetched != nil:
			q.run(w.fetched.it, w.fetched.tn, w.fetched.bi)
		default:
			q.run(w.it, q.begin(w.it), nil)
		}
	}
}

// fetchGroup reads the issues of group, all running, with one bulk fetch and
// leaves each, with what it got, to the next free worker. An issue the
// fetch did not return, or every issue when the call failed, is fetched
// alone by that worker, as if the group had never been.
func (q *Queue) fetchGroup(group []*item) {
	turns := make([]turn, len(group))
	names := make([]string, len(group))
	for i, it := range group {
		turns[i] = q.begin(it)
		names[i] = turns[i].keyOrID
	}
	got, err := q.p.client.FetchIssues(q.ctx, names, q.p.FetchOptions())
	byName := map[string]*client.BulkIssue{}
	if err != nil {
		if q.ctx.Err() == nil {
			q.log.WithError(err).WithField("issues", len(group)).Warn("bulk fetch failed; fetching its issues one by one")
		}
	} else {
		for _, bi := range got.Issues {
			byName[bi.Asked] = bi
		}
	}
	q.mu.Lock()
	q.fetching -= len(group)
	for i, it := range group {
		q.fetched = append(q.fetched, fetchedTurn{it: it, tn: turns[i], bi: byName[names[i]]})
	}
	q.mu.Unlock()
	q.signal()
}

// run processes tn, a turn of it: with bi, the issue as a bulk fetch
// returned it, else fetched alone.
func (q *Queue) run(it *item, tn turn, bi *client.BulkIssue) {
	req := Request{KeyOrID: tn.keyOrID, ID: tn.id, Key: tn.key, Delete: tn.delete, Events: q.completing(tn.events)}
	var (
		rows    *normalize.Rows
		outcome Outcome
		err     error
	)
	if bi != nil {
		rows, outcome, err = q.p.PrepareBulk(q.ctx, req, bi)
	} else {
		rows, outcome, err = q.p.Prepare(q.ctx, req)
	}
	if err != nil || rows == nil {
		q.finish(it, tn, outcome, err)
		return
	}
	// The write goes on without the worker, which fetches the next issue
	// meanwhile: the writer then commits the issues of several workers in
	// one transaction, where each statement costs milliseconds on a large
	// store whatever it touches. The item stays running, so its issue is
	// not fetched again before the write is done; writeSlots bounds the
	// writes waiting.
	q.writeSlots <- struct{}{}
	q.wg.Go(func() {
		outcome, err := q.p.Write(q.ctx, rows, req.Events)
		<-q.writeSlots
		q.finish(it, tn, outcome, err)
	})
}

// begin reads what a run of it works on. While the item runs,
// enqueueLocked may still fill in its key and add follow-up events: the run
// reads them under the lock, once.
func (q *Queue) begin(it *item) turn {
	q.mu.Lock()
	tn := turn{id: it.id, key: it.key, keyOrID: it.id, delete: it.delete, accepted: it.accepted,
		events: append([]int64(nil), it.events...)}
	q.mu.Unlock()
	if tn.keyOrID == "" {
		tn.keyOrID = tn.key
		if found, err := q.s.IssueIDByKey(q.ctx, tn.key); err == nil && found != "" {
			tn.id = found
		}
	}
	return tn
}

// finish records the outcome of a run of it and moves it on: to a retry, to
// a follow-up, or out of the queue.
func (q *Queue) finish(it *item, tn turn, outcome Outcome, err error) {
	if q.opts.Observe != nil {
		since := time.Duration(0)
		if !tn.accepted.IsZero() {
			since = q.clock.Now().Sub(tn.accepted)
		}
		q.opts.Observe(outcome, err, since)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	it.state = stateIdle
	if it.id == "" {
		it.id = tn.id
	}
	if err != nil {
		q.restoreLocked(tn.events)
		if q.failedLocked(it, tn.keyOrID, err) {
			return
		}
	} else {
		q.log.WithField("issue", tn.keyOrID).WithField("outcome", string(outcome)).Debug("issue processed")
		it.attempts, it.storageFailures = 0, 0
		q.storageErr = nil
		it.events = nil
		it.delete = false
		it.accepted = time.Time{}
	}
	if it.again {
		q.followUpLocked(it)
		return
	}
	q.removeLocked(it)
}

// failedLocked deals with a failed run of it. It reports whether that
// settled the item (a retry, or removed because the queue is closing);
// otherwise the events were failed for good, and the item goes on as after
// a run that succeeded.
func (q *Queue) failedLocked(it *item, keyOrID string, err error) (settled bool) {
	switch {
	case q.ctx.Err() != nil:
		// Stopping: the events stay pending in the store for the next start.
		q.removeLocked(it)
		return true
	case errors.Is(err, client.ErrWaitAborted):
		// Draining while Jira throttles this issue: leave it to be retried
		// (at the next start if the queue is closed first); the try does
		// not count against the issue.
		q.retryLocked(it, q.backoff(max(it.attempts, 1)))
		return true
	case storageFailure(err):
		// A full or failing disk is not the issue's fault and says nothing
		// about Jira: giving up after MaxAttempts would mark events failed
		// (or, when that cannot be written either, leave them pending but
		// forgotten until a restart) because of an outage that ends when
		// space returns. Retry for as long as it lasts, backing off to
		// storageRetryMax.
		it.storageFailures++
		if q.storageErr == nil {
			q.storageSince = q.clock.Now()
		}
		q.storageErr = err
		if it.storageFailures <= 3 || it.storageFailures%20 == 0 {
			q.log.WithError(err).WithField("issue", keyOrID).WithField("failures", it.storageFailures).
				Error("issue not stored: the disk is failing; will retry until it recovers")
		}
		q.retryLocked(it, min(q.backoff(it.storageFailures), storageRetryMax))
		return true
	}
	it.storageFailures = 0
	q.storageErr = nil
	it.attempts++
	log := q.log.WithError(err).WithField("issue", keyOrID).WithField("attempt", it.attempts)
	if retryable(err) && !keyConflict(err) && it.attempts < q.opts.MaxAttempts {
		log.Warn("issue processing failed; will retry")
		q.retryLocked(it, q.backoff(it.attempts))
		return true
	}
	log.Error("issue processing failed; events marked failed")
	q.failLocked(it, err)
	return false
}

// storageFailure reports a failure of the local disk, not of Jira: an
// answer of Jira whose message happens to read like one does not count.
func storageFailure(err error) bool {
	var api *jira.APIError
	return store.IsStorageFailure(err) && !errors.As(err, &api) && !errors.Is(err, jira.ErrUnavailable)
}

// keyConflict reports an issue that carries an id the store holds for
// another issue (store.KeyConflictError): the data Jira sent is at fault, so
// every retry would fail the same way.
func keyConflict(err error) bool {
	var kc *store.KeyConflictError
	return errors.As(err, &kc)
}

// storageRetryMax bounds the wait between two tries while the disk fails, so
// that work resumes soon after space returns.
const storageRetryMax = 15 * time.Second

// completing returns the events that this run completes: those whose every
// target will have been processed once this item is.
func (q *Queue) completing(events []int64) []int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	var done []int64
	for _, e := range events {
		q.remaining[e]--
		if q.remaining[e] <= 0 {
			delete(q.remaining, e)
			done = append(done, e)
		}
	}
	sort.Slice(done, func(i, j int) bool { return done[i] < done[j] })
	return done
}

// restoreLocked undoes completing for a run that failed: every event of the
// item counts this target as outstanding again.
func (q *Queue) restoreLocked(taken []int64) {
	for _, e := range taken {
		q.remaining[e]++
	}
}

// mergeNextLocked makes what came in while it ran part of its coming run.
func (q *Queue) mergeNextLocked(it *item) {
	it.events = append(it.events, it.next...)
	it.delete = it.delete || it.nextDel
	if it.accepted.IsZero() || (!it.nextAcc.IsZero() && it.nextAcc.Before(it.accepted)) {
		it.accepted = it.nextAcc
	}
	it.next, it.nextDel, it.nextAcc, it.again = nil, false, time.Time{}, false
}

// failLocked marks the item's events failed for good. The write goes on in
// a goroutine of the queue: Wait and Drain wait for it through recording,
// Close through wg.
func (q *Queue) failLocked(it *item, cause error) {
	events := append([]int64(nil), it.events...)
	for _, e := range events {
		delete(q.remaining, e)
	}
	msg := cause.Error()
	attempts := it.attempts
	t := target{id: it.id, key: it.key, delete: it.delete}
	accepted := it.accepted
	it.events, it.attempts, it.delete, it.accepted = nil, 0, false, time.Time{}
	q.recording++
	q.wg.Go(func() {
		defer func() {
			q.mu.Lock()
			q.recording--
			q.changedLocked()
			q.mu.Unlock()
		}()
		// Not q.ctx: a failure decided before Close is still recorded,
		// rather than fetched again after the next start.
		err := q.w.Do(context.Background(), func(ctx context.Context, tx *store.Tx) error {
			return store.FinishEvents(ctx, tx, events, store.EventFailed, msg, attempts)
		})
		if err == nil {
			return
		}
		// The events are still pending in the store: forgetting them here
		// would leave them unprocessed until a restart replays them. Queue
		// them again, after the longest backoff; the next run either
		// stores the issue or records the failure.
		q.log.WithError(err).WithField("events", len(events)).Error("could not record failed events; retrying them")
		q.requeue(t, events, accepted, q.opts.RetryMax)
	})
}

// requeue puts events whose outcome could not be recorded back in the
// queue, to run after wait.
func (q *Queue) requeue(t target, events []int64, accepted time.Time, wait time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.ctx.Err() != nil {
		return // stopping: the events are replayed at the next start
	}
	for _, e := range events {
		q.remaining[e] = 1
	}
	it := q.addLocked(t, events, accepted)
	if it.state != stateIdle {
		return
	}
	q.retryLocked(it, wait)
}

func (q *Queue) backoff(attempt int) time.Duration {
	d := q.opts.RetryBase << min(attempt-1, 20)
	if d > q.opts.RetryMax || d <= 0 {
		d = q.opts.RetryMax
	}
	return d/2 + rand.N(d/2+1)
}
