// Package intake receives Jira webhooks: it checks the signature, validates
// the body, drops repeated deliveries and stores every accepted event durably
// before answering: in a journal file, fsynced once for every group of
// concurrent deliveries (group commit), from which a mover puts the events
// into webhook_events and hands them to the queue (see journal.go).
package intake

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jiraduck/jiraduck/internal/errkind"
	"github.com/jiraduck/jiraduck/internal/gather"
	"github.com/jiraduck/jiraduck/internal/httpx"
	"github.com/jiraduck/jiraduck/internal/jira"
	"github.com/jiraduck/jiraduck/internal/logx"
	"github.com/jiraduck/jiraduck/internal/store"
	"github.com/sirupsen/logrus"
)

// MaxBody is the largest webhook body accepted (413 above).
const MaxBody = 10 << 20

// DefaultMaxReading is the default of Options.MaxReading.
const DefaultMaxReading = 32 << 20

// Sink receives the events that were committed and need processing.
type Sink interface {
	Accept(events []*store.Event)
}

// ObjectEvents receives the events about the site's other objects
// (projects, versions, users, link types...), which refresh a table rather
// than fetch an issue.
type ObjectEvents interface {
	// Wants reports whether events of this type refresh a table.
	Wants(eventType string) bool
	// Changed is told of the types of wanted events once they are stored.
	Changed(eventTypes []string)
}

// Options configure the intake.
type Options struct {
	// Secret is the webhook HMAC secret; empty refuses every delivery with 503
	// unless AllowUnsigned is set.
	Secret        []byte
	AllowUnsigned bool
	Logger        logrus.FieldLogger
	// Observe, if set, is told the event type ("" when unknown) and the status
	// code of every answer.
	Observe func(eventType string, status int)
	// Now is the clock; time.Now by default.
	Now func() time.Time
	// Journal is the path of the journal file (required): events are
	// durable there before their 202 and move to the store behind it.
	Journal string
	// MaxUnmoved bounds the bytes of accepted events not yet in the store
	// (default 256 MiB): while the store cannot take them, deliveries past
	// it are refused with 503 and Jira retries them.
	MaxUnmoved int64
	// MaxReading bounds the bytes of bodies being read at once, before
	// their signature is checked (DefaultMaxReading when zero, at least
	// MaxBody): a delivery past it is answered 503 with Retry-After.
	MaxReading int64
	// Objects, if set, takes the events it wants once they are stored.
	// Such an event that names no issue is stored as done: its table's
	// refresh is all it asks for.
	Objects ObjectEvents
	// WarnEvery is the least time between two log lines about refused
	// deliveries (wrong signature, replay, reading bound); each line
	// counts those since the previous one. A minute when zero.
	WarnEvery time.Duration

	// filterCapacity is the smallest delivery filter (tests make it tiny
	// to see it reloaded); minFilterCapacity when zero.
	filterCapacity int
}

// Intake is the webhook receiver. Close it to stop its appender.
type Intake struct {
	s     *store.Store
	sink  Sink
	opts  Options
	log   logrus.FieldLogger
	reply httpx.Format

	reqs   chan *appendReq
	nextID int64
	wg     sync.WaitGroup
	mu     sync.RWMutex
	closed bool

	journal *journal
	moverWG sync.WaitGroup
	// moveMu guards what is journaled but not yet in the store: the
	// delivery ids and body hashes (a repeated delivery is a duplicate
	// before the store knows it too), the count of events and their bytes.
	moveMu        sync.Mutex
	moveCond      *sync.Cond
	unmovedIDs    map[string]bool
	unmovedBodies map[string]bool
	unmoved       int
	unmovedBytes  int64
	moverDone     bool
	moveStop      chan struct{}
	// waiting are the journaled events the mover has not taken yet, in
	// journal order, and movesClosed says that none will follow them;
	// moveWake tells the mover that there are some. A slice, not a
	// channel: the appender never waits for the mover (MaxUnmoved bounds
	// what waits).
	waiting      []*store.Event
	movesClosed  bool
	moveWake     chan struct{}
	afterJournal func() // tests: called after each group is journaled
	// insert puts moved events into the store (tests replace it to fail),
	// and moveGrace bounds how long Close waits for the mover.
	insert    func(events []*store.Event) error
	moveGrace time.Duration
	// load makes the delivery filters (tests replace it to hold a reload).
	load func(ctx context.Context, atLeast int) (ids, bodies *deliveryFilter, err error)

	statsMu   sync.Mutex
	lastEvent time.Time
	// failSince, failAt and failErr describe the appends that failed since
	// the last one that succeeded (see AppendTrouble).
	failSince, failAt time.Time
	failErr           error

	// commits counts committed group transactions; tests read it to see
	// that concurrent deliveries share a commit.
	commits atomic.Int64

	// macs are HMAC-SHA256 hashes keyed with the secret, reset after use.
	macs sync.Pool

	// reading bounds the bodies being read; the limiters keep refused
	// deliveries from writing a log line each.
	reading                          budget
	badSignatures, replays, overflow warnLimiter

	// stage is held by a group commit and by Attach: before Attach, s is
	// nil and early holds the events journaled (unnumbered, but for those
	// a previous run numbered) for Attach to move.
	stage sync.Mutex
	early []*store.Event

	// delivered holds every delivery id and every body hash the store or
	// the journal has; Close ends a reload of it with stopReload.
	delivered  deliverySet
	stopReload context.CancelFunc
	reloadCtx  context.Context
}

