package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMemoryFrom reads captured /proc and /sys/fs/cgroup files: the
// tightest cgroup limit when one is set, else the physical memory.
func TestMemoryFrom(t *testing.T) {
	const physical = 24683832 << 10
	tests := []struct {
		dir    string
		bytes  int64
		source string
	}{
		{"v2-container", 512 << 20, "cgroup v2 memory.max (/sys/fs/cgroup/memory.max)"},
		{"v2-unlimited", physical, "/proc/meminfo MemTotal"},
		{"v2-unit", 1 << 30, "cgroup v2 memory.max (/sys/fs/cgroup/system.slice/memory.max)"},
		{"v1-docker", 256 << 20, "cgroup v1 memory.limit_in_bytes (/sys/fs/cgroup/memory/memory.limit_in_bytes)"},
		{"v1-unlimited", physical, "/proc/meminfo MemTotal"},
		{"v2-above-physical", 2029876 << 10, "/proc/meminfo MemTotal"},
		{"v2-garbage", physical, "/proc/meminfo MemTotal"},
		{"nothing", 0, "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			got := memoryFrom(os.DirFS(filepath.Join("testdata", "memory", tt.dir)))
			if got.Bytes != tt.bytes {
				t.Errorf("bytes: got %d, want %d", got.Bytes, tt.bytes)
			}
			if !strings.HasPrefix(got.Source, tt.source) {
				t.Errorf("source: got %q, want %q", got.Source, tt.source)
			}
		})
	}
}

// TestMemoryPlan derives each command's memory bounds from the memory
// available; settings win, and an unknown amount gives the ceilings.
func TestMemoryPlan(t *testing.T) {
	const gib = int64(1) << 30
	tests := []struct {
		name     string
		memory   int64
		vars     map[string]string
		command  string
		pool     string
		poolFrom string
		release  bool
		goLimit  int64
	}{
		{"large machine serve", 24 * gib, nil, "serve", "256MB", "1/4 of the memory available, at most 256MB", false, 96 << 20},
		{"2 GiB machine serve", 2 * gib, nil, "serve", "256MB", "1/4 of the memory available, at most 256MB", false, 96 << 20},
		{"just under 2 GiB serve", 2*gib - 1<<20, nil, "serve", "256MB", "1/4 of the memory available, at most 256MB", true, 96 << 20},
		{"large machine rebuild", 24 * gib, nil, "rebuild", "256MB", "1/4 of the memory available, at most 256MB", false, 6 * gib},
		{"large machine backfill", 24 * gib, nil, "backfill", "512MB", "1/4 of the memory available, at most 512MB", false, 6 * gib},
		{"1 GiB container serve", gib, nil, "serve", "256MB", "1/4 of the memory available, at most 256MB", true, 96 << 20},
		{"512 MiB container serve", gib / 2, nil, "serve", "134MB", "1/4 of the memory available, at most 256MB", true, 64 << 20},
		{"512 MiB container export", gib / 2, nil, "export", "134MB", "1/4 of the memory available, at most 512MB", false, 128 << 20},
		{"256 MiB container serve", gib / 4, nil, "serve", "96MB", "1/4 of the memory available, at most 256MB", true, 48 << 20},
		{"unknown serve", 0, nil, "serve", "256MB", "memory available unknown", false, 0},
		{"unknown rebuild", 0, nil, "rebuild", "256MB", "memory available unknown", false, 0},
		{"settings win", 24 * gib, map[string]string{"JIRADUCK_DUCKDB_MEMORY_LIMIT": "1GB", "JIRADUCK_DUCKDB_RELEASE_MEMORY": "false", "GOMEMLIMIT": "200MiB"},
			"serve", "1GB", "set", false, 0},
		{"release set for rebuild", 24 * gib, map[string]string{"JIRADUCK_DUCKDB_RELEASE_MEMORY": "true"}, "rebuild", "256MB",
			"1/4 of the memory available, at most 256MB", true, 6 * gib},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := tt.vars
			if vars == nil {
				vars = map[string]string{}
			}
			c, err := FromMap(vars)
			if err != nil {
				t.Fatal(err)
			}
			c.Memory = Memory{Bytes: tt.memory, Source: "test"}
			p := c.MemoryPlanFor(tt.command)
			if p.DuckDBLimit != tt.pool || p.DuckDBLimitFrom != tt.poolFrom {
				t.Errorf("DuckDB limit: got %s (%s), want %s (%s)", p.DuckDBLimit, p.DuckDBLimitFrom, tt.pool, tt.poolFrom)
			}
			if p.ReleaseMemory != tt.release {
				t.Errorf("release: got %v (%s), want %v", p.ReleaseMemory, p.ReleaseFrom, tt.release)
			}
			if p.GoLimit != tt.goLimit {
				t.Errorf("Go limit: got %d (%s), want %d", p.GoLimit, p.GoLimitFrom, tt.goLimit)
			}
			if !validMemoryLimit(p.DuckDBLimit) {
				t.Errorf("DuckDB limit %q is not a size DuckDB takes", p.DuckDBLimit)
			}
		})
	}
}

