package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/normalize"
)

var april = time.Date(2024, 4, 2, 8, 0, 0, 0, time.UTC)

// linkTo adds to r a link to other as r's payload shows it.
func linkTo(r *normalize.Rows, linkID string, other *normalize.Rows, summary string) {
	id, key := other.Issue.IssueID, other.Issue.IssueKey
	r.IssueLinks = append(r.IssueLinks, normalize.IssueLink{IssueKey: r.Issue.IssueKey, LinkID: linkID, LinkType: sp("Blocks"),
		Direction: sp("outward"), LinkedIssueKey: &key, LinkedIssueSummary: sp(summary), LinkedIssueStatus: sp("To Do"),
		LinkedIssueID: &id})
	r.Issue.IssuelinkCount++
}

// linkRows renders the stored issuelinks rows of key and its issuelink_count.
func linkRows(t *testing.T, s *Store, key string) string {
	t.Helper()
	rows, err := s.DB().QueryContext(context.Background(), `SELECT link_id || ' ' || coalesce(linked_issue_key, '-') || ' ' ||
		coalesce(linked_issue_summary, '-') || ' ' || coalesce(linked_issue_status, '-') || ' ' || coalesce(linked_issue_priority, '-') || ' ' ||
		coalesce(linked_issue_id, '-') FROM issuelinks WHERE issue_key = ? ORDER BY link_id`, key)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	var n int
	if err := s.DB().QueryRow(`SELECT issuelink_count FROM issues WHERE issue_key = ?`, key).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s | count %d", strings.Join(out, "; "), n)
}

