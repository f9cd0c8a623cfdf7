package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/internal/dimensions"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/export"
	"github.com/jiraduck/jiraduck/internal/jobs"
	"github.com/jiraduck/jiraduck/internal/normalize"
	"github.com/jiraduck/jiraduck/internal/store"
)

func TestRebuildRestoresIdenticalParquet(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator test skipped in -short mode")
	}
	t.Parallel()
	live, before := apptest.PublishedSite(t, 120)
	ctx := context.Background()

	// Drop every analyst row, then rebuild with the command.
	s, err := store.Open(ctx, app.StorePath(live.Config), store.Options{})
	apptest.Must(t, err)
	for _, table := range []string{"issues", "comments", "attachments", "changelog", "issuelinks", "remote_links", "sla", "issue_fields"} {
		if _, err := s.DB().Exec("DELETE FROM " + table); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	environ := apptest.SiteEnviron(live)
	out, errOut, code := runCmd(t, environ, "rebuild")
	if code != 0 || !strings.Contains(out, "rebuild: ") {
		t.Fatalf("rebuild: code %d\n%s\n%s", code, out, errOut)
	}
	apptest.CompareExportsExact(t, live.Dir, before)
}

// TestFailedRebuildPublishesNothing: a rebuild that fails part way has
// emptied the tables and refilled some; it must not export them, or months
// would lose rows in the analysts' files. Two issues' payloads that share a
// comment id (which a primary key refuses) make it fail.
func TestFailedRebuildPublishesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator test skipped in -short mode")
	}
	t.Parallel()
	live, before := apptest.PublishedSite(t, 60)
	ctx := context.Background()

	s, err := store.Open(ctx, app.StorePath(live.Config), store.Options{})
	apptest.Must(t, err)
	var taken, dup, key string
	err = s.DB().QueryRow(`SELECT a.comment_id, b.comment_id, b.issue_key FROM comments a, comments b
		WHERE a.issue_key < b.issue_key ORDER BY a.issue_key, b.issue_key LIMIT 1`).Scan(&taken, &dup, &key)
	apptest.Must(t, err)
	res, err := s.DB().Exec(`UPDATE raw_issues SET payload = replace(payload, '"id":"' || ? || '"', '"id":"' || ? || '"')
		WHERE issue_key = ? AND contains(payload, '"id":"' || ? || '"')`, dup, taken, key, dup)
	apptest.Must(t, err)
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("comment %s of %s not found in its payload", dup, key)
	}
	s.Close()

	out, errOut, code := runCmd(t, apptest.SiteEnviron(live), "rebuild", "--batch", "1")
	if code != 1 || !strings.Contains(out, "rebuild: failed after") || !strings.Contains(out, "nothing exported") {
		t.Fatalf("rebuild: code %d, want 1 and a line saying it failed and exported nothing\n%s\n%s", code, out, errOut)
	}
	apptest.CompareExportsExact(t, live.Dir, before)

	// Nothing else publishes the partial tables either.
	for _, args := range [][]string{{"export"}, {"snapshot"}} {
		out, errOut, code := runCmd(t, apptest.SiteEnviron(live), args...)
		if code != 1 || !strings.Contains(errOut, "partly rebuilt") {
			t.Errorf("%s after a failed rebuild: code %d, want 1 and the reason\n%s\n%s", args[0], code, out, errOut)
		}
	}
	apptest.CompareExportsExact(t, live.Dir, before)
	if _, err := os.Stat(export.SnapshotPath(live.Dir)); err == nil {
		t.Error("a snapshot of the partial tables was written")
	}

	// The cause removed, a rebuild completes and publishes as before.
	s, err = store.Open(ctx, app.StorePath(live.Config), store.Options{})
	apptest.Must(t, err)
	_, err = s.DB().Exec(`UPDATE raw_issues SET payload = replace(payload, '"id":"' || ? || '"', '"id":"' || ? || '"') WHERE issue_key = ?`, taken, dup, key)
	apptest.Must(t, err)
	s.Close()
	if out, errOut, code := runCmd(t, apptest.SiteEnviron(live), "rebuild"); code != 0 {
		t.Fatalf("rebuild after the fix: code %d\n%s\n%s", code, out, errOut)
	}
	apptest.CompareExportsExact(t, live.Dir, before)
	if out, errOut, code := runCmd(t, apptest.SiteEnviron(live), "export"); code != 0 {
		t.Errorf("export after a completed rebuild: code %d\n%s\n%s", code, out, errOut)
	}
}