// TestRedactedShowsMemoryPlan: the config command prints the derived
// values and where they came from.
func TestRedactedShowsMemoryPlan(t *testing.T) {
	c, err := FromMap(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	c.Memory = Memory{Bytes: 24 << 30, Source: "/proc/meminfo MemTotal"}
	got := map[string]string{}
	for _, s := range c.Redacted() {
		got[s.Name] = s.Value
	}
	want := map[string]string{
		"JIRADUCK_DUCKDB_MEMORY_LIMIT":   "256MB (1/4 of the memory available, at most 256MB; rebuild: 256MB; memory available: 24.0 GiB from /proc/meminfo MemTotal)",
		"JIRADUCK_DUCKDB_RELEASE_MEMORY": "false (default of serve with 2GiB or more available; rebuild: false)",
		"GOMEMLIMIT":                     "96MiB (1/8 of the memory available, at most 96MiB; rebuild: 6144MiB)",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
	if _, ok := got[""]; ok {
		t.Errorf("a setting without a name is printed: %q", got[""])
	}
}

// TestMemorySettingsEmptyAreUnset: the env example leaves the memory
// settings empty, which must derive them as if they were not there.
func TestMemorySettingsEmptyAreUnset(t *testing.T) {
	c, err := FromMap(map[string]string{"JIRADUCK_DUCKDB_MEMORY_LIMIT": "", "JIRADUCK_DUCKDB_RELEASE_MEMORY": "", "GOMEMLIMIT": ""})
	if err != nil {
		t.Fatal(err)
	}
	c.Memory = Memory{Bytes: 1 << 30, Source: "test"}
	p := c.MemoryPlanFor("serve")
	if p.DuckDBLimit != "256MB" || !p.ReleaseMemory || p.GoLimit != 96<<20 {
		t.Errorf("serve with empty settings and 1 GiB: got %+v, want 256MB, release, 96MiB", p)
	}
}

// TestReleaseFromSaysWhy: the config command says which rule gave the
// release default, since the same serve releases on one machine and not on
// another.
func TestReleaseFromSaysWhy(t *testing.T) {
	for _, tc := range []struct {
		memory  int64
		command string
		want    string
	}{
		{24 << 30, "serve", "default of serve with 2GiB or more available"},
		{1 << 30, "serve", "default of serve below 2GiB available"},
		{0, "serve", "default of serve, memory available unknown"},
		{1 << 30, "rebuild", "default of rebuild"},
	} {
		c, err := FromMap(map[string]string{})
		if err != nil {
			t.Fatal(err)
		}
		c.Memory = Memory{Bytes: tc.memory, Source: "test"}
		if got := c.MemoryPlanFor(tc.command).ReleaseFrom; got != tc.want {
			t.Errorf("%s with %d bytes: got %q, want %q", tc.command, tc.memory, got, tc.want)
		}
	}
}

// TestWriteBatch: a write transaction holds two issues per MB of the buffer
// pool above 64MB, from 32 to 256, as DuckDB reads the pool's size.
func TestWriteBatch(t *testing.T) {
	for _, tc := range []struct {
		pool string
		want int
	}{
		{"64MB", 32}, {"80MB", 32}, {"96MB", 64}, {"128MB", 128}, {"122MiB", 127},
		{"192MB", 256}, {"1GB", 256}, {"", 32}, {"lots", 32},
	} {
		if got := (MemoryPlan{DuckDBLimit: tc.pool}).WriteBatch(); got != tc.want {
			t.Errorf("pool %q: got %d issues a transaction, want %d", tc.pool, got, tc.want)
		}
	}
}

// TestIndexCheckpoint: the writer checkpoints once the indexes fill a third
// of the pool, as DuckDB reads the pool's size; never when it is unknown.
func TestIndexCheckpoint(t *testing.T) {
	for _, tc := range []struct {
		pool string
		want int64
	}{
		{"256MB", 85333333}, {"128MB", 42666666}, {"3GiB", 1 << 30}, {"", 0}, {"lots", 0},
	} {
		if got := (MemoryPlan{DuckDBLimit: tc.pool}).IndexCheckpoint(); got != tc.want {
			t.Errorf("pool %q: got %d bytes, want %d", tc.pool, got, tc.want)
		}
	}
}
