package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/dimensions"
	"github.com/jiraduck/jiraduck/internal/jobs"
	"github.com/jiraduck/jiraduck/internal/store"
	"github.com/schollz/progressbar/v3"
)

func runBackfill(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "backfill", "[--jql Q] [--parallel N] [--force] [--since T] [--sla-only | --dimensions-only]")
	jql := fs.String("jql", "", "scope (default $JIRA_JQL)")
	parallel := fs.Int("parallel", 4, "issues fetched at once")
	force := fs.Bool("force", false, "fetch every issue, even those stored up to date")
	sinceFlag := fs.String("since", "", "only issues updated since: a date (2024-01-31), a time (RFC 3339) or an age (72h)")
	slaOnly := fs.Bool("sla-only", false, "refresh only the SLA values of every stored issue (bulk fetch), nothing else")
	dimsOnly := fs.Bool("dimensions-only", false, "refresh only the dimension tables (projects, users, versions...), nothing else")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dimsOnly {
		if fs.NArg() > 0 || *jql != "" || *force || *sinceFlag != "" || *slaOnly {
			return usagef("backfill --dimensions-only takes no other flag")
		}
		return refreshDimensions(ctx, e)
	}
	if *slaOnly {
		if fs.NArg() > 0 || *jql != "" || *force || *sinceFlag != "" {
			return usagef("backfill --sla-only takes no other flag")
		}
		return pollSLA(ctx, e, "backfill-sla", jobs.SLAPollOptions{All: true})
	}
	if fs.NArg() > 0 {
		return usagef("backfill takes no arguments (quote the --jql value)")
	}
	if *parallel < 1 || *parallel > 64 {
		return usagef("backfill: --parallel must be between 1 and 64")
	}
	since, err := parseSince(*sinceFlag, time.Now())
	if err != nil {
		return usagef("backfill: --since: %v", err)
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	if *jql == "" {
		*jql = cfg.JQL
	}
	log := app.NewLogger(cfg, e.stderr)
	b, err := app.OpenBatch(ctx, cfg, log, "backfill", app.BatchOptions{Jira: true})
	if err != nil {
		return err
	}
	defer b.Close()

	start := time.Now()
	var res jobs.BackfillResult
	dimsLine := ""
	run, err := b.Record(ctx, "backfill", map[string]any{"jql": *jql, "since": *sinceFlag, "force": *force, "parallel": *parallel}, true,
		func(runID int64) (map[string]int, error) {
			var bar *progressbar.ProgressBar
			var mu sync.Mutex
			done, total := 0, 0
			terminal := app.IsTerminal(e.stderr)
			opts := jobs.BackfillOptions{JQL: *jql, Since: since, Force: *force, Parallel: *parallel,
				Listed: func(toFetch, skipped int) {
					total = toFetch
					log.WithFields(map[string]any{"to_fetch": toFetch, "up_to_date": skipped}).Info("backfill listed the scope")
					if terminal {
						bar = progressbar.NewOptions(toFetch, progressbar.OptionSetWriter(e.stderr), progressbar.OptionSetDescription("fetching"),
							progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("issues"),
							progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(100*time.Millisecond),
							progressbar.OptionClearOnFinish())
					}
				},
				Progress: func() {
					mu.Lock()
					defer mu.Unlock()
					done++
					if bar != nil {
						_ = bar.Add(1)
					} else if done%1000 == 0 {
						rate := float64(done) / time.Since(start).Seconds()
						log.WithFields(map[string]any{"done": done, "total": total, "issues_per_s": fmt.Sprintf("%.0f", rate)}).Info("backfill progress")
					}
				},
				Record: func(counts map[string]int) { _ = b.Store.UpdateRun(context.Background(), runID, counts) },
			}
			var err error
			res, err = jobs.Backfill(ctx, b.Client, b.Store, b.Processor, opts)
			if bar != nil {
				_ = bar.Finish()
			}
			counts := res.Counts()
			if ctx.Err() != nil {
				return counts, err
			}
			// The tables of the site's other objects last, so that every
			// account the issues just fetched name resolves in users.
			dims, derr := b.Dimensions.Refresh(ctx)
			dimsLine = dimensionsSummary(dims)
			for k, v := range dims.Counts() {
				counts["dimension_"+k] = v
			}
			return counts, errors.Join(err, derr)
		})
	if err != nil {
		return err
	}
	// The summary below says how the run ended; a failure to record that
	// end is left to the next run, which marks a run left running
	// interrupted.
	took := time.Since(start)
	fmt.Fprintf(e.stdout, "backfill %s: listed %d, fetched %d, skipped %d (up to date), gone %d, failed %d; %s%d partitions exported in %s (%.0f issues/s)\n",
		run.Status, res.Listed, res.Fetched, res.Skipped, res.Gone, res.Failed, dimsLine, run.Exported, took.Round(time.Millisecond), float64(res.Fetched)/took.Seconds())
	if run.Status == store.RunInterrupted {
		return fmt.Errorf("backfill interrupted; run it again to fetch the rest")
	}
	if run.JobErr != nil {
		for _, msg := range res.Errors {
			fmt.Fprintln(e.stderr, "  "+msg)
		}
		return run.JobErr
	}
	return run.ExportErr
}

// refreshDimensions runs one refresh of every dimension table from the
// command line (backfill --dimensions-only) and prints its summary.
func refreshDimensions(ctx context.Context, e *env) error {
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	log := app.NewLogger(cfg, e.stderr)
	b, err := app.OpenBatch(ctx, cfg, log, "dimensions", app.BatchOptions{Jira: true})
	if err != nil {
		return err
	}
	defer b.Close()
	start := time.Now()
	var res dimensions.Result
	run, err := b.Record(ctx, "dimensions", map[string]any{}, true, func(int64) (map[string]int, error) {
		var err error
		res, err = b.Dimensions.Refresh(ctx)
		return res.Counts(), err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "dimensions %s: %s%d files exported in %s\n", run.Status, dimensionsSummary(res), run.Exported, time.Since(start).Round(time.Millisecond))
	for _, t := range res.Tables {
		if t.Outcome == dimensions.OutcomeSkipped || t.Outcome == dimensions.OutcomeFailed {
			msg := t.Note
			if t.Err != nil {
				msg = t.Err.Error()
			}
			fmt.Fprintf(e.stderr, "  %s %s: %s\n", t.Table, t.Outcome, msg)
		}
	}
	return errors.Join(run.JobErr, run.ExportErr)
}

// dimensionsSummary is the part of a summary line that tells what a refresh
// of the dimension tables did.
func dimensionsSummary(res dimensions.Result) string {
	if len(res.Tables) == 0 {
		return ""
	}
	c := res.Counts()
	return fmt.Sprintf("dimension tables: %d changed, %d unchanged, %d skipped, %d failed (%d rows); ",
		c["changed"], c["unchanged"], c["skipped"], c["failed"], c["rows"])
}

// parseSince reads --since: a date, an RFC 3339 time or an age.
func parseSince(v string, now time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("%q: an age must be positive", v)
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a date (2024-01-31), an RFC 3339 time or an age (72h)", v)
}
