package dimensions

import (
	"context"
	"sync"
	"time"

	"github.com/jiraduck/jiraduck/internal/logx"
	"github.com/sirupsen/logrus"
)

// TriggerOptions tune a Trigger.
type TriggerOptions struct {
	// Quiet is how long a table waits after its latest event before it is
	// refreshed (default 1s): a burst of events (a release moving twenty
	// versions) costs one refresh.
	Quiet time.Duration
	// MaxWait bounds how long a table waits while its events keep coming
	// (default 5s).
	MaxWait time.Duration
	// Observe, if set, is told of every refresh the trigger ran.
	Observe func(res Result, err error)
	Logger  logrus.FieldLogger
}

// Trigger refreshes a table within seconds of a webhook event its source
// lists (Source.Events), debounced per table, in a goroutine of its own.
type Trigger struct {
	r       *Refresher
	opts    TriggerOptions
	log     logrus.FieldLogger
	byEvent map[string][]string

	mu sync.Mutex
	// first and last are when the first and the latest event of each
	// waiting table arrived.
	first, last map[string]time.Time
	wake        chan struct{}

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewTrigger builds a stopped trigger over r's sources.
func NewTrigger(r *Refresher, opts TriggerOptions) *Trigger {
	if opts.Quiet <= 0 {
		opts.Quiet = time.Second
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = 5 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = logx.Discard()
	}
	t := &Trigger{r: r, opts: opts, log: log.WithField("component", "dimensions"), byEvent: map[string][]string{},
		first: map[string]time.Time{}, last: map[string]time.Time{}, wake: make(chan struct{}, 1)}
	for _, s := range r.Sources() {
		for _, ev := range s.Events {
			t.byEvent[ev] = append(t.byEvent[ev], s.Table)
		}
	}
	return t
}

// EventTypes lists every event type some table refreshes on.
func (t *Trigger) EventTypes() []string {
	out := make([]string, 0, len(t.byEvent))
	for ev := range t.byEvent {
		out = append(out, ev)
	}
	return out
}

// Wants reports whether events of this type refresh a table.
func (t *Trigger) Wants(eventType string) bool {
	_, ok := t.byEvent[eventType]
	return ok
}

// Changed is told of stored events; the tables they name are refreshed
// once their events pause for Quiet, or MaxWait after the first.
func (t *Trigger) Changed(eventTypes []string) {
	now := time.Now()
	t.mu.Lock()
	for _, ev := range eventTypes {
		for _, table := range t.byEvent[ev] {
			if _, waiting := t.first[table]; !waiting {
				t.first[table] = now
			}
			t.last[table] = now
		}
	}
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// Start runs the trigger until Close. Tables with an event stored after
// their last refresh (a refresh a crash or a stop cut short) are refreshed
// first.
func (t *Trigger) Start(ctx context.Context) {
	ctx, t.cancel = context.WithCancel(context.WithoutCancel(ctx))
	t.catchUp(ctx)
	t.wg.Go(func() { t.loop(ctx) })
}

// Close stops the trigger, cancelling a refresh under way: the table keeps
// what it had, and the next start refreshes it (catchUp).
func (t *Trigger) Close() {
	if t.cancel != nil {
		t.cancel()
	}
	t.wg.Wait()
}

func (t *Trigger) catchUp(ctx context.Context) {
	latest, err := t.r.d.Store.LatestEvents(ctx, t.EventTypes())
	if err != nil {
		t.log.WithError(err).Warn("could not tell which dimension tables missed their events")
		return
	}
	states, err := t.r.d.Store.DimensionStates(ctx)
	if err != nil {
		t.log.WithError(err).Warn("could not tell which dimension tables missed their events")
		return
	}
	var missed []string
	for ev, at := range latest {
		for _, table := range t.byEvent[ev] {
			if st := states[table]; st.RefreshedAt.Before(at) {
				missed = append(missed, ev)
			}
		}
	}
	if len(missed) > 0 {
		t.Changed(missed)
	}
}

// due returns the tables whose wait is over, and how long until the next
// one's is.
func (t *Trigger) due(now time.Time) ([]string, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var ready []string
	next := time.Duration(-1)
	for table, first := range t.first {
		at := t.last[table].Add(t.opts.Quiet)
		if limit := first.Add(t.opts.MaxWait); limit.Before(at) {
			at = limit
		}
		if !at.After(now) {
			ready = append(ready, table)
			delete(t.first, table)
			delete(t.last, table)
			continue
		}
		if d := at.Sub(now); next < 0 || d < next {
			next = d
		}
	}
	return ready, next
}

func (t *Trigger) loop(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		ready, next := t.due(time.Now())
		if len(ready) > 0 {
			// In source order: sprints after boards.
			var tables []string
			for _, s := range t.r.Sources() {
				for _, r := range ready {
					if r == s.Table {
						tables = append(tables, r)
					}
				}
			}
			res, err := t.r.Refresh(ctx, tables...)
			if t.opts.Observe != nil {
				t.opts.Observe(res, err)
			}
			if ctx.Err() != nil {
				return
			}
			continue
		}
		if next < 0 {
			next = time.Hour
		}
		timer.Reset(next)
		select {
		case <-ctx.Done():
			return
		case <-t.wake:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		case <-timer.C:
		}
	}
}
