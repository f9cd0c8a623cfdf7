package app_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/sirupsen/logrus"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/export"
	"github.com/jiraduck/jiraduck/internal/jobs"
	sqlfiles "github.com/jiraduck/jiraduck/sql"
)

// worklogFixtures holds the captured worklog_* deliveries of a Jira Cloud
// site.
const worklogFixtures = "../../../shared/jira-fixtures/webhooks"

// worklogFixture is the captured delivery of a worklog_* event.
func worklogFixture(event string) string {
	return filepath.Join(worklogFixtures, event, "basic__zulip.json")
}

// worklogDeliver posts a captured worklog_* delivery to serve, signed, with
// its worklog.issueId set to issueID: what Jira sends, which names the issue
// by id only.
func worklogDeliver(t *testing.T, site *app.Site, event, issueID string, n int) {
	t.Helper()
	raw, err := os.ReadFile(worklogFixture(event))
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatal(err)
	}
	body["worklog"].(map[string]any)["issueId"] = issueID
	body["timestamp"] = time.Now().UnixMilli() + int64(n)
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, []byte(app.SiteSecret))
	mac.Write(b)
	req, err := http.NewRequest(http.MethodPost, "http://"+site.Config.Listen+"/webhooks/jira", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	req.Header.Set("X-Atlassian-Webhook-Identifier", fmt.Sprintf("worklog-test-%s-%d", event, n))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		out, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s: got status %d (%s), want 202", event, resp.StatusCode, out)
	}
}

// worklogRow is a row of the published worklogs of one issue.
type worklogRow struct {
	seconds int64
	comment sql.NullString
	key     string
	month   string
}

