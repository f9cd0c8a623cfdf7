package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/jiraduck/jiraduck/internal/export"
	"github.com/jiraduck/jiraduck/internal/store"
)

func runQuery(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "query", "[--format table|csv|json|parquet] [--out FILE] SQL")
	format := fs.String("format", "table", "output format: table, csv, json or parquet (parquet needs --out)")
	out := fs.String("out", "", "write to this file instead of stdout")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	query := joinArgs(fs.Args())
	if query == "" {
		return usagef("query: no statement given")
	}
	if !validFormat(*format) && *format != "parquet" {
		return usagef("query: unknown format %q (use table, csv, json or parquet)", *format)
	}
	if *format == "parquet" && *out == "" {
		return usagef("query: --format parquet needs --out FILE")
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	root := export.Root(cfg.DataDir)
	if err := export.CheckRoot(root); err != nil {
		return fmt.Errorf("query: %w", err)
	}
	db, err := store.OpenMemory(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	views, err := export.Views(root)
	if err != nil {
		return err
	}
	for _, v := range views {
		if err := store.Exec(ctx, db, v.SQL); err != nil {
			return fmt.Errorf("query: create view %s: %w", v.Name, err)
		}
	}
	if *format == "parquet" {
		target, err := filepath.Abs(*out)
		if err != nil {
			return err
		}
		stmt := fmt.Sprintf("COPY (%s) TO '%s' (FORMAT parquet, COMPRESSION zstd)", strings.TrimRight(strings.TrimSpace(query), ";"), strings.ReplaceAll(target, "'", "''"))
		if err := store.Exec(ctx, db, stmt); err != nil {
			return fmt.Errorf("query: %w", err)
		}
		fmt.Fprintf(e.stdout, "wrote %s\n", target)
		return nil
	}
	res, err := store.RunSQL(ctx, db, query, 0)
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	w := e.stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	return writeResult(w, res, *format)
}
