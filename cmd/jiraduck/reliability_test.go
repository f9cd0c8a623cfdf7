package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/export"
)

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
	t.Parallel()
	live := apptest.BackfilledWith(t, emulator.Options{Issues: 30, Months: 3, Seed: 11, Clock: apptest.Frozen()}, nil)
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
		apptest.Must(t, err)
	}
	live.Settle(t)
	fetched := apptest.StoredValue(t, live, "SELECT fetched_at FROM raw_issues WHERE issue_key = '"+a+"'")
	count := apptest.StoredValue(t, live, "SELECT issuelink_count FROM issues WHERE issue_key = '"+a+"'")

	apptest.Must(t, em.Update(b, func(i *emulator.Issue) { i.Summary = "the other end was renamed"; i.Priority = "Highest" }))
	apptest.Must(t, em.Transition(b, emulator.StatusDone))
	apptest.Must(t, em.Delete(c))
	to := "OPS"
	if strings.HasPrefix(d, "OPS-") {
		to = "SUP"
	}
	moved, err := em.Move(d, to)
	apptest.Must(t, err)
	live.Settle(t)

	if got := apptest.StoredValue(t, live, "SELECT fetched_at FROM raw_issues WHERE issue_key = '"+a+"'"); got != fetched {
		t.Errorf("%s was fetched again (fetched_at %s, was %s): the test no longer shows what the store does alone", a, got, fetched)
	}
	if n := apptest.StoredValue(t, live, "SELECT count(*) FROM issuelinks WHERE issue_key = '"+a+"' AND linked_issue_key = '"+b+
		"' AND linked_issue_summary = 'the other end was renamed' AND linked_issue_priority = 'Highest' AND linked_issue_status = '"+emulator.StatusDone+"'"); n != "1" {
		t.Errorf("%s's link to %s does not show its new summary, priority and status", a, b)
	}
	if n := apptest.StoredValue(t, live, "SELECT count(*) FROM issuelinks WHERE issue_key = '"+a+"' AND linked_issue_key = '"+c+"'"); n != "0" {
		t.Errorf("%s still links to the deleted %s", a, c)
	}
	if n := apptest.StoredValue(t, live, "SELECT count(*) FROM issuelinks WHERE issue_key = '"+a+"' AND linked_issue_key = '"+moved+"'"); n != "1" {
		t.Errorf("%s's link to %s does not show its new key %s", a, d, moved)
	}
	if got := apptest.StoredValue(t, live, "SELECT issuelink_count FROM issues WHERE issue_key = '"+a+"'"); got != fmt.Sprint(atoi(t, count)-1) {
		t.Errorf("%s: issuelink_count %s, want %d (one link fewer than %s)", a, got, atoi(t, count)-1, count)
	}
	apptest.CompareExports(t, live.Dir, live.Reference(t, em.Keys()))

	// Rebuild starts from the stored payloads, where the linking issue still
	// shows the old other ends, and must end where the live path did.
	rebuildEndsWhereLiveDid(t, live)
}

// rebuildEndsWhereLiveDid stops the site's serve, rebuilds its store from
// the stored payloads and compares the published files with those the live
// path had published.
func rebuildEndsWhereLiveDid(t *testing.T, live *apptest.LiveSite) {
	t.Helper()
	before := t.TempDir()
	apptest.CopyTree(t, export.Root(live.Dir), filepath.Join(before, "parquet", "jira"))
	apptest.Must(t, live.Service.Close())
	if out, errOut, code := runCmd(t, apptest.SiteEnviron(live), "rebuild"); code != 0 {
		t.Fatalf("rebuild: code %d\n%s\n%s", code, out, errOut)
	}
	apptest.CompareExports(t, live.Dir, before)
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
	t.Parallel()
	live := apptest.BackfilledWith(t, emulator.Options{Issues: 20, Months: 3, Seed: 12, Clock: apptest.Frozen()}, nil)
	em := live.Emulator
	epic, err := em.Create("SUP", func(is *emulator.Issue) { is.Type, is.Summary = "Epic", "an epic" })
	apptest.Must(t, err)
	story, err := em.Create("OPS", func(is *emulator.Issue) { is.Type, is.Summary, is.Parent = "Story", "a story of the epic", epic.Key })
	apptest.Must(t, err)
	live.Settle(t)
	if got := apptest.StoredValue(t, live, "SELECT parent_key FROM issues WHERE issue_key = '"+story.Key+"'"); got != epic.Key {
		t.Fatalf("%s: parent_key %s before the move, want %s", story.Key, got, epic.Key)
	}
	fetched := apptest.StoredValue(t, live, "SELECT fetched_at FROM raw_issues WHERE issue_key = '"+story.Key+"'")

	moved, err := em.Move(epic.Key, "OPS")
	apptest.Must(t, err)
	live.Settle(t)
	if got := apptest.StoredValue(t, live, "SELECT fetched_at FROM raw_issues WHERE issue_key = '"+story.Key+"'"); got != fetched {
		t.Errorf("%s was fetched again (fetched_at %s, was %s): the test no longer shows what the store does alone", story.Key, got, fetched)
	}
	if got := apptest.StoredValue(t, live, "SELECT parent_key FROM issues WHERE issue_key = '"+story.Key+"'"); got != moved {
		t.Errorf("%s: parent_key %s after the epic moved, want %s", story.Key, got, moved)
	}
	apptest.CompareExports(t, live.Dir, live.Reference(t, em.Keys()))
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
