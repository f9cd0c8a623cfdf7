package app_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/jobs"
)

// TestFaultsConverge runs a stream of changes of every kind while Jira
// misbehaves in every way the emulator can: 5xx, 429 (some without
// Retry-After), stalled answers, dropped connections, duplicated and
// reordered webhooks and a lagging search index. Once the faults stop and a
// backfill (which fetches incomplete issues again) and a reconcile have run,
// the export must hold exactly the emulator's final state: every issue,
// comment, changelog item and remote link, no duplicated row.
func TestFaultsConverge(t *testing.T) {
	if testing.Short() {
		t.Skip("fault injection test skipped in -short mode")
	}
	t.Parallel()
	issues := apptest.Pick(40, 300)
	changes := apptest.Pick(120, 1500)
	faults := emulator.Faults{
		ErrorRate: 0.20, ThrottleRate: 0.10, RetryAfter: time.Second,
		// Long stalls outlast the client's 30s timeout: real timeouts.
		StallRate: apptest.Pick(0.05, 0.01), Stall: apptest.Pick(300*time.Millisecond, 35*time.Second),
		DropRate:             0.03,
		WebhookDuplicateRate: 0.2, WebhookShuffle: 8,
		SearchLag: time.Hour,
	}
	live := apptest.StartLiveSiteWith(t, emulator.Options{Issues: issues, Months: 3, Seed: 23, Clock: apptest.Frozen(),
		WebhookRetries: 10}, map[string]string{"JIRADUCK_WORKERS": "8"})
	ctx := context.Background()
	s := live.Service
	if _, err := jobs.Backfill(ctx, s.Client(), s.Store(), s.Processor(), jobs.BackfillOptions{Parallel: 8}); err != nil {
		t.Fatal(err)
	}
	live.Settle(t)

	start := time.Now()
	live.Emulator.ResetStats()
	apptest.Must(t, live.Emulator.SetFaults(faults))
	m := newMutator(live.Emulator, 23)
	m.run(t, changes, 4, apptest.Pick(20*time.Millisecond, 5*time.Millisecond))
	// Faults stay on until every webhook was delivered and processed: the
	// workers fetch through them.
	live.Settle(t)
	during := live.Emulator.Stats()
	// Search catches up too (it lags by seconds to minutes in Jira).
	apptest.Must(t, live.Emulator.SetFaults(emulator.Faults{}))
	incomplete := apptest.StoredValue(t, live, "SELECT count(*) FROM raw_issues WHERE incomplete AND deleted_at IS NULL")
	failed := apptest.StoredValue(t, live, "SELECT count(*) FROM webhook_events WHERE state = 'failed'")

	// The healing passes serve runs on its own schedule.
	res, err := jobs.Backfill(ctx, s.Client(), s.Store(), s.Processor(), jobs.BackfillOptions{Parallel: 8})
	if err != nil {
		t.Fatal(err)
	}
	live.Settle(t)
	rec, err := jobs.Reconcile(ctx, s.JobDeps(), jobs.ReconcileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	live.Settle(t)

	keys := live.Emulator.Keys()
	sort.Strings(keys)
	ref := live.Reference(t, keys)
	apptest.CompareExports(t, live.Dir, ref)
	rows := checkNoDuplicates(t, live.Dir)
	want := checkNoDuplicates(t, ref)
	for _, table := range []string{"issues", "comments", "changelog", "remote_links", "attachments", "issuelinks"} {
		if rows[table] != want[table] {
			t.Errorf("%s: %d rows exported, the emulator has %d", table, rows[table], want[table])
		}
	}
	audit := apptest.CheckPartitions(t, live.Dir, s.Store().DB())
	if n := apptest.StoredValue(t, live, "SELECT count(*) FROM raw_issues WHERE incomplete AND deleted_at IS NULL"); n != "0" {
		t.Errorf("%s issues still incomplete after the healing passes: %s", n,
			apptest.StoredValue(t, live, "SELECT string_agg(issue_key || ' ' || comments_state || '/' || changelog_state || '/' || remote_links_state || '/' || sla_state || '/' || attachments_state, ', ') FROM raw_issues WHERE incomplete AND deleted_at IS NULL"))
	}
	if n := apptest.StoredValue(t, live, "SELECT count(*) FROM attachments WHERE local_path IS NULL AND coalesce(skipped_reason, '') NOT LIKE 'larger than%'"); n != "0" {
		t.Errorf("%s attachments without their bytes after the healing passes: %s", n,
			apptest.StoredValue(t, live, "SELECT string_agg(issue_key || ' ' || attachment_id || ' size ' || coalesce(size_bytes::VARCHAR, '?') || ': ' || coalesce(skipped_reason, ''), '; ') FROM attachments WHERE local_path IS NULL AND coalesce(skipped_reason, '') NOT LIKE 'larger than%'"))
	}
	states := eventStates(t, s.Store().DB())
	if states["pending"] != 0 {
		t.Errorf("events still pending: %v", states)
	}
	total := 0
	for _, n := range rows {
		total += n
	}
	f := during.Faults
	apptest.Figures(t, "faults", "issues", len(keys), "changes", changes, "made", m.Made(),
		"webhooks", during.Webhooks.Events, "attempts", during.Webhooks.Attempts, "delivered", during.Webhooks.Delivered,
		"duplicates", during.Webhooks.Duplicates, "rest_calls", sumCalls(during.Calls),
		"errors_5xx", f.Errors, "throttled_429", f.Throttled, "stalled", f.Stalled, "dropped", f.Dropped,
		"events", states, "failed_before_heal", failed, "incomplete_before_heal", incomplete,
		"heal_backfill_fetched", res.Fetched, "reconcile", rec.Counts(),
		"rows_compared", total, "rows_per_table", rows, "partitions", audit.Files, "took", time.Since(start).Round(time.Second))
	if f.Errors == 0 || f.Throttled == 0 || f.Dropped == 0 || f.Stalled == 0 || during.Webhooks.Duplicates == 0 {
		t.Errorf("not every fault was injected: %+v, duplicates %d", f, during.Webhooks.Duplicates)
	}
}

func sumCalls(calls map[string]int64) int64 {
	var n int64
	for _, c := range calls {
		n += c
	}
	return n
}
