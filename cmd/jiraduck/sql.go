package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/store"
)

func runSQL(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "sql", "[--format table|csv|json] SQL")
	format := fs.String("format", "table", "output format: table, csv or json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	query := joinArgs(fs.Args())
	if query == "" {
		return usagef("sql: no statement given")
	}
	if !validFormat(*format) {
		return usagef("sql: unknown format %q (use table, csv or json)", *format)
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	log := app.NewLogger(cfg, e.stderr)
	s, err := app.OpenStore(ctx, cfg, log, "sql")
	if errors.Is(err, store.ErrLocked) {
		// serve holds the only write handle: go through its admin API.
		res, err := app.AdminSQL(ctx, cfg, query)
		if errors.Is(err, store.ErrRefused) {
			return usagef("sql: %v", err)
		}
		if err != nil {
			return fmt.Errorf("sql: %w", err)
		}
		return writeResult(e.stdout, res, *format)
	}
	if err != nil {
		return err
	}
	defer s.Close()
	// The same rules as the admin API: the statements cannot reach beyond
	// the store, and the answer is capped in bytes.
	res, err := s.RunIsolated(ctx, query, store.Limits{Allow: store.Maintenance, MaxBytes: cfg.AdminSQLMaxBytes})
	if errors.Is(err, store.ErrRefused) {
		return usagef("sql: %v", err)
	}
	if err != nil {
		return fmt.Errorf("sql: %w", err)
	}
	return writeResult(e.stdout, res, *format)
}
