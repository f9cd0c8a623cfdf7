package export

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/store"
)

// TestRunRemovesLeftoversOfACrash: serve killed in the middle of an export
// leaves a partition's staging file under .staging/ and perhaps the
// manifest's temporary file in parquet/jira (where rsync would copy it). The
// next run removes them before it exports, and keeps everything else.
func TestRunRemovesLeftoversOfACrash(t *testing.T) {
	f := newFixture(t)
	f.apply(t, rows("SUP-1", "1000", jan, 2))
	f.exportDirty(t)
	staging := filepath.Join(f.dir, ".staging", "comments-2024-01-0123456789ab.parquet")
	manifestTmp := filepath.Join(Root(f.dir), ".manifest.json.123456.tmp")
	for _, p := range []string{staging, manifestTmp} {
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("half a file"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.e.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(staging); os.IsNotExist(err) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	for _, p := range []string{staging, manifestTmp} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s: got %v, want it removed", p, err)
		}
	}
	for _, p := range []string{PartitionPath(f.dir, "comments", "2024-01"), PartitionPath(f.dir, "issues", "2024-01"), filepath.Join(Root(f.dir), "manifest.json")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v, want it kept", p, err)
		}
	}
}

// TestSnapshotRemovesAnInterruptedSnapshot: a snapshot interrupted by a crash
// leaves its staging database, as large as the store, next to the snapshot.
// The next snapshot removes it.
func TestSnapshotRemovesAnInterruptedSnapshot(t *testing.T) {
	f := newFixture(t)
	f.apply(t, rows("SUP-1", "1000", jan, 2))
	out := SnapshotPath(f.dir)
	if err := os.MkdirAll(filepath.Dir(out), 0o750); err != nil {
		t.Fatal(err)
	}
	left := []string{filepath.Join(filepath.Dir(out), ".jira.duckdb.0123456789ab.tmp"), filepath.Join(filepath.Dir(out), ".jira.duckdb.0123456789ab.tmp.wal")}
	other := filepath.Join(filepath.Dir(out), "notes.txt")
	for _, p := range append(left, other) {
		if err := os.WriteFile(p, []byte("x"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Snapshot(context.Background(), f.s, out); err != nil {
		t.Fatal(err)
	}
	for _, p := range left {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s: got %v, want it removed", p, err)
		}
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("an unrelated file was removed: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(out))
	if len(entries) != 2 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("snapshot folder: got %v, want jira.duckdb and notes.txt", names)
	}
}

// TestRunRepairsAManifestACrashLeftBehind: serve killed after a partition was
// published and recorded but before the manifest was rewritten leaves a
// manifest that disagrees with the files (rows, digest). The next run writes
// it again from the store's record before anything else, rather than only
// after the next change.
func TestRunRepairsAManifestACrashLeftBehind(t *testing.T) {
	f := newFixture(t)
	f.apply(t, rows("SUP-1", "1000", jan, 2))
	f.exportDirty(t)
	// The crash window: the partition is rewritten and recorded, the
	// manifest is not.
	f.apply(t, rows("SUP-1", "1000", jan, 5))
	dirty, err := f.s.DirtyPartitions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	pass := map[store.Partition]store.ExportRecord{}
	for _, d := range dirty {
		if err := f.e.exportPartition(context.Background(), d, pass, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.e.record(context.Background(), pass); err != nil {
		t.Fatal(err)
	}
	stale := manifestRows(t, f.dir)["comments/2024-01"]
	if stale != 2 {
		t.Fatalf("setup: manifest says %d comments, want the 2 of before the crash", stale)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); New(f.s, f.w, f.e.opts).Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && manifestRows(t, f.dir)["comments/2024-01"] != 5 {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if got := manifestRows(t, f.dir)["comments/2024-01"]; got != 5 {
		t.Errorf("manifest after a restart: %d comments, want the 5 of the published file", got)
	}
	// A manifest that agrees is left alone.
	before, _ := ReadManifest(f.dir)
	ctx, cancel = context.WithCancel(context.Background())
	done = make(chan struct{})
	go func() { defer close(done); New(f.s, f.w, f.e.opts).Run(ctx) }()
	time.Sleep(200 * time.Millisecond)
	cancel()
	<-done
	if after, _ := ReadManifest(f.dir); !after.GeneratedAt.Equal(before.GeneratedAt) {
		t.Errorf("a manifest that agrees with the store was rewritten at start")
	}
}

func manifestRows(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	m, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, p := range m.Partitions {
		out[p.Table+"/"+p.Month] = p.Rows
	}
	return out
}
