package app_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/export"
	"github.com/jiraduck/jiraduck/internal/jobs"
	"github.com/jiraduck/jiraduck/internal/normalize"
)

// TestReaderProcess is the reader started by startReader in its own process;
// it does nothing unless JIRADUCK_TEST_READER_DIR is set. It reads every
// table of the export in a loop, as an analyst's DuckDB (a glob over the
// partitions) and as rsync does (copy the bytes, then read the copy), until
// the stop file appears. A glob query that spans a rename may fail loudly and
// is retried (docs/reliability.md); a copied file must always read, and no
// read may ever count a primary key twice.
func TestReaderProcess(t *testing.T) {
	dir := os.Getenv("JIRADUCK_TEST_READER_DIR")
	if dir == "" {
		t.Skip("runs only as the reader process of the reliability tests")
	}
	stop := os.Getenv("JIRADUCK_TEST_READER_STOP")
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// One thread and a pause between rounds: a busy analyst, not a second
	// workload that starves serve of the machine's two cores.
	db.SetMaxOpenConns(1)
	if _, err := db.Exec("SET threads = 1"); err != nil {
		t.Fatal(err)
	}
	scratch := t.TempDir()
	var globReads, globRetries, copyReads, dupes, copyFailures, rounds int
	var lastErr error
	stopped := func() bool { _, err := os.Stat(stop); return err == nil }
	for !stopped() {
		if rounds > 0 {
			time.Sleep(20 * time.Millisecond)
		}
		rounds++
		for _, table := range normalize.Tables {
			glob := filepath.Join(export.Root(dir), table, "month=*", "*.parquet")
			if files, _ := filepath.Glob(glob); len(files) == 0 {
				continue
			}
			q := fmt.Sprintf("SELECT count(*), count(DISTINCT (%s)) FROM read_parquet('%s')", primaryKeys[table], glob)
			var all, distinct int
			var err error
			for try := 0; try < 20; try++ {
				if err = db.QueryRow(q).Scan(&all, &distinct); err == nil {
					break
				}
				globRetries++
				lastErr = err
				time.Sleep(5 * time.Millisecond)
			}
			if err != nil {
				t.Errorf("%s: 20 reads in a row failed: %v", table, err)
				continue
			}
			globReads++
			if all != distinct {
				dupes++
				t.Errorf("%s: a reader counted %d rows for %d distinct keys", table, all, distinct)
			}
		}
		// rsync's view: copy each file, then read the copy.
		_ = filepath.WalkDir(export.Root(dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || filepath.Ext(p) != ".parquet" {
				return nil
			}
			dst := filepath.Join(scratch, "copy.parquet")
			if err := copyBytes(p, dst); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil // the month was emptied and removed meanwhile
				}
				t.Errorf("copy %s: %v", p, err)
				return nil
			}
			var n int
			if err := db.QueryRow(fmt.Sprintf("SELECT count(*) FROM read_parquet('%s')", dst)).Scan(&n); err != nil {
				copyFailures++
				t.Errorf("a copy of %s does not read: %v", p, err)
				return nil
			}
			copyReads++
			return nil
		})
	}
	fmt.Printf("reader-stats rounds=%d glob_reads=%d glob_retries=%d copy_reads=%d duplicates=%d bad_copies=%d\n",
		rounds, globReads, globRetries, copyReads, dupes, copyFailures)
	if lastErr != nil {
		t.Logf("last failed glob read (retried): %v", lastErr)
	}
}

func copyBytes(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// TestReadersDuringStorm reads every partition from another process while
// serve processes a storm of edits over a few months and exports them.
func TestReadersDuringStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator test skipped in -short mode")
	}
	t.Parallel()
	live := apptest.StartLiveSiteWith(t, emulator.Options{Issues: apptest.Pick(60, 1500), Months: 3, Seed: 41, Clock: apptest.Frozen()}, nil)
	ctx := context.Background()
	if _, err := jobs.Backfill(ctx, live.Service.Client(), live.Service.Store(), live.Service.Processor(), jobs.BackfillOptions{Parallel: 8}); err != nil {
		t.Fatal(err)
	}
	live.Settle(t)
	reader := startReader(t, live.Dir)
	start := time.Now()
	before := exportedAt(t, live.Dir)
	res, err := live.Emulator.Storm(ctx, emulator.StormOptions{Events: apptest.Pick(180, 6000), Issues: apptest.Pick(50, 1200), Rate: apptest.Pick(120.0, 200.0)})
	if err != nil {
		t.Fatal(err)
	}
	stormEnd := time.Now()
	settleWithin(t, live, apptest.Pick(90*time.Second, 10*time.Minute))
	settled := time.Since(stormEnd)
	rewritten := 0
	for p := range exportedAt(t, live.Dir) {
		if !before[p] {
			rewritten++
		}
	}
	stats := reader.stop(t)
	ref := live.Reference(t, live.Emulator.Keys())
	apptest.CompareExports(t, live.Dir, ref)
	rows := checkNoDuplicates(t, live.Dir)
	audit := apptest.CheckPartitions(t, live.Dir, live.Service.Store().DB())
	apptest.Figures(t, "readers", "storm_events", res.Events, "issues", len(res.Keys), "partitions", audit.Files,
		"partitions_rewritten", rewritten, "rows", sumRows(rows), "reader", stats, "settled_after_storm", settled.Round(100*time.Millisecond),
		"took", time.Since(start).Round(time.Second))
}

// exportedAt lists the published partitions with their write times.
func exportedAt(t *testing.T, dir string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	m, err := export.ReadManifest(dir)
	if err != nil {
		return out
	}
	for _, p := range m.Partitions {
		out[p.Table+"/"+p.Month+"@"+p.WrittenAt.String()] = true
	}
	return out
}

func sumRows(rows map[string]int) int {
	n := 0
	for _, v := range rows {
		n += v
	}
	return n
}
