package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jiraduck/jiraduck/internal/gather"
	"github.com/jiraduck/jiraduck/internal/normalize"
)

// Op is a unit of work for the Writer, run inside its transaction. An Op may
// run twice (once in a batch that failed, then alone), so it must only touch
// the database.
type Op func(ctx context.Context, tx *Tx) error

// Writer serialises every write of a long-lived process through one goroutine
// that groups queued ops into one transaction. DuckDB aborts the second of two
// transactions that touch the same row instead of waiting, and a transaction
// costs milliseconds whatever its size, so one batching writer beats a pool.
type Writer struct {
	s        *Store
	ops      chan *pendingOp
	maxBatch int
	onCommit func(n int)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.RWMutex
	closed bool
	// conn is the writer goroutine's own connection, used by it alone.
	conn *sql.Conn
	// indexLimit is the size of the primary keys' indexes in DuckDB's
	// pool above which the writer checkpoints after a commit (0: never);
	// see CheckpointAbove.
	indexLimit atomic.Int64
	// checkpoints counts the checkpoints relieve made.
	checkpoints atomic.Int64
}

type pendingOp struct {
	ctx  context.Context
	fn   Op
	done chan error
	// apply, when set, makes this an issue write that the writer merges
	// with the other issue writes of its batch into one ApplyBatch.
	apply *applyOp
}

type applyOp struct {
	rows   *normalize.Rows
	events []int64
	result ApplyResult
}

// ErrClosed means the writer has stopped.
var ErrClosed = errors.New("store writer closed")

// NewWriter starts the writer goroutine. maxBatch bounds the ops per
// transaction; onCommit, if set, is called after each commit with the number
// of ops committed.
func (s *Store) NewWriter(maxBatch int, onCommit func(n int)) *Writer {
	if maxBatch < 1 {
		maxBatch = 64
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &Writer{s: s, ops: make(chan *pendingOp, 4*maxBatch), maxBatch: maxBatch, onCommit: onCommit, ctx: ctx, cancel: cancel}
	w.wg.Add(1)
	go w.loop()
	return w
}

// CheckpointAbove makes the writer checkpoint after a commit once the primary
// keys' indexes in DuckDB's pool (duckdb_memory()'s ART_INDEX) exceed limit
// bytes; 0 turns it off.
//
// Every key a write inserts or looks up loads its index's nodes into the
// pool, and they stay there, never evicted, until a checkpoint writes them
// out: a 1,000,000-issue rebuild ran a 256MB pool out of memory at 360,000
// issues (195 MB of indexes), and edits spread over a 100,000-issue store
// ran serve's 128MB pool out within seconds, where DuckDB answers a failed
// rollback by invalidating the store. DuckDB checkpoints on its own only when
// its write-ahead log passes checkpoint_threshold, which says nothing of the
// pool. A checkpoint brings the indexes back to almost nothing.
func (w *Writer) CheckpointAbove(limit int64) {
	w.indexLimit.Store(max(limit, 0))
}

// CheckpointLimit is the limit CheckpointAbove set (0: off).
func (w *Writer) CheckpointLimit() int64 { return w.indexLimit.Load() }

// Do queues fn and waits until it is committed (nil) or has failed.
func (w *Writer) Do(ctx context.Context, fn Op) error {
	return w.submit(ctx, &pendingOp{ctx: ctx, fn: fn, done: make(chan error, 1)})
}

func (w *Writer) submit(ctx context.Context, p *pendingOp) error {
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return ErrClosed
	}
	select {
	case w.ops <- p:
	case <-ctx.Done():
		w.mu.RUnlock()
		return ctx.Err()
	}
	w.mu.RUnlock()
	// Once queued, the op runs even if ctx ends, so a caller never abandons a
	// write half-known: wait for its outcome.
	return <-p.done
}

// Apply writes one normalized issue and marks its webhook events done, in one
// transaction, unless the store holds a newer version of the issue (then only
// the events are marked done and the result says Stale). Concurrent calls are
// merged into one ApplyBatch: a batch of issues costs a few statements per
// table instead of a few per issue.
func (w *Writer) Apply(ctx context.Context, rows *normalize.Rows, events []int64) (ApplyResult, error) {
	op := &applyOp{rows: rows, events: events}
	err := w.submit(ctx, &pendingOp{ctx: ctx, apply: op, done: make(chan error, 1)})
	return op.result, err
}

// Close stops accepting ops, runs those already queued and stops.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	close(w.ops)
	w.mu.Unlock()
	w.wg.Wait()
	var err error
	if w.conn != nil {
		err = w.conn.Close()
	}
	w.cancel()
	return err
}

func (w *Writer) loop() {
	defer w.wg.Done()
	for first := range w.ops {
		w.run(gather.Waiting(w.ops, []*pendingOp{first}, w.maxBatch))
	}
}

