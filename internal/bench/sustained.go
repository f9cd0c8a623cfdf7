package bench

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/export"
	"github.com/jiraduck/jiraduck/internal/store"
)

// P8 runs `jiraduck serve` as a child process on a copy of the large store,
// as P3 does, while the emulator in this process keeps a site busy for
// minutes: 50 events a second over 5,000 issues of every month. Four issues
// in five get one edit each, spread over the run: cold issues, which must
// not wait for the site to calm down. The fifth gets a burst of edits half a
// second apart, as an automation rule or a user saving field after field
// makes: hot issues, whose events one fetch should serve. Each issue is
// timed from its last event to the moment the issues partition of its month
// shows it, and its fetches are counted.

// sustainedLoad describes P8's traffic.
type sustainedLoad struct {
	rate     float64       // events a second
	duration time.Duration // how long the load lasts
	issues   int           // distinct issues edited
	hotShare float64       // the share of the issues that get a burst
	gap      time.Duration // between two events of a burst
}

// sustainedLoadFor is P8's traffic at the benchmark's size: the design's
// for the large store, five seconds of it for --quick.
func (b *bench) sustainedLoadFor() sustainedLoad {
	if b.o.Quick {
		return sustainedLoad{rate: 50, duration: 5 * time.Second, issues: min(100, b.sz.big/3), hotShare: 0.2, gap: 500 * time.Millisecond}
	}
	return sustainedLoad{rate: 50, duration: 5 * time.Minute, issues: min(5000, b.sz.big/4), hotShare: 0.2, gap: 500 * time.Millisecond}
}

// sustainedEvent is one edit of P8: at which moment of the run, on which
// issue, and whether it is the last of that issue's.
type sustainedEvent struct {
	at   time.Duration
	key  string
	last bool
}

// sustainedPlan picks l.issues of keys (seeded) and schedules their edits:
// one at a random moment for a cold issue, a burst of l.gap-spaced events
// that starts at a random moment for a hot one, as many as make the run's
// events l.rate a second. It returns the events in time order and how many
// events each hot issue gets.
func sustainedPlan(keys []string, l sustainedLoad, seed uint64) ([]sustainedEvent, int) {
	rng := rand.New(rand.NewPCG(seed, uint64(l.issues)))
	picked := slices.Clone(keys)
	rng.Shuffle(len(picked), func(i, j int) { picked[i], picked[j] = picked[j], picked[i] })
	picked = picked[:min(l.issues, len(picked))]
	hot := int(float64(len(picked)) * l.hotShare)
	cold := len(picked) - hot
	total := int(l.rate * l.duration.Seconds())
	burst := 1
	if hot > 0 {
		burst = max((total-cold)/hot, 2)
	}
	// A burst fits in the run.
	burst = min(burst, int(l.duration/l.gap))
	var out []sustainedEvent
	for i, k := range picked {
		if i >= hot {
			out = append(out, sustainedEvent{at: time.Duration(rng.Int64N(int64(l.duration))), key: k, last: true})
			continue
		}
		span := time.Duration(burst-1) * l.gap
		start := time.Duration(rng.Int64N(int64(l.duration-span) + 1))
		for n := range burst {
			out = append(out, sustainedEvent{at: start + time.Duration(n)*l.gap, key: k, last: n == burst-1})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].at < out[j].at })
	return out, burst
}

func (b *bench) sustainedScenario(ctx context.Context) error {
	for run := range b.runsFor(false) {
		if err := b.sustainedRun(ctx, run); err != nil {
			return fmt.Errorf("P8: %w", err)
		}
	}
	return nil
}

// sustainedWatch tracks which issues' last edits the Parquet files show.
type sustainedWatch struct {
	dir string
	db  *sql.DB

	mu sync.Mutex
	// pending: key -> its month, the emulator's updated (ms) after its last
	// event and when that event was made; seen: key -> how long after
	// that its row was read with that updated.
	pending map[string]sustainedPending
	seen    map[string]time.Duration
	// stamps are the partition files' modification times and sizes when
	// last read; recheck names months to read whatever the stamp says.
	stamps  map[string]string
	recheck map[string]bool
}

type sustainedPending struct {
	month   string
	updated int64
	at      time.Time
}

// expect registers key's last edit.
func (w *sustainedWatch) expect(key, month string, updated int64, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pending[key] = sustainedPending{month: month, updated: updated, at: at}
	w.recheck[month] = true
}

// left is how many registered edits are not visible yet.
func (w *sustainedWatch) left() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pending)
}

