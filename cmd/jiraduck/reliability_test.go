package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/export"
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
	issues := pick(40, 300)
	changes := pick(120, 1500)
	faults := emulator.Faults{
		ErrorRate: 0.20, ThrottleRate: 0.10, RetryAfter: time.Second,
		// Long stalls outlast the client's 30s timeout: real timeouts.
		StallRate: pick(0.05, 0.01), Stall: pick(300*time.Millisecond, 35*time.Second),
		DropRate:             0.03,
		WebhookDuplicateRate: 0.2, WebhookShuffle: 8,
		SearchLag: time.Hour,
	}
	live := startLiveSiteWith(t, emulator.Options{Issues: issues, Months: 3, Seed: 23, Clock: frozen(),
		WebhookRetries: 10}, map[string]string{"JIRADUCK_WORKERS": "8"})
	ctx := context.Background()
	s := live.Service
	if _, err := jobs.Backfill(ctx, s.Client(), s.Store(), s.Processor(), jobs.BackfillOptions{Parallel: 8}); err != nil {
		t.Fatal(err)
	}
	live.settle(t)

	start := time.Now()
	live.Emulator.ResetStats()
	must(t, live.Emulator.SetFaults(faults))
	m := newMutator(live.Emulator, 23)
	m.run(t, changes, 4, pick(20*time.Millisecond, 5*time.Millisecond))
	// Faults stay on until every webhook was delivered and processed: the
	// workers fetch through them.
	live.settle(t)
	during := live.Emulator.Stats()
	// Search catches up too (it lags by seconds to minutes in Jira).
	must(t, live.Emulator.SetFaults(emulator.Faults{}))
	incomplete := storedValue(t, live, "SELECT count(*) FROM raw_issues WHERE incomplete AND deleted_at IS NULL")
	failed := storedValue(t, live, "SELECT count(*) FROM webhook_events WHERE state = 'failed'")

	// The healing passes serve runs on its own schedule.
	res, err := jobs.Backfill(ctx, s.Client(), s.Store(), s.Processor(), jobs.BackfillOptions{Parallel: 8})
	if err != nil {
		t.Fatal(err)
	}
	live.settle(t)
	rec, err := jobs.Reconcile(ctx, s.JobDeps(), jobs.ReconcileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	live.settle(t)

	keys := live.Emulator.Keys()
	sort.Strings(keys)
	ref := live.reference(t, keys)
	compareExports(t, live.dir, ref)
	rows := checkNoDuplicates(t, live.dir)
	want := checkNoDuplicates(t, ref)
	for _, table := range []string{"issues", "comments", "changelog", "remote_links", "attachments", "issuelinks"} {
		if rows[table] != want[table] {
			t.Errorf("%s: %d rows exported, the emulator has %d", table, rows[table], want[table])
		}
	}
	audit := checkPartitions(t, live.dir, s.Store().DB())
	if n := storedValue(t, live, "SELECT count(*) FROM raw_issues WHERE incomplete AND deleted_at IS NULL"); n != "0" {
		t.Errorf("%s issues still incomplete after the healing passes: %s", n,
			storedValue(t, live, "SELECT string_agg(issue_key || ' ' || comments_state || '/' || changelog_state || '/' || remote_links_state || '/' || sla_state || '/' || attachments_state, ', ') FROM raw_issues WHERE incomplete AND deleted_at IS NULL"))
	}
	if n := storedValue(t, live, "SELECT count(*) FROM attachments WHERE local_path IS NULL AND coalesce(skipped_reason, '') NOT LIKE 'larger than%'"); n != "0" {
		t.Errorf("%s attachments without their bytes after the healing passes: %s", n,
			storedValue(t, live, "SELECT string_agg(issue_key || ' ' || attachment_id || ' size ' || coalesce(size_bytes::VARCHAR, '?') || ': ' || coalesce(skipped_reason, ''), '; ') FROM attachments WHERE local_path IS NULL AND coalesce(skipped_reason, '') NOT LIKE 'larger than%'"))
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
	figures(t, "faults", "issues", len(keys), "changes", changes, "made", m.Made(),
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

// TestLinkedIssueColumnsFollowTheOtherEnd edits, moves and deletes the other
// end of links. Jira then shows the new summary, status, priority and key of
// the other end (or no link at all, and one link fewer in issuelink_count) in
// the linking issue's payload, but sends no webhook for the linking issue and
// leaves its updated alone. The store follows the other end itself, without
// fetching the linking issue again: the export equals the emulator's state.
func TestLinkedIssueColumnsFollowTheOtherEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator test skipped in -short mode")
	}
	live := backfilledWith(t, emulator.Options{Issues: 30, Months: 3, Seed: 11, Clock: frozen()}, nil)
	em := live.Emulator
	// Issues without a parent or sub-tasks: a move keeps them whole, and a
	// deletion takes no other issue with it.
	var keys []string
	for _, k := range em.Keys() {
		if is, err := em.Issue(k); err == nil && is.Parent == "" && len(is.Subtasks) == 0 {
			keys = append(keys, k)
		}
	}
	if len(keys) < 4 {
		t.Fatalf("%d issues without parent or sub-tasks, want 4", len(keys))
	}
	a, b, c, d := keys[0], keys[1], keys[2], keys[3]
	for _, l := range []struct{ to, typ string }{{b, "Blocks"}, {c, "Relates"}, {d, "Duplicate"}} {
		_, err := em.AddLink(a, l.to, l.typ)
		must(t, err)
	}
	live.settle(t)
	fetched := storedValue(t, live, "SELECT fetched_at FROM raw_issues WHERE issue_key = '"+a+"'")
	count := storedValue(t, live, "SELECT issuelink_count FROM issues WHERE issue_key = '"+a+"'")

	must(t, em.Update(b, func(i *emulator.Issue) { i.Summary = "the other end was renamed"; i.Priority = "Highest" }))
	must(t, em.Transition(b, emulator.StatusDone))
	must(t, em.Delete(c))
	to := "OPS"
	if strings.HasPrefix(d, "OPS-") {
		to = "SUP"
	}
	moved, err := em.Move(d, to)
	must(t, err)
	live.settle(t)

	if got := storedValue(t, live, "SELECT fetched_at FROM raw_issues WHERE issue_key = '"+a+"'"); got != fetched {
		t.Errorf("%s was fetched again (fetched_at %s, was %s): the test no longer shows what the store does alone", a, got, fetched)
	}
	if n := storedValue(t, live, "SELECT count(*) FROM issuelinks WHERE issue_key = '"+a+"' AND linked_issue_key = '"+b+
		"' AND linked_issue_summary = 'the other end was renamed' AND linked_issue_priority = 'Highest' AND linked_issue_status = '"+emulator.StatusDone+"'"); n != "1" {
		t.Errorf("%s's link to %s does not show its new summary, priority and status", a, b)
	}
	if n := storedValue(t, live, "SELECT count(*) FROM issuelinks WHERE issue_key = '"+a+"' AND linked_issue_key = '"+c+"'"); n != "0" {
		t.Errorf("%s still links to the deleted %s", a, c)
	}
	if n := storedValue(t, live, "SELECT count(*) FROM issuelinks WHERE issue_key = '"+a+"' AND linked_issue_key = '"+moved+"'"); n != "1" {
		t.Errorf("%s's link to %s does not show its new key %s", a, d, moved)
	}
	if got := storedValue(t, live, "SELECT issuelink_count FROM issues WHERE issue_key = '"+a+"'"); got != fmt.Sprint(atoi(t, count)-1) {
		t.Errorf("%s: issuelink_count %s, want %d (one link fewer than %s)", a, got, atoi(t, count)-1, count)
	}
	compareExports(t, live.dir, live.reference(t, em.Keys()))

	// Rebuild starts from the stored payloads, where the linking issue still
	// shows the old other ends, and must end where the live path did.
	rebuildEndsWhereLiveDid(t, live)
}

// rebuildEndsWhereLiveDid stops the site's serve, rebuilds its store from
// the stored payloads and compares the published files with those the live
// path had published.
func rebuildEndsWhereLiveDid(t *testing.T, live *liveSite) {
	t.Helper()
	before := t.TempDir()
	copyTree(t, export.Root(live.dir), filepath.Join(before, "parquet", "jira"))
	must(t, live.Service.Close())
	if out, errOut, code := runCmd(t, siteEnviron(live), "rebuild"); code != 0 {
		t.Fatalf("rebuild: code %d\n%s\n%s", code, out, errOut)
	}
	compareExports(t, live.dir, before)
}

// TestParentKeyFollowsAMovedEpic moves an epic whose story lives in another
// project. Jira then shows the epic's new key as the story's parent, but
// sends no webhook for the story and leaves its updated alone. The store
// follows the epic itself: the export equals the emulator's state, and a
// rebuild from the stored payloads (the story's still names the old key)
// ends in the same place.
func TestParentKeyFollowsAMovedEpic(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator test skipped in -short mode")
	}
	live := backfilledWith(t, emulator.Options{Issues: 20, Months: 3, Seed: 12, Clock: frozen()}, nil)
	em := live.Emulator
	epic, err := em.Create("SUP", func(is *emulator.Issue) { is.Type, is.Summary = "Epic", "an epic" })
	must(t, err)
	story, err := em.Create("OPS", func(is *emulator.Issue) { is.Type, is.Summary, is.Parent = "Story", "a story of the epic", epic.Key })
	must(t, err)
	live.settle(t)
	if got := storedValue(t, live, "SELECT parent_key FROM issues WHERE issue_key = '"+story.Key+"'"); got != epic.Key {
		t.Fatalf("%s: parent_key %s before the move, want %s", story.Key, got, epic.Key)
	}
	fetched := storedValue(t, live, "SELECT fetched_at FROM raw_issues WHERE issue_key = '"+story.Key+"'")

	moved, err := em.Move(epic.Key, "OPS")
	must(t, err)
	live.settle(t)
	if got := storedValue(t, live, "SELECT fetched_at FROM raw_issues WHERE issue_key = '"+story.Key+"'"); got != fetched {
		t.Errorf("%s was fetched again (fetched_at %s, was %s): the test no longer shows what the store does alone", story.Key, got, fetched)
	}
	if got := storedValue(t, live, "SELECT parent_key FROM issues WHERE issue_key = '"+story.Key+"'"); got != moved {
		t.Errorf("%s: parent_key %s after the epic moved, want %s", story.Key, got, moved)
	}
	compareExports(t, live.dir, live.reference(t, em.Keys()))
	rebuildEndsWhereLiveDid(t, live)
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
