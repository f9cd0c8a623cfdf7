package main

import (
	"context"
	"fmt"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/export"
	"github.com/jiraduck/jiraduck/internal/publish"
)

// runPublish copies the Parquet tree to the bucket now. It reads only the
// tree, its manifest and the publisher's record in the data directory, never
// the store, so it runs beside serve; a lock in the data directory lets one
// pass run at a time, serve's or this one.
func runPublish(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "publish", "[--dry-run] [--all]")
	dry := fs.Bool("dry-run", false, "list what would be uploaded and deleted, change nothing")
	all := fs.Bool("all", false, "compare the bucket's listing and checksums with the local files instead of the record of earlier uploads")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("publish takes no arguments")
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	if !cfg.Publishing() {
		return &config.Error{Var: "JIRADUCK_PUBLISH_URL", Problem: "not set: publish needs the bucket, s3://bucket/prefix (see docs/configuration.md)"}
	}
	log := app.NewLogger(cfg, e.stderr)
	p, err := app.NewPublisher(ctx, cfg, log, nil)
	if err != nil {
		return err
	}
	res, err := p.Pass(ctx, publish.PassOptions{DryRun: *dry, All: *all})
	if err != nil {
		return err
	}
	if res.Nothing {
		fmt.Fprintf(e.stdout, "nothing to publish: %s holds no manifest.json yet (serve, backfill or export write it)\n", export.Root(cfg.DataDir))
		return nil
	}
	if *dry {
		for _, line := range publish.Describe(res.Plan) {
			fmt.Fprintln(e.stdout, line)
		}
		fmt.Fprintf(e.stdout, "dry run: would upload %d file(s) (%d bytes) and delete %d to %s\n",
			len(res.Plan.Uploads)+boolInt(res.Plan.Manifest), res.Plan.Bytes(), len(res.Plan.Deletes), p.Destination())
		return nil
	}
	fmt.Fprintln(e.stdout, publishSummary(p.Destination(), res))
	return nil
}

// publishSummary is the one line a pass ends with.
func publishSummary(dest string, res publish.Result) string {
	line := fmt.Sprintf("published to %s: uploaded %d file(s) (%d bytes), deleted %d; backlog %d file(s)",
		dest, res.Uploaded, res.UploadedBytes, res.Deleted, res.Backlog.Files())
	if res.Changed > 0 {
		line += fmt.Sprintf("; %d file(s) changed while read, left with the manifest for the next pass", res.Changed)
	}
	if n := len(res.Plan.Foreign); n > 0 {
		line += fmt.Sprintf("; %d file(s) in the bucket not uploaded from here, left alone", n)
	}
	return line
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
