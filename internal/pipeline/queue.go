// Package pipeline turns accepted webhook events into fetched, stored issues:
// a queue that coalesces events per issue, a pool of workers that never runs
// two fetches of one issue at once, and the Processor that fetches an issue
// whole and writes it in one transaction.
package pipeline

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/jiraduck/jiraduck/internal/jira"
	"github.com/jiraduck/jiraduck/internal/jira/client"
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
	// StormRate, StormQuiet and StormMaxDelay shape storm mode. While
	// events arrive faster than StormRate per second (default 20; a bulk
	// edit in Jira, a replay) and until StormQuiet after that (default 1s),
	// issues are not fetched as their events come in but held, so that one
	// fetch after the storm serves every event an issue got during it; an
	// issue is held at most StormMaxDelay from its oldest pending event
	// (default 60s). A lone edit on a quiet site is fetched at once.
	// StormRate < 0 turns storm mode off.
	StormRate     float64
	StormQuiet    time.Duration
	StormMaxDelay time.Duration
	Logger        logrus.FieldLogger
	// Observe, if set, is told the outcome of every processed item and how
	// long it took from its oldest event's acceptance to the commit.
	Observe func(outcome Outcome, err error, sinceAccepted time.Duration)
}

// Queue holds the work: one item per issue, however many events name it.
type Queue struct {
	p    *Processor
	s    *store.Store
	w    *store.Writer
	opts QueueOptions
	log  logrus.FieldLogger

	mu        sync.Mutex
	items     map[string]*item
	ready     []*item
	delayed   []*item
	held      []*item       // storm mode: waiting for the storm to pass
	remaining map[int64]int // event id -> targets not yet processed
	wake      chan struct{}

	// arrivals counts the events of the last second in tenths of a second
	// (arrivalsAt is the tenth the last count went to); stormAt is the last
	// moment the count reached StormRate. A sliding count, not a decaying
	// average: one second after a storm a lone event is a lone event again.
	arrivals   [10]int
	arrivalsAt int64
	stormAt    time.Time

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

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	idle   *sync.Cond
	busy   int

	// storageErr and storageSince describe the disk failure that the
	// latest run hit, until a run stores an issue again (see StorageTrouble).
	storageErr   error
	storageSince time.Time
}

type item struct {
	ident    string
	id, key  string
	delete   bool
	events   []int64
	accepted time.Time // oldest pending event of this run
	running  bool
	again    bool
	next     []int64
	nextDel  bool
	nextAcc  time.Time
	attempts int
	// storageFailures counts the runs in a row that the disk failed; they
	// do not count as attempts (see run).
	storageFailures int
	due             time.Time
	queued          bool
	// retrying is set while the item waits for a retry after a failure;
	// Drain does not wait for it.
	retrying bool
	// isHeld is set while the item sits in Queue.held.
	isHeld bool
}

// NewQueue builds a queue; Start runs its workers.
func NewQueue(p *Processor, s *store.Store, w *store.Writer, opts QueueOptions) *Queue {
	if opts.Workers < 1 {
		opts.Workers = 4
	}
	if opts.MaxAttempts < 1 {
		opts.MaxAttempts = 6
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
	if opts.StormMaxDelay <= 0 {
		opts.StormMaxDelay = time.Minute
	}
	if opts.FollowUp < 0 {
		opts.FollowUp = 0
	} else if opts.FollowUp == 0 {
		opts.FollowUp = 250 * time.Millisecond
	}
	log := opts.Logger
	if log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		log = l
	}
	q := &Queue{p: p, s: s, w: w, opts: opts, log: log.WithField("component", "queue"),
		items: map[string]*item{}, remaining: map[int64]int{}, wake: make(chan struct{}, 1), stopWaits: make(chan struct{}),
		writeSlots: make(chan struct{}, maxWrites)}
	q.idle = sync.NewCond(&q.mu)
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
	ctx, cancel := context.WithCancel(context.Background())
	q.ctx, q.cancel = client.StopWaits(ctx, q.stopWaits), cancel
	for i := 0; i < q.opts.Workers; i++ {
		q.wg.Add(1)
		go q.worker()
	}
	return nil
}