type appendReq struct {
	ev   *store.Event
	done chan appendResult
}

type appendResult struct {
	id        int64
	duplicate bool
	// replay says the duplicate had a new delivery id but a body already
	// stored.
	replay bool
	err    error
}

// maxGroup bounds the events of one group commit.
const maxGroup = 512

// New opens the intake on an open store: Open, then Attach.
func New(ctx context.Context, s *store.Store, sink Sink, opts Options) (*Intake, error) {
	in, err := Open(opts)
	if err != nil {
		return nil, err
	}
	if err := in.Attach(ctx, s, sink); err != nil {
		in.Close()
		return nil, err
	}
	return in, nil
}

// Open opens the journal and starts acknowledging deliveries before the
// store is open: serve compacts and migrates the store first, which takes
// minutes on a large one, and Jira gives up on a delivery after about ten
// seconds and a few retries. Until Attach, an accepted event is journaled
// unnumbered: its id, and whether the store holds its delivery already, are
// known only once the store is. A repeat of a delivery journaled meanwhile
// is still answered as a duplicate; one of a delivery stored before is
// acknowledged, and dropped at Attach.
func Open(opts Options) (*Intake, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Journal == "" {
		return nil, errors.New("intake: no journal path")
	}
	if opts.MaxUnmoved <= 0 {
		opts.MaxUnmoved = 256 << 20
	}
	if opts.MaxReading <= 0 {
		opts.MaxReading = DefaultMaxReading
	}
	opts.MaxReading = max(opts.MaxReading, MaxBody)
	if opts.WarnEvery <= 0 {
		opts.WarnEvery = time.Minute
	}
	log := opts.Logger
	if log == nil {
		log = logx.Discard()
	}
	j, left, err := openJournal(opts.Journal)
	if err != nil {
		return nil, err
	}
	in := &Intake{opts: opts, log: log.WithField("component", "intake"),
		reqs: make(chan *appendReq, 4*maxGroup), journal: j,
		unmovedIDs: map[string]bool{}, unmovedBodies: map[string]bool{}, moveStop: make(chan struct{}), moveWake: make(chan struct{}, 1)}
	in.reply = httpx.Format{Log: in.log}
	in.macs.New = func() any { return hmac.New(sha256.New, opts.Secret) }
	in.moveCond = sync.NewCond(&in.moveMu)
	in.reading.limit = opts.MaxReading
	for _, l := range []*warnLimiter{&in.badSignatures, &in.replays, &in.overflow} {
		l.interval = opts.WarnEvery
	}
	in.moveGrace = moveGrace
	in.load = in.loadDeliveries
	in.reloadCtx, in.stopReload = context.WithCancel(context.Background())
	in.insert = func(events []*store.Event) error {
		// The mover outlives the ctx of Attach, and retries a failing
		// store itself: the insert has no deadline of its own.
		ctx := context.Background()
		return in.s.WithBulkTx(ctx, func(tx *store.Tx) error { return store.InsertEvents(ctx, tx, events) })
	}
	// What a previous run journaled and did not move (it stopped or
	// crashed in between) waits for Attach with what arrives until then;
	// its deliveries are journaled, so a repeat is a duplicate.
	in.early = left
	in.markUnmoved(left)
	in.wg.Add(1)
	go in.appender()
	return in, nil
}

// Attach opens the intake on the store: it moves to the store what was
// journaled before, numbered now, but for the events the store holds
// already (a previous run moved them, or they repeat a delivery stored
// before), starts the mover, and from then on looks deliveries up in the
// store too and numbers them as they are journaled. The sink receives the
// moved events that need processing.
func (in *Intake) Attach(ctx context.Context, s *store.Store, sink Sink) error {
	next, err := s.NextEventID(ctx)
	if err != nil {
		return err
	}
	// The filters take a second or more on a large store: loaded before
	// deliveries are held back, and given at once what is journaled until
	// then (in.early).
	ids, bodies, err := in.loadDeliveriesFrom(ctx, s, 0)
	if err != nil {
		return err
	}
	in.stage.Lock()
	defer in.stage.Unlock()
	var numbered []int64
	var delivered, sums []string
	for _, e := range in.early {
		if e.ID > 0 {
			numbered = append(numbered, e.ID)
			next = max(next, e.ID+1)
			continue
		}
		if e.DeliveryID != "" {
			delivered = append(delivered, e.DeliveryID)
		}
		if e.BodySHA256 != "" {
			sums = append(sums, e.BodySHA256)
		}
	}
	storedIDs, err := s.StoredEventIDs(ctx, numbered)
	if err != nil {
		return err
	}
	known, err := store.KnownDeliveries(ctx, s.DB(), delivered)
	if err != nil {
		return err
	}
	knownBodies, err := store.KnownBodies(ctx, s.DB(), sums)
	if err != nil {
		return err
	}
	var todo, held []*store.Event
	for _, e := range in.early {
		switch {
		case e.ID > 0 && storedIDs[e.ID], e.ID == 0 && (known[e.DeliveryID] || knownBodies[e.BodySHA256]):
			held = append(held, e)
		case e.ID > 0:
			todo = append(todo, e)
		default:
			e.ID = next
			next++
			todo = append(todo, e)
		}
	}
	if last, err := s.LastEventAt(ctx); err == nil {
		in.statsMu.Lock()
		if last.After(in.lastEvent) {
			in.lastEvent = last
		}
		in.statsMu.Unlock()
	}
	in.s, in.sink, in.nextID = s, sink, next
	in.delivered.ids, in.delivered.bodies = ids, bodies
	for _, e := range in.early {
		in.delivered.add(e.DeliveryID, e.BodySHA256)
	}
	in.early = nil
	if len(todo) > 0 || len(held) > 0 {
		in.log.WithField("events", len(todo)).WithField("journaled", len(todo)+len(held)).Info("moving journaled events to the store")
	}
	if len(held) > 0 {
		in.forget(held)
	}
	in.queueMoves(todo)
	in.moverWG.Add(1)
	go in.mover()
	return nil
}

