package bench

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		values []float64
		p      float64
		want   float64
	}{
		{"one value", []float64{7}, 99, 7},
		{"median of odd", []float64{1, 2, 3}, 50, 2},
		{"median of even", []float64{1, 2, 3, 4}, 50, 2.5},
		{"p99 interpolates", []float64{0, 100}, 99, 99},
		{"max", []float64{1, 5, 9}, 100, 9},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := percentile(c.values, c.p); math.Abs(got-c.want) > 1e-9 {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestReportJudgesMedians(t *testing.T) {
	t.Parallel()
	r := newReport()
	r.add("P9", "latency", "ms", goalAtMost, 10, 12)
	r.add("P9", "latency", "ms", goalAtMost, 10, 8)
	m := r.add("P9", "latency", "ms", goalAtMost, 10, 9)
	if m.Median != 9 || m.Min != 8 || m.Max != 12 || !*m.Pass {
		t.Errorf("got median %v min %v max %v pass %v, want 9 8 12 true", m.Median, m.Min, m.Max, *m.Pass)
	}
	lost := r.add("P9", "lost", "", goalExactly, 0, 0)
	r.add("P9", "lost", "", goalExactly, 0, 1)
	if *lost.Pass {
		t.Errorf("a run that lost one event passed")
	}
	if got := r.failed(); len(got) != 1 || got[0] != lost {
		t.Errorf("failed: got %v, want the lost measure", got)
	}
}

// TestChildEnvPassesMemorySettings: the benchmark's processes get DuckDB's
// memory limit and the Go runtime's settings from the environment, and no
// other setting of the caller (a stray JIRA_* would point them elsewhere).
func TestChildEnvPassesMemorySettings(t *testing.T) {
	t.Setenv("JIRADUCK_DUCKDB_MEMORY_LIMIT", "160MB")
	t.Setenv("JIRADUCK_DUCKDB_RELEASE_MEMORY", "true")
	t.Setenv("GOMEMLIMIT", "100MiB")
	t.Setenv("GOGC", "50")
	t.Setenv("JIRA_BASE_URL", "https://elsewhere.example")
	env := childEnv(map[string]string{"JIRADUCK_DATA_DIR": "/d"}, "")
	for _, want := range []string{"JIRADUCK_DUCKDB_MEMORY_LIMIT=160MB", "JIRADUCK_DUCKDB_RELEASE_MEMORY=true", "GOMEMLIMIT=100MiB", "GOGC=50", "JIRADUCK_DATA_DIR=/d"} {
		if !slices.Contains(env, want) {
			t.Errorf("child environment lacks %s: %v", want, env)
		}
	}
	for _, kv := range env {
		if strings.HasPrefix(kv, "JIRA_") {
			t.Errorf("child environment has the caller's %s", kv)
		}
	}
}

// TestChildLogTail reads what a running child has logged while it is still
// writing (the race detector checks the locking), and keeps the end of it.
func TestChildLogTail(t *testing.T) {
	t.Parallel()
	c := &childProc{}
	c.log = &limitedBuffer{b: &c.stderr, max: 1 << 20}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 1000 {
			fmt.Fprintf(c.log, "line %d\n", i)
		}
	}()
	for range 100 {
		_ = c.logTail(20)
	}
	<-done
	if got, want := c.logTail(20), "...97\nline 998\nline 999"; got != want {
		t.Errorf("logTail(20) = %q, want %q", got, want)
	}
}
