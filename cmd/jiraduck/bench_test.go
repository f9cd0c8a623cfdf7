package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
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
	var stdout, stderr bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	// P7's large rebuild at 1,000 issues, not --quick's 3,000, and P1 for
	// one second, not two: the paths are the same, and the rest of the
	// suite waits for the CPU this test takes.
	err := runBench(ctx, e, []string{"--quick", "--json", "--rss-issues", "1000", "--rate-for", "1s"})
	t.Logf("bench --quick took %s\n%s", time.Since(start).Round(time.Millisecond), stderr.String())
	if err != nil {
		t.Fatalf("bench --quick: %v\n%s", err, stdout.String())
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
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("bench --json output: %v\n%s", err, stdout.String())
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