func deleteIssue(t *testing.T, s *Store, id, key string) {
	t.Helper()
	err := s.WithTx(context.Background(), func(tx *Tx) error {
		_, err := s.DeleteIssue(context.Background(), tx, id, key, "jira:issue_deleted", time.Now().UTC())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestLinksFollowTheOtherEnd: the linked_issue_* columns of a link follow the
// other end when it is applied, edited, moved or deleted, without the
// linking issue being applied again; a stale payload of the linking issue
// does not bring old values back; and applying the same payloads in another
// order (as a rebuild may) ends in the same rows.
func TestLinksFollowTheOtherEnd(t *testing.T) {
	t.Parallel()
	s := migrated(t)
	a := sampleRows("SUP-1", "100", march)
	b := sampleRows("SUP-2", "200", april)
	c := sampleRows("SUP-3", "300", april)
	linkTo(a, "10", b, "b as SUP-1 saw it")
	linkTo(a, "11", c, "c as SUP-1 saw it")

	apply(t, s, a)
	if got, want := linkRows(t, s, "SUP-1"), "10 SUP-2 b as SUP-1 saw it To Do - 200; 11 SUP-3 c as SUP-1 saw it To Do - 300 | count 2"; got != want {
		t.Errorf("other ends not stored: got %q, want %q (the payload's view)", got, want)
	}

	// The other end is stored, then edited: SUP-1's row follows it and its
	// month is exported again.
	b.Issue.Summary, b.Issue.Status, b.Issue.Priority = sp("renamed"), sp("Done"), sp("High")
	clearDirty(t, s)
	apply(t, s, b)
	if got, want := linkRows(t, s, "SUP-1"), "10 SUP-2 renamed Done High 200; 11 SUP-3 c as SUP-1 saw it To Do - 300 | count 2"; got != want {
		t.Errorf("after SUP-2 was edited: got %q, want %q", got, want)
	}
	if d := dirty(t, s); !slices.Contains(d, "issuelinks@2024-03") {
		t.Errorf("dirty: got %v, want SUP-1's issuelinks@2024-03 among them", d)
	}
	clearDirty(t, s)
	apply(t, s, b)
	if d := dirty(t, s); len(d) != 0 {
		t.Errorf("SUP-2 applied unchanged: dirty %v, want none", d)
	}

	// Moved: a new key, the same id.
	moved := sampleRows("OPS-7", "200", april)
	moved.Issue.Summary, moved.Issue.Status, moved.Issue.Priority = sp("moved"), sp("Done"), sp("High")
	apply(t, s, moved)
	if got, want := linkRows(t, s, "SUP-1"), "10 OPS-7 moved Done High 200; 11 SUP-3 c as SUP-1 saw it To Do - 300 | count 2"; got != want {
		t.Errorf("after SUP-2 moved to OPS-7: got %q, want %q", got, want)
	}

	// SUP-1 applied again from a payload that still shows the old SUP-2:
	// the stored other end wins.
	apply(t, s, a)
	if got, want := linkRows(t, s, "SUP-1"), "10 OPS-7 moved Done High 200; 11 SUP-3 c as SUP-1 saw it To Do - 300 | count 2"; got != want {
		t.Errorf("SUP-1 applied from an older payload: got %q, want %q", got, want)
	}

	// Deleted: the link goes and the count drops, as Jira shows SUP-1 then.
	apply(t, s, c)
	clearDirty(t, s)
	deleteIssue(t, s, "300", "SUP-3")
	if got, want := linkRows(t, s, "SUP-1"), "10 OPS-7 moved Done High 200 | count 1"; got != want {
		t.Errorf("after SUP-3 was deleted: got %q, want %q", got, want)
	}
	if d := dirty(t, s); !slices.Contains(d, "issuelinks@2024-03") || !slices.Contains(d, "issues@2024-03") {
		t.Errorf("dirty: got %v, want SUP-1's issues@2024-03 and issuelinks@2024-03 among them", d)
	}
	apply(t, s, a)
	if got, want := linkRows(t, s, "SUP-1"), "10 OPS-7 moved Done High 200 | count 1"; got != want {
		t.Errorf("SUP-1 applied from a payload that still links the deleted SUP-3: got %q, want %q", got, want)
	}

	// The same payloads in another order, in a fresh store: the linking
	// issue first, the other ends after it.
	fresh := migrated(t)
	a2 := sampleRows("SUP-1", "100", march)
	linkTo(a2, "10", sampleRows("SUP-2", "200", april), "b as SUP-1 saw it")
	linkTo(a2, "11", c, "c as SUP-1 saw it")
	apply(t, fresh, a2)
	apply(t, fresh, sampleRows("SUP-3", "300", april))
	deleteIssue(t, fresh, "300", "SUP-3")
	moved2 := sampleRows("OPS-7", "200", april)
	moved2.Issue.Summary, moved2.Issue.Status, moved2.Issue.Priority = sp("moved"), sp("Done"), sp("High")
	apply(t, fresh, moved2)
	if got, want := linkRows(t, fresh, "SUP-1"), linkRows(t, s, "SUP-1"); got != want {
		t.Errorf("another order: got %q, want %q", got, want)
	}

	// As a rebuild does it: the deletion is known first, the batches are
	// written with DeferLinks, and ResolveAllLinks brings the links in step
	// at the end.
	rebuilt := migrated(t)
	apply(t, rebuilt, sampleRows("SUP-3", "300", april))
	deleteIssue(t, rebuilt, "300", "SUP-3")
	a3 := sampleRows("SUP-1", "100", march)
	linkTo(a3, "10", sampleRows("SUP-2", "200", april), "b as SUP-1 saw it")
	linkTo(a3, "11", c, "c as SUP-1 saw it")
	moved3 := sampleRows("OPS-7", "200", april)
	moved3.Issue.Summary, moved3.Issue.Status, moved3.Issue.Priority = sp("moved"), sp("Done"), sp("High")
	for _, r := range []*normalize.Rows{a3, moved3} {
		err := rebuilt.WithTx(context.Background(), func(tx *Tx) error {
			_, err := rebuilt.ApplyBatch(context.Background(), tx, []*normalize.Rows{r}, ApplyOptions{DeferLinks: true})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if got, want := linkRows(t, rebuilt, "SUP-1"), "10 SUP-2 b as SUP-1 saw it To Do - 200; 11 SUP-3 c as SUP-1 saw it To Do - 300 | count 2"; got != want {
		t.Errorf("deferred links before ResolveAllLinks: got %q, want %q (the payload's view)", got, want)
	}
	changed := resolveAll(t, rebuilt, ResolveAllLinks)
	if got, want := linkRows(t, rebuilt, "SUP-1"), linkRows(t, s, "SUP-1"); got != want {
		t.Errorf("deferred links after ResolveAllLinks: got %q, want %q", got, want)
	}
	if changed != 2 {
		t.Errorf("ResolveAllLinks changed %d link rows, want 2 (one followed, one dropped)", changed)
	}
}

// TestFollowedEndsKeepTheirText: the other ends reach the UPDATE as JSON;
// quotes, backslashes, control characters, non-ASCII text and NULLs come
// through as they are.
func TestFollowedEndsKeepTheirText(t *testing.T) {
	t.Parallel()
	s := migrated(t)
	a := sampleRows("SUP-1", "100", march)
	b := sampleRows("SUP-2", "200", april)
	linkTo(a, "10", b, "as SUP-1 saw it")
	apply(t, s, a)
	hostile := "\"quoted\" \\ back'slash\t\u0001 ünïcödé ✓ <tag> & \u2028 😀"
	b.Issue.Summary, b.Issue.Status, b.Issue.Priority = &hostile, nil, sp("")
	apply(t, s, b)
	var summary string
	var status, priority sql.NullString
	if err := s.DB().QueryRow(`SELECT linked_issue_summary, linked_issue_status, linked_issue_priority FROM issuelinks
		WHERE issue_key = 'SUP-1'`).Scan(&summary, &status, &priority); err != nil {
		t.Fatal(err)
	}
	if summary != hostile {
		t.Errorf("linked_issue_summary %q, want %q", summary, hostile)
	}
	if status.Valid || !priority.Valid || priority.String != "" {
		t.Errorf("status %v, priority %v: want NULL and an empty string", status, priority)
	}
}

// TestMigrationFillsLinkedIssueID: link rows stored before linked_issue_id
// existed learn it from their issue's payload, as the normalizer reads it.
func TestMigrationFillsLinkedIssueID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := migratedBefore(t, 2)
	payload := `{"issue":{"id":"100","key":"SUP-1","fields":{"issuelinks":[
		{"id":"10","type":{"name":"Blocks"},"outwardIssue":{"id":"200","key":"SUP-2"}},
		{"id":11,"type":{"name":"Blocks"},"inwardIssue":{"id":"300","key":"SUP-3"}},
		{"id":"10","type":{"name":"Blocks"},"outwardIssue":{"id":"999","key":"SUP-9"}}]}}}`
	for _, q := range []string{
		`INSERT INTO raw_issues (issue_id, issue_key, created_at, payload, comments_state, changelog_state, remote_links_state,
			sla_state, attachments_state, incomplete, fetched_at) VALUES ('100', 'SUP-1', TIMESTAMPTZ '2024-03-01 00:00:00+00', '` + payload + `',
			'complete', 'complete', 'complete', 'complete', 'complete', false, now())`,
		`INSERT INTO issuelinks (issue_key, link_id, linked_issue_key) VALUES ('SUP-1', '10', 'SUP-2'), ('SUP-1', '11', 'SUP-3'),
			('SUP-4', '12', 'SUP-1')`,
	} {
		if _, err := s.DB().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := s.DB().QueryContext(ctx, `SELECT issue_key || '/' || link_id || ' ' || coalesce(linked_issue_id, '-') FROM issuelinks ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if want := "SUP-1/10 200, SUP-1/11 300, SUP-4/12 -"; strings.Join(got, ", ") != want {
		t.Errorf("got %q, want %q (the first link with an id wins; no payload, no id)", strings.Join(got, ", "), want)
	}
}

// TestMigrationFillsLinkedIssueIDOnALargeStore: the migration's read of the
// payloads stays within the store's memory limit however much the payloads
// hold. Run with a semi-join on issuelinks, DuckDB built a hash table of the
// payloads and ran out of memory on a 100,000-issue store.
func TestMigrationFillsLinkedIssueIDOnALargeStore(t *testing.T) {
	// 640 MB of payloads written, then read back under a memory limit: tens
	// of seconds on a loaded two-core machine.
	if os.Getenv("JIRADUCK_TEST_LONG") == "" {
		t.Skip("writes 640 MB of payloads; set JIRADUCK_TEST_LONG=1 to run it")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	all, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.migrate(ctx, all[:1]); err != nil {
		t.Fatal(err)
	}
	const n = 40000 // payloads of 16 KiB, like real ones: 2.5 times the memory limit
	for from := 1; from <= n; from += 1000 {
		if _, err := s.DB().ExecContext(ctx, `INSERT INTO raw_issues (issue_id, issue_key, payload, comments_state, changelog_state,
			remote_links_state, sla_state, attachments_state, incomplete, fetched_at)
		SELECT i::VARCHAR, 'SUP-' || i, '{"issue":{"id":"' || i || '","key":"SUP-' || i || '","fields":{"description":"' ||
			repeat('x', 16384) || '","issuelinks":[{"id":"' || i || '","outwardIssue":{"id":"' || (i + 100000) || '"}}]}}}',
			'complete', 'complete', 'complete', 'complete', 'complete', false, now()
		FROM range(?, ?) t(i)`, from, from+1000); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO issuelinks (issue_key, link_id)
		SELECT 'SUP-' || i, i::VARCHAR FROM range(1, ?) t(i)`, n+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Reopened with a memory limit well below what the payloads take.
	s, err = Open(ctx, path, Options{MemoryLimit: "256MB"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var filled int
	if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM issuelinks WHERE linked_issue_id = (link_id::INTEGER + 100000)::VARCHAR`).Scan(&filled); err != nil {
		t.Fatal(err)
	}
	if filled != n {
		t.Errorf("%d of %d link rows got their linked_issue_id", filled, n)
	}
}
