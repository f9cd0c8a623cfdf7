package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/jobs"
)

func runPollSLA(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "poll-sla", "[--dry-run]")
	dry := fs.Bool("dry-run", false, "count what a poll would do without writing or fetching issues")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("poll-sla takes no arguments")
	}
	return pollSLA(ctx, e, "sla-poll", jobs.SLAPollOptions{DryRun: *dry})
}

// pollSLA runs one SLA poll pass from the command line (poll-sla, backfill
// --sla-only) and prints its summary.
func pollSLA(ctx context.Context, e *env, job string, opts jobs.SLAPollOptions) error {
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	log := app.NewLogger(cfg, e.stderr)
	b, err := app.OpenBatch(ctx, cfg, log, job, app.BatchOptions{Jira: true})
	if err != nil {
		return err
	}
	defer b.Close()
	start := time.Now()
	var res jobs.SLAPollResult
	_, runErr := b.RecordRun(ctx, job, map[string]any{"dry_run": opts.DryRun, "all": opts.All}, true, func(int64) (map[string]int, error) {
		var err error
		res, err = jobs.PollSLA(ctx, b.JobDeps(), opts)
		return res.Counts(), err
	})
	verb := ""
	if opts.DryRun {
		verb = " (dry run: nothing written)"
	}
	fmt.Fprintf(e.stdout, "%s: %d candidates; updated %d, healed %d, skipped %d, gone %d, failed %d; %d bulk calls in %s%s\n",
		job, res.Candidates, res.Updated, res.Healed, res.Skipped, res.Gone, res.Failed, res.Calls, time.Since(start).Round(time.Millisecond), verb)
	return runErr
}

func runReconcile(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "reconcile", "[--since D] [--dry-run] [--force]")
	sinceFlag := fs.String("since", "", "compare only issues updated since: a date (2024-01-31), a time or an age (720h); default: the whole scope")
	dry := fs.Bool("dry-run", false, "count what reconcile would do without fetching or deleting")
	force := fs.Bool("force", false, "allow deleting more than 5% of the stored issues in scope")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("reconcile takes no arguments")
	}
	since, err := parseSince(*sinceFlag, time.Now())
	if err != nil {
		return usagef("reconcile: --since: %v", err)
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	log := app.NewLogger(cfg, e.stderr)
	b, err := app.OpenBatch(ctx, cfg, log, "reconcile", app.BatchOptions{Jira: true})
	if err != nil {
		return err
	}
	defer b.Close()
	start := time.Now()
	var res jobs.ReconcileResult
	_, runErr := b.RecordRun(ctx, "reconcile", map[string]any{"since": *sinceFlag, "dry_run": *dry, "force": *force}, true, func(int64) (map[string]int, error) {
		var err error
		res, err = jobs.Reconcile(ctx, b.JobDeps(), jobs.ReconcileOptions{JQL: cfg.JQL, Since: since, DryRun: *dry, Force: *force})
		return res.Counts(), err
	})
	verb := ""
	if *dry {
		verb = " (dry run: nothing fetched or deleted)"
	}
	fmt.Fprintf(e.stdout, "reconcile: listed %d; missing %d, stale %d, incomplete %d, worklogs changed %d, deleted %d, kept %d, failed %d in %s%s\n",
		res.Listed, res.Missing, res.Stale, res.Incomplete, res.WorklogIssues, res.Deleted, res.Kept, res.Failed, time.Since(start).Round(time.Millisecond), verb)
	return runErr
}
