package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/export"
	"github.com/jiraduck/jiraduck/internal/files"
	"github.com/jiraduck/jiraduck/internal/jobs"
	"github.com/jiraduck/jiraduck/internal/store"
	"github.com/sirupsen/logrus"
)

// demoQueries are what an analyst might ask first.
var demoQueries = []struct{ title, sql string }{
	{"Issues by status category", `SELECT status_category, count(*) AS issues FROM jira_issues GROUP BY ALL ORDER BY issues DESC`},
	{"Comments per month of issue creation", `SELECT month, count(*) AS comments FROM jira_comments GROUP BY ALL ORDER BY month`},
	{"Open tickets by SLA breach", `SELECT issue_key, status, time_to_resolution_breached AS breached,
		round(time_to_resolution_remaining_millis / 3600000.0, 1) AS hours_left
		FROM jira_issues WHERE status_category <> 'Done' AND time_to_resolution_goal_millis IS NOT NULL
		ORDER BY hours_left LIMIT 8`},
	{"Most recently updated", `SELECT issue_key, summary, strftime(updated_at, '%Y-%m-%d %H:%M') AS updated FROM jira_issues ORDER BY updated_at DESC LIMIT 5`},
}

func runDemo(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "demo", "[--data-dir DIR] [--issues N] [--events N]")
	dataDir := fs.String("data-dir", "", "keep the demo's data here (default: a temporary folder, removed at the end)")
	issues := fs.Int("issues", 300, "issues on the emulated site")
	events := fs.Int("events", 400, "webhook events in the burst")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 || *issues < 10 || *events < 1 {
		return usagef("demo: want --issues >= 10 and --events >= 1, and no arguments")
	}
	dir := *dataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "jiraduck-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	if err := claimDemoDir(dir); err != nil {
		return err
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	out := e.stdout
	fmt.Fprintf(out, "jiraduck demo: a fake Jira Cloud site with %d issues and jiraduck serve, both on loopback.\n", *issues)
	fmt.Fprintf(out, "data directory: %s\n\n", dir)

	s, err := app.StartSite(ctx, app.SiteOptions{
		Emulator: emulator.Options{Issues: *issues, Months: 6, Seed: 1, Now: time.Now().UTC().Truncate(time.Second)},
		DataDir:  dir, Logger: log,
		// The emulator's address names no site: the demo's is "demo", the
		// site column of its views and of its manifest.
		Tune: func(c *config.Config) { c.Site = "demo" }})
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintf(out, "emulator  %s\nserve     http://%s (health: /webhooks/jira/health, metrics: /metrics)\n\n", s.Emulator.URL(), s.Service.Addr())

	settleCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	// The site is loaded first, as `jiraduck backfill` would: webhooks
	// alone would bring only the issues the burst touches, and the sample
	// queries would describe a fraction of the site.
	start := time.Now()
	fmt.Fprintf(out, "backfilling the site... ")
	filled, err := jobs.Backfill(ctx, s.Service.Client(), s.Service.Store(), s.Service.Processor(), jobs.BackfillOptions{Parallel: 4})
	if err != nil {
		return err
	}
	// As backfill does: the site's projects, users, versions... last.
	dims, err := s.Service.Dimensions().Refresh(ctx)
	if err != nil {
		return err
	}
	if err := s.Settle(settleCtx); err != nil {
		return err
	}
	fmt.Fprintf(out, "done in %s: %d issues fetched, %d already up to date, %d dimension tables (%d rows)\n", time.Since(start).Round(time.Millisecond),
		filled.Fetched, filled.Skipped, len(dims.Tables), dims.Counts()["rows"])
	s.Emulator.ResetStats()

	start = time.Now()
	touched := min(*issues, max(*events/4, 1))
	fmt.Fprintf(out, "sending a burst of %d signed webhooks over %d issues... ", *events, touched)
	res, err := s.Emulator.Storm(ctx, emulator.StormOptions{Events: *events, Issues: touched})
	if err != nil {
		return err
	}
	if err := s.Settle(settleCtx); err != nil {
		return err
	}
	st := s.Emulator.Stats()
	fmt.Fprintf(out, "done in %s: %d webhooks, %d issue fetches (events per issue coalesce)\n", time.Since(start).Round(time.Millisecond),
		res.Events, st.Calls[emulator.EndpointIssue])

	// Freshness: one edit on a quiet site, timed from the change in Jira to
	// the row in Parquet. Right after the burst the queue is still in storm
	// mode and would hold the edit until the storm is a second old.
	for s.Service.Queue().Storming() {
		select {
		case <-settleCtx.Done():
			return settleCtx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	key := s.Emulator.Keys()[0]
	marker := fmt.Sprintf("edited by the demo at %s", time.Now().Format("15:04:05.000"))
	t0 := time.Now()
	if err := s.Emulator.Update(key, func(i *emulator.Issue) { i.Summary = marker }); err != nil {
		return err
	}
	if err := s.WaitVisible(settleCtx, key, marker); err != nil {
		return err
	}
	fmt.Fprintf(out, "an edit of %s was readable in Parquet %s after the change\n\n", key, time.Since(t0).Round(time.Millisecond))

	db, err := store.OpenMemory(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	views, err := export.Views(export.Root(dir))
	if err != nil {
		return err
	}
	for _, v := range views {
		if err := store.Exec(ctx, db, v.SQL); err != nil {
			return err
		}
	}
	for _, q := range demoQueries {
		res, err := store.RunSQL(ctx, db, q.sql, 0)
		if err != nil {
			return fmt.Errorf("demo query %q: %w", q.title, err)
		}
		fmt.Fprintf(out, "%s\n", q.title)
		if err := writeResult(out, res, "table"); err != nil {
			return err
		}
		fmt.Fprintln(out)
	}
	if *dataDir == "" {
		// Suggest no command on files that are about to be deleted.
		fmt.Fprintln(out, "The data directory was temporary and is removed now; run the demo with --data-dir DIR to keep")
		fmt.Fprintln(out, "the Parquet files and query them with jiraduck query or any DuckDB.")
		return nil
	}
	fmt.Fprintf(out, "The Parquet files are under %s; query them with any DuckDB:\n", export.Root(dir))
	fmt.Fprintf(out, "  duckdb -c \"SELECT count(*) FROM '%s'\"\n", filepath.Join(export.Root(dir), "issues", "*", "*.parquet"))
	fmt.Fprintf(out, "or with jiraduck (running the demo again on %s works too):\n", dir)
	fmt.Fprintf(out, "  JIRADUCK_DATA_DIR=%s jiraduck query \"SELECT count(*) FROM jira_issues\"\n", shellQuote(dir))
	return nil
}

// shellQuote quotes a path for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// demoMarker marks a data directory as a demo's own.
const demoMarker = ".jiraduck-demo"

// claimDemoDir makes dir the demo's: a new or empty folder gets the marker,
// one an earlier demo made is taken again, and any other is refused. The
// demo fills its data directory with a fake site; pointed by mistake at a
// real one (JIRADUCK_DATA_DIR's folder), it would write that site into the
// store, the Parquet tree and the manifest analysts read.
func claimDemoDir(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, demoMarker)); err == nil {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("demo: %w", err)
	}
	if len(entries) > 0 {
		return usagef("demo: %s is not empty and no demo made it; the demo fills its data directory with a fake site, so name a new or empty folder (or one an earlier demo made)", dir)
	}
	if err := files.MkdirAll(dir); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return files.WriteAtomic(filepath.Join(dir, demoMarker), []byte("made by jiraduck demo: its data is a fake site\n"))
}
