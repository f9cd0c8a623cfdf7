package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"testing"

	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/store"
	"github.com/sirupsen/logrus"
)

// openTestBatch opens batch command name on a new data directory, with the
// settings in vars; it is closed when the test ends.
func openTestBatch(t *testing.T, name string, vars map[string]string) *Batch {
	t.Helper()
	settings := map[string]string{"JIRADUCK_DATA_DIR": t.TempDir()}
	maps.Copy(settings, vars)
	cfg, err := config.FromMap(settings)
	if err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	b, err := OpenBatch(context.Background(), cfg, log, name, BatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// TestBatchRecord: a batch job's run is recorded in sync_runs with the
// status its error says, and the job's error stays apart from the export's.
func TestBatchRecord(t *testing.T) {
	t.Parallel()
	failed := errors.New("jira answered 500")
	for _, c := range []struct {
		name           string
		err            error
		publishPartial bool
		wantStatus     string
		wantRecordRun  error
	}{
		{"ok", nil, true, store.RunOK, nil},
		{"failed", failed, true, store.RunFailed, failed},
		{"failed, nothing published", failed, false, store.RunFailed, failed},
		{"interrupted", fmt.Errorf("fetch SUP-1: %w", context.Canceled), true, store.RunInterrupted, context.Canceled},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := openTestBatch(t, "test", nil)
			var gotID int64
			run, err := b.Record(ctx, "test", map[string]any{"case": c.name}, c.publishPartial, func(id int64) (map[string]int, error) {
				gotID = id
				return map[string]int{"fetched": 3}, c.err
			})
			if err != nil {
				t.Fatal(err)
			}
			if run.Status != c.wantStatus || !errors.Is(run.JobErr, c.err) || run.ExportErr != nil || run.FinishErr != nil {
				t.Errorf("got status %q, job error %v, export error %v, finish error %v; want %q, %v and none",
					run.Status, run.JobErr, run.ExportErr, run.FinishErr, c.wantStatus, c.err)
			}
			if run.Counts["fetched"] != 3 || run.Counts["partitions_exported"] != run.Exported {
				t.Errorf("got counts %v, want fetched 3 and partitions_exported %d", run.Counts, run.Exported)
			}
			runs, err := b.Store.RecentRuns(ctx, 10)
			if err != nil {
				t.Fatal(err)
			}
			var got *store.Run
			for i := range runs {
				if runs[i].ID == gotID {
					got = &runs[i]
				}
			}
			if got == nil || got.Job != "test" || got.Status != c.wantStatus || got.Counts["fetched"] != 3 {
				t.Errorf("got sync_runs %+v, want run %d of job test with status %q and fetched 3", runs, gotID, c.wantStatus)
			}
			_, err = b.RecordRun(ctx, "test", nil, c.publishPartial, func(int64) (map[string]int, error) { return nil, c.err })
			if !errors.Is(err, c.wantRecordRun) || (err == nil) != (c.wantRecordRun == nil) {
				t.Errorf("RecordRun: got %v, want %v", err, c.wantRecordRun)
			}
		})
	}
}

// TestBatchWriterReleasesIndexes: a batch command's writer checkpoints once
// the primary keys' indexes hold a third of DuckDB's pool.
func TestBatchWriterReleasesIndexes(t *testing.T) {
	t.Parallel()
	b := openTestBatch(t, "backfill", map[string]string{"JIRADUCK_DUCKDB_MEMORY_LIMIT": "96MB"})
	if got := b.Writer.CheckpointLimit(); got != 32e6 {
		t.Errorf("got a limit of %d bytes of indexes, want 32000000", got)
	}
}
