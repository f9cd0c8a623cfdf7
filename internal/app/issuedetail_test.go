package app_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/export"
	"github.com/jiraduck/jiraduck/internal/store"
	"github.com/sirupsen/logrus"
)

func detailLogger() logrus.FieldLogger {
	log := logrus.New()
	log.SetOutput(io.Discard)
	if os.Getenv("JIRADUCK_TEST_LOG") != "" {
		log.SetOutput(os.Stderr)
		log.SetLevel(logrus.DebugLevel)
	}
	return log
}

// detailStartSite starts an emulator and serve on loopback in a fresh data
// directory.
func detailStartSite(t *testing.T, issues int) *app.Site {
	t.Helper()
	s, err := app.StartSite(context.Background(), app.SiteOptions{
		Emulator: emulator.Options{Issues: issues, Seed: 25}, DataDir: t.TempDir(), Logger: detailLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func detailSettle(t *testing.T, s *app.Site) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := s.Settle(ctx); err != nil {
		t.Fatal(err)
	}
}

// detailAnalyst opens the site's Parquet through the analyst views, as
// `jiraduck query` does.
func detailAnalyst(t *testing.T, dataDir string) *sql.DB {
	t.Helper()
	db, err := store.OpenMemory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	views, err := export.Views(export.Root(dataDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range views {
		if _, err := db.Exec(v.SQL); err != nil {
			t.Fatalf("view %s: %v", v.Name, err)
		}
	}
	return db
}

func detailDoc(t *testing.T, nodes ...string) emulator.Doc {
	t.Helper()
	d, err := emulator.ParseADF([]byte(`{"type":"doc","version":1,"content":[` + strings.Join(nodes, ",") + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestInlineMediaEndToEnd: an image pasted into a description and files
// shown in a comment reach jira_inline_media through serve, linked to the
// issue's attachments (by file name, and by the attachment id in a URL),
// and a comment edited to drop its image loses the row.
func TestInlineMediaEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	s := detailStartSite(t, 5)
	e := s.Emulator
	is, err := e.Create("OPS", func(is *emulator.Issue) { is.Summary = "Broken chart" })
	if err != nil {
		t.Fatal(err)
	}
	shot, err := e.AddAttachment(is.Key, emulator.Attachment{Filename: "chart.png"}, []byte("\x89PNG fake"))
	if err != nil {
		t.Fatal(err)
	}
	logs, err := e.AddAttachment(is.Key, emulator.Attachment{Filename: "server log.txt"}, []byte("line 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	desc := detailDoc(t, `{"type":"paragraph","content":[{"type":"text","text":"The chart is empty:"}]}`,
		`{"type":"mediaSingle","attrs":{"layout":"center"},"content":[{"type":"media","attrs":
			{"type":"file","id":"0c7e7d8a-5b0e-4f6e-9a59-1d2b3c4d5e6f","collection":"","alt":"chart.png","width":800,"height":450}}]}`)
	if err := e.Update(is.Key, func(x *emulator.Issue) { x.Description = desc }); err != nil {
		t.Fatal(err)
	}
	body := detailDoc(t, `{"type":"paragraph","content":[{"type":"text","text":"Logs attached"}]}`,
		`{"type":"mediaGroup","content":[
			{"type":"media","attrs":{"type":"external","url":"`+e.URL()+`/rest/api/3/attachment/content/`+logs.ID+`"}},
			{"type":"media","attrs":{"type":"file","id":"9a9a9a9a-0000-4000-8000-000000000001","collection":"","alt":"deleted-before.png"}}]}`)
	c, err := e.AddComment(is.Key, emulator.Comment{Body: body})
	if err != nil {
		t.Fatal(err)
	}
	detailSettle(t, s)

	db := detailAnalyst(t, s.Config.DataDir)
	media := func() []string {
		rs, err := db.Query(`SELECT coalesce(comment_id, 'description'), media_index, coalesce(attachment_id, '-'),
			coalesce(filename, '-'), coalesce(linked_by, '-'), month
			FROM jira_inline_media WHERE issue_key = ? ORDER BY comment_id NULLS FIRST, media_index`, is.Key)
		if err != nil {
			t.Fatal(err)
		}
		defer rs.Close()
		var out []string
		for rs.Next() {
			var src, att, name, by, month string
			var idx int
			if err := rs.Scan(&src, &idx, &att, &name, &by, &month); err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%s#%d %s %s by %s in %s", src, idx, att, name, by, month))
		}
		return out
	}
	month := is.Created.UTC().Format("2006-01")
	want := []string{
		fmt.Sprintf("description#0 %s chart.png by filename in %s", shot.ID, month),
		fmt.Sprintf("%s#0 %s server log.txt by url in %s", c.ID, logs.ID, month),
		fmt.Sprintf("%s#1 - deleted-before.png by - in %s", c.ID, month),
	}
	if got := media(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("jira_inline_media:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}

	// The comment loses its files: its rows go, the description's stays.
	if err := e.EditComment(is.Key, c.ID, detailDoc(t, `{"type":"paragraph","content":[{"type":"text","text":"never mind"}]}`)); err != nil {
		t.Fatal(err)
	}
	detailSettle(t, s)
	db = detailAnalyst(t, s.Config.DataDir)
	if got := media(); strings.Join(got, "\n") != want[0] {
		t.Errorf("after the edit: got %v, want only %q", got, want[0])
	}
}

// TestIssueDetailEndToEnd: generated issues reach jira_issues with the
// emulator's time tracking, votes and sub-tasks, and the field history view
// answers through the same views `jiraduck query` creates.
func TestIssueDetailEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	t.Parallel()
	s := detailStartSite(t, 3)
	e := s.Emulator
	parent, err := e.Create("OPS", func(is *emulator.Issue) {
		is.Summary, is.OriginalEstimate, is.Votes, is.SecurityLevel = "Parent", 4*time.Hour, 3, "Staff only"
	})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := e.Create("OPS", func(is *emulator.Issue) {
		is.Summary, is.Parent, is.Type, is.OriginalEstimate = "Child", parent.Key, "Sub-task", 2*time.Hour
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.AddWorklog(sub.Key, emulator.Worklog{Started: e.Now().Add(-time.Hour), Spent: 90 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	// The parent is fetched again after its sub-task's work: its
	// aggregates include it.
	if err := e.Transition(parent.Key, "In Progress"); err != nil {
		t.Fatal(err)
	}
	detailSettle(t, s)
	db := detailAnalyst(t, s.Config.DataDir)
	var got string
	err = db.QueryRow(`SELECT concat_ws(' ', original_estimate_seconds, remaining_estimate_seconds, coalesce(time_spent_seconds, 0),
			aggregate_original_estimate_seconds, aggregate_remaining_estimate_seconds, aggregate_time_spent_seconds,
			votes, security_level, array_to_string(subtask_keys, ','), issue_type_hierarchy_level, project_type,
			status_category_changed_at IS NOT NULL)
		FROM jira_issues WHERE issue_key = ?`, parent.Key).Scan(&got)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("14400 14400 0 21600 16200 5400 3 Staff only %s 0 software true", sub.Key)
	if got != want {
		t.Errorf("parent's detail columns: got %q, want %q", got, want)
	}
	var status string
	err = db.QueryRow(`SELECT string_agg(coalesce(value, '-') || ':' || CASE WHEN valid_to IS NULL THEN 'now' ELSE 'past' END, ' ' ORDER BY valid_from)
		FROM jira_issue_field_history WHERE issue_key = ? AND field_id = 'status'`, parent.Key).Scan(&status)
	if err != nil {
		t.Fatal(err)
	}
	if status != "To Do:past In Progress:now" {
		t.Errorf("status history: got %q, want %q", status, "To Do:past In Progress:now")
	}
}

// TestUpgradedStoreDerivesNewColumns: a store whose rows were derived by a
// release without the issue-detail columns (its issue-columns record names
// no tables, its new columns are NULL, its inline_media empty) derives them
// again from the stored payloads when a batch command opens it, and every
// partition is rewritten with them: no fetch needed.
func TestUpgradedStoreDerivesNewColumns(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	ctx := context.Background()
	s := detailStartSite(t, 3)
	e := s.Emulator
	is, err := e.Create("OPS", func(is *emulator.Issue) { is.Summary, is.Votes = "Voted", 7 })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.AddAttachment(is.Key, emulator.Attachment{Filename: "a.png"}, []byte("png")); err != nil {
		t.Fatal(err)
	}
	doc, err := emulator.ParseADF([]byte(`{"type":"doc","version":1,"content":[{"type":"mediaSingle","content":[{"type":"media","attrs":{"type":"file","id":"u","collection":"","alt":"a.png"}}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Update(is.Key, func(x *emulator.Issue) { x.Description = doc }); err != nil {
		t.Fatal(err)
	}
	detailSettle(t, s)
	cfg := s.Config
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// What the previous release left: NULL columns, no inline_media rows,
	// partitions without them, and its own issue-columns record.
	st, err := store.Open(ctx, app.StorePath(cfg), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var record string
	if err := st.DB().QueryRowContext(ctx, `SELECT json_extract_string(args, '$.issue_columns') FROM sync_runs
		WHERE job = 'rebuild' ORDER BY run_id DESC LIMIT 1`).Scan(&record); err != nil {
		t.Fatal(err)
	}
	var rec map[string]json.RawMessage
	if err := json.Unmarshal([]byte(record), &rec); err != nil {
		t.Fatal(err)
	}
	delete(rec, "tables")
	old, _ := json.Marshal(rec)
	args, _ := json.Marshal(map[string]string{"issue_columns": string(old)})
	for _, q := range []string{
		`UPDATE issues SET votes = NULL, watches = NULL, project_type = NULL, subtask_keys = NULL`,
		`DELETE FROM inline_media`,
		`UPDATE raw_issues SET row_hashes = NULL`,
	} {
		if _, err := st.DB().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.DB().ExecContext(ctx, `INSERT INTO sync_runs (job, started_at, finished_at, status, counts, args, cursor)
		VALUES ('rebuild', now(), now(), ?, '{}', ?, ?)`, store.RunOK, string(args), store.RebuildComplete); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	b, err := app.OpenBatch(ctx, cfg, detailLogger(), "export", app.BatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var stored sql.NullInt64
	if err := b.Store.DB().QueryRowContext(ctx, `SELECT votes FROM issues WHERE issue_key = ?`, is.Key).Scan(&stored); err != nil {
		b.Close()
		t.Fatal(err)
	}
	if !stored.Valid || stored.Int64 != 7 {
		t.Errorf("stored votes after opening the upgraded store: got %v, want 7", stored)
	}
	dirty, err := b.Store.DirtyPartitions(ctx)
	if err != nil {
		b.Close()
		t.Fatal(err)
	}
	marked := map[string]bool{}
	for _, p := range dirty {
		marked[p.Table] = true
	}
	for _, table := range []string{"issues", "comments", "attachments", "changelog", "inline_media"} {
		if !marked[table] {
			t.Errorf("no partition of %s marked for export (marked %v): its files keep the old columns", table, dirty)
		}
	}
	if _, err := b.ExportDirty(); err != nil {
		b.Close()
		t.Fatal(err)
	}
	b.Close()
	db := detailAnalyst(t, cfg.DataDir)
	var votes sql.NullInt64
	var media int
	if err := db.QueryRow(`SELECT votes, (SELECT count(*) FROM jira_inline_media m WHERE m.issue_key = i.issue_key AND m.attachment_id IS NOT NULL)
		FROM jira_issues i WHERE issue_key = ?`, is.Key).Scan(&votes, &media); err != nil {
		t.Fatal(err)
	}
	if !votes.Valid || votes.Int64 != 7 || media != 1 {
		t.Errorf("after the upgrade: got votes %v and %d linked media, want 7 and 1", votes, media)
	}
	var withoutProjectType int
	if err := db.QueryRow(`SELECT count(*) FROM jira_issues WHERE project_type IS NULL`).Scan(&withoutProjectType); err != nil {
		t.Fatal(err)
	}
	if withoutProjectType != 0 {
		t.Errorf("%d issues still without project_type in Parquet, want every one derived again", withoutProjectType)
	}
}

// TestFieldMapRefusesEveryBuiltInColumn: the settings refuse a promoted
// column named like any fixed column of issues, so the two lists cannot
// drift apart when columns are built in.
func TestFieldMapRefusesEveryBuiltInColumn(t *testing.T) {
	for _, col := range store.IssueColumns(nil, nil) {
		t.Run(col, func(t *testing.T) {
			_, err := config.FromMap(map[string]string{"JIRADUCK_DATA_DIR": t.TempDir(), "JIRA_FIELD_MAP": "customfield_10001:" + col})
			if err == nil || !strings.Contains(err.Error(), "JIRA_FIELD_MAP") {
				t.Errorf("got %v, want JIRA_FIELD_MAP refused", err)
			}
		})
	}
}
