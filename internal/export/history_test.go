package export

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/normalize"
	sqlfiles "github.com/jiraduck/jiraduck/sql"
)

// historyIssue is an issue created on 10 January at 09:00 by acc-creator
// whose changelog moves its status twice and its assignee twice, and
// changes its summary in the history Jira wrote at creation.
func historyIssue() *normalize.Rows {
	created := time.Date(2024, 1, 10, 9, 0, 0, 0, time.UTC)
	r := rows("HIS-1", "700", created, 0)
	r.Issue.CreatorAccountID = sp("acc-creator")
	at := func(day int) *time.Time { t := time.Date(2024, 1, day, 12, 0, 0, 0, time.UTC); return &t }
	item := func(change string, idx int32, when *time.Time, by, field, from, fromS, to, toS string) normalize.ChangeItem {
		opt := func(s string) *string {
			if s == "" {
				return nil
			}
			return sp(s)
		}
		return normalize.ChangeItem{ChangeID: change, ItemIndex: idx, IssueKey: "HIS-1", AuthorAccountID: opt(by),
			Field: sp(field), FieldID: sp(strings.ToLower(field)), FieldType: sp("jira"),
			FromValue: opt(from), FromString: opt(fromS), ToValue: opt(to), ToString: opt(toS), ChangedAt: when}
	}
	r.Changelog = []normalize.ChangeItem{
		item("900", 0, &created, "acc-creator", "Summary", "", "first", "", "second"),
		item("901", 0, at(11), "acc-u1", "Status", "1", "Open", "3", "In Progress"),
		item("901", 1, at(11), "acc-u1", "Assignee", "", "", "acc-a", "Ann"),
		item("902", 0, at(12), "acc-u2", "Status", "3", "In Progress", "10001", "Done"),
		item("903", 0, at(13), "acc-u2", "Assignee", "acc-a", "Ann", "acc-b", "Bob"),
	}
	return r
}

