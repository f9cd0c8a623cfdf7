package store

// DuckDB allocates through its own jemalloc, linked into the binary under a
// duckdb_je_ prefix, not through the C library's malloc. jemalloc keeps the
// pages DuckDB frees for reuse and hands them back to the system once they
// have stayed unused for a while: a second, as DuckDB configures it, after
// which they are only marked reclaimable, which the kernel still counts as
// resident until it needs the memory. Serve under a bulk edit and exports
// free a great deal at a time, and those pages were a large part of their
// resident memory.
//
// With freed pages handed back after decayMillis, at once, in alternating
// runs on one machine: serve under a storm of 10,000 webhooks on a
// 100,000-issue store peaked at 734 MB instead of 825 MB, in the same time;
// `jiraduck export` of a 1,000,000-issue store at 771 MB instead of 945 MB,
// in the same time. A rebuild of that store took 18% longer (9 min 18 s
// against 7 min 51 s, one run each, twice the page faults): the pages
// handed back are faulted in again by the next allocation. So serve, a
// long-running process on a machine shared with other work, tunes the
// allocator, and the batch commands keep DuckDB's setting. At 0 ms the
// export peaked at 616 MB but took a third longer.
const decayMillis = 200

// TuneAllocator makes DuckDB's jemalloc hand the pages DuckDB frees back to
// the system after decayMillis, for the whole process. It does nothing when
// DUCKDB_JE_MALLOC_CONF, jemalloc's own options read at start, is set (the
// operator decides), or where DuckDB's build is not known to carry jemalloc.
func TuneAllocator() error { return tuneAllocator() }
