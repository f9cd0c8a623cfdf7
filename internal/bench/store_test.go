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