// worklogPublished reads the published worklogs of an issue from the Parquet
// files, as an analyst would.
func worklogPublished(t *testing.T, dataDir, issueID string) map[string]worklogRow {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	glob := filepath.Join(dataDir, "parquet", "jira", "worklogs", "month=*", "*.parquet")
	rows, err := db.Query(`SELECT worklog_id, time_spent_seconds, comment, issue_key, month
		FROM read_parquet(?, hive_partitioning = true) WHERE issue_id = ?`, glob, issueID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]worklogRow{}
	for rows.Next() {
		var id string
		var r worklogRow
		if err := rows.Scan(&id, &r.seconds, &r.comment, &r.key, &r.month); err != nil {
			t.Fatal(err)
		}
		out[id] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestWorklogEventsEndToEnd: each worklog event, which names only the issue
// id, makes serve fetch the issue again, worklogs past the 20 it embeds
// included, and publish the issue's worklogs: a new one appears, an edited
// one changes, a deleted one goes. The emulator changes the issue silently,
// so only the worklog event tells serve.
func TestWorklogEventsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serve and an emulator")
	}
	// Each step delivers a captured worklog event: without them no step
	// runs, and the example query would have nothing to add up.
	for _, event := range []string{"worklog_created", "worklog_updated", "worklog_deleted"} {
		if _, err := os.Stat(worklogFixture(event)); os.IsNotExist(err) {
			t.Skipf("fixture %s not available", event)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log := logrus.New()
	log.SetOutput(io.Discard)
	dir := t.TempDir()
	site, err := app.StartSite(ctx, app.SiteOptions{Emulator: emulator.Options{Issues: 30, Seed: 8}, DataDir: dir, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer site.Close()
	em := site.Emulator.Silent()
	var issue *emulator.Issue
	for _, k := range em.Keys() {
		is, err := em.Issue(k)
		if err != nil {
			t.Fatal(err)
		}
		if len(is.Worklogs) > 20 {
			issue = is
			break
		}
	}
	if issue == nil {
		t.Fatal("no generated issue has more than 20 worklogs")
	}
	n := len(issue.Worklogs)
	month := issue.Created.UTC().Format("2006-01")
	settle := func() {
		t.Helper()
		if err := site.Settle(ctx); err != nil {
			t.Fatal(err)
		}
	}

	var added emulator.Worklog
	steps := []struct {
		event  string
		change func() error
		check  func(got map[string]worklogRow) error
	}{
		{"worklog_created", func() (err error) {
			added, err = em.AddWorklog(issue.Key, emulator.Worklog{Spent: 90 * time.Minute,
				Comment: emulator.Text("Rotated the key from https://ops.example/rotate?token=s3cret")})
			return err
		}, func(got map[string]worklogRow) error {
			w, ok := got[added.ID]
			switch {
			case len(got) != n+1:
				return fmt.Errorf("got %d worklogs, want %d (all of them, not the 20 embedded)", len(got), n+1)
			case !ok || w.seconds != 5400 || w.key != issue.Key || w.month != month:
				return fmt.Errorf("new worklog %s: got %+v, want 5400 s of %s in %s", added.ID, w, issue.Key, month)
			case w.comment.String != "Rotated the key from https://ops.example/rotate?token=REDACTED":
				return fmt.Errorf("comment: got %q, want the token redacted", w.comment.String)
			}
			return nil
		}},
		{"worklog_updated", func() error {
			return em.EditWorklog(issue.Key, added.ID, func(w *emulator.Worklog) error { w.Spent = 2 * time.Hour; return nil })
		}, func(got map[string]worklogRow) error {
			if w := got[added.ID]; w.seconds != 7200 || len(got) != n+1 {
				return fmt.Errorf("edited worklog: got %d s among %d, want 7200 among %d", w.seconds, len(got), n+1)
			}
			return nil
		}},
		{"worklog_deleted", func() error { return em.DeleteWorklog(issue.Key, added.ID) }, func(got map[string]worklogRow) error {
			if _, ok := got[added.ID]; ok || len(got) != n {
				return fmt.Errorf("after the delete: got %d worklogs (the deleted one there: %v), want %d", len(got), ok, n)
			}
			return nil
		}},
	}
	for i, step := range steps {
		t.Run(step.event, func(t *testing.T) {
			if err := step.change(); err != nil {
				t.Fatal(err)
			}
			worklogDeliver(t, site, step.event, issue.ID, i)
			settle()
			if err := step.check(worklogPublished(t, dir, issue.ID)); err != nil {
				t.Error(err)
			}
		})
	}
	t.Run("example query", func(t *testing.T) {
		worklogExample(t, filepath.Join(dir, "parquet", "jira"), issue)
	})
}

// worklogExample runs sql/example_hours_logged_by_project_month.sql over the
// analyst views of the published files: the hours it gives the issue's
// project add up to the issue's worklogs.
func worklogExample(t *testing.T, root string, issue *emulator.Issue) {
	t.Helper()
	query, err := fs.ReadFile(sqlfiles.FS, "example_hours_logged_by_project_month.sql")
	if err != nil {
		t.Fatal(err)
	}
	views, err := export.Views(root)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, v := range views {
		if _, err := db.Exec(v.SQL); err != nil {
			t.Fatalf("view %s: %v", v.Name, err)
		}
	}
	rows, err := db.Query(string(query))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var hours float64
	n := 0
	for rows.Next() {
		var project string
		var month sql.NullString
		var h float64
		var worklogs, tickets, people int
		if err := rows.Scan(&project, &month, &h, &worklogs, &tickets, &people); err != nil {
			t.Fatal(err)
		}
		n++
		if project == issue.Project {
			hours += h
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var want time.Duration
	for _, w := range issue.Worklogs {
		want += w.Spent
	}
	if n == 0 || hours < want.Hours()-0.05*float64(len(issue.Worklogs)) {
		// Which side of the join lacked the issue, and which files the
		// views read: "0 rows" alone does not tell.
		var worklogs, issues int
		db.QueryRow(`SELECT count(*) FROM jira_worklogs WHERE issue_id = ?`, issue.ID).Scan(&worklogs)
		db.QueryRow(`SELECT count(*) FROM jira_issues WHERE issue_id = ?`, issue.ID).Scan(&issues)
		files, _ := filepath.Glob(filepath.Join(root, "*", "month=*", "*.parquet"))
		for i, f := range files {
			files[i], _ = filepath.Rel(root, f)
		}
		t.Errorf("got %d rows and %.1f hours in %s, want at least the %.1f hours of %s; the views hold %d of its worklogs and %d issues rows; files %v",
			n, hours, issue.Project, want.Hours(), issue.Key, worklogs, issues, files)
	}
}

// TestReconcileFindsWorklogChanges: a worklog edited without any webhook and
// without moving its issue's updated is found through Jira's worklog change
// list, and only its issue is fetched again; the next run reads the list from
// where this one stopped and fetches nothing.
func TestReconcileFindsWorklogChanges(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serve and an emulator")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log := logrus.New()
	log.SetOutput(io.Discard)
	dir := t.TempDir()
	// Jira's clock and jiraduck's agree: a change is compared with the
	// time its issue was fetched.
	site, err := app.StartSite(ctx, app.SiteOptions{Emulator: emulator.Options{Issues: 30, Seed: 8, Now: time.Now()}, DataDir: dir, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer site.Close()
	deps := site.Service.JobDeps()
	first, err := jobs.Reconcile(ctx, deps, jobs.ReconcileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if first.Missing != 30 {
		t.Fatalf("first run fetched %d missing issues, want 30", first.Missing)
	}
	if err := site.Settle(ctx); err != nil {
		t.Fatal(err)
	}
	em := site.Emulator.Silent()
	var issue *emulator.Issue
	for _, k := range em.Keys() {
		if is, _ := em.Issue(k); len(is.Worklogs) > 0 && issue == nil {
			issue = is
		}
	}
	if issue == nil {
		t.Fatal("no generated issue has a worklog")
	}
	wl := issue.Worklogs[0]
	if err := em.EditWorklog(issue.Key, wl.ID, func(w *emulator.Worklog) error {
		w.Comment = emulator.Text("Found the cause in the load balancer logs.")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if after, _ := em.Issue(issue.Key); !after.Updated.Equal(issue.Updated) {
		t.Fatalf("the comment edit moved the issue's updated from %v to %v", issue.Updated, after.Updated)
	}

	tests := []struct {
		name        string
		wantIssues  int
		wantComment string
	}{
		{"the edit is found", 1, "Found the cause in the load balancer logs."},
		{"the next run starts after it", 0, "Found the cause in the load balancer logs."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := jobs.Reconcile(ctx, deps, jobs.ReconcileOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := site.Settle(ctx); err != nil {
				t.Fatal(err)
			}
			if res.WorklogIssues != tc.wantIssues || res.Stale != 0 || res.Missing != 0 {
				t.Errorf("got %d issues fetched for their worklogs (%d changes), %d stale, %d missing; want %d, 0, 0",
					res.WorklogIssues, res.WorklogChanges, res.Stale, res.Missing, tc.wantIssues)
			}
			var comment string
			if err := deps.Store.DB().QueryRowContext(ctx, `SELECT comment FROM worklogs WHERE worklog_id = ?`, wl.ID).Scan(&comment); err != nil {
				t.Fatal(err)
			}
			if comment != tc.wantComment {
				t.Errorf("stored comment: got %q, want %q", comment, tc.wantComment)
			}
			for _, name := range []string{jobs.CursorWorklogUpdated, jobs.CursorWorklogDeleted} {
				if v, ok, err := deps.Store.Cursor(ctx, name); err != nil || !ok || v == "" {
					t.Errorf("cursor %s: got %q %v %v, want a stored value", name, v, ok, err)
				}
			}
		})
	}
}