// Close stops accepting deliveries, waits for queued appends, and gives the
// mover up to moveGrace to put what was journaled into the store; what it
// cannot stays in the journal for the next start.
func (in *Intake) Close() error {
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		return nil
	}
	in.closed = true
	close(in.reqs)
	in.mu.Unlock()
	in.wg.Wait()
	// A reload reads every stored delivery: a second or more on a large
	// store, for filters nobody will ask once the intake is closed.
	in.stopReload()
	in.delivered.wg.Wait()
	in.moveMu.Lock()
	in.movesClosed = true
	in.moveMu.Unlock()
	in.wakeMover()
	done := make(chan struct{})
	go func() { in.moverWG.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(in.moveGrace):
		close(in.moveStop)
		<-done
	}
	// Never attached, no mover ran: what was journaled stays there, and
	// Flush must not wait for it.
	in.moveMu.Lock()
	in.moverDone = true
	in.moveCond.Broadcast()
	in.moveMu.Unlock()
	in.badSignatures.flush(in.log, msgBadSignatures)
	in.replays.flush(in.log, msgReplays)
	in.overflow.flush(in.log, msgOverflow)
	return in.journal.close()
}

// moveGrace bounds how long Close waits for journaled events to reach the
// store (a full disk).
const moveGrace = 10 * time.Second

// Flush waits until every event journaled so far is in the store and handed
// to the sink, or ctx ends.
func (in *Intake) Flush(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		in.moveMu.Lock()
		in.moveCond.Broadcast()
		in.moveMu.Unlock()
	})
	defer stop()
	in.moveMu.Lock()
	defer in.moveMu.Unlock()
	for in.unmoved > 0 && !in.moverDone && ctx.Err() == nil {
		in.moveCond.Wait()
	}
	if in.unmoved > 0 && in.moverDone {
		return fmt.Errorf("intake closed with %d events left in the journal", in.unmoved)
	}
	return ctx.Err()
}

// markUnmoved notes journaled events as not yet in the store.
func (in *Intake) markUnmoved(events []*store.Event) {
	in.moveMu.Lock()
	defer in.moveMu.Unlock()
	for _, e := range events {
		if e.DeliveryID != "" {
			in.unmovedIDs[e.DeliveryID] = true
		}
		if e.BodySHA256 != "" {
			in.unmovedBodies[e.BodySHA256] = true
		}
		in.unmoved++
		in.unmovedBytes += int64(len(e.Body))
	}
}

// queueMoves hands events marked unmoved to the mover.
func (in *Intake) queueMoves(events []*store.Event) {
	if len(events) == 0 {
		return
	}
	in.moveMu.Lock()
	defer in.wakeMover()
	defer in.moveMu.Unlock()
	in.waiting = append(in.waiting, events...)
}

// loadDeliveries makes new filters of every delivery id and every body hash
// stored or journaled, each with room for twice as many as it finds (and at
// least twice atLeast). The journaled ones are read first: one the mover
// moves meanwhile is then in the store when it is scanned.
func (in *Intake) loadDeliveries(ctx context.Context, atLeast int) (*deliveryFilter, *deliveryFilter, error) {
	return in.loadDeliveriesFrom(ctx, in.s, atLeast)
}

// loadDeliveriesFrom is loadDeliveries from the store s.
func (in *Intake) loadDeliveriesFrom(ctx context.Context, s *store.Store, atLeast int) (*deliveryFilter, *deliveryFilter, error) {
	in.moveMu.Lock()
	unmoved := make([]string, 0, len(in.unmovedIDs))
	for d := range in.unmovedIDs {
		unmoved = append(unmoved, d)
	}
	unmovedBodies := make([]string, 0, len(in.unmovedBodies))
	for b := range in.unmovedBodies {
		unmovedBodies = append(unmovedBodies, b)
	}
	in.moveMu.Unlock()
	storedIDs, storedBodies, err := s.DeliveryCount(ctx)
	if err != nil {
		return nil, nil, err
	}
	smallest := in.opts.filterCapacity
	if smallest <= 0 {
		smallest = minFilterCapacity
	}
	ids := newDeliveryFilter(max(2*max(storedIDs+len(unmoved), atLeast), smallest))
	bodies := newDeliveryFilter(max(2*max(storedBodies+len(unmovedBodies), atLeast), smallest))
	err = s.EachDelivery(ctx, func(id, sum string) {
		if id != "" {
			ids.add(id)
		}
		if sum != "" {
			bodies.add(sum)
		}
	})
	if err != nil {
		return nil, nil, err
	}
	for _, d := range unmoved {
		ids.add(d)
	}
	for _, b := range unmovedBodies {
		bodies.add(b)
	}
	return ids, bodies, nil
}

