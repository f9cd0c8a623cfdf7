package config

import (
	"fmt"
	"strconv"
)

// MemoryPlan is how a command bounds its memory: DuckDB's buffer pool, whether
// DuckDB hands freed memory back at once, and the soft limit of Go's heap,
// each with where it came from (the setting, or what it was derived from).
type MemoryPlan struct {
	DuckDBLimit     string // DuckDB's memory_limit, such as "128MB"
	DuckDBLimitFrom string
	ReleaseMemory   bool
	ReleaseFrom     string
	// GoLimit is the limit to hand debug.SetMemoryLimit, in bytes; 0 leaves
	// Go's own (GOMEMLIMIT when set, else none).
	GoLimit     int64
	GoLimitFrom string
}

// memoryShare is how a command's defaults follow the memory available: a
// fraction of it, up to a ceiling that is as much as the command has been
// measured to use well (docs/configuration.md, "Memory").
type memoryShare struct {
	poolDivisor int64 // the buffer pool is Memory / poolDivisor ...
	poolCeiling int64 // ... at most this, in bytes (DuckDB's MB: 10^6)
	// releaseBelow: with less memory available than this, DuckDB hands
	// what it frees back at once; 0: never by default. Unknown memory
	// counts as plenty, as it takes the ceilings above.
	releaseBelow int64
	goDivisor    int64 // Go's heap is limited to Memory / goDivisor ...
	goCeiling    int64 // ... and at most this; 0: no ceiling
}

// The shares per command. Serve keeps a small cache: the storm of P3 was as
// fast at every cap measured from 96MB to 512MB, and what serve holds above
// the cap is mostly memory DuckDB freed and its allocator kept, which
// releasing returns. But the pool also holds the primary keys' indexes as
// writes touch them, and edits spread over a 100,000-issue store (P8) ran
// serve out of memory at 128MB within seconds, which DuckDB answered by
// invalidating the open store: serve's share is 1/4, at most 256MB. A
// rebuild reads each payload once, so a larger cache buys it nothing either;
// a full export is slower with less than 512MB. Releasing freed memory at
// once costs CPU, since every page handed back is faulted in again: a
// rebuild and a large export much of their time, and serve under a bulk edit
// (P3) 5 s of 12 on a machine where page faults are dear, for about 100 MB
// less at its peak. So only serve releases by default, and only where those
// 100 MB matter: with less than 2 GiB available.
var memoryShares = map[string]memoryShare{
	"serve":   {poolDivisor: 4, poolCeiling: 256e6, releaseBelow: 2 << 30, goDivisor: 8, goCeiling: 96 << 20},
	"rebuild": {poolDivisor: 4, poolCeiling: 256e6, goDivisor: 4},
	"":        {poolDivisor: 4, poolCeiling: 512e6, goDivisor: 4},
}

// minDuckDBPool is the smallest derived pool: at 64MB serve could not work
// on a 100,000-issue store, at 96MB it met P3.
const minDuckDBPool = 96e6

// minGoLimit is the smallest derived limit of Go's heap: below it the
// collector would run all the time for the few tens of MB serve keeps live.
const minGoLimit = 48 << 20

