package bench

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"time"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/jobs"
)

// P6 polls the SLA values of goalExactly sz.slaOpen open issues, with Jira
// answering every call after sz.slaDelay. The site's data ends two days ago,
// so that no done issue counts as "done within the last day" and the open
// issues are the only candidates; surplus open issues are resolved (without
// a webhook) before the backfill.

func openStatus(status string) bool {
	return status != emulator.StatusDone && status != emulator.StatusClosed
}

// siteSizeFor finds how many issues a site needs to hold at least open open
// issues.
func (b *bench) siteSizeFor(open int, now time.Time) (int, error) {
	n := open * 3
	for range 8 {
		eo := b.emulatorOptions(n)
		eo.Now = now
		em, err := emulator.New(eo)
		if err != nil {
			return 0, err
		}
		got := 0
		for _, k := range em.Keys() {
			if is, err := em.Issue(k); err == nil && openStatus(is.Status) {
				got++
			}
		}
		em.Close()
		if got >= open {
			return n, nil
		}
		n = int(math.Ceil(float64(n)*float64(open)/float64(max(got, 1))*1.05)) + 10
	}
	return 0, fmt.Errorf("no site size gives %d open issues", open)
}

func (b *bench) slaScenario(ctx context.Context) error {
	now := time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Second)
	n, err := b.siteSizeFor(b.sz.slaOpen, now)
	if err != nil {
		return fmt.Errorf("P6: %w", err)
	}
	b.progress("P6: a site of %d issues with %d open, backfilled", n, b.sz.slaOpen)
	eo := b.emulatorOptions(n)
	eo.Now = now
	s, err := app.StartSite(ctx, app.SiteOptions{Emulator: eo, DataDir: filepath.Join(b.dir, "sla"), Logger: b.quiet})
	if err != nil {
		return err
	}
	defer s.Close()
	open := 0
	for _, k := range s.Emulator.Keys() {
		is, err := s.Emulator.Issue(k)
		if err != nil || !openStatus(is.Status) {
			continue
		}
		open++
		if open > b.sz.slaOpen {
			if err := s.Emulator.Silent().Transition(k, emulator.StatusDone); err != nil {
				return fmt.Errorf("P6: resolve %s: %w", k, err)
			}
		}
	}
	if _, err := jobs.Backfill(ctx, s.Service.Client(), s.Service.Store(), s.Service.Processor(), jobs.BackfillOptions{Parallel: 4}); err != nil {
		return fmt.Errorf("P6: backfill: %w", err)
	}
	if err := settleSite(ctx, s, 10*time.Minute); err != nil {
		return err
	}
	for run := range b.runsFor(true) {
		if err := s.Emulator.SetFaults(emulator.Faults{Latency: b.sz.slaDelay}); err != nil {
			return err
		}
		s.Emulator.ResetStats()
		start := time.Now()
		res, err := jobs.PollSLA(ctx, s.Service.JobDeps(), jobs.SLAPollOptions{})
		took := time.Since(start)
		if err != nil {
			return fmt.Errorf("P6: %w", err)
		}
		// Healed issues are fetched by the queue: their calls count too.
		if err := settleSite(ctx, s, 5*time.Minute); err != nil {
			return err
		}
		s.Emulator.SetFaults(emulator.Faults{})
		calls := int64(0)
		for _, c := range s.Emulator.Stats().Calls {
			calls += c
		}
		b.rep.add("P6", "candidates (open issues)", "", goalExactly, float64(b.sz.slaOpen), float64(res.Candidates))
		b.timed("P6", fmt.Sprintf("poll time, Jira at %d ms a call", b.sz.slaDelay.Milliseconds()), "s", goalAtMost, 10, took.Seconds())
		b.rep.add("P6", "Jira calls", "", goalAtMost, 20, float64(calls))
		b.rep.add("P6", "failed", "", goalExactly, 0, float64(res.Failed))
		b.rep.info("P6", "SLA rows updated", "", float64(res.Updated))
		b.rep.info("P6", "healed (full fetch)", "", float64(res.Healed))
		b.recordLoad("P6")
		b.progress("P6 run %d: %d candidates in %s, %d calls (%d bulk); updated %d, healed %d, skipped %d", run+1,
			res.Candidates, took.Round(time.Millisecond), calls, res.Calls, res.Updated, res.Healed, res.Skipped)
		// Let the SLA clocks move before the next run.
		time.Sleep(time.Second)
	}
	return nil
}