// reloadDeliveries makes new delivery filters in the background when one
// is full. Started here, between groups, it finds every id accepted so far
// in the store or still journaled; those accepted later are added to the
// new filters when they replace the full ones.
func (in *Intake) reloadDeliveries() {
	atLeast, start := in.delivered.startReload()
	if !start {
		return
	}
	in.delivered.wg.Go(func() {
		ids, bodies, err := in.load(in.reloadCtx, atLeast)
		if err != nil && in.reloadCtx.Err() == nil {
			// The full filters stay right; they only say "maybe" more
			// often.
			in.log.WithError(err).Warn("delivery filter not reloaded")
		}
		in.delivered.finishReload(ids, bodies, err)
	})
}

// wakeMover tells the mover that events wait, or that none will come.
func (in *Intake) wakeMover() {
	select {
	case in.moveWake <- struct{}{}:
	default:
	}
}

// maxMove bounds the events of one move.
const maxMove = 4 * maxGroup

// moveEvery is the least time from one move to the next while events keep
// coming: a DuckDB transaction costs milliseconds whatever its size, and
// at 1,000 deliveries a second a mover that moved whatever waited after
// each commit made a few events a commit, hundreds of commits a second, a
// fourth of serve's CPU beside the intake. A lone event after a quiet
// moment is moved at once.
const moveEvery = 50 * time.Millisecond

// takeMoves takes up to maxMove waiting events, and reports whether more
// wait and whether none will come after those.
func (in *Intake) takeMoves() (batch []*store.Event, more, closed bool) {
	in.moveMu.Lock()
	defer in.moveMu.Unlock()
	n := min(len(in.waiting), maxMove)
	batch = in.waiting[:n:n]
	in.waiting = in.waiting[n:]
	if len(in.waiting) == 0 {
		in.waiting = nil
	}
	return batch, len(in.waiting) > 0, in.movesClosed
}

// movesWaiting reports whether journaled events wait for the mover.
func (in *Intake) movesWaiting() bool {
	in.moveMu.Lock()
	defer in.moveMu.Unlock()
	return len(in.waiting) > 0
}

// mover puts journaled events into webhook_events, in the order they were
// journaled, one transaction for whatever is waiting (at most one every
// moveEvery while they keep coming); then hands the pending ones to the
// sink and lets the journal empty. A failing store is retried with backoff
// for as long as it fails: the events are acknowledged and in the journal,
// and nothing is dropped.
func (in *Intake) mover() {
	defer in.moverWG.Done()
	defer func() {
		in.moveMu.Lock()
		in.moverDone = true
		in.moveCond.Broadcast()
		in.moveMu.Unlock()
	}()
	for {
		batch, more, closed := in.takeMoves()
		if len(batch) == 0 {
			if closed {
				return
			}
			<-in.moveWake
			continue
		}
		started := time.Now()
		for failures := 0; ; failures++ {
			err := in.moveBatch(batch, failures > 0)
			if err == nil {
				break
			}
			in.failed(err)
			if failures < 3 || failures%20 == 0 {
				in.log.WithError(err).WithField("events", len(batch)).WithField("failures", failures+1).
					Error("journaled webhook events not moved to the store; retrying")
			}
			select {
			case <-in.moveStop:
				return // Close gave up: the journal keeps them
			case <-time.After(min(50*time.Millisecond<<min(failures, 8), 5*time.Second)):
			}
		}
		in.succeeded()
		in.moved(batch)
		if closed || more {
			continue // draining, or a backlog: no pause
		}
		if wait := time.Until(started.Add(moveEvery)); wait > 0 && in.movesWaiting() {
			select {
			case <-in.moveStop:
				return
			case <-time.After(wait):
			}
		}
	}
}

// moved hands the pending events of a moved batch to the sink, lets the
// journal drop the batch and forgets it as unmoved.
func (in *Intake) moved(batch []*store.Event) {
	var pending []*store.Event
	for _, e := range batch {
		if e.State == store.EventPending {
			pending = append(pending, e)
		}
	}
	if len(pending) > 0 && in.sink != nil {
		in.sink.Accept(pending)
	}
	if in.opts.Objects != nil {
		var types []string
		for _, e := range batch {
			if in.opts.Objects.Wants(e.Type) && !slices.Contains(types, e.Type) {
				types = append(types, e.Type)
			}
		}
		if len(types) > 0 {
			in.opts.Objects.Changed(types)
		}
	}
	in.forget(batch)
}

// forget lets the journal drop events the store holds and forgets them as
// unmoved.
func (in *Intake) forget(batch []*store.Event) {
	if err := in.journal.moved(len(batch)); err != nil {
		in.log.WithError(err).Warn("webhook journal not emptied")
	}
	in.moveMu.Lock()
	defer in.moveMu.Unlock()
	for _, e := range batch {
		if e.DeliveryID != "" {
			delete(in.unmovedIDs, e.DeliveryID)
		}
		if e.BodySHA256 != "" {
			delete(in.unmovedBodies, e.BodySHA256)
		}
		in.unmovedBytes -= int64(len(e.Body))
	}
	in.unmoved -= len(batch)
	in.moveCond.Broadcast()
}

