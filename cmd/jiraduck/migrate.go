package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/store"
	"github.com/sirupsen/logrus"
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
	log := newLogger(cfg, e.stderr)
	s, err := store.Open(ctx, storePath(cfg), storeOptions(cfg, log, "migrate"))
	if errors.Is(err, store.ErrLocked) {
		return fmt.Errorf("migrate: %s is held by a running jiraduck serve; stop it first (serve applies pending migrations itself when it starts)", storePath(cfg))
	}
	if err != nil {
		return err
	}
	defer s.Close()
	version, applied, err := s.Migrate(ctx)
	if err != nil {
		return err
	}
	if err := s.EnsureIssueColumns(ctx, promotedColumns(cfg)); err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintf(e.stdout, "schema version %d (up to date)\n", version)
	} else {
		fmt.Fprintf(e.stdout, "schema version %d (applied %d migration(s))\n", version, len(applied))
	}
	return nil
}

func storePath(cfg *config.Config) string { return filepath.Join(cfg.DataDir, store.FileName) }

// storeOptions are the settings the command opens the store with.
func storeOptions(cfg *config.Config, log logrus.FieldLogger, command string) store.Options {
	return store.Options{Logger: log, MemoryLimit: cfg.MemoryLimitFor(command), ReleaseMemory: cfg.DuckDBReleaseMemory}
}

// openStore opens the canonical store for the command and brings its schema
// up to date, as every writer does before its first statement. DuckDB may
// write files in the data directory and in allowedDirs.
func openStore(ctx context.Context, cfg *config.Config, log logrus.FieldLogger, command string, allowedDirs ...string) (*store.Store, error) {
	opts := storeOptions(cfg, log, command)
	opts.AllowedDirs = allowedDirs
	s, err := store.Open(ctx, storePath(cfg), opts)
	if err != nil {
		return nil, err
	}
	if _, _, err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.EnsureIssueColumns(ctx, promotedColumns(cfg)); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// promotedColumns are the issues columns that the settings add: one per
// JIRA_FIELD_MAP entry and four per SLA metric beyond the default two.
func promotedColumns(cfg *config.Config) []store.Column {
	var cols []store.Column
	for _, name := range cfg.SLANames() {
		cols = append(cols,
			store.Column{Name: name + "_breached", Type: "BOOLEAN"},
			store.Column{Name: name + "_goal_millis", Type: "BIGINT"},
			store.Column{Name: name + "_elapsed_millis", Type: "BIGINT"},
			store.Column{Name: name + "_remaining_millis", Type: "BIGINT"})
	}
	for _, f := range cfg.FieldMap {
		cols = append(cols, store.Column{Name: f.Name, Type: "VARCHAR"})
	}
	return cols
}
