package store

/*
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

// DuckDB's jemalloc, linked into the binary under the duckdb_je_ prefix.
int duckdb_je_mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);

// set_decay sets how long freed pages stay before they are handed back, for
// the arenas that exist and for those created later; 0 or the failing
// mallctl's error. Pages are handed back at once (MADV_DONTNEED), not first
// marked as reclaimable (MADV_FREE), which the kernel still counts as
// resident until it needs the memory: the "muzzy" decay is 0.
static int set_decay(long ms) {
	ssize_t v = ms, zero = 0;
	unsigned n = 0;
	size_t len = sizeof(n);
	int r;
	if ((r = duckdb_je_mallctl("arenas.dirty_decay_ms", NULL, NULL, &v, sizeof(v))) != 0) return r;
	if ((r = duckdb_je_mallctl("arenas.muzzy_decay_ms", NULL, NULL, &zero, sizeof(zero))) != 0) return r;
	if ((r = duckdb_je_mallctl("arenas.narenas", &n, &len, NULL, 0)) != 0) return r;
	for (unsigned i = 0; i < n; i++) {
		char name[64];
		// An arena not yet initialised answers EFAULT: it takes the
		// default above when it is.
		snprintf(name, sizeof(name), "arena.%u.dirty_decay_ms", i);
		duckdb_je_mallctl(name, NULL, NULL, &v, sizeof(v));
		snprintf(name, sizeof(name), "arena.%u.muzzy_decay_ms", i);
		duckdb_je_mallctl(name, NULL, NULL, &zero, sizeof(zero));
	}
	return 0;
}

// decay returns arena i's dirty (or muzzy) decay, or -3 when it cannot be
// read.
static long decay(unsigned i, int muzzy) {
	ssize_t v = -2;
	size_t len = sizeof(v);
	char name[64];
	snprintf(name, sizeof(name), muzzy ? "arena.%u.muzzy_decay_ms" : "arena.%u.dirty_decay_ms", i);
	if (duckdb_je_mallctl(name, &v, &len, NULL, 0) != 0) return -3;
	return (long)v;
}
*/
import "C"

import (
	"fmt"
	"os"
)

// tuneAllocator is TuneAllocator where DuckDB's build carries jemalloc.
func tuneAllocator() error {
	if _, set := os.LookupEnv("DUCKDB_JE_MALLOC_CONF"); set {
		return nil
	}
	if r := C.set_decay(C.long(decayMillis)); r != 0 {
		return fmt.Errorf("set the allocator's decay: mallctl error %d", int(r))
	}
	return nil
}

// arenaDecay is arena i's dirty and muzzy decays in milliseconds (-3:
// unreadable); for tests.
func arenaDecay(i int) (dirty, muzzy int64) {
	return int64(C.decay(C.uint(i), 0)), int64(C.decay(C.uint(i), 1))
}