// moveBatch inserts the events of batch. A retry first asks which of them
// the store holds and inserts only the others: DuckDB can report a failure
// for a transaction that took effect (seen when it ran out of memory), and
// inserting those events again would fail on their primary key at every
// retry, for as long as the process runs.
func (in *Intake) moveBatch(batch []*store.Event, retry bool) error {
	if !retry {
		return in.insert(batch)
	}
	ids := make([]int64, len(batch))
	for i, e := range batch {
		ids[i] = e.ID
	}
	stored, err := in.s.StoredEventIDs(context.Background(), ids)
	if err != nil {
		return err
	}
	missing := slices.DeleteFunc(slices.Clone(batch), func(e *store.Event) bool { return stored[e.ID] })
	if len(missing) == 0 {
		return nil
	}
	return in.insert(missing)
}

// failed and succeeded keep the failures since the last success for
// AppendTrouble.
func (in *Intake) failed(err error) {
	in.statsMu.Lock()
	defer in.statsMu.Unlock()
	in.failAt, in.failErr = in.opts.Now().UTC(), err
	if in.failSince.IsZero() {
		in.failSince = in.failAt
	}
}

func (in *Intake) succeeded() {
	in.statsMu.Lock()
	defer in.statsMu.Unlock()
	in.failSince, in.failAt, in.failErr = time.Time{}, time.Time{}, nil
}

// LastEventAt is when the newest event was accepted.
func (in *Intake) LastEventAt() time.Time {
	in.statsMu.Lock()
	defer in.statsMu.Unlock()
	return in.lastEvent
}

// AppendTrouble reports the appends that failed since the last one that
// succeeded: when the first and the latest of them failed, and the latest
// error; a nil error once an append succeeds again. While the store cannot
// write (a full disk), every delivery is refused with 503 and Jira retries
// it, so this is what tells health and readiness.
func (in *Intake) AppendTrouble() (since, last time.Time, err error) {
	in.statsMu.Lock()
	defer in.statsMu.Unlock()
	return in.failSince, in.failAt, in.failErr
}

// Configured reports whether deliveries can be accepted.
func (in *Intake) Configured() bool { return len(in.opts.Secret) > 0 || in.opts.AllowUnsigned }

// Messages of the rate-limited warnings.
const (
	msgBadSignatures = "webhook signatures refused"
	msgReplays       = "webhook replays refused: a body already stored came with a new delivery id"
	msgOverflow      = "webhook deliveries refused: too many bytes of bodies being read at once"
)

// retryAfter is what a 503 answer asks Jira to wait, in seconds.
const retryAfter = "5"

// ServeHTTP handles POST /webhooks/jira.
func (in *Intake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	status, body, eventType, err := in.handle(r)
	if err != nil {
		status = httpx.Status(err)
	}
	if in.opts.Observe != nil {
		in.opts.Observe(eventType, status)
	}
	if err != nil {
		// Jira retries a refused delivery; a store that cannot write or
		// a full reading budget passes, so it is told when.
		if errkind.Of(err) == errkind.Unavailable {
			w.Header().Set("Retry-After", retryAfter)
		}
		in.reply.Error(w, r, err)
		return
	}
	in.reply.JSON(w, status, body)
}

// errTooBig and errReadingFull are the reasons readBody refuses a body.
var (
	errTooBig      = errkind.Errorf(errkind.TooLarge, "body over %d bytes", MaxBody)
	errReadingFull = errkind.New(errkind.Unavailable, "too many deliveries being read; retry")
)

