package main

import (
	"context"
	"errors"
	"fmt"

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
	log := newLogger(cfg, e.stderr)
	s, err := openStore(ctx, cfg, log)
	if errors.Is(err, store.ErrLocked) {
		return fmt.Errorf("sql: %s is held by a running jiraduck serve; set JIRADUCK_ADMIN_TOKEN to run SQL through its admin API", storePath(cfg))
	}
	if err != nil {
		return err
	}
	defer s.Close()
	res, err := s.RunSQL(ctx, query, 0)
	if err != nil {
		return fmt.Errorf("sql: %w", err)
	}
	return writeResult(e.stdout, res, *format)
}
