package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/dimensions"
	"github.com/jiraduck/jiraduck/internal/export"
	"github.com/jiraduck/jiraduck/internal/jobs"
)

func runRebuild(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "rebuild", "[--batch N]")
	batchSize := fs.Int("batch", 500, "issues normalized and written per transaction")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 || *batchSize < 1 {
		return usagef("rebuild takes no arguments and a positive --batch")
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	log := app.NewLogger(cfg, e.stderr)
	b, err := app.OpenBatch(ctx, cfg, log, "rebuild", app.BatchOptions{})
	if err != nil {
		return err
	}
	defer b.Close()
	start := time.Now()
	var res jobs.RebuildResult
	var dims dimensions.Result
	counts, runErr := b.RecordRun(ctx, "rebuild", map[string]any{"batch": *batchSize}, false, func(runID int64) (map[string]int, error) {
		var err error
		res, err = jobs.Rebuild(ctx, b.Store, b.Writer, b.Catalog.Options(), jobs.RebuildOptions{
			Batch: *batchSize, DataDir: cfg.DataDir, AttachmentMaxBytes: cfg.AttachmentMaxBytes, RunID: runID,
			Progress: func(done int) {
				if done%10000 < *batchSize {
					log.WithField("issues", done).Info("rebuild progress")
				}
			}})
		if err == nil {
			// The dimension tables from their stored objects, as the
			// issue tables from their payloads.
			dims, err = b.Dimensions.Rederive(ctx)
		}
		if err == nil {
			// Every partition is rewritten, and months no longer holding
			// issues are removed.
			err = export.MarkAll(ctx, b.Store, b.Writer, nil, nil)
		}
		return map[string]int{"issues": res.Issues, "skipped": res.Skipped, "superseded": res.Superseded,
			"dimension_tables": len(dims.Tables), "dimension_rows": dims.Counts()["rows"]}, err
	})
	for _, msg := range res.Errors {
		fmt.Fprintln(e.stderr, "  skipped: "+msg)
	}
	superseded := ""
	if res.Superseded > 0 {
		superseded = fmt.Sprintf(", %d superseded (an older payload under a key a later one holds)", res.Superseded)
	}
	if runErr != nil {
		fmt.Fprintf(e.stdout, "rebuild: failed after %d issues re-derived in %s; nothing exported, the published partitions are as they were; "+
			"if it emptied the tables, serve, export and snapshot publish nothing until a rebuild completes: fix the cause and run it again\n",
			res.Issues, time.Since(start).Round(time.Millisecond))
		return runErr
	}
	fmt.Fprintf(e.stdout, "rebuild: %d issues re-derived, %d skipped, %d partitions exported in %s (no Jira calls)%s; %d dimension tables (%d rows) re-derived\n",
		res.Issues, res.Skipped, counts["partitions_exported"], time.Since(start).Round(time.Millisecond), superseded, len(dims.Tables), dims.Counts()["rows"])
	return nil
}

func runImport(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "import", "--raw-dir DIR")
	rawDir := fs.String("raw-dir", "", "folder written by the Python data broker (issues/<KEY>.json, attachments/<KEY>/...)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 || *rawDir == "" {
		return usagef("import needs --raw-dir DIR and no arguments")
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	log := app.NewLogger(cfg, e.stderr)
	// With Jira configured, its field list names the custom fields and says
	// which hold SLA values (one call; no issue is fetched). Without it,
	// JIRA_SLA_FIELDS says which fields are SLAs.
	b, err := app.OpenBatch(ctx, cfg, log, "import", app.BatchOptions{Jira: cfg.JiraConfigured()})
	if err != nil {
		return err
	}
	defer b.Close()
	start := time.Now()
	var res jobs.ImportResult
	_, runErr := b.RecordRun(ctx, "import", map[string]any{"raw_dir": *rawDir}, true, func(int64) (map[string]int, error) {
		var err error
		res, err = jobs.Import(ctx, b.Store, b.Writer, b.Catalog.Options(), jobs.ImportOptions{
			RawDir: *rawDir, DataDir: cfg.DataDir, AttachmentMaxBytes: cfg.AttachmentMaxBytes})
		if err == nil && res.Refused > 0 {
			// Everything else is imported and published; the run is
			// recorded as failed so that the refusals are not missed.
			err = fmt.Errorf("import: %d file(s) refused, named above; everything else was imported", res.Refused)
		}
		return res.Counts(), err
	})
	for _, p := range res.Supersessions {
		fmt.Fprintln(e.stderr, "  superseded "+p)
	}
	for _, p := range res.Refusals {
		fmt.Fprintln(e.stderr, "  refused "+p)
	}
	fmt.Fprintf(e.stdout, "import: %d files; %d issues imported, %d deleted, %d attachment files copied, %d superseded by a newer file, %d refused in %s\n",
		res.Files, res.Imported, res.Deleted, res.Attachments, res.Superseded, res.Refused, time.Since(start).Round(time.Millisecond))
	if res.Refused > 0 {
		fmt.Fprintln(e.stdout, "import: run backfill later to fetch what the refused files held, and reconcile to confirm deletions")
	}
	return runErr
}

func runSnapshot(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "snapshot", "[--out PATH [--force]]")
	out := fs.String("out", "", "where to write the snapshot (default $JIRADUCK_DATA_DIR/snapshot/jira.duckdb)")
	force := fs.Bool("force", false, "replace the --out file when it exists (the default snapshot is always replaced)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("snapshot takes no arguments")
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	path, replace := export.SnapshotPath(cfg.DataDir), true
	if *out != "" {
		// The default snapshot is jiraduck's own file, replaced on every
		// run; any other path is the user's, replaced only on request.
		def, _ := filepath.Abs(path)
		abs, _ := filepath.Abs(*out)
		target, err := checkOutput(cfg, "snapshot", *out, *force || abs == def)
		if err != nil {
			return err
		}
		path, replace = target.Path, target.Replace
	}
	if path, err = filepath.Abs(path); err != nil {
		return err
	}
	res, err := app.Snapshot(ctx, cfg, app.NewLogger(cfg, e.stderr), path, replace)
	if errors.Is(err, export.ErrExists) {
		return usagef("snapshot: --out %s exists; pass --force to replace it", path)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "snapshot: %s, %d issues, %.1f MB in %s\n", res.Path, res.Rows["issues"], float64(res.Bytes)/1e6, res.Took.Round(time.Millisecond))
	return nil
}