// handle takes one delivery: the status and body of the reply when the
// event is stored or was already, or the error that refuses it. The event's
// type, once known, goes to Options.Observe either way.
func (in *Intake) handle(r *http.Request) (status int, body any, eventType string, err error) {
	if !in.Configured() {
		return 0, nil, "", errkind.New(errkind.Unavailable, "webhook secret not configured (set JIRA_WEBHOOK_SECRET)")
	}
	// Jira never sends an Origin header; a browser always does on a POST.
	// Without a secret, that header is all that keeps a page the operator
	// visits from posting events here.
	if len(in.opts.Secret) == 0 && r.Header.Get("Origin") != "" {
		return 0, nil, "", errkind.New(errkind.Forbidden, "requests from a browser (with an Origin header) are refused")
	}
	if r.ContentLength > MaxBody {
		return 0, nil, "", errTooBig
	}
	var digest []byte
	if len(in.opts.Secret) > 0 {
		if digest, err = parseSignature(signatureHeader(r.Header)); err != nil {
			in.badSignatures.note(in.log, in.opts.Now(), msgBadSignatures, logrus.Fields{"remote": r.RemoteAddr, "error": err.Error()})
			return 0, nil, "", errkind.Mark(errkind.Unauthorized, err)
		}
	}
	read, held, err := in.readBody(r)
	defer in.reading.give(held)
	switch {
	case errors.Is(err, errTooBig):
		return 0, nil, "", err
	case errors.Is(err, errReadingFull):
		in.overflow.note(in.log, in.opts.Now(), msgOverflow, logrus.Fields{"remote": r.RemoteAddr, "limit_bytes": in.opts.MaxReading})
		return 0, nil, "", err
	case err != nil:
		return 0, nil, "", errkind.New(errkind.Invalid, "could not read body")
	}
	if len(in.opts.Secret) > 0 {
		if !in.signedBy(digest, read) {
			read.release()
			in.badSignatures.note(in.log, in.opts.Now(), msgBadSignatures, logrus.Fields{"remote": r.RemoteAddr, "error": ErrBadSignature.Error()})
			return 0, nil, "", errkind.Mark(errkind.Unauthorized, ErrBadSignature)
		}
	}
	raw := read.bytes()
	read.release()
	if !utf8.Valid(raw) {
		return 0, nil, "", errkind.New(errkind.Invalid, "body is not valid UTF-8")
	}
	// DecodeWebhook refuses a body that is not JSON as encoding/json reads
	// it, whole: the store's strict parser takes any such body but one with
	// an unpaired surrogate escape.
	ev, err := jira.DecodeWebhook(raw)
	if err != nil {
		return 0, nil, "", errkind.Mark(errkind.Invalid, err)
	}
	if unpairedSurrogate(raw) {
		return 0, nil, ev.WebhookEvent, errkind.New(errkind.Invalid, "body is not strict JSON (space other than JSON whitespace around it, or an unpaired \\u surrogate escape)")
	}
	e := &store.Event{
		DeliveryID: deliveryID(r.Header.Get("X-Atlassian-Webhook-Identifier")),
		Type:       ev.WebhookEvent,
		ReceivedAt: in.opts.Now().UTC(),
		State:      store.EventIgnored,
		Body:       raw,
		BodySHA256: bodySHA256(raw),
	}
	if ev.Timestamp > 0 && ev.Timestamp <= maxJiraTimestamp {
		e.JiraTimestamp = ev.Time()
	}
	e.RetryCount = retryCount(r.Header.Get("X-Atlassian-Webhook-Retry"))
	if targets := ev.Targets(); len(targets) > 0 {
		e.State = store.EventPending
		e.IssueKey, e.IssueID = targets[0].Key, targets[0].ID
		if len(targets) > 1 {
			e.RelatedIssueID = targets[1].ID
		}
	} else if in.opts.Objects != nil && in.opts.Objects.Wants(e.Type) {
		e.State = store.EventDone
	}
	res := in.append(r.Context(), e)
	switch {
	case res.err != nil:
		// The cause is logged here, where the event is known; Jira is told
		// only to retry.
		in.log.WithError(res.err).WithField("webhook_event", e.Type).Error("webhook not stored")
		return 0, nil, e.Type, errkind.New(errkind.Unavailable, "event could not be stored; retry")
	case res.duplicate:
		if res.replay {
			in.replays.note(in.log, in.opts.Now(), msgReplays, logrus.Fields{"remote": r.RemoteAddr, "webhook_event": e.Type,
				"delivery_id": e.DeliveryID})
		}
		return http.StatusOK, reply{Status: "duplicate"}, e.Type, nil
	}
	return http.StatusAccepted, reply{Status: "accepted", ID: res.id}, e.Type, nil
}

// reply is the body of a 202 or a 200 answer; a struct, not a map, since it
// is encoded for every delivery.
type reply struct {
	Status string `json:"status"`
	ID     int64  `json:"id,omitempty"`
}

// signedBy reports whether digest is the HMAC-SHA256 of the body under the
// secret. The keyed hashes are pooled: a new one per delivery costs the
// key's two blocks and half a dozen allocations.
func (in *Intake) signedBy(digest []byte, body *chunks) bool {
	mac := in.macs.Get().(hash.Hash)
	defer func() {
		mac.Reset()
		in.macs.Put(mac)
	}()
	body.each(func(b []byte) { mac.Write(b) })
	var sum [sha256.Size]byte
	return hmac.Equal(digest, mac.Sum(sum[:0]))
}

// readChunk is the size of the pooled buffers a body is read into.
const readChunk = 64 << 10

// chunkPool holds the buffers bodies are read into. A body stays in chunks
// until its signature is checked: a refused one gives them back for the
// next delivery, so a flood of bad deliveries leaves no garbage behind, and
// the heap stays near the bytes being read.
var chunkPool = sync.Pool{New: func() any { b := make([]byte, readChunk); return &b }}

// chunks is a body read into pooled buffers.
type chunks struct {
	bufs []*[]byte
	n    int
}

// each calls fn with the bytes of the body in order.
func (c *chunks) each(fn func([]byte)) {
	left := c.n
	for _, b := range c.bufs {
		k := min(left, readChunk)
		fn((*b)[:k])
		left -= k
	}
}

// bytes copies the body into one buffer of its size.
func (c *chunks) bytes() []byte {
	out := make([]byte, 0, c.n)
	c.each(func(b []byte) { out = append(out, b...) })
	return out
}

// release gives the buffers back to the pool.
func (c *chunks) release() {
	for _, b := range c.bufs {
		chunkPool.Put(b)
	}
	c.bufs, c.n = nil, 0
}

// readBody reads the body of a delivery into pooled chunks, taking each
// chunk from the reading budget first. It returns the bytes taken, to give
// back once the delivery is answered, also on error; the caller releases the
// chunks.
func (in *Intake) readBody(r *http.Request) (*chunks, int64, error) {
	if r.ContentLength > MaxBody {
		return nil, 0, errTooBig
	}
	c := &chunks{}
	var held int64
	src := http.MaxBytesReader(nil, r.Body, MaxBody)
	for {
		if c.n == len(c.bufs)*readChunk {
			if !in.reading.take(readChunk) {
				c.release()
				return nil, held, errReadingFull
			}
			held += readChunk
			c.bufs = append(c.bufs, chunkPool.Get().(*[]byte))
		}
		last := *c.bufs[len(c.bufs)-1]
		n, err := src.Read(last[c.n%readChunk:])
		c.n += n
		if err == io.EOF {
			return c, held, nil
		}
		if err != nil {
			c.release()
			return nil, held, readErr(err)
		}
	}
}

