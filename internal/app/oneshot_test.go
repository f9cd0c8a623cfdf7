package app_test

import (
	"context"
	"io"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/jobs"
	"github.com/sirupsen/logrus"
)

// backfillIssues is the size of the backfill tests; JIRADUCK_TEST_BACKFILL_ISSUES
// raises it for the long variant (5000 in the notes).
func backfillIssues(t *testing.T) int {
	if v := os.Getenv("JIRADUCK_TEST_BACKFILL_ISSUES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	return 300
}

func TestBackfillMatchesJiraAndResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator test skipped in -short mode")
	}
	t.Parallel()
	n := backfillIssues(t)
	live := apptest.StartLiveSite(t, n, apptest.Frozen(), nil)
	ctx := context.Background()
	s := live.Service

	// Interrupted after a part, then run again: the rest is fetched, the
	// part already done is skipped.
	cctx, cancel := context.WithCancel(ctx)
	var done atomic.Int64
	_, err := jobs.Backfill(cctx, s.Client(), s.Store(), s.Processor(), jobs.BackfillOptions{Parallel: 4, Progress: func() {
		if done.Add(1) == int64(n/3) {
			cancel()
		}
	}})
	if err == nil {
		t.Fatal("the interrupted backfill returned no error")
	}
	live.Emulator.ResetStats()
	// Jira throttling a share of the calls (Retry-After in whole seconds,
	// some 429s without it): survived. A fifth of them: the interrupted run
	// writes what it prepared in batches of up to 250 before it stops, so
	// on a fast machine only a few dozen calls are left, and at 5% none of
	// them was throttled.
	apptest.Must(t, live.Emulator.SetFaults(emulator.Faults{ThrottleRate: 0.2}))
	res, err := jobs.Backfill(ctx, s.Client(), s.Store(), s.Processor(), jobs.BackfillOptions{Parallel: 8, RetryDelay: 50 * time.Millisecond})
	apptest.Must(t, live.Emulator.SetFaults(emulator.Faults{}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Listed != n || res.Skipped < n/3-4 || res.Fetched+res.Skipped != n || res.Failed != 0 {
		t.Errorf("resumed backfill: got %+v, want %d listed, about %d skipped, the rest fetched", res, n, n/3)
	}
	if st := live.Emulator.Stats(); st.Faults.Throttled == 0 {
		t.Errorf("no 429 was injected: %+v", st.Faults)
	}
	live.Settle(t)
	// An attachment download that hit the throttling left its issue
	// incomplete: incomplete issues are always fetched again.
	if _, err := jobs.Backfill(ctx, s.Client(), s.Store(), s.Processor(), jobs.BackfillOptions{Parallel: 4}); err != nil {
		t.Fatal(err)
	}
	live.Settle(t)

	// Then a run fetches nothing.
	live.Emulator.ResetStats()
	res, err = jobs.Backfill(ctx, s.Client(), s.Store(), s.Processor(), jobs.BackfillOptions{Parallel: 4})
	if err != nil || res.Fetched != 0 || res.Skipped != n {
		t.Errorf("second backfill: got %+v, %v; want everything skipped", res, err)
	}
	if calls := live.Emulator.Stats().Calls[emulator.EndpointIssue]; calls != 0 {
		t.Errorf("second backfill made %d GET issue calls, want 0", calls)
	}
	apptest.CompareExports(t, live.Dir, live.Reference(t, live.Emulator.Keys()))
}

func TestBackfillWithLaggingSearchLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator test skipped in -short mode")
	}
	t.Parallel()
	live := apptest.StartLiveSite(t, 40, nil, nil)
	ctx := context.Background()
	apptest.Must(t, live.Emulator.SetFaults(emulator.Faults{SearchLag: time.Hour}))
	// Issues created now stay out of search for an hour; their webhooks
	// bring them in, and reconcile asks for them by id.
	var keys []string
	for i := 0; i < 3; i++ {
		is, err := live.Emulator.Create("SUP", func(i *emulator.Issue) { i.Summary = "fresh" })
		apptest.Must(t, err)
		keys = append(keys, is.Key)
	}
	live.Settle(t)
	res, err := jobs.Backfill(ctx, live.Service.Client(), live.Service.Store(), live.Service.Processor(), jobs.BackfillOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Listed != 40 {
		t.Errorf("search listed %d, want the 40 old issues only (lagging index)", res.Listed)
	}
	live.Settle(t)
	for _, k := range keys {
		if n := apptest.StoredValue(t, live, "SELECT count(*) FROM issues WHERE issue_key = '"+k+"'"); n != "1" {
			t.Errorf("%s lost: not stored", k)
		}
	}
}

// TestBatchExportCheckpointsFirst: a batch command checkpoints before it
// exports, so that what it wrote is not pinned in DuckDB's memory while the
// partitions are written (the exports after a 1,000,000-issue rebuild ran
// out of memory without it). The WAL is empty once the export has run.
func TestBatchExportCheckpointsFirst(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg, err := config.FromMap(map[string]string{"JIRADUCK_DATA_DIR": t.TempDir(), "JIRADUCK_LOG_LEVEL": "warn"})
	apptest.Must(t, err)
	b, err := app.OpenBatch(ctx, cfg, app.NewLogger(cfg, io.Discard), "test", app.BatchOptions{})
	apptest.Must(t, err)
	defer b.Close()
	_, err = b.Store.StartRun(ctx, "test", nil)
	apptest.Must(t, err)
	wal := app.StorePath(cfg) + ".wal"
	if st, err := os.Stat(wal); err != nil || st.Size() == 0 {
		t.Fatalf("the WAL holds nothing to checkpoint (%v)", err)
	}
	_, err = b.ExportDirty()
	apptest.Must(t, err)
	if st, err := os.Stat(wal); err == nil && st.Size() > 0 {
		t.Errorf("the WAL holds %d bytes after the export, want them checkpointed first", st.Size())
	}
}

// TestMemoryLimitPerCommand: without JIRADUCK_DUCKDB_MEMORY_LIMIT a rebuild
// opens the store with the smaller cap and the other commands with the
// default; a setting applies to every command, an empty one counts as unset.
func TestMemoryLimitPerCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, c := range []struct {
		setting        []string
		rebuild, other string
	}{
		{nil, "244.1 MiB", "488.2 MiB"},
		{[]string{"JIRADUCK_DUCKDB_MEMORY_LIMIT="}, "244.1 MiB", "488.2 MiB"},
		{[]string{"JIRADUCK_DUCKDB_MEMORY_LIMIT=1GB"}, "953.6 MiB", "953.6 MiB"},
	} {
		cfg, err := config.Load(append(apptest.DataEnv(t), c.setting...), "")
		apptest.Must(t, err)
		log := logrus.New()
		log.SetOutput(io.Discard)
		for _, cmd := range []struct{ name, want string }{{"rebuild", c.rebuild}, {"backfill", c.other}, {"export", c.other}} {
			b, err := app.OpenBatch(ctx, cfg, log, cmd.name, app.BatchOptions{})
			apptest.Must(t, err)
			var got string
			err = b.Store.DB().QueryRow(`SELECT current_setting('memory_limit')`).Scan(&got)
			b.Close()
			apptest.Must(t, err)
			if got != cmd.want {
				t.Errorf("%v: %s opened the store with memory_limit %s, want %s", c.setting, cmd.name, got, cmd.want)
			}
		}
	}
}