func TestImportOfBrokerLayoutEqualsBackfill(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator test skipped in -short mode")
	}
	t.Parallel()
	live := apptest.StartLiveSite(t, 60, apptest.Frozen(), nil)
	ctx := context.Background()
	if _, err := jobs.Backfill(ctx, live.Service.Client(), live.Service.Store(), live.Service.Processor(), jobs.BackfillOptions{}); err != nil {
		t.Fatal(err)
	}
	live.Settle(t)

	// The Python broker's layout, built from the emulator's state: the issue
	// with every comment and history embedded, plus its private keys.
	raw := t.TempDir()
	apptest.Must(t, os.MkdirAll(filepath.Join(raw, "issues"), 0o755))
	for _, key := range live.Emulator.Keys() {
		st, err := live.Emulator.State(key)
		apptest.Must(t, err)
		// Raw values keep Jira's key order, as the broker's files do.
		var issue map[string]json.RawMessage
		apptest.Must(t, json.Unmarshal(st.Issue, &issue))
		var fields map[string]json.RawMessage
		apptest.Must(t, json.Unmarshal(issue["fields"], &fields))
		rawJSON := func(v any) json.RawMessage {
			b, err := json.Marshal(v)
			apptest.Must(t, err)
			return b
		}
		fields["comment"] = rawJSON(map[string]any{"startAt": 0, "maxResults": len(st.Comments), "total": len(st.Comments), "comments": st.Comments})
		issue["fields"] = rawJSON(fields)
		issue["changelog"] = rawJSON(map[string]any{"startAt": 0, "maxResults": len(st.Changelog), "total": len(st.Changelog), "histories": st.Changelog})
		issue["_remote_links"] = st.RemoteLinks
		issue["_comments_incomplete"] = rawJSON(false)
		b, err := json.Marshal(issue)
		apptest.Must(t, err)
		apptest.Must(t, os.WriteFile(filepath.Join(raw, "issues", key+".json"), b, 0o644))
		is, _ := live.Emulator.Issue(key)
		for _, a := range is.Attachments {
			dir := filepath.Join(raw, "attachments", key)
			apptest.Must(t, os.MkdirAll(dir, 0o755))
			src := filepath.Join(live.Dir, "attachments", key)
			entries, _ := os.ReadDir(src)
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), a.ID+"_") {
					b, _ := os.ReadFile(filepath.Join(src, e.Name()))
					apptest.Must(t, os.WriteFile(filepath.Join(dir, a.ID+"_"+a.Filename), b, 0o644))
				}
			}
		}
	}
	issueCalls := live.Emulator.Stats().Calls[emulator.EndpointIssue]
	// Broken files are refused and named; everything else is imported, and
	// the command exits 1 at the end.
	apptest.Must(t, os.WriteFile(filepath.Join(raw, "issues", "SUP-99999.json"), []byte(`{"key": "SUP-`), 0o644))
	apptest.Must(t, os.WriteFile(filepath.Join(raw, "issues", "not-a-key.json"), []byte(`{}`), 0o644))
	// An older copy of an issue under a former key (kept by the broker
	// after a move) is superseded by the newer file, not refused.
	first := live.Emulator.Keys()[0]
	var stale map[string]any
	b, err := os.ReadFile(filepath.Join(raw, "issues", first+".json"))
	apptest.Must(t, err)
	apptest.Must(t, json.Unmarshal(b, &stale))
	stale["key"] = "OLD-1"
	stale["fields"].(map[string]any)["updated"] = "2001-01-01T00:00:00.000+0000"
	b, err = json.Marshal(stale)
	apptest.Must(t, err)
	apptest.Must(t, os.WriteFile(filepath.Join(raw, "issues", "OLD-1.json"), b, 0o644))

	dir := t.TempDir()
	environ := apptest.SiteEnviron(live)
	environ = append(environ, "JIRADUCK_DATA_DIR="+dir)
	out, errOut, code := runCmd(t, environ, "import", "--raw-dir", raw)
	if code != 1 || !strings.Contains(out, "1 superseded by a newer file, 2 refused") {
		t.Fatalf("import: got code %d, want 1 with 1 superseded and 2 refused\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "refused "+filepath.Join(raw, "issues", "SUP-99999.json")) ||
		!strings.Contains(errOut, "refused "+filepath.Join(raw, "issues", "not-a-key.json")) {
		t.Errorf("refused files not named: %s", errOut)
	}
	if !strings.Contains(errOut, "superseded "+filepath.Join(raw, "issues", "OLD-1.json")) ||
		!strings.Contains(errOut, filepath.Join(raw, "issues", first+".json")+", which is newer") {
		t.Errorf("superseded file not named with the file kept: %s", errOut)
	}
	// The import reads the field list from Jira (no issue is fetched) so
	// names and SLA fields match; the files are copied, not downloaded.
	if calls := live.Emulator.Stats().Calls[emulator.EndpointIssue]; calls != issueCalls {
		t.Errorf("import fetched issues: %d GET issue calls, want none", calls-issueCalls)
	}
	apptest.CompareExportsExcluding(t, dir, live.Dir, map[string]string{"issues": "EXCLUDE (synced_at)", "sla": "EXCLUDE (observed_at)"})
}

func TestSnapshotQueryAndSQLWhileServing(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator test skipped in -short mode")
	}
	t.Parallel()
	live := apptest.StartLiveSite(t, 50, nil, nil)
	ctx := context.Background()
	if _, err := jobs.Backfill(ctx, live.Service.Client(), live.Service.Store(), live.Service.Processor(), jobs.BackfillOptions{}); err != nil {
		t.Fatal(err)
	}
	live.Settle(t)
	res, err := export.Snapshot(ctx, live.Service.Store(), export.SnapshotPath(live.Dir))
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows["issues"] != 50 {
		t.Errorf("snapshot issues: got %d, want 50", res.Rows["issues"])
	}
	// Another process opens it read-only while serve runs.
	if os.Getenv("JIRADUCK_TEST_READ_SNAPSHOT") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSnapshotQueryAndSQLWhileServing$")
		cmd.Env = append(os.Environ(), "JIRADUCK_TEST_READ_SNAPSHOT="+export.SnapshotPath(live.Dir))
		out, err := cmd.CombinedOutput()
		// _meta describes the dimension tables too.
		if err != nil || !strings.Contains(string(out), fmt.Sprintf("snapshot-ok issues=50 meta=%d", len(normalize.Tables)+len(dimensions.Sources()))) {
			t.Errorf("reading the snapshot in another process: %v\n%s", err, out)
		}
	}

	environ := append(apptest.SiteEnviron(live), "JIRADUCK_ADMIN_TOKEN="+app.SiteAdmin, "JIRADUCK_LISTEN="+live.Service.Addr())
	out, errOut, code := runCmd(t, environ, "query", "--format", "csv", "SELECT count(*) AS n FROM jira_issues")
	if code != 0 || !strings.Contains(out, "n\n50\n") {
		t.Errorf("query during serve: code %d out %q err %q", code, out, errOut)
	}
	out, errOut, code = runCmd(t, environ, "sql", "--format", "csv", "SELECT count(*) AS n FROM raw_issues")
	if code != 0 || !strings.Contains(out, "n\n50\n") {
		t.Errorf("sql through the admin API during serve: code %d out %q err %q", code, out, errOut)
	}
	// From another process, as an operator would: the file is locked, so
	// sql goes through the admin API, which wants the token.
	out, errOut, code = runProcess(t, environ, "sql", "--format", "csv", "SELECT count(*) AS n FROM raw_issues")
	if code != 0 || !strings.Contains(out, "n\n50\n") {
		t.Errorf("sql through the admin API from another process: code %d out %q err %q", code, out, errOut)
	}
	_, errOut, code = runProcess(t, append(apptest.SiteEnviron(live), "JIRADUCK_LISTEN="+live.Service.Addr()), "sql", "SELECT 1")
	if code != 1 || !strings.Contains(errOut, "JIRADUCK_ADMIN_TOKEN") {
		t.Errorf("sql without a token during serve: code %d err %q", code, errOut)
	}
	_, errOut, code = runProcess(t, append(apptest.SiteEnviron(live), "JIRADUCK_ADMIN_TOKEN=wrong", "JIRADUCK_LISTEN="+live.Service.Addr()), "sql", "SELECT 1")
	if code != 1 || !strings.Contains(errOut, "admin token") {
		t.Errorf("sql with a wrong token: code %d err %q", code, errOut)
	}
	out, errOut, code = runProcess(t, environ, "query", "--format", "csv", "SELECT count(*) AS n FROM jira_issues")
	if code != 0 || !strings.Contains(out, "n\n50\n") {
		t.Errorf("query from another process during serve: code %d out %q err %q", code, out, errOut)
	}
	apptest.Must(t, live.Service.Close())
	out, errOut, code = runCmd(t, apptest.SiteEnviron(live), "sql", "--format", "csv", "SELECT count(*) AS n FROM raw_issues")
	if code != 0 || !strings.Contains(out, "n\n50\n") {
		t.Errorf("sql directly after serve stopped: code %d out %q err %q", code, out, errOut)
	}
}

