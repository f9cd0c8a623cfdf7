package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/store"
)

func runMigrate(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "migrate", "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("migrate takes no arguments")
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	log := app.NewLogger(cfg, e.stderr)
	s, err := store.Open(ctx, app.StorePath(cfg), app.StoreOptions(cfg, log, "migrate"))
	if errors.Is(err, store.ErrLocked) {
		return fmt.Errorf("migrate: %s is held by a running jiraduck serve; stop it first (serve applies pending migrations itself when it starts)", app.StorePath(cfg))
	}
	if err != nil {
		return err
	}
	defer s.Close()
	version, applied, err := s.Migrate(ctx)
	if err != nil {
		return err
	}
	if err := s.EnsureIssueColumns(ctx, app.PromotedColumns(cfg)); err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintf(e.stdout, "schema version %d (up to date)\n", version)
	} else {
		fmt.Fprintf(e.stdout, "schema version %d (applied %d migration(s))\n", version, len(applied))
	}
	return nil
}
