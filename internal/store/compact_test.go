package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/files"
	"github.com/jiraduck/jiraduck/internal/normalize"
)

// growthSite is an emulated site whose issues are all stored, then edited
// in a storm: many re-fetches of a few issues, each written through the
// Writer as serve writes them.
type growthSite struct {
	em   *emulator.Emulator
	keys []string
}

func newGrowthSite(t *testing.T, issues int) *growthSite {
	t.Helper()
	em, err := emulator.New(emulator.Options{Issues: issues, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	return &growthSite{em: em, keys: em.Keys()}
}

func (g *growthSite) rows(t *testing.T, key string) *normalize.Rows {
	t.Helper()
	return emulatedRows(t, g.em, key)
}

// fill writes every issue of the site, 500 to a transaction.
func (g *growthSite) fill(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	for start := 0; start < len(g.keys); start += 500 {
		var batch []*normalize.Rows
		for _, k := range g.keys[start:min(start+500, len(g.keys))] {
			batch = append(batch, g.rows(t, k))
		}
		if err := s.WithTx(ctx, func(tx *Tx) error {
			_, err := s.ApplyBatch(ctx, tx, batch, ApplyOptions{})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// storm edits hot issues events times, a few at once, and writes each
// edit as a fetch of the whole issue.
func (g *growthSite) storm(t *testing.T, s *Store, events, hot int) {
	t.Helper()
	ctx := context.Background()
	w := s.NewWriter(64, nil)
	defer w.Close()
	const together = 8
	for ev := 0; ev < events; ev += together {
		done := make(chan error, together)
		for j := range together {
			k := g.keys[(ev+j)%hot]
			if err := g.em.Silent().Update(k, func(is *emulator.Issue) { is.Summary = fmt.Sprintf("storm edit %d", ev+j) }); err != nil {
				t.Fatal(err)
			}
			r := g.rows(t, k)
			go func() { _, err := w.Apply(ctx, r, nil); done <- err }()
		}
		for range together {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
	}
}

// closedStore makes a migrated store, lets fn write it, and closes it
// (which folds the WAL into the file); it returns the file's path.
func closedStore(t *testing.T, fn func(s *Store)) string {
	t.Helper()
	s := migrated(t)
	fn(s)
	if err := s.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return s.Path()
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// storeDigest is every table's row count and a hash of its rows, and the
// next value of the run sequence: what a compaction must keep.
func storeDigest(t *testing.T, path string) string {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tables, err := tableNames(ctx, s.db, "current_database()")
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, tb := range tables {
		var n int64
		var h string
		if err := s.db.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(*), coalesce(sum(hash(t))::VARCHAR, '') FROM %s t`, quoteIdent(tb))).Scan(&n, &h); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, fmt.Sprintf("%s=%d/%s", tb, n, h))
	}
	var last any
	if err := s.db.QueryRowContext(ctx, `SELECT last_value FROM duckdb_sequences() WHERE sequence_name = 'sync_runs_seq'`).Scan(&last); err != nil {
		t.Fatal(err)
	}
	sort.Strings(parts)
	return strings.Join(parts, " ") + fmt.Sprintf(" sync_runs_seq=%v", last)
}

// TestCompactAfterStorm: a storm of re-fetches over a few issues leaves
// the file far larger than the same data written once (dead copies of
// every row, which DuckDB keeps in tables with a primary key); compaction
// brings it within 1.3x of that, keeping every row and the sequences.
func TestCompactAfterStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("fills and storms a store")
	}
	t.Parallel()
	ctx := context.Background()
	g := newGrowthSite(t, 300)
	stormed := closedStore(t, func(s *Store) {
		g.fill(t, s)
		// Runs take their ids from a sequence, which the copy must continue.
		if _, err := s.db.ExecContext(ctx, `SELECT nextval('sync_runs_seq') FROM range(7)`); err != nil {
			t.Fatal(err)
		}
		if err := s.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		g.storm(t, s, 600, 40)
	})
	// The reference: the issues as they are after the storm, written once.
	rebuilt := closedStore(t, func(s *Store) { g.fill(t, s) })
	ref := fileSize(t, rebuilt)
	before := fileSize(t, stormed)
	t.Logf("after the storm %d bytes, the same data written once %d bytes (%.2fx)", before, ref, float64(before)/float64(ref))
	if float64(before) <= 1.3*float64(ref) {
		t.Fatalf("the storm left %d bytes, within 1.3x of %d: it no longer shows the growth this test is about", before, ref)
	}
	digest := storeDigest(t, stormed)

	res, err := CompactIfWasteful(ctx, stormed, Options{}, false)
	if err != nil {
		t.Fatal(err)
	}
	after := fileSize(t, stormed)
	t.Logf("estimated live %d bytes of %d; compacted to %d bytes (%.2fx)", res.Before.LiveBytes, res.Before.FileBytes, after, float64(after)/float64(ref))
	if !res.Compacted {
		t.Fatalf("not compacted: waste %+v (ratio %.2f), want a copy", res.Before, res.Before.Ratio())
	}
	if got := float64(after) / float64(ref); got > 1.3 {
		t.Errorf("compacted store: got %d bytes, %.2fx the same data written once (%d), want at most 1.3x", after, got, ref)
	}
	if got := storeDigest(t, stormed); got != digest {
		t.Errorf("contents after compaction:\n got %s\nwant %s", got, digest)
	}
	for _, p := range []string{stormed + compactSuffix, stormed + ".wal", stormed + compactSuffix + ".wal"} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s left behind", filepath.Base(p))
		}
	}
	if mode := fileMode(t, stormed); mode != files.FileMode {
		t.Errorf("compacted file mode: got %v, want %v", mode, files.FileMode)
	}

	s, err := Open(ctx, stormed, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var next int64
	if err := s.db.QueryRowContext(ctx, `SELECT nextval('sync_runs_seq')`).Scan(&next); err != nil {
		t.Fatal(err)
	}
	if next != 8 {
		t.Errorf("sync_runs_seq after compaction: got %d, want 8", next)
	}
	// A store just compacted is not worth another copy.
	if _, err := s.MeasureWaste(ctx); err != nil {
		t.Fatal(err)
	}
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// TestCompactLeavesTidyStoreAlone: a store written once is not copied, and a
// copy left by an interrupted compaction is removed.
func TestCompactLeavesTidyStoreAlone(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a store")
	}
	t.Parallel()
	ctx := context.Background()
	g := newGrowthSite(t, 300)
	path := closedStore(t, func(s *Store) { g.fill(t, s) })
	if err := os.WriteFile(path+compactSuffix, []byte("half a copy"), 0o600); err != nil {
		t.Fatal(err)
	}
	size := fileSize(t, path)
	res, err := CompactIfWasteful(ctx, path, Options{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Compacted {
		t.Errorf("compacted a store written once: waste %+v (ratio %.2f)", res.Before, res.Before.Ratio())
	}
	if r := res.Before.Ratio(); r > CompactRatio {
		t.Errorf("estimated waste of a store written once: got ratio %.2f, want at most %.2f", r, CompactRatio)
	}
	if got := fileSize(t, path); got != size {
		t.Errorf("file size: got %d, want %d (untouched)", got, size)
	}
	if _, err := os.Stat(path + compactSuffix); err == nil {
		t.Errorf("the interrupted copy %s is still there", filepath.Base(path+compactSuffix))
	}
}

// compactChildEnv names the store a re-executed test binary compacts (see
// TestCompactCrash).
const compactChildEnv = "JIRADUCK_TEST_COMPACT_CHILD"

// TestCompactChild is the child of TestCompactCrash: it compacts the store
// named in its environment and is killed somewhere along the way.
func TestCompactChild(t *testing.T) {
	path := os.Getenv(compactChildEnv)
	if path == "" {
		t.Skip("run by TestCompactCrash")
	}
	if _, err := CompactIfWasteful(context.Background(), path, Options{}, true); err != nil {
		t.Fatal(err)
	}
}

// TestCompactCrash kills a compaction with SIGKILL at moments spread over
// its length, as the crash test kills serve, and opens the store after each:
// it must hold exactly what it held before, whether the copy had taken its
// place or not. A last compaction, not killed, must then succeed.
func TestCompactCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a store and compacts it many times")
	}
	t.Parallel()
	g := newGrowthSite(t, 300)
	path := closedStore(t, func(s *Store) {
		g.fill(t, s)
		g.storm(t, s, 160, 20)
	})
	digest := storeDigest(t, path)
	run := func(kill time.Duration) (bool, error) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCompactChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), compactChildEnv+"="+path)
		if err := cmd.Start(); err != nil {
			return false, err
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		if kill <= 0 {
			return true, <-done
		}
		select {
		case err := <-done:
			return true, err
		case <-time.After(kill):
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-done
			return false, nil
		}
	}
	// How long one compaction takes here, to spread the kills over it.
	startedAt := time.Now()
	if _, err := run(0); err != nil {
		t.Fatalf("compaction: %v", err)
	}
	took := time.Since(startedAt)
	if got := storeDigest(t, path); got != digest {
		t.Fatalf("contents after compaction:\n got %s\nwant %s", got, digest)
	}
	killed := 0
	for i := 1; i <= 12; i++ {
		at := took * time.Duration(i) / 12
		finished, err := run(at)
		if finished && err != nil {
			t.Fatalf("compaction %d: %v", i, err)
		}
		if !finished {
			killed++
		}
		if got := storeDigest(t, path); got != digest {
			t.Fatalf("after a kill %s into a compaction of %s:\n got %s\nwant %s", at, took, got, digest)
		}
	}
	t.Logf("one compaction took %s; %d of 12 runs killed before they finished", took, killed)
	if killed == 0 {
		t.Errorf("no compaction was killed before it finished: the test proved nothing")
	}
	if _, err := run(0); err != nil {
		t.Fatalf("compaction after the kills: %v", err)
	}
	if got := storeDigest(t, path); got != digest {
		t.Errorf("contents after the last compaction:\n got %s\nwant %s", got, digest)
	}
	if _, err := os.Stat(path + compactSuffix); err == nil {
		t.Errorf("%s left behind", filepath.Base(path+compactSuffix))
	}
}

// TestCompactRefusesSharedStore: while this process has the store open, a
// compaction would leave that handle writing to the replaced file, so it
// does nothing.
func TestCompactRefusesSharedStore(t *testing.T) {
	ctx := context.Background()
	s := migrated(t)
	size := fileSize(t, s.Path())
	_, err := CompactIfWasteful(ctx, s.Path(), Options{}, true)
	if !errors.Is(err, ErrShared) {
		t.Fatalf("compaction of a store open in this process: got %v, want ErrShared", err)
	}
	if got := fileSize(t, s.Path()); got != size {
		t.Errorf("file size: got %d, want %d (untouched)", got, size)
	}
	if err := s.Usable(ctx); err != nil {
		t.Errorf("the open store after the refused compaction: %v", err)
	}
}

// TestOpenWithOtherSettingsIsLocked: a second handle of this process with
// other settings cannot open the file; that says the file is busy, as a
// lock held by serve does, so that commands go through serve instead.
func TestOpenWithOtherSettingsIsLocked(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "data", FileName)
	s, err := Open(ctx, path, Options{MemoryLimit: "128MB", ReleaseMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	other, err := Open(ctx, path, Options{MemoryLimit: "512MB"})
	if err == nil {
		other.Close()
		t.Fatal("second open with other settings: got nil error, want ErrLocked")
	}
	if !errors.Is(err, ErrLocked) {
		t.Errorf("second open with other settings: got %v, want ErrLocked", err)
	}
}
