package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jiraduck/jiraduck/internal/logx"
	"github.com/jiraduck/jiraduck/internal/store"
)

// The generation in a store's marker decides whether --reuse may take it: it
// must name what the emulator generates, the same on every call, and not
// depend on the clock or the run.
func TestGenerationIsStable(t *testing.T) {
	b := &bench{sz: sizesFor(Options{Quick: true}), quiet: logx.Discard()}
	first, err := b.generation()
	if err != nil {
		t.Fatal(err)
	}
	second, err := b.generation()
	if err != nil {
		t.Fatal(err)
	}
	if first != second {
		t.Fatalf("generation changed between two calls: %q, then %q", first, second)
	}
	if !strings.HasPrefix(first, "emulator ") || len(first) != len("emulator ")+16 {
		t.Fatalf("got generation %q, want \"emulator \" and 16 hex digits", first)
	}
}

// TestCheckRoom: the large rebuild's clone is refused before it starts when
// the disk cannot hold it, with what it needs and what is free.
func TestCheckRoom(t *testing.T) {
	dir := t.TempDir()
	if err := checkRoom(dir, 1); err != nil {
		t.Errorf("1 byte: got %v, want room", err)
	}
	err := checkRoom(dir, 1<<62)
	if err == nil || !strings.Contains(err.Error(), "GB free") {
		t.Errorf("4 EB: got %v, want an error naming the free space", err)
	}
}

// TestMigrateKept: a kept store of an older schema (here a new file, at
// version 0) is migrated before the scenarios copy it, and says so; once
// it is up to date nothing is reported.
func TestMigrateKept(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := store.Open(ctx, filepath.Join(dir, store.FileName), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	all, err := store.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	note, err := migrateKept(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("migrated to schema version %d first (%d migration(s), ", all[len(all)-1].Version, len(all)); !strings.Contains(note, want) {
		t.Errorf("first call: got %q, want it to contain %q", note, want)
	}
	if note, err := migrateKept(ctx, dir); err != nil || note != "" {
		t.Errorf("second call: got %q, %v; want nothing to report", note, err)
	}
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := migrateKept(ctx, notDir); err == nil || !strings.Contains(err.Error(), "migrate the kept store") {
		t.Errorf("a store that cannot be opened: got %v, want an error naming the kept store", err)
	}
}