// MemoryPlanFor is the memory plan of a command ("serve", "rebuild", or any
// other command name): the settings where they are set, else values derived
// from Memory, else (Memory unknown) each share's ceiling.
func (c *Config) MemoryPlanFor(command string) MemoryPlan {
	share, ok := memoryShares[command]
	if !ok {
		share = memoryShares[""]
	}
	var p MemoryPlan
	switch {
	case c.DuckDBMemoryLimit != "":
		p.DuckDBLimit, p.DuckDBLimitFrom = c.DuckDBMemoryLimit, "set"
	case c.Memory.Bytes > 0:
		pool := max(min(c.Memory.Bytes/share.poolDivisor, share.poolCeiling), minDuckDBPool)
		p.DuckDBLimit = strconv.FormatInt(pool/1e6, 10) + "MB"
		p.DuckDBLimitFrom = fmt.Sprintf("1/%d of the memory available, at most %dMB", share.poolDivisor, share.poolCeiling/1e6)
	default:
		p.DuckDBLimit = strconv.FormatInt(share.poolCeiling/1e6, 10) + "MB"
		p.DuckDBLimitFrom = "memory available unknown"
	}
	if c.DuckDBReleaseMemory != nil {
		p.ReleaseMemory, p.ReleaseFrom = *c.DuckDBReleaseMemory, "set"
	} else {
		p.ReleaseMemory = c.Memory.Bytes > 0 && c.Memory.Bytes < share.releaseBelow
		p.ReleaseFrom = "default of " + commandName(command)
		switch {
		case share.releaseBelow == 0:
		case c.Memory.Bytes <= 0:
			p.ReleaseFrom += ", memory available unknown"
		case p.ReleaseMemory:
			p.ReleaseFrom += fmt.Sprintf(" below %dGiB available", share.releaseBelow>>30)
		default:
			p.ReleaseFrom += fmt.Sprintf(" with %dGiB or more available", share.releaseBelow>>30)
		}
	}
	switch {
	case c.GoMemoryLimit != "":
		p.GoLimitFrom = "set"
	case c.Memory.Bytes > 0:
		limit := c.Memory.Bytes / share.goDivisor
		if share.goCeiling > 0 {
			limit = min(limit, share.goCeiling)
		}
		p.GoLimit = max(limit, minGoLimit)
		p.GoLimitFrom = fmt.Sprintf("1/%d of the memory available", share.goDivisor)
		if share.goCeiling > 0 {
			p.GoLimitFrom += fmt.Sprintf(", at most %dMiB", share.goCeiling>>20)
		}
	default:
		p.GoLimitFrom = "memory available unknown"
	}
	return p
}

// WriteBatch is the most issues one write transaction holds under this
// plan: two per MB of DuckDB's buffer pool above 64MB, from 32 to 256 (256
// at serve's default pool). Fewer, larger transactions work off a storm
// sooner, since each one scans the child tables once whatever it writes;
// but a transaction's memory grows with its issues, and one that runs out
// of it can leave DuckDB unable to roll it back, which invalidates the open
// store until the process restarts. 128 issues at a 96MB pool did so on a
// 100,000-issue store; 96 at 96MB and 256 at 128MB did not.
func (p MemoryPlan) WriteBatch() int {
	pool, ok := MemoryBytes(p.DuckDBLimit)
	if !ok {
		return minWriteBatch
	}
	return int(min(max((pool-64e6)/500e3, minWriteBatch), maxWriteBatch))
}

// IndexCheckpoint is the size of the primary keys' indexes in DuckDB's pool
// above which a command's writer checkpoints (store.Writer.CheckpointAbove):
// a third of the pool, so that the indexes, which the pool cannot evict,
// leave it room for the rest of the work. 0 when the pool's size is unknown.
func (p MemoryPlan) IndexCheckpoint() int64 {
	pool, ok := MemoryBytes(p.DuckDBLimit)
	if !ok {
		return 0
	}
	return pool / 3
}

// minWriteBatch and maxWriteBatch bound WriteBatch.
const (
	minWriteBatch = 32
	maxWriteBatch = 256
)

// MemoryLimitFor is the cap of DuckDB's buffer pool for a command.
func (c *Config) MemoryLimitFor(command string) string { return c.MemoryPlanFor(command).DuckDBLimit }

// GoLimitText is the Go heap's limit as the config command shows it.
func (p MemoryPlan) GoLimitText() string {
	if p.GoLimit == 0 {
		return "Go's own"
	}
	return strconv.FormatInt(p.GoLimit>>20, 10) + "MiB"
}

func commandName(command string) string {
	if _, ok := memoryShares[command]; ok && command != "" {
		return command
	}
	return "the other commands"
}

// String is the memory available and where it was read, for people.
func (m Memory) String() string {
	if m.Bytes == 0 {
		return m.Source
	}
	return fmt.Sprintf("%.1f GiB from %s", float64(m.Bytes)/(1<<30), m.Source)
}