// run commits a batch in one transaction; when that fails, each op is retried
// alone so only the op at fault sees an error. A write conflict (another
// process-level writer, e.g. intake) is retried a few times.
func (w *Writer) run(batch []*pendingOp) {
	live := batch[:0]
	for _, p := range batch {
		if err := p.ctx.Err(); err != nil {
			p.done <- err
			continue
		}
		live = append(live, p)
	}
	if len(live) == 0 {
		return
	}
	err := w.commit(live)
	if err == nil {
		for _, p := range live {
			p.done <- nil
		}
		if w.onCommit != nil {
			w.onCommit(len(live))
		}
		// The next batch waits for it, the callers of this one do not.
		w.relieve()
		return
	}
	if len(live) == 1 {
		live[0].done <- w.explain(live[0], err)
		return
	}
	for _, p := range live {
		err := w.commit([]*pendingOp{p})
		p.done <- w.explain(p, err)
		if err == nil && w.onCommit != nil {
			w.onCommit(1)
		}
	}
	w.relieve()
}

// relieve checkpoints when the indexes in the pool pass the writer's limit
// (CheckpointAbove). A checkpoint DuckDB refuses while another write
// transaction is open (the intake's, an operator's) is tried again for a
// moment, then left to the next commit. It fails nothing: the commit is
// done, and a checkpoint that did not happen is only memory kept longer.
func (w *Writer) relieve() {
	limit := w.indexLimit.Load()
	if limit <= 0 || w.conn == nil {
		return
	}
	uses, err := w.s.Memory(w.ctx)
	if err != nil {
		w.s.log.WithError(err).Warn("writer: read DuckDB's memory")
		return
	}
	var pinned int64
	for _, u := range uses {
		if u.Tag == "ART_INDEX" {
			pinned += u.Bytes
		}
	}
	if pinned <= limit {
		return
	}
	start := time.Now()
	if err := checkpointOn(w.ctx, w.conn, relieveWait); err != nil {
		w.s.log.WithError(err).WithField("index_bytes", pinned).Warn("writer: checkpoint to release the indexes' memory")
		return
	}
	w.checkpoints.Add(1)
	w.s.log.WithFields(map[string]any{"index_bytes": pinned, "limit_bytes": limit,
		"duration_ms": time.Since(start).Milliseconds()}).Info("writer: checkpointed to release the indexes' memory")
}

// relieveWait bounds how long relieve waits for other write transactions.
const relieveWait = time.Second

// Checkpoints is how many checkpoints the writer has made to release the
// indexes' memory (CheckpointAbove).
func (w *Writer) Checkpoints() int64 { return w.checkpoints.Load() }

// explain names the other issue when an issue write failed alone on a
// primary key another issue holds (see KeyConflictError), so that the
// failure says what to look at and is not retried as if it were passing.
func (w *Writer) explain(p *pendingOp, err error) error {
	if err == nil || p.apply == nil {
		return err
	}
	return w.s.ExplainConflict(w.ctx, p.apply.rows, err)
}

func (w *Writer) commit(batch []*pendingOp) error {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		err = w.inTx(func(ctx context.Context, tx *Tx) error {
			var applies []*applyOp
			for _, p := range batch {
				if p.apply != nil {
					applies = append(applies, p.apply)
					continue
				}
				if err := p.fn(ctx, tx); err != nil {
					return err
				}
			}
			return w.applyAll(ctx, tx, applies)
		})
		if !errors.Is(err, ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("after 3 attempts: %w", err)
}

// inTx runs fn in a transaction on the writer's own connection. The Tx
// carries the connection so that bulk inserts can use DuckDB's appender on
// it: the appender joins the transaction open on its connection, and appends
// rows much faster than multi-row INSERTs.
func (w *Writer) inTx(fn func(ctx context.Context, tx *Tx) error) (err error) {
	if w.conn == nil {
		if w.conn, err = w.s.db.Conn(w.ctx); err != nil {
			return fmt.Errorf("writer connection: %w", err)
		}
	}
	tx, err := w.conn.BeginTx(w.ctx, nil)
	if err != nil {
		// A broken connection is replaced at the next transaction.
		w.conn.Close()
		w.conn = nil
		return fmt.Errorf("begin: %w", err)
	}
	return finishTx(&Tx{Tx: tx, conn: w.conn}, func(tx *Tx) error { return fn(w.ctx, tx) })
}

// applyAll writes the issue writes of a batch with as few ApplyBatch calls as
// the rule "an issue appears once per call" allows, in arrival order.
func (w *Writer) applyAll(ctx context.Context, tx *Tx, ops []*applyOp) error {
	for len(ops) > 0 {
		seen := map[string]bool{}
		var now, later []*applyOp
		for _, op := range ops {
			id := op.rows.Issue.IssueID
			if seen[id] {
				later = append(later, op)
				continue
			}
			seen[id] = true
			now = append(now, op)
		}
		batch := make([]*normalize.Rows, len(now))
		var events []int64
		for i, op := range now {
			batch[i] = op.rows
			events = append(events, op.events...)
		}
		res, err := w.s.ApplyBatch(ctx, tx, batch, ApplyOptions{SkipStale: true})
		if err != nil {
			return err
		}
		if err := FinishEvents(ctx, tx, events, EventDone, "", 1); err != nil {
			return err
		}
		for i, op := range now {
			op.result = res[i]
		}
		ops = later
	}
	return nil
}