// Close stops the workers after their current item; unprocessed events stay
// pending in the store and are replayed at the next start. Drain first for a
// clean stop.
func (q *Queue) Close() {
	if q.cancel == nil {
		return
	}
	q.cancel()
	q.mu.Lock()
	q.idle.Broadcast()
	q.mu.Unlock()
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

// waitFor waits until cond, called with q.mu held, is true.
func (q *Queue) waitFor(ctx context.Context, cond func() bool) error {
	done := make(chan struct{})
	go func() {
		q.mu.Lock()
		for !cond() && ctx.Err() == nil && q.ctx.Err() == nil {
			q.idle.Wait()
		}
		q.mu.Unlock()
		close(done)
	}()
	select {
	case <-done:
		return ctx.Err()
	case <-ctx.Done():
		q.mu.Lock()
		q.idle.Broadcast()
		q.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

// drainedLocked reports whether every item left waits for a retry.
func (q *Queue) drainedLocked() bool {
	if q.recording > 0 {
		return false
	}
	for _, it := range q.items {
		if it.running || !it.retrying {
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
	q.countLocked(len(events), time.Now())
	for _, e := range events {
		ts := targetsOf(e)
		if len(ts) == 0 {
			continue
		}
		q.remaining[e.ID] += len(ts)
		for _, t := range ts {
			q.enqueueLocked(t, e.ID, e.ReceivedAt)
		}
	}
	q.signal()
}

// Enqueue asks for an issue to be fetched without an event (test endpoint,
// reconcile).
func (q *Queue) Enqueue(id, key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.enqueueLocked(target{id: id, key: key}, 0, time.Now())
	q.signal()
}

func (q *Queue) enqueueLocked(t target, event int64, accepted time.Time) {
	var events []int64
	if event != 0 {
		events = []int64{event}
	}
	it, waiting := q.addLocked(t, events, accepted)
	if waiting {
		return
	}
	if event != 0 && q.stormingLocked(time.Now()) {
		it.isHeld = true
		q.held = append(q.held, it)
		return
	}
	it.queued = true
	q.ready = append(q.ready, it)
}

// addLocked adds events of target t to its issue's item, creating the item
// when there is none: to the next run when one is running, else to the
// coming one. waiting reports that the item is running or already has its
// turn (ready, held or delayed); otherwise the caller schedules it.
func (q *Queue) addLocked(t target, events []int64, accepted time.Time) (it *item, waiting bool) {
	ident := "id:" + t.id
	if t.id == "" {
		// Key-only work is keyed by key. An item for the same issue keyed by
		// id may run at the same time; the writer's check of `updated` keeps
		// the older snapshot from overwriting the newer one.
		ident = "key:" + t.key
	}
	it = q.items[ident]
	if it == nil {
		it = &item{ident: ident, id: t.id, key: t.key}
		q.items[ident] = it
	}
	if it.key == "" {
		it.key = t.key
	}
	if it.running {
		it.again = true
		it.next = append(it.next, events...)
		it.nextDel = it.nextDel || t.delete
		if it.nextAcc.IsZero() || accepted.Before(it.nextAcc) {
			it.nextAcc = accepted
		}
		return it, true
	}
	it.events = append(it.events, events...)
	it.delete = it.delete || t.delete
	if it.accepted.IsZero() || accepted.Before(it.accepted) {
		it.accepted = accepted
	}
	return it, it.queued || it.isHeld || !it.due.IsZero()
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
	sum := 0
	for _, c := range q.arrivals {
		sum += c
	}
	if float64(sum) >= q.opts.StormRate {
		q.stormAt = now
	}
}

// stormingLocked reports whether events came in faster than StormRate a
// second within the last StormQuiet.
func (q *Queue) stormingLocked(now time.Time) bool {
	return !q.draining && !q.stormAt.IsZero() && now.Sub(q.stormAt) < q.opts.StormQuiet
}

// Storming reports whether the queue is in storm mode (see QueueOptions).
func (q *Queue) Storming() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.stormingLocked(time.Now())
}

func (q *Queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take returns the next runnable item, waiting for one; nil when stopping.
func (q *Queue) take() *item {
	for {
		q.mu.Lock()
		now := time.Now()
		storming := q.stormingLocked(now)
		// Move due retries and follow-ups to the ready list (follow-ups to
		// the held ones during a storm); a retry is not held: its events
		// have waited long enough.
		kept := q.delayed[:0]
		var nextDue time.Time
		for _, it := range q.delayed {
			if !it.due.After(now) || (q.draining && !it.retrying) {
				it.due = time.Time{}
				if storming && !it.retrying {
					it.isHeld = true
					q.held = append(q.held, it)
				} else {
					it.retrying = false
					it.queued = true
					q.ready = append(q.ready, it)
				}
				continue
			}
			if nextDue.IsZero() || it.due.Before(nextDue) {
				nextDue = it.due
			}
			kept = append(kept, it)
		}
		q.delayed = kept
		// Release held items once the storm has passed, or each when its
		// oldest event has waited StormMaxDelay.
		keptHeld := q.held[:0]
		for _, it := range q.held {
			release := it.accepted.Add(q.opts.StormMaxDelay)
			if !storming || !release.After(now) {
				it.isHeld = false
				it.queued = true
				q.ready = append(q.ready, it)
				continue
			}
			if nextDue.IsZero() || release.Before(nextDue) {
				nextDue = release
			}
			keptHeld = append(keptHeld, it)
		}
		q.held = keptHeld
		if len(q.held) > 0 {
			if end := q.stormAt.Add(q.opts.StormQuiet); nextDue.IsZero() || end.Before(nextDue) {
				nextDue = end
			}
		}
		if len(q.ready) > 0 {
			it := q.ready[0]
			q.ready = q.ready[1:]
			it.queued = false
			it.running = true
			q.busy++
			if len(q.ready) > 0 {
				q.signal()
			}
			q.mu.Unlock()
			return it
		}
		q.mu.Unlock()
		wait := time.Hour
		if !nextDue.IsZero() {
			wait = time.Until(nextDue)
		}
		timer := time.NewTimer(wait)
		select {
		case <-q.ctx.Done():
			timer.Stop()
			return nil
		case <-q.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

func (q *Queue) worker() {
	defer q.wg.Done()
	for {
		it := q.take()
		if it == nil {
			return
		}
		q.run(it)
	}
}

func (q *Queue) run(it *item) {
	// While the item runs, enqueueLocked may still fill in its key and add
	// follow-up events: read what this run needs under the lock.
	q.mu.Lock()
	id, key, del, accepted := it.id, it.key, it.delete, it.accepted
	taken := append([]int64(nil), it.events...)
	q.mu.Unlock()
	keyOrID := id
	if keyOrID == "" {
		keyOrID = key
		if found, err := q.s.IssueIDByKey(q.ctx, key); err == nil && found != "" {
			id = found
		}
	}
	req := Request{KeyOrID: keyOrID, ID: id, Key: key, Delete: del, Events: q.completing(taken)}
	rows, outcome, err := q.p.Prepare(q.ctx, req)
	if err != nil || rows == nil {
		q.finish(it, id, keyOrID, accepted, taken, outcome, err)
		return
	}
	// The write goes on without the worker, which fetches the next issue
	// meanwhile: the writer then commits the issues of several workers in
	// one transaction, where each statement costs milliseconds on a large
	// store whatever it touches. The item stays running, so its issue is
	// not fetched again before the write is done; writeSlots bounds the
	// writes waiting.
	q.writeSlots <- struct{}{}
	q.wg.Add(1)
	go func() {
		defer q.wg.Done()
		outcome, err := q.p.Write(q.ctx, rows, req.Events)
		<-q.writeSlots
		q.finish(it, id, keyOrID, accepted, taken, outcome, err)
	}()
}

// finish records the outcome of a run of it: done, retried, or failed.
func (q *Queue) finish(it *item, id, keyOrID string, accepted time.Time, taken []int64, outcome Outcome, err error) {
	if q.opts.Observe != nil {
		since := time.Duration(0)
		if !accepted.IsZero() {
			since = time.Since(accepted)
		}
		q.opts.Observe(outcome, err, since)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.busy--
	it.running = false
	if it.id == "" {
		it.id = id
	}
	if err != nil {
		q.restore(taken)
		if q.ctx.Err() != nil {
			// Stopping: the events stay pending in the store for the next start.
			delete(q.items, it.ident)
			q.idle.Broadcast()
			return
		}
		if errors.Is(err, client.ErrWaitAborted) {
			// Draining while Jira throttles this issue: leave it to be
			// retried (at the next start if the queue is closed first);
			// the try does not count against the issue.
			it.retrying = true
			it.due = time.Now().Add(q.backoff(max(it.attempts, 1)))
			q.delayed = append(q.delayed, it)
			q.mergeNext(it)
			q.idle.Broadcast()
			return
		}
		if storageFailure(err) {
			// A full or failing disk is not the issue's fault and says
			// nothing about Jira: giving up after MaxAttempts would mark
			// events failed (or, when that cannot be written either, leave
			// them pending but forgotten until a restart) because of an
			// outage that ends when space returns. Retry for as long as it
			// lasts, backing off to storageRetryMax.
			it.storageFailures++
			if q.storageErr == nil {
				q.storageSince = time.Now()
			}
			q.storageErr = err
			if it.storageFailures <= 3 || it.storageFailures%20 == 0 {
				q.log.WithError(err).WithField("issue", keyOrID).WithField("failures", it.storageFailures).
					Error("issue not stored: the disk is failing; will retry until it recovers")
			}
			it.retrying = true
			it.due = time.Now().Add(min(q.backoff(it.storageFailures), storageRetryMax))
			q.delayed = append(q.delayed, it)
			q.mergeNext(it)
			q.idle.Broadcast()
			q.signal()
			return
		}
		it.storageFailures = 0
		q.storageErr = nil
		it.attempts++
		log := q.log.WithError(err).WithField("issue", keyOrID).WithField("attempt", it.attempts)
		if !retryable(err) || keyConflict(err) || it.attempts >= q.opts.MaxAttempts {
			log.Error("issue processing failed; events marked failed")
			q.fail(it, err)
		} else {
			log.Warn("issue processing failed; will retry")
			it.retrying = true
			it.due = time.Now().Add(q.backoff(it.attempts))
			q.delayed = append(q.delayed, it)
			q.mergeNext(it)
			q.idle.Broadcast()
			q.signal()
			return
		}
	} else {
		q.log.WithField("issue", keyOrID).WithField("outcome", string(outcome)).Debug("issue processed")
		it.attempts, it.storageFailures = 0, 0
		q.storageErr = nil
		it.events = nil
		it.delete = false
		it.accepted = time.Time{}
	}
	if it.again {
		q.mergeNext(it)
		it.due = time.Now().Add(q.opts.FollowUp)
		if q.draining {
			it.due = time.Now()
		}
		q.delayed = append(q.delayed, it)
		q.signal()
		return
	}
	if len(it.events) == 0 {
		delete(q.items, it.ident)
		q.idle.Broadcast()
	}
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

// maxWrites bounds the issue writes waiting for the writer: about one
// writer transaction's worth.
const maxWrites = 64

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

// restore undoes completing for a run that failed: every event of the item
// counts this target as outstanding again.
func (q *Queue) restore(taken []int64) {
	for _, e := range taken {
		q.remaining[e]++
	}
}

func (q *Queue) mergeNext(it *item) {
	it.events = append(it.events, it.next...)
	it.delete = it.delete || it.nextDel
	if it.accepted.IsZero() || (!it.nextAcc.IsZero() && it.nextAcc.Before(it.accepted)) {
		it.accepted = it.nextAcc
	}
	it.next, it.nextDel, it.nextAcc, it.again = nil, false, time.Time{}, false
}

// fail marks the item's events failed for good.
func (q *Queue) fail(it *item, cause error) {
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
	go func() {
		defer func() {
			q.mu.Lock()
			q.recording--
			q.idle.Broadcast()
			q.mu.Unlock()
		}()
		err := q.w.Do(context.Background(), func(ctx context.Context, tx *sql.Tx) error {
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
	}()
}

// requeue puts events whose outcome could not be recorded back in the
// queue, to run after wait.
func (q *Queue) requeue(t target, events []int64, accepted time.Time, wait time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.ctx != nil && q.ctx.Err() != nil {
		return // stopping: the events are replayed at the next start
	}
	for _, e := range events {
		q.remaining[e] = 1
	}
	it, waiting := q.addLocked(t, events, accepted)
	if waiting {
		return
	}
	it.retrying = true
	it.due = time.Now().Add(wait)
	q.delayed = append(q.delayed, it)
	q.signal()
}

func (q *Queue) backoff(attempt int) time.Duration {
	d := q.opts.RetryBase << min(attempt-1, 20)
	if d > q.opts.RetryMax || d <= 0 {
		d = q.opts.RetryMax
	}
	return d/2 + rand.N(d/2+1)
}