// fieldHistory lists the view's rows of HIS-1, one line each.
func fieldHistory(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rs, err := db.Query(`SELECT field_id, coalesce(value, '-'), coalesce(value_id, '-'),
		strftime(valid_from, '%d %H:%M'), coalesce(strftime(valid_to, '%d %H:%M'), 'now'), changed_by_account_id, month
		FROM jira_issue_field_history WHERE issue_key = 'HIS-1' ORDER BY field_id, valid_from`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var f, v, id, from, to, by, month string
		if err := rs.Scan(&f, &v, &id, &from, &to, &by, &month); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %s (%s) %s..%s by %s in %s", f, v, id, from, to, by, month))
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFieldHistoryView: each field's value intervals, the creation value
// first (from the first change's from value, set by the creator), the
// current one open-ended, over the Parquet files and in the snapshot.
func TestFieldHistoryView(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.apply(t, historyIssue())
	f.exportDirty(t)
	want := []string{
		"assignee - (-) 10 09:00..11 12:00 by acc-creator in 2024-01",
		"assignee Ann (acc-a) 11 12:00..13 12:00 by acc-u1 in 2024-01",
		"assignee Bob (acc-b) 13 12:00..now by acc-u2 in 2024-01",
		"status Open (1) 10 09:00..11 12:00 by acc-creator in 2024-01",
		"status In Progress (3) 11 12:00..12 12:00 by acc-u1 in 2024-01",
		"status Done (10001) 12 12:00..now by acc-u2 in 2024-01",
		// Changed at creation: no interval before it.
		"summary second (-) 10 09:00..now by acc-creator in 2024-01",
	}

	t.Run("parquet views", func(t *testing.T) {
		db := viewsDB(t, Root(f.dir))
		if got := fieldHistory(t, db); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
	t.Run("snapshot", func(t *testing.T) {
		out := filepath.Join(f.dir, "snapshot", "jira.duckdb")
		if _, err := Snapshot(ctx, f.s, out); err != nil {
			t.Fatal(err)
		}
		db, err := sql.Open("duckdb", out+"?access_mode=read_only")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if got := fieldHistory(t, db); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
	t.Run("no issues", func(t *testing.T) {
		empty := newFixture(t)
		db := viewsDB(t, Root(empty.dir))
		if got := fieldHistory(t, db); len(got) != 0 {
			t.Errorf("got %v, want no rows", got)
		}
	})
}

// TestExampleQueriesRun runs every sql/example_*.sql over the views of a
// published fixture and over views with no files at all: an example that
// no longer matches the columns fails here, not in an analyst's hands.
func TestExampleQueriesRun(t *testing.T) {
	examples, err := fs.Glob(sqlfiles.FS, "example_*.sql")
	if err != nil || len(examples) == 0 {
		t.Fatalf("examples: got %v (%v), want some", examples, err)
	}
	f := newFixture(t)
	f.apply(t, historyIssue())
	f.exportDirty(t)
	for _, tree := range []struct{ name, root string }{{"published", Root(f.dir)}, {"empty", Root(newFixture(t).dir)}} {
		db := viewsDB(t, tree.root)
		for _, name := range examples {
			t.Run(tree.name+"/"+name, func(t *testing.T) {
				q, err := fs.ReadFile(sqlfiles.FS, name)
				if err != nil {
					t.Fatal(err)
				}
				rs, err := db.Query(string(q))
				if err != nil {
					t.Fatalf("got %v, want the query to run", err)
				}
				defer rs.Close()
				for rs.Next() {
				}
				if err := rs.Err(); err != nil {
					t.Fatalf("got %v, want the query to run", err)
				}
			})
		}
	}
}

// TestEstimateAccuracyExample checks the example's arithmetic on two
// resolved issues: a parent whose aggregate includes its sub-task, and the
// sub-task itself, which is not counted again.
func TestEstimateAccuracyExample(t *testing.T) {
	f := newFixture(t)
	i64 := func(n int64) *int64 { return &n }
	lvl := func(n int32) *int32 { return &n }
	parent := rows("EST-1", "801", time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC), 0)
	parent.Issue.ProjectKey, parent.Issue.IssueType, parent.Issue.StatusCategory = sp("EST"), sp("Story"), sp("Done")
	parent.Issue.OriginalEstimateSeconds, parent.Issue.AggregateOriginalEstimateSeconds = i64(3600), i64(7200)
	parent.Issue.TimeSpentSeconds, parent.Issue.AggregateTimeSpentSeconds = i64(1800), i64(10800)
	parent.Issue.IssueTypeHierarchyLevel = lvl(0)
	sub := rows("EST-2", "802", time.Date(2024, 2, 2, 0, 0, 0, 0, time.UTC), 0)
	sub.Issue.ProjectKey, sub.Issue.IssueType, sub.Issue.StatusCategory = sp("EST"), sp("Sub-task"), sp("Done")
	sub.Issue.OriginalEstimateSeconds, sub.Issue.TimeSpentSeconds = i64(3600), i64(9000)
	sub.Issue.IssueTypeHierarchyLevel = lvl(-1)
	f.apply(t, parent)
	f.apply(t, sub)
	f.exportDirty(t)
	db := viewsDB(t, Root(f.dir))
	q, err := fs.ReadFile(sqlfiles.FS, "example_estimate_accuracy.sql")
	if err != nil {
		t.Fatal(err)
	}
	var project, typ string
	var n, over, nothing int
	var est, spent, ratio float64
	if err := db.QueryRow(string(q)).Scan(&project, &typ, &n, &est, &spent, &ratio, &over, &nothing); err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprintf("%s %s n=%d est=%.1f spent=%.1f ratio=%.2f over=%d nothing=%d", project, typ, n, est, spent, ratio, over, nothing)
	if want := "EST Story n=1 est=2.0 spent=3.0 ratio=1.50 over=1 nothing=0"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
