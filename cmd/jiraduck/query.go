package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/jiraduck/jiraduck/internal/export"
	"github.com/jiraduck/jiraduck/internal/store"
)

func runQuery(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "query", "[--format table|csv|json|parquet] [--out FILE [--force]] SQL")
	format := fs.String("format", "table", "output format: table, csv, json or parquet (parquet needs --out)")
	out := fs.String("out", "", "write to this file instead of stdout")
	force := fs.Bool("force", false, "replace the --out file when it exists")
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
	var target *outputTarget
	if *out != "" {
		if target, err = checkOutput(cfg, "query", *out, *force); err != nil {
			return err
		}
	}
	root := export.Root(cfg.DataDir)
	if err := export.CheckRoot(root); err != nil {
		return fmt.Errorf("query: %w", err)
	}
	// DuckDB reads the Parquet tree and nothing else, and writes only the
	// Parquet output's staging file; the lock keeps any statement from
	// widening that.
	var staging string
	var paths []string
	if *format == "parquet" {
		staging = target.staging()
		paths = []string{staging}
	}
	db, err := store.OpenConfined(ctx, []string{root}, paths)
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	defer db.Close()
	// On a copy of the data (an analyst's rsync) the settings rarely name
	// the site: the manifest the server wrote does.
	site := cfg.Site
	if site == "" {
		if m, err := export.ReadManifest(cfg.DataDir); err == nil {
			site = m.Site
		}
	}
	views, err := export.ViewsFor(root, site)
	if err != nil {
		return err
	}
	for _, v := range views {
		if err := store.Exec(ctx, db, v.SQL); err != nil {
			return fmt.Errorf("query: create view %s: %w", v.Name, err)
		}
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	defer conn.Close()
	if *format == "parquet" {
		err := store.CopyParquet(ctx, conn, query, staging)
		if errors.Is(err, store.ErrRefused) {
			return usagef("query: %v", err)
		}
		if err != nil {
			return fmt.Errorf("query: %w", err)
		}
		if err := target.publish(staging); err != nil {
			return fmt.Errorf("query: %w", err)
		}
		fmt.Fprintf(e.stdout, "wrote %s\n", target.Path)
		return nil
	}
	res, err := store.RunChecked(ctx, conn, query, store.Limits{Allow: store.ReadOnly})
	if errors.Is(err, store.ErrRefused) {
		return usagef("query: %v", err)
	}
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	if target == nil {
		return writeResult(e.stdout, res, *format)
	}
	if err := target.write(func(w io.Writer) error { return writeResult(w, res, *format) }); err != nil {
		return fmt.Errorf("query: %w", err)
	}
	return nil
}