func readErr(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return errTooBig
	}
	return fmt.Errorf("read webhook body: %w", err)
}

// maxJiraTimestamp (9999-12-31T23:59:59.999Z in epoch milliseconds) bounds the
// Jira timestamps kept: DuckDB refuses a TIMESTAMPTZ past year 294246, and a
// value it refuses would fail the whole group commit. The timestamp is only
// informational, so an absurd one is dropped, not the event.
const maxJiraTimestamp = 253402300799999

// retryCount reads X-Atlassian-Webhook-Retry. retry_count is an INTEGER
// column: a value past int32 would make the insert, and with it every event of
// the group, fail, so the count is clamped; anything unreadable counts as 0.
func retryCount(v string) int {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange) && n > 0:
		return math.MaxInt32
	case err != nil || n < 0:
		return 0
	}
	return int(min(n, math.MaxInt32))
}

// unpairedSurrogate reports whether body, JSON that encoding/json accepted,
// has a \uD800-\uDFFF escape that is not half of a pair: encoding/json
// turns one into U+FFFD, but a strict parser reading the stored
// webhook_events.body later refuses it, and the body is stored verbatim (it
// is what the signature covers). (jira.DecodeWebhook also refuses any space
// around the object but JSON's own.)
func unpairedSurrogate(body []byte) bool {
	// In valid JSON a backslash only starts an escape inside a string, and
	// \u is always followed by four hex digits. Most bodies have few
	// escapes: the scan jumps from one backslash to the next.
	for i := 0; i < len(body); i++ {
		k := bytes.IndexByte(body[i:], '\\')
		if k < 0 {
			return false
		}
		i += k + 1
		if body[i] != 'u' {
			continue
		}
		r := hex4(body[i+1 : i+5])
		i += 4
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return true
		case r >= 0xD800 && r <= 0xDBFF:
			if i+6 >= len(body) || body[i+1] != '\\' || body[i+2] != 'u' {
				return true
			}
			if lo := hex4(body[i+3 : i+7]); lo < 0xDC00 || lo > 0xDFFF {
				return true
			}
			i += 6
		}
	}
	return false
}

