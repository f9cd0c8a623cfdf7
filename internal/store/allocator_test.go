//go:build linux && amd64

package store

import (
	"os"
	"testing"
)

// TestTuneAllocator: once tuned, DuckDB's jemalloc hands freed pages back
// after decayMillis in every arena it has set up, and at once (not first as
// reclaimable pages the kernel still counts).
func TestTuneAllocator(t *testing.T) {
	// An operator's setting would win; t.Setenv restores it afterwards.
	t.Setenv("DUCKDB_JE_MALLOC_CONF", "")
	os.Unsetenv("DUCKDB_JE_MALLOC_CONF")
	migrated(t)
	if err := TuneAllocator(); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for i := range 64 {
		dirty, muzzy := arenaDecay(i)
		switch {
		case dirty == -3:
			// Not set up (yet): it takes the default when it is.
		case dirty == decayMillis && muzzy == 0:
			seen++
		default:
			t.Errorf("arena %d hands freed pages back after %d ms, then %d ms; want %d, then 0", i, dirty, muzzy, decayMillis)
		}
	}
	if seen == 0 {
		t.Error("no arena of DuckDB's jemalloc could be read")
	}
}
