package store

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/jiraduck/jiraduck/internal/files"
)

// template is one store with every migration applied, checkpointed and
// closed, made once per test binary: migrated copies its file for each test
// instead of applying the migrations again. A closed DuckDB file whose WAL
// was folded in is the whole database, so a byte copy opens like the
// original.
var template struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if template.dir != "" {
		os.RemoveAll(template.dir)
	}
	os.Exit(code)
}

// templatePath makes the template on first use and returns its file.
func templatePath() (string, error) {
	template.once.Do(func() {
		template.dir, template.err = os.MkdirTemp("", "jiraduck-store-template-")
		if template.err != nil {
			return
		}
		template.path, template.err = makeTemplate(filepath.Join(template.dir, FileName))
	})
	return template.path, template.err
}

func makeTemplate(path string) (string, error) {
	ctx := context.Background()
	s, err := Open(ctx, path, Options{})
	if err != nil {
		return "", err
	}
	if _, _, err := s.Migrate(ctx); err != nil {
		s.Close()
		return "", err
	}
	if err := s.Checkpoint(ctx); err != nil {
		s.Close()
		return "", err
	}
	if err := s.Close(); err != nil {
		return "", err
	}
	if _, err := os.Stat(path + ".wal"); err == nil {
		return "", fmt.Errorf("store template: %s.wal left after a checkpoint and close", path)
	}
	return path, nil
}

// migrated opens a copy of the migrated template in the test's own
// directory, where openTemp would have created the store.
func migrated(t testing.TB) *Store {
	t.Helper()
	src, err := templatePath()
	if err != nil {
		t.Fatalf("store template: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "data")
	if err := files.MkdirAll(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, FileName)
	if err := copyFile(src, path); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	// Nothing left to apply; Migrate still does what it does at every start.
	if _, applied, err := s.Migrate(ctx); err != nil || len(applied) != 0 {
		t.Fatalf("migrate the template's copy: applied %v, error %v; want nothing to apply", applied, err)
	}
	return s
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, files.FileMode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// TestTemplateCopyIsAMigratedStore: what migrated hands a test is the store a
// fresh migration makes, schema and version alike, and its own: a write to
// one copy is not in the next.
func TestTemplateCopyIsAMigratedStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	first := migrated(t)
	want, err := os.ReadFile(filepath.Join("testdata", "schema.golden"))
	if err != nil {
		t.Fatal(err)
	}
	dump, err := first.SchemaDump(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if dump != string(want) {
		t.Errorf("the copy's schema differs from testdata/schema.golden:\n%s", lineDiff(string(want), dump))
	}
	all, _ := Migrations()
	if v, err := first.SchemaVersion(ctx); err != nil || v != all[len(all)-1].Version {
		t.Errorf("got version %d (%v), want %d", v, err, all[len(all)-1].Version)
	}
	if _, err := first.DB().ExecContext(ctx, `CREATE TABLE only_in_first (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := migrated(t).DB().QueryRowContext(ctx, `SELECT count(*) FROM duckdb_tables() WHERE table_name = 'only_in_first'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("got %d tables only_in_first in the second copy (%v), want 0", n, err)
	}
}