// poll reads the issues partitions that changed since the last poll, or
// that an edit was registered for, and records the edits they show.
func (w *sustainedWatch) poll(ctx context.Context) error {
	w.mu.Lock()
	months := map[string]bool{}
	for _, p := range w.pending {
		months[p.month] = true
	}
	w.mu.Unlock()
	for m := range months {
		path := export.PartitionPath(w.dir, "issues", m)
		fi, err := os.Stat(path)
		if err != nil {
			continue // not published yet
		}
		stamp := fi.ModTime().String() + "/" + strconv.FormatInt(fi.Size(), 10)
		w.mu.Lock()
		fresh := w.stamps[m] == stamp && !w.recheck[m]
		delete(w.recheck, m)
		w.mu.Unlock()
		if fresh {
			continue
		}
		rows, err := w.db.QueryContext(ctx, `SELECT issue_key, epoch_ms(updated_at) FROM read_parquet(?)`, path)
		if err != nil {
			// Renamed over while read: read it again at the next poll.
			w.mu.Lock()
			w.recheck[m] = true
			w.mu.Unlock()
			continue
		}
		now := time.Now()
		got := map[string]int64{}
		for rows.Next() {
			var k string
			var ms sql.NullInt64
			if err := rows.Scan(&k, &ms); err != nil {
				rows.Close()
				return err
			}
			got[k] = ms.Int64
		}
		err = rows.Close()
		if err == nil {
			err = rows.Err()
		}
		w.mu.Lock()
		if err != nil {
			w.recheck[m] = true
		} else {
			w.stamps[m] = stamp
			for k, p := range w.pending {
				if p.month == m && got[k] >= p.updated {
					w.seen[k] = now.Sub(p.at)
					delete(w.pending, k)
				}
			}
		}
		w.mu.Unlock()
	}
	return nil
}