// TestMain lets a test binary act as the second process that reads a
// snapshot while serve holds the canonical store.
func TestMain(m *testing.M) {
	if os.Getenv("JIRADUCK_TEST_AS_MAIN") == "1" {
		// This test binary plays the jiraduck binary (see runProcess).
		main()
	}
	if path := os.Getenv("JIRADUCK_TEST_READ_SNAPSHOT"); path != "" {
		db, err := sql.Open("duckdb", path+"?access_mode=read_only")
		if err == nil {
			var issues, meta int
			err = db.QueryRow(`SELECT (SELECT count(*) FROM jira_issues), (SELECT count(*) FROM _meta)`).Scan(&issues, &meta)
			if err == nil {
				fmt.Printf("snapshot-ok issues=%d meta=%d\n", issues, meta)
				os.Exit(0)
			}
		}
		fmt.Println("snapshot read failed:", err)
		os.Exit(1)
	}
	plain.Flags = vcsFlags()
	code := m.Run()
	plain.Remove()
	os.Exit(code)
}

// runProcess runs jiraduck as a separate process (this test binary playing
// it), for what only another process sees: file locks.
func runProcess(t *testing.T, environ []string, args ...string) (string, string, int) {
	t.Helper()
	return apptest.TestBinary().Run(t, environ, args...)
}
