package bench

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/export"
	"github.com/jiraduck/jiraduck/internal/jobs"
	"github.com/jiraduck/jiraduck/internal/store"
)

// P1 and P2 run on one site (emulator and serve in this process, on
// loopback) holding the medium store, backfilled first.

func (b *bench) siteScenarios(ctx context.Context) error {
	dir := filepath.Join(b.dir, fmt.Sprintf("site-%d", b.sz.mid))
	// Always a new site: the emulator starts afresh, and a store a previous
	// run kept (and edited) would make the backfill fetch only what differs.
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	b.progress("P1/P2: starting a site and backfilling %d issues", b.sz.mid)
	s, err := app.StartSite(ctx, app.SiteOptions{Emulator: b.emulatorOptions(b.sz.mid), DataDir: dir, Logger: b.quiet})
	if err != nil {
		return err
	}
	defer s.Close()
	start := time.Now()
	res, err := jobs.Backfill(ctx, s.Service.Client(), s.Service.Store(), s.Service.Processor(), jobs.BackfillOptions{Parallel: 4})
	if err != nil {
		return fmt.Errorf("backfill of the site: %w", err)
	}
	if err := settleSite(ctx, s, 10*time.Minute); err != nil {
		return err
	}
	took := time.Since(start)
	scen := "P2"
	if !b.o.Scenarios["P2"] {
		scen = "P1"
	}
	b.rep.info(scen, fmt.Sprintf("setup: backfill of %d issues, in-process", res.Fetched), "s", took.Seconds())
	b.progress("P1/P2: backfilled %d issues in %s", res.Fetched, took.Round(time.Millisecond))
	if res.Fetched != b.sz.mid {
		return fmt.Errorf("site backfill fetched %d issues, want %d", res.Fetched, b.sz.mid)
	}

	if b.o.Scenarios["P1"] {
		bodies, err := captureBodies(ctx, b.emulatorOptions(b.sz.mid), b.sz.ackBody, min(b.sz.ackBody/2, b.sz.mid))
		if err != nil {
			return fmt.Errorf("P1: capture webhook bodies: %w", err)
		}
		for run := range b.runsFor(false) {
			if err := b.ackRun(ctx, s, bodies, run); err != nil {
				return err
			}
			if err := b.ackAloneRun(ctx, bodies, run); err != nil {
				return err
			}
		}
	}
	if b.o.Scenarios["P2"] {
		for run := range b.runsFor(true) {
			for _, lat := range []time.Duration{0, b.sz.latency} {
				if err := b.freshRun(ctx, s, lat, run); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func settleSite(ctx context.Context, s *app.Site, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	return s.Settle(ctx)
}

// captureBodies makes n real webhook bodies: a storm on an emulator of the
// same site as the benchmark's, delivered to a local catcher. The keys they
// name exist on the site under test, whose serve fetches them.
func captureBodies(ctx context.Context, eo emulator.Options, n, issues int) ([][]byte, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var bodies [][]byte
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		bodies = append(bodies, body)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	})}
	go srv.Serve(l)
	defer srv.Close()
	eo.WebhookURL = "http://" + l.Addr().String() + "/"
	em, err := emulator.New(eo)
	if err != nil {
		return nil, err
	}
	defer em.Close()
	if _, err := em.Storm(ctx, emulator.StormOptions{Events: n, Issues: max(issues, 1)}); err != nil {
		return nil, err
	}
	if err := em.WaitWebhooks(ctx); err != nil {
		return nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != n {
		return nil, fmt.Errorf("captured %d webhook bodies, want %d", len(bodies), n)
	}
	return bodies, nil
}

// storedWith counts the events of a load stored in webhook_events.
func storedWith(ctx context.Context, db *sql.DB, prefix string) (int, error) {
	var n int
	err := db.QueryRowContext(ctx, `SELECT count(*) FROM webhook_events WHERE starts_with(delivery_id, ?)`, prefix).Scan(&n)
	return n, err
}

// ackRun is one run of P1 on the backfilled site, whose serve fetches,
// writes and exports the issues the webhooks name while they arrive.
func (b *bench) ackRun(ctx context.Context, s *app.Site, bodies [][]byte, run int) error {
	total := b.ackTotal()
	b.progress("P1 run %d: %d signed webhooks at %d/s", run+1, total, b.sz.ackRate)
	stop := b.profileInProcess(fmt.Sprintf("P1-ack-%d", run+1))
	l, err := sendWebhooks(ctx, s.Service.Addr(), bodies, b.sz.ackRate, total, fmt.Sprintf("bench-p1-%d-%d-", time.Now().UnixNano(), run))
	stop()
	if err != nil {
		return err
	}
	lastSent := time.Now()
	if err := s.Service.Intake().Flush(ctx); err != nil {
		return err
	}
	stored, err := storedWith(ctx, s.Service.Store().DB(), l.prefix)
	if err != nil {
		return err
	}
	accepted := l.accepted()
	sum := summarizeDurations(l.latency)
	lag := summarizeDurations(l.lag)
	b.rep.info("P1", "webhooks sent", "", float64(total))
	b.rep.info("P1", "send rate achieved", "/s", l.rate())
	b.rep.info("P1", "sender lag p99 (handed over after its planned instant)", "ms", lag.p99)
	b.rep.info("P1", "ack p50", "ms", sum.p50)
	b.rep.info("P1", "ack p95", "ms", sum.p95)
	b.timed("P1", "ack p99", "ms", goalAtMost, 10, sum.p99)
	b.rep.info("P1", "ack max", "ms", sum.max)
	b.rep.add("P1", "lost: sent - answered 202", "", goalExactly, 0, float64(total-accepted))
	b.rep.add("P1", "lost: sent - stored in webhook_events", "", goalExactly, 0, float64(total-stored))
	if l.failures > 0 {
		b.rep.note("P1 run %d: %d requests failed; first: %s", run+1, l.failures, l.firstErr)
	}
	if err := settleSite(ctx, s, 30*time.Minute); err != nil {
		return fmt.Errorf("P1: %w", err)
	}
	drained := time.Since(lastSent)
	b.rep.info("P1", "all processed and exported after the last ack", "s", drained.Seconds())
	b.recordLoad("P1")
	b.progress("P1 run %d: sent at %.0f/s (lag p99 %.1f ms); p50 %.1f ms, p99 %.1f ms, max %.0f ms; %d/%d accepted, %d stored; drained %s after", run+1,
		l.rate(), lag.p99, sum.p50, sum.p99, sum.max, accepted, total, stored, drained.Round(time.Millisecond))
	return nil
}

// ackAloneRun is P1's load against a serve that only stores webhooks (Jira
// not configured: nothing is fetched, written or exported meanwhile), to
// tell the intake's own latency from that of sharing the store with the
// write path.
func (b *bench) ackAloneRun(ctx context.Context, bodies [][]byte, run int) error {
	total := b.ackTotal()
	b.progress("P1 run %d, intake alone: %d signed webhooks at %d/s", run+1, total, b.sz.ackRate)
	dir := filepath.Join(b.dir, "intake-alone")
	defer os.RemoveAll(dir)
	s, err := app.StartSite(ctx, app.SiteOptions{Emulator: b.emulatorOptions(0), DataDir: dir, Logger: b.quiet,
		Vars: map[string]string{"JIRA_EMAIL": "", "JIRA_API_TOKEN": ""}})
	if err != nil {
		return err
	}
	defer s.Close()
	stop := b.profileInProcess(fmt.Sprintf("P1-alone-%d", run+1))
	l, err := sendWebhooks(ctx, s.Service.Addr(), bodies, b.sz.ackRate, total, fmt.Sprintf("bench-p1-alone-%d-%d-", time.Now().UnixNano(), run))
	stop()
	if err != nil {
		return err
	}
	if err := s.Service.Intake().Flush(ctx); err != nil {
		return err
	}
	stored, err := storedWith(ctx, s.Service.Store().DB(), l.prefix)
	if err != nil {
		return err
	}
	sum := summarizeDurations(l.latency)
	b.rep.info("P1", "intake alone: send rate achieved", "/s", l.rate())
	b.rep.info("P1", "intake alone: ack p50", "ms", sum.p50)
	b.rep.info("P1", "intake alone: ack p99", "ms", sum.p99)
	b.rep.info("P1", "intake alone: ack max", "ms", sum.max)
	b.rep.add("P1", "intake alone: lost", "", goalExactly, 0, float64(total-min(l.accepted(), stored)))
	if l.failures > 0 {
		b.rep.note("P1 run %d, intake alone: %d requests failed; first: %s", run+1, l.failures, l.firstErr)
	}
	b.progress("P1 run %d, intake alone: sent at %.0f/s; p50 %.1f ms, p99 %.1f ms, max %.0f ms", run+1, l.rate(), sum.p50, sum.p99, sum.max)
	return nil
}

// ackTotal is the number of deliveries of one P1 load.
func (b *bench) ackTotal() int { return max(int(float64(b.sz.ackRate)*b.sz.ackFor.Seconds()), 1) }

// freshRun is one run of P2 at one Jira latency: edits spread over the site,
// one at a time, each timed from the change in the emulator to the new value
// being readable from its month's Parquet file.
func (b *bench) freshRun(ctx context.Context, s *app.Site, latency time.Duration, run int) error {
	b.progress("P2 run %d: %d edits with Jira answering in %s", run+1, b.sz.edits, latency)
	if err := s.Emulator.SetFaults(emulator.Faults{Latency: latency}); err != nil {
		return err
	}
	defer s.Emulator.SetFaults(emulator.Faults{})
	db, err := store.OpenMemory(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	keys := s.Emulator.Keys()
	rng := rand.New(rand.NewPCG(uint64(run), uint64(latency)))
	var took []time.Duration
	for i := range b.sz.edits {
		key := keys[rng.IntN(len(keys))]
		is, err := s.Emulator.Issue(key)
		if err != nil {
			return err
		}
		path := export.PartitionPath(s.Config.DataDir, "issues", is.Created.UTC().Format("2006-01"))
		marker := fmt.Sprintf("bench freshness %d/%d/%d at %s", run, i, latency.Milliseconds(), time.Now().Format(time.RFC3339Nano))
		t0 := time.Now()
		if err := s.Emulator.Update(key, func(i *emulator.Issue) { i.Summary = marker }); err != nil {
			return err
		}
		if err := pollVisible(ctx, db, path, key, marker, 60*time.Second); err != nil {
			return fmt.Errorf("P2: %w", err)
		}
		took = append(took, time.Since(t0))
		time.Sleep(b.sz.editGap)
	}
	if err := settleSite(ctx, s, 5*time.Minute); err != nil {
		return err
	}
	l := summarizeDurations(took)
	at := fmt.Sprintf(" (Jira %d ms)", latency.Milliseconds())
	if latency == 0 {
		b.timed("P2", "p50"+at, "ms", goalAtMost, 150, l.p50)
		b.timed("P2", "p99"+at, "ms", goalAtMost, 1000, l.p99)
	} else {
		b.rep.info("P2", "p50"+at, "ms", l.p50)
		b.rep.info("P2", "p99"+at, "ms", l.p99)
	}
	b.rep.info("P2", "max"+at, "ms", l.max)
	b.recordLoad("P2")
	b.progress("P2 run %d at %s: p50 %.0f ms, p99 %.0f ms, max %.0f ms", run+1, latency, l.p50, l.p99, l.max)
	return nil
}

// pollVisible queries one Parquet file until key's summary is want. A query
// that spans the rename of the file can fail; it is retried, as readers do.
func pollVisible(ctx context.Context, db *sql.DB, path, key, want string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var lastErr error
	for {
		var n int
		err := db.QueryRowContext(ctx, `SELECT count(*) FROM read_parquet(?) WHERE issue_key = ? AND summary = ?`, path, key, want).Scan(&n)
		if err == nil && n > 0 {
			return nil
		}
		if err != nil {
			lastErr = err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not visible in %s after %s (last error: %v)", key, path, limit, lastErr)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}
