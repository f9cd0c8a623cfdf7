package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestDemoWithFewIssues: a site so small that some tables have no row yet
// (no comment at all) still answers the demo's queries: the empty tables'
// views exist and return nothing.
func TestDemoWithFewIssues(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator test skipped in -short mode")
	}
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	out, errOut, code := runCmd(t, []string{"JIRADUCK_LOG_FORMAT=json", "JIRADUCK_LOG_LEVEL=warn"},
		"demo", "--issues", "10", "--events", "1", "--data-dir", dir)
	if code != 0 || strings.Contains(errOut, "does not exist") {
		t.Fatalf("demo --issues 10 --events 1: code %d, want 0\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "Comments per month of issue creation") {
		t.Errorf("demo output lacks the comments query:\n%s", out)
	}
}
