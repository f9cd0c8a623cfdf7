package bench

import (
	"strings"
	"testing"

	"github.com/jiraduck/jiraduck/internal/logx"
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