// hex4 decodes the four hex digits of a \u escape that json.Valid accepted.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// bodySHA256 is the lower-case hex SHA-256 of a body, as webhook_events
// keeps it.
func bodySHA256(body []byte) string {
	if len(body) == 0 {
		return ""
	}
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// deliveryID keeps a sane identifier: Jira's are UUID-like; anything long or
// unprintable is not trusted as a dedupe key.
func deliveryID(v string) string {
	v = strings.TrimSpace(v)
	if len(v) == 0 || len(v) > 200 {
		return ""
	}
	for _, r := range v {
		if r < 0x21 || r > 0x7e {
			return ""
		}
	}
	return v
}

// Append stores an event as a delivery would, for events that do not come
// over HTTP (the test endpoint, reconcile hints).
func (in *Intake) Append(ctx context.Context, e *store.Event) (int64, bool, error) {
	res := in.append(ctx, e)
	return res.id, res.duplicate, res.err
}

func (in *Intake) append(ctx context.Context, e *store.Event) appendResult {
	req := &appendReq{ev: e, done: make(chan appendResult, 1)}
	in.mu.RLock()
	if in.closed {
		in.mu.RUnlock()
		return appendResult{err: errors.New("intake is shutting down")}
	}
	select {
	case in.reqs <- req:
	case <-ctx.Done():
		in.mu.RUnlock()
		return appendResult{err: ctx.Err()}
	}
	in.mu.RUnlock()
	return <-req.done
}

// appender commits queued events in groups: one transaction for everything
// that arrived while the previous commit ran.
func (in *Intake) appender() {
	defer in.wg.Done()
	for first := range in.reqs {
		in.commit(gather.Waiting(in.reqs, []*appendReq{first}, maxGroup))
	}
}

// commit journals a group and answers its deliveries.
func (in *Intake) commit(batch []*appendReq) {
	results, err := in.commitGroup(batch)
	if in.afterJournal != nil {
		in.afterJournal()
	}
	for i, r := range batch {
		if err != nil {
			r.done <- appendResult{err: err}
			continue
		}
		r.done <- results[i]
	}
}

// commitGroup drops repeated deliveries, refuses events the store could not
// take, numbers the rest and journals them with one fsync, then passes them
// to the mover.
func (in *Intake) commitGroup(batch []*appendReq) ([]appendResult, error) {
	in.stage.Lock()
	defer in.stage.Unlock()
	if in.s == nil {
		return in.commitEarly(batch)
	}
	results := make([]appendResult, len(batch))
	in.reloadDeliveries()
	for _, r := range batch {
		if r.ev.BodySHA256 == "" && len(r.ev.Body) > 0 {
			r.ev.BodySHA256 = bodySHA256(r.ev.Body)
		}
	}
	// Deliveries journaled but not yet moved are looked up first: one the
	// mover moves meanwhile is in the store before it leaves this set.
	in.moveMu.Lock()
	unmovedBytes := in.unmovedBytes
	dup, dupBody := map[string]bool{}, map[string]bool{}
	var ask, askBodies []string
	for _, r := range batch {
		d, b := r.ev.DeliveryID, r.ev.BodySHA256
		idMaybe, bodyMaybe := in.delivered.mayHold(d, b)
		switch {
		case d == "":
		case in.unmovedIDs[d]:
			dup[d] = true
		case idMaybe:
			ask = append(ask, d)
		}
		switch {
		case b == "":
		case in.unmovedBodies[b]:
			dupBody[b] = true
		case bodyMaybe:
			askBodies = append(askBodies, b)
		}
	}
	in.moveMu.Unlock()
	known, err := store.KnownDeliveries(context.Background(), in.s.DB(), ask)
	if err != nil {
		in.failed(err)
		return nil, err
	}
	knownBodies, err := store.KnownBodies(context.Background(), in.s.DB(), askBodies)
	if err != nil {
		in.failed(err)
		return nil, err
	}
	seen, seenBody := map[string]bool{}, map[string]bool{}
	var rows []*store.Event
	var size int64
	next := in.nextID
	for i, r := range batch {
		d, b := r.ev.DeliveryID, r.ev.BodySHA256
		if d != "" && (known[d] || dup[d] || seen[d]) {
			results[i] = appendResult{duplicate: true}
			continue
		}
		if b != "" && (knownBodies[b] || dupBody[b] || seenBody[b]) {
			results[i] = appendResult{duplicate: true, replay: true}
			continue
		}
		if err := storable(r.ev); err != nil {
			results[i] = appendResult{err: err}
			in.failed(err)
			continue
		}
		if unmovedBytes+size+int64(len(r.ev.Body)) > in.opts.MaxUnmoved && (unmovedBytes > 0 || size > 0) {
			results[i] = appendResult{err: fmt.Errorf("%d bytes of events wait for the store", unmovedBytes+size)}
			continue
		}
		seen[d] = d != ""
		seenBody[b] = b != ""
		r.ev.ID = next
		next++
		size += int64(len(r.ev.Body))
		results[i] = appendResult{id: r.ev.ID}
		rows = append(rows, r.ev)
	}
	if len(rows) == 0 {
		return results, nil
	}
	if err := in.journal.append(rows); err != nil {
		in.failed(err)
		return nil, err
	}
	for _, e := range rows {
		in.delivered.add(e.DeliveryID, e.BodySHA256)
	}
	in.commits.Add(1)
	in.nextID = next
	in.statsMu.Lock()
	in.lastEvent = in.opts.Now().UTC()
	in.statsMu.Unlock()
	in.markUnmoved(rows)
	in.queueMoves(rows)
	return results, nil
}

// commitEarly is commitGroup before Attach: it drops repeats of deliveries
// journaled, but cannot ask the store about others, and journals the rest
// unnumbered for Attach to number.
func (in *Intake) commitEarly(batch []*appendReq) ([]appendResult, error) {
	results := make([]appendResult, len(batch))
	// Nothing moves before Attach: what is journaled stays in the
	// unmoved sets meanwhile.
	in.moveMu.Lock()
	unmovedBytes := in.unmovedBytes
	seen, seenBody := map[string]bool{}, map[string]bool{}
	var rows []*store.Event
	var size int64
	for i, r := range batch {
		if r.ev.BodySHA256 == "" && len(r.ev.Body) > 0 {
			r.ev.BodySHA256 = bodySHA256(r.ev.Body)
		}
		d, b := r.ev.DeliveryID, r.ev.BodySHA256
		switch {
		case d != "" && (seen[d] || in.unmovedIDs[d]):
			results[i] = appendResult{duplicate: true}
			continue
		case b != "" && (seenBody[b] || in.unmovedBodies[b]):
			results[i] = appendResult{duplicate: true, replay: true}
			continue
		}
		if err := storable(r.ev); err != nil {
			results[i] = appendResult{err: err}
			in.failed(err)
			continue
		}
		if unmovedBytes+size+int64(len(r.ev.Body)) > in.opts.MaxUnmoved && (unmovedBytes > 0 || size > 0) {
			results[i] = appendResult{err: fmt.Errorf("%d bytes of events wait for the store", unmovedBytes+size)}
			continue
		}
		seen[d], seenBody[b] = d != "", b != ""
		r.ev.ID = 0
		size += int64(len(r.ev.Body))
		results[i] = appendResult{}
		rows = append(rows, r.ev)
	}
	in.moveMu.Unlock()
	if len(rows) == 0 {
		return results, nil
	}
	if err := in.journal.append(rows); err != nil {
		in.failed(err)
		return nil, err
	}
	in.commits.Add(1)
	in.statsMu.Lock()
	in.lastEvent = in.opts.Now().UTC()
	in.statsMu.Unlock()
	in.early = append(in.early, rows...)
	in.markUnmoved(rows)
	return results, nil
}

// storable refuses an event the store would refuse: text columns take
// UTF-8 only. A delivery is checked before this; events appended otherwise
// are not.
func storable(e *store.Event) error {
	for _, v := range []string{e.Type, e.IssueKey, e.IssueID, e.RelatedIssueID, e.DeliveryID} {
		if !utf8.ValidString(v) {
			return errors.New("event has a field that is not UTF-8")
		}
	}
	if !utf8.Valid(e.Body) {
		return errors.New("event body is not UTF-8")
	}
	return nil
}
