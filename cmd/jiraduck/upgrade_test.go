package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/internal/store"
)

// TestFailedMigrationIsOneLine: a migration that fails (here 0004 on a
// store that has its table already, recorded at version 3) exits 1 with
// one line that names it, says it was rolled back and what to do; the
// store stays at version 3 with nothing of 0004 or 0005 applied.
func TestFailedMigrationIsOneLine(t *testing.T) {
	t.Parallel()
	environ := apptest.DataEnv(t)
	if _, errOut, code := runCmd(t, environ, "migrate"); code != 0 {
		t.Fatalf("first migrate: code %d, %s", code, errOut)
	}
	dir := strings.TrimPrefix(environ[0], "JIRADUCK_DATA_DIR=")
	path := filepath.Join(dir, store.FileName)
	ctx := context.Background()
	s, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, `DELETE FROM schema_migrations WHERE version >= 4`); err != nil {
		s.Close()
		t.Fatal(err)
	}
	s.Close()

	_, errOut, code := runCmd(t, environ, "migrate")
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	var last string
	if len(lines) > 0 {
		last = lines[len(lines)-1]
	}
	if code != 1 || !strings.HasPrefix(last, "jiraduck: migrate: apply 0004_worklogs: ") ||
		!strings.Contains(last, "rolled back, the store stays at version 3: ") {
		t.Errorf("got exit code %d, last line %q, want 1 and one line saying 0004 was rolled back", code, last)
	}
	s, err = store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.SchemaVersion(ctx); err != nil || v != 3 {
		t.Errorf("schema version after the failure: got %d (%v), want 3", v, err)
	}
}
