package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runDemoCmd runs the demo in-process with a deadline well below the
// demo's own five minutes, so that a demo that cannot finish fails fast.
func runDemoCmd(t *testing.T, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr}
	code := exitCode(run(ctx, append([]string{"demo"}, args...), e), &stderr)
	return stdout.String() + stderr.String(), code
}

// TestDemoTwiceOnOneDataDir: a second demo on the data dir of a first one
// works like the first. Its emulator starts again with the same seed, and
// the webhooks and changes it makes must not collide with what the store
// kept (the burst was dropped as duplicate deliveries, and the edit never
// reached Parquet).
func TestDemoTwiceOnOneDataDir(t *testing.T) {
	if testing.Short() {
		t.Skip("demo test skipped in -short mode")
	}
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "demo")
	for run := 1; run <= 2; run++ {
		out, code := runDemoCmd(t, "--data-dir", dir, "--issues", "40", "--events", "40")
		if code != 0 {
			t.Fatalf("run %d: got exit code %d, want 0:\n%s", run, code, out)
		}
		for _, want := range []string{"backfilling the site... done", "40 issues fetched", "readable in Parquet", "Comments per month", "duckdb -c"} {
			if !strings.Contains(out, want) {
				t.Errorf("run %d: output lacks %q:\n%s", run, want, out)
			}
		}
		if strings.Contains(out, " 0 issue fetches") {
			t.Errorf("run %d: the burst fetched nothing (its webhooks taken for duplicates):\n%s", run, out)
		}
	}
}

// TestDemoSmallestSite: the smallest demo the flags allow runs through its
// sample queries, and a demo on a temporary folder suggests no command on
// the files it deletes.
func TestDemoSmallestSite(t *testing.T) {
	if testing.Short() {
		t.Skip("demo test skipped in -short mode")
	}
	t.Parallel()
	out, code := runDemoCmd(t, "--issues", "10", "--events", "1")
	if code != 0 {
		t.Fatalf("got exit code %d, want 0:\n%s", code, out)
	}
	for _, want := range []string{"10 issues fetched", "Comments per month", "Most recently updated", "removed now"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, refused := range []string{"duckdb -c", "jiraduck query \"", "does not exist"} {
		if strings.Contains(out, refused) {
			t.Errorf("output contains %q:\n%s", refused, out)
		}
	}
}

// TestDemoRefusesADirItDidNotMake: pointed at a folder that holds anything
// a demo did not make (a real data directory above all), the demo refuses
// with exit 2 before it writes there, and leaves the store as it was.
func TestDemoRefusesADirItDidNotMake(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	storeFile := filepath.Join(dir, "jiraduck.duckdb")
	if err := os.WriteFile(storeFile, []byte("a real store"), 0o640); err != nil {
		t.Fatal(err)
	}
	out, code := runDemoCmd(t, "--data-dir", dir, "--issues", "10", "--events", "1")
	if code != 2 {
		t.Fatalf("got exit code %d, want 2:\n%s", code, out)
	}
	if !strings.Contains(out, "no demo made it") {
		t.Errorf("output does not say why:\n%s", out)
	}
	if b, err := os.ReadFile(storeFile); err != nil || string(b) != "a real store" {
		t.Errorf("store after the refusal: got %q (%v), want it untouched", b, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data directory after the refusal holds %d entries, want only the store", len(entries))
	}
}
