//go:build !(linux && amd64)

package store

// tuneAllocator does nothing where DuckDB's build is not known to carry its
// jemalloc.
func tuneAllocator() error { return nil }
