package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/dimensions"
	"github.com/jiraduck/jiraduck/internal/export"
	"github.com/jiraduck/jiraduck/internal/normalize"
)

func runExport(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "export", "[--table T] [--month YYYY-MM]")
	table := fs.String("table", "", "only this table, partitioned or dimension (default: every analyst table)")
	month := fs.String("month", "", "only this month, YYYY-MM (default: every month)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("export takes no arguments")
	}
	if *month != "" {
		if _, err := time.Parse("2006-01", *month); err != nil {
			return usagef("export: --month %q is not a month YYYY-MM", *month)
		}
	}
	var tables, months []string
	if *table != "" {
		known := slices.Contains(normalize.Tables, *table)
		if _, dim := dimensions.Lookup(*table); dim {
			known = true
		}
		if !known {
			return usagef("export: unknown table %q (one of %v, or a dimension table: %v)", *table, normalize.Tables,
				dimensions.Tables(dimensions.Sources()))
		}
		tables = []string{*table}
	}
	if *month != "" {
		months = []string{*month}
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	log := app.NewLogger(cfg, e.stderr)
	b, err := app.OpenBatch(ctx, cfg, log, "export", app.BatchOptions{Held: ", which exports every change itself"})
	if err != nil {
		return err
	}
	defer b.Close()
	held, err := b.Store.HoldsIssues(ctx)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if !held {
		fmt.Fprintf(e.stdout, "nothing to export: the store at %s holds no issue yet; "+
			"jiraduck backfill (or serve, as webhooks arrive) loads issues and publishes them as it goes\n", app.StorePath(cfg))
		return nil
	}
	if err := export.MarkAll(ctx, b.Store, b.Writer, tables, months); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	done, err := b.Exporter.ExportDirty(ctx)
	fmt.Fprintf(e.stdout, "exported %d partition(s) to %s\n", len(done), export.Root(cfg.DataDir))
	if err != nil || b.Publisher == nil {
		return err
	}
	res, err := b.Publish(ctx)
	if err != nil {
		return fmt.Errorf("export: the partitions are written; %w (the backlog is kept: jiraduck publish uploads it)", err)
	}
	fmt.Fprintln(e.stdout, publishSummary(b.Publisher.Destination(), res))
	return nil
}
