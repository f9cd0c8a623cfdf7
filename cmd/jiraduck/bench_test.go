package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/bench"
)

// TestBenchQuick runs every scenario of the benchmark small and checks the
// correctness measures (nothing lost, all visible, calls within bounds);
// timings are reported, never asserted.
func TestBenchQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("benchmark smoke test skipped in -short mode")
	}
	t.Parallel()
	// The benchmark runs as a user runs it: jiraduck built by go build,
	// without the race detector, which would slow its emulator, its load
	// and its child processes down several times over. The bench package's
	// own tests run under the race detector.
	start := time.Now()
	// P7's large rebuild at 1,000 issues, not --quick's 3,000, and P1 for
	// one second, not two: the paths are the same, and the rest of the
	// suite waits for the CPU this test takes.
	stdout, stderr, code := plain.Program(t).Run(t, nil, "bench", "--quick", "--json", "--rss-issues", "1000", "--rate-for", "1s")
	t.Logf("bench --quick took %s\n%s", time.Since(start).Round(time.Millisecond), stderr)
	if code != 0 {
		t.Fatalf("bench --quick: exit code %d\n%s", code, stdout)
	}
	var rep struct {
		Machine struct {
			Cores  int    `json:"cores"`
			DuckDB string `json:"duckdb"`
		} `json:"machine"`
		Measures []struct {
			Scenario string    `json:"scenario"`
			Name     string    `json:"measure"`
			Values   []float64 `json:"values"`
			Goal     string    `json:"goal"`
			Limit    *float64  `json:"target"`
			Pass     *bool     `json:"pass"`
		} `json:"measures"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("bench --json output: %v\n%s", err, stdout)
	}
	if rep.Machine.Cores < 1 || rep.Machine.DuckDB == "" {
		t.Errorf("machine: got %+v", rep.Machine)
	}
	seen := map[string]bool{}
	for _, m := range rep.Measures {
		seen[m.Scenario] = true
		if m.Pass != nil && !*m.Pass {
			t.Errorf("%s %s: got %v, want %s %v", m.Scenario, m.Name, m.Values, m.Goal, *m.Limit)
		}
	}
	for _, s := range bench.Scenarios() {
		if !seen[s] {
			t.Errorf("scenario %s reported nothing", s)
		}
	}
}