// sustainedRun is one run of P8.
func (b *bench) sustainedRun(ctx context.Context, run int) error {
	load := b.sustainedLoadFor()
	name := fmt.Sprintf("P8 run %d", run+1)
	sv, err := b.serveCopy(ctx, "sustained-run", nil, fmt.Sprintf("P8-serve-%d", run+1))
	if err != nil {
		return err
	}
	defer sv.close()
	dir, addr, em, c := sv.dir, sv.addr, sv.em, sv.c
	before, err := scrapeCounters(addr)
	if err != nil {
		return err
	}

	plan, burst := sustainedPlan(em.Keys(), load, 8)
	months := map[string]string{}
	hot := map[string]bool{}
	counts := map[string]int{}
	for _, e := range plan {
		counts[e.key]++
	}
	for k, n := range counts {
		is, err := em.Issue(k)
		if err != nil {
			return err
		}
		months[k] = is.Created.UTC().Format("2006-01")
		hot[k] = n > 1
	}
	db, err := store.OpenMemory(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	w := &sustainedWatch{dir: dir, db: db, pending: map[string]sustainedPending{}, seen: map[string]time.Duration{},
		stamps: map[string]string{}, recheck: map[string]bool{}}

	b.progress("%s: %.0f events/s for %s over %d issues (%d hot, %d events each), %d issues stored",
		name, load.rate, load.duration, len(counts), countHot(hot), burst, b.sz.big)
	em.ResetStats()
	sendErr := make(chan error, 1)
	start := time.Now()
	go func() { sendErr <- b.sustainedSend(ctx, em, plan, months, w, start) }()
	var sent time.Duration
	sending := true
	deadline := time.Time{}
	for {
		if err := w.poll(ctx); err != nil {
			return err
		}
		if sending {
			select {
			case err := <-sendErr:
				if err != nil {
					return err
				}
				sending, sent = false, time.Since(start)
				deadline = time.Now().Add(5 * time.Minute)
			default:
			}
		}
		if !sending && w.left() == 0 {
			break
		}
		select {
		case <-c.done:
			return fmt.Errorf("serve exited during the load with %d edits not visible (%v); serve logged: %s", w.left(), c.err, c.logTail(2000))
		default:
		}
		if !deadline.IsZero() && time.Now().After(deadline) {
			return fmt.Errorf("%d edits not visible 5 minutes after the load; serve logged: %s", w.left(), c.logTail(2000))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
	if err := waitIdle(ctx, addr, em); err != nil {
		return err
	}
	st := em.Stats()
	after, err := scrapeCounters(addr)
	if err != nil {
		return err
	}
	peak := c.PeakRSS()
	if err := c.stop(2 * time.Minute); err != nil {
		b.rep.note("%s: serve did not stop cleanly: %v", name, err)
	}

	var all, cold, hotLat []float64
	var fetches, coldFetches, hotFetches int64
	for k, d := range w.seen {
		all = append(all, d.Seconds())
		if hot[k] {
			hotLat = append(hotLat, d.Seconds())
			hotFetches += st.IssueFetches[k]
		} else {
			cold = append(cold, d.Seconds())
			coldFetches += st.IssueFetches[k]
		}
		fetches += st.IssueFetches[k]
	}
	for _, s := range [][]float64{all, cold, hotLat} {
		sort.Float64s(s)
	}
	nHot := countHot(hot)
	nCold := len(counts) - nHot
	accepted := after.sumPrefix(`jiraduck_webhooks_received_total{code="202"`) - before.sumPrefix(`jiraduck_webhooks_received_total{code="202"`)
	lost := float64(int64(len(plan)) - st.Webhooks.Delivered + st.Webhooks.Duplicates)
	partitions := after.sum("jiraduck_partitions_exported_total") - before.sum("jiraduck_partitions_exported_total")
	issueParts := after.get(`jiraduck_partitions_exported_total{table="issues"}`) - before.get(`jiraduck_partitions_exported_total{table="issues"}`)
	perIssue := float64(fetches) / float64(len(counts))

	b.rep.info("P8", "events sent", "", float64(len(plan)))
	b.rep.info("P8", "event rate achieved", "/s", float64(len(plan))/sent.Seconds())
	b.timed("P8", "edits visible p50", "s", goalAtMost, 2, percentile(all, 50))
	b.timed("P8", "edits visible p99", "s", goalAtMost, 10, percentile(all, 99))
	b.rep.info("P8", "edits visible max", "s", percentile(all, 100))
	b.rep.info("P8", "cold issues (one edit): visible p50", "s", percentile(cold, 50))
	b.rep.info("P8", "cold issues (one edit): visible p99", "s", percentile(cold, 99))
	b.rep.info("P8", fmt.Sprintf("hot issues (%d edits %s apart): visible p50 after the last", burst, load.gap), "s", percentile(hotLat, 50))
	b.rep.info("P8", fmt.Sprintf("hot issues (%d edits %s apart): visible p99 after the last", burst, load.gap), "s", percentile(hotLat, 99))
	if b.o.Quick {
		// Five seconds show little coalescing; what must hold is that one
		// fetch serves one event or more.
		b.rep.add("P8", "fetches per issue, at most one per event", "", goalAtMost, float64(len(plan))/float64(len(counts)), perIssue)
	} else {
		b.rep.add("P8", "fetches per issue", "", goalAtMost, 1.5, perIssue)
	}
	b.rep.info("P8", "fetches per cold issue", "", float64(coldFetches)/float64(max(nCold, 1)))
	b.rep.info("P8", "fetches per hot issue", "", float64(hotFetches)/float64(max(nHot, 1)))
	b.rep.add("P8", "webhooks lost or refused", "", goalExactly, 0, lost+float64(len(plan))-accepted)
	b.rep.info("P8", "partition files written (all tables)", "", partitions)
	b.rep.info("P8", "issues partition files written", "", issueParts)
	b.rep.info("P8", "serve peak RSS", "MB", megabytes(peak))
	b.servePhases("P8", before, after)
	b.recordLoad("P8")
	b.progress("%s: edits visible p50 %.2fs, p99 %.2fs (cold p50 %.2fs, hot p50 %.2fs); %.2f fetches per issue (cold %.2f, hot %.2f); %.0f partition files",
		name, percentile(all, 50), percentile(all, 99), percentile(cold, 50), percentile(hotLat, 50), perIssue,
		float64(coldFetches)/float64(max(nCold, 1)), float64(hotFetches)/float64(max(nHot, 1)), partitions)
	return nil
}

func countHot(hot map[string]bool) int {
	n := 0
	for _, h := range hot {
		if h {
			n++
		}
	}
	return n
}

// sustainedSend makes plan's edits at their moments from start, and
// registers each issue's last edit with w.
func (b *bench) sustainedSend(ctx context.Context, em *emulator.Emulator, plan []sustainedEvent, months map[string]string, w *sustainedWatch, start time.Time) error {
	for i, e := range plan {
		if d := time.Until(start.Add(e.at)); d > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(d):
			}
		}
		n := i + 1
		if err := em.Update(e.key, func(is *emulator.Issue) {
			is.Custom[emulator.FieldCustomerImpact] = "Sustained edit " + strconv.Itoa(n)
		}); err != nil {
			return fmt.Errorf("edit %s: %w", e.key, err)
		}
		if !e.last {
			continue
		}
		at := time.Now()
		is, err := em.Issue(e.key)
		if err != nil {
			return err
		}
		w.expect(e.key, months[e.key], is.Updated.UnixMilli(), at)
	}
	return nil
}

// servePhases records, from serve's metrics before and after a run, where
// an edit's way to Parquet went: from acceptance to commit, and from commit
// to the partition's file, and how long the exporter was busy writing.
func (b *bench) servePhases(scenario string, before, after promSamples) {
	mean := func(name string) float64 {
		n := after.sum(name+"_count") - before.sum(name+"_count")
		if n == 0 {
			return 0
		}
		return (after.sum(name+"_sum") - before.sum(name+"_sum")) / n
	}
	b.rep.info(scenario, "serve: accepted to committed, mean per issue", "s", mean("jiraduck_issue_processing_seconds"))
	b.rep.info(scenario, "serve: committed to exported, mean per partition", "s", mean("jiraduck_export_latency_seconds"))
	b.rep.info(scenario, "serve: exporter busy writing partitions", "s",
		after.sum("jiraduck_export_duration_seconds_sum")-before.sum("jiraduck_export_duration_seconds_sum"))
}
