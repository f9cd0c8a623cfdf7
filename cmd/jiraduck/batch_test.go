package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/export"
	"github.com/jiraduck/jiraduck/internal/jobs"
	"github.com/jiraduck/jiraduck/internal/store"
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

// frozen returns a site clock that does not move, so every fetch and the
// comparison see the same SLA values.
func frozen() func() time.Time {
	t := time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)
	return func() time.Time { return t }
}

func TestBackfillMatchesJiraAndResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator test skipped in -short mode")
	}
	n := backfillIssues(t)
	live := startLiveSite(t, n, frozen(), nil)
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
	// some 429s without it): survived.
	must(t, live.Emulator.SetFaults(emulator.Faults{ThrottleRate: 0.05}))
	res, err := jobs.Backfill(ctx, s.Client(), s.Store(), s.Processor(), jobs.BackfillOptions{Parallel: 8, RetryDelay: 50 * time.Millisecond})
	must(t, live.Emulator.SetFaults(emulator.Faults{}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Listed != n || res.Skipped < n/3-4 || res.Fetched+res.Skipped != n || res.Failed != 0 {
		t.Errorf("resumed backfill: got %+v, want %d listed, about %d skipped, the rest fetched", res, n, n/3)
	}
	if st := live.Emulator.Stats(); st.Faults.Throttled == 0 {
		t.Errorf("no 429 was injected: %+v", st.Faults)
	}
	live.settle(t)
	// An attachment download that hit the throttling left its issue
	// incomplete: incomplete issues are always fetched again.
	if _, err := jobs.Backfill(ctx, s.Client(), s.Store(), s.Processor(), jobs.BackfillOptions{Parallel: 4}); err != nil {
		t.Fatal(err)
	}
	live.settle(t)

	// Then a run fetches nothing.
	live.Emulator.ResetStats()
	res, err = jobs.Backfill(ctx, s.Client(), s.Store(), s.Processor(), jobs.BackfillOptions{Parallel: 4})
	if err != nil || res.Fetched != 0 || res.Skipped != n {
		t.Errorf("second backfill: got %+v, %v; want everything skipped", res, err)
	}
	if calls := live.Emulator.Stats().Calls[emulator.EndpointIssue]; calls != 0 {
		t.Errorf("second backfill made %d GET issue calls, want 0", calls)
	}
	compareExports(t, live.dir, live.reference(t, live.Emulator.Keys()))
}

func TestBackfillWithLaggingSearchLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator test skipped in -short mode")
	}
	live := startLiveSite(t, 40, nil, nil)
	ctx := context.Background()
	must(t, live.Emulator.SetFaults(emulator.Faults{SearchLag: time.Hour}))
	// Issues created now stay out of search for an hour; their webhooks
	// bring them in, and reconcile asks for them by id.
	var keys []string
	for i := 0; i < 3; i++ {
		is, err := live.Emulator.Create("SUP", func(i *emulator.Issue) { i.Summary = "fresh" })
		must(t, err)
		keys = append(keys, is.Key)
	}
	live.settle(t)
	res, err := jobs.Backfill(ctx, live.Service.Client(), live.Service.Store(), live.Service.Processor(), jobs.BackfillOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Listed != 40 {
		t.Errorf("search listed %d, want the 40 old issues only (lagging index)", res.Listed)
	}
	live.settle(t)
	for _, k := range keys {
		if n := storedValue(t, live, "SELECT count(*) FROM issues WHERE issue_key = '"+k+"'"); n != "1" {
			t.Errorf("%s lost: not stored", k)
		}
	}
}

func TestRebuildRestoresIdenticalParquet(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator test skipped in -short mode")
	}
	live, before := publishedSite(t, 120)
	ctx := context.Background()

	// Drop every analyst row, then rebuild with the command.
	s, err := store.Open(ctx, app.StorePath(live.Config), store.Options{})
	must(t, err)
	for _, table := range []string{"issues", "comments", "attachments", "changelog", "issuelinks", "remote_links", "sla", "issue_fields"} {
		if _, err := s.DB().Exec("DELETE FROM " + table); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	environ := siteEnviron(live)
	out, errOut, code := runCmd(t, environ, "rebuild")
	if code != 0 || !strings.Contains(out, "rebuild: ") {
		t.Fatalf("rebuild: code %d\n%s\n%s", code, out, errOut)
	}
	compareExportsExact(t, live.dir, before)
}

// TestFailedRebuildPublishesNothing: a rebuild that fails part way has
// emptied the tables and refilled some; it must not export them, or months
// would lose rows in the analysts' files. Two issues' payloads that share a
// comment id (which a primary key refuses) make it fail.
func TestFailedRebuildPublishesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator test skipped in -short mode")
	}
	live, before := publishedSite(t, 60)
	ctx := context.Background()

	s, err := store.Open(ctx, app.StorePath(live.Config), store.Options{})
	must(t, err)
	var taken, dup, key string
	err = s.DB().QueryRow(`SELECT a.comment_id, b.comment_id, b.issue_key FROM comments a, comments b
		WHERE a.issue_key < b.issue_key ORDER BY a.issue_key, b.issue_key LIMIT 1`).Scan(&taken, &dup, &key)
	must(t, err)
	res, err := s.DB().Exec(`UPDATE raw_issues SET payload = replace(payload, '"id":"' || ? || '"', '"id":"' || ? || '"')
		WHERE issue_key = ? AND contains(payload, '"id":"' || ? || '"')`, dup, taken, key, dup)
	must(t, err)
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("comment %s of %s not found in its payload", dup, key)
	}
	s.Close()

	out, errOut, code := runCmd(t, siteEnviron(live), "rebuild", "--batch", "1")
	if code != 1 || !strings.Contains(out, "rebuild: failed after") || !strings.Contains(out, "nothing exported") {
		t.Fatalf("rebuild: code %d, want 1 and a line saying it failed and exported nothing\n%s\n%s", code, out, errOut)
	}
	compareExportsExact(t, live.dir, before)

	// Nothing else publishes the partial tables either.
	for _, args := range [][]string{{"export"}, {"snapshot"}} {
		out, errOut, code := runCmd(t, siteEnviron(live), args...)
		if code != 1 || !strings.Contains(errOut, "partly rebuilt") {
			t.Errorf("%s after a failed rebuild: code %d, want 1 and the reason\n%s\n%s", args[0], code, out, errOut)
		}
	}
	compareExportsExact(t, live.dir, before)
	if _, err := os.Stat(export.SnapshotPath(live.dir)); err == nil {
		t.Error("a snapshot of the partial tables was written")
	}

	// The cause removed, a rebuild completes and publishes as before.
	s, err = store.Open(ctx, app.StorePath(live.Config), store.Options{})
	must(t, err)
	_, err = s.DB().Exec(`UPDATE raw_issues SET payload = replace(payload, '"id":"' || ? || '"', '"id":"' || ? || '"') WHERE issue_key = ?`, taken, dup, key)
	must(t, err)
	s.Close()
	if out, errOut, code := runCmd(t, siteEnviron(live), "rebuild"); code != 0 {
		t.Fatalf("rebuild after the fix: code %d\n%s\n%s", code, out, errOut)
	}
	compareExportsExact(t, live.dir, before)
	if out, errOut, code := runCmd(t, siteEnviron(live), "export"); code != 0 {
		t.Errorf("export after a completed rebuild: code %d\n%s\n%s", code, out, errOut)
	}
}

// publishedSite backfills a site of n issues, waits until it is exported,
// stops its serve and returns it with a copy of its published files (a data
// dir holding parquet/jira) to compare later exports with.
func publishedSite(t *testing.T, n int) (*liveSite, string) {
	t.Helper()
	live := startLiveSite(t, n, frozen(), nil)
	if _, err := jobs.Backfill(context.Background(), live.Service.Client(), live.Service.Store(), live.Service.Processor(), jobs.BackfillOptions{}); err != nil {
		t.Fatal(err)
	}
	live.settle(t)
	// Copied once serve has stopped: a settled exporter may still be
	// replacing the manifest, whose temporary file the walk would race.
	must(t, live.Service.Close())
	before := t.TempDir()
	copyTree(t, export.Root(live.dir), filepath.Join(before, "parquet", "jira"))
	return live, before
}

// siteEnviron is the environment of a site's serve, for running commands
// against its data directory (serve must be stopped).
func siteEnviron(l *liveSite) []string {
	return []string{"JIRADUCK_DATA_DIR=" + l.dir, "JIRA_BASE_URL=" + l.Config.JiraBaseURL, "JIRA_EMAIL=" + l.Config.JiraEmail,
		"JIRA_API_TOKEN=" + l.Config.JiraAPIToken.Reveal(), "JIRADUCK_LOG_FORMAT=json", "JIRADUCK_LOG_LEVEL=warn"}
}

// compareExportsExact is compareExports with no column left out.
func compareExportsExact(t *testing.T, got, want string) {
	t.Helper()
	saved := excluded
	excluded = map[string]string{}
	defer func() { excluded = saved }()
	compareExports(t, got, want)
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestImportOfBrokerLayoutEqualsBackfill(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator test skipped in -short mode")
	}
	live := startLiveSite(t, 60, frozen(), nil)
	ctx := context.Background()
	if _, err := jobs.Backfill(ctx, live.Service.Client(), live.Service.Store(), live.Service.Processor(), jobs.BackfillOptions{}); err != nil {
		t.Fatal(err)
	}
	live.settle(t)

	// The Python broker's layout, built from the emulator's state: the issue
	// with every comment and history embedded, plus its private keys.
	raw := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(raw, "issues"), 0o755))
	for _, key := range live.Emulator.Keys() {
		st, err := live.Emulator.State(key)
		must(t, err)
		// Raw values keep Jira's key order, as the broker's files do.
		var issue map[string]json.RawMessage
		must(t, json.Unmarshal(st.Issue, &issue))
		var fields map[string]json.RawMessage
		must(t, json.Unmarshal(issue["fields"], &fields))
		rawJSON := func(v any) json.RawMessage {
			b, err := json.Marshal(v)
			must(t, err)
			return b
		}
		fields["comment"] = rawJSON(map[string]any{"startAt": 0, "maxResults": len(st.Comments), "total": len(st.Comments), "comments": st.Comments})
		issue["fields"] = rawJSON(fields)
		issue["changelog"] = rawJSON(map[string]any{"startAt": 0, "maxResults": len(st.Changelog), "total": len(st.Changelog), "histories": st.Changelog})
		issue["_remote_links"] = st.RemoteLinks
		issue["_comments_incomplete"] = rawJSON(false)
		b, err := json.Marshal(issue)
		must(t, err)
		must(t, os.WriteFile(filepath.Join(raw, "issues", key+".json"), b, 0o644))
		is, _ := live.Emulator.Issue(key)
		for _, a := range is.Attachments {
			dir := filepath.Join(raw, "attachments", key)
			must(t, os.MkdirAll(dir, 0o755))
			src := filepath.Join(live.dir, "attachments", key)
			entries, _ := os.ReadDir(src)
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), a.ID+"_") {
					b, _ := os.ReadFile(filepath.Join(src, e.Name()))
					must(t, os.WriteFile(filepath.Join(dir, a.ID+"_"+a.Filename), b, 0o644))
				}
			}
		}
	}
	issueCalls := live.Emulator.Stats().Calls[emulator.EndpointIssue]
	// Broken files are refused and named; everything else is imported, and
	// the command exits 1 at the end.
	must(t, os.WriteFile(filepath.Join(raw, "issues", "SUP-99999.json"), []byte(`{"key": "SUP-`), 0o644))
	must(t, os.WriteFile(filepath.Join(raw, "issues", "not-a-key.json"), []byte(`{}`), 0o644))
	// An older copy of an issue under a former key (kept by the broker
	// after a move) is superseded by the newer file, not refused.
	first := live.Emulator.Keys()[0]
	var stale map[string]any
	b, err := os.ReadFile(filepath.Join(raw, "issues", first+".json"))
	must(t, err)
	must(t, json.Unmarshal(b, &stale))
	stale["key"] = "OLD-1"
	stale["fields"].(map[string]any)["updated"] = "2001-01-01T00:00:00.000+0000"
	b, err = json.Marshal(stale)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(raw, "issues", "OLD-1.json"), b, 0o644))

	dir := t.TempDir()
	environ := siteEnviron(live)
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
	saved := excluded
	excluded = map[string]string{"issues": "EXCLUDE (synced_at)", "sla": "EXCLUDE (observed_at)"}
	defer func() { excluded = saved }()
	compareExports(t, dir, live.dir)
}

func TestSnapshotQueryAndSQLWhileServing(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator test skipped in -short mode")
	}
	live := startLiveSite(t, 50, nil, nil)
	ctx := context.Background()
	if _, err := jobs.Backfill(ctx, live.Service.Client(), live.Service.Store(), live.Service.Processor(), jobs.BackfillOptions{}); err != nil {
		t.Fatal(err)
	}
	live.settle(t)
	res, err := export.Snapshot(ctx, live.Service.Store(), export.SnapshotPath(live.dir))
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows["issues"] != 50 {
		t.Errorf("snapshot issues: got %d, want 50", res.Rows["issues"])
	}
	// Another process opens it read-only while serve runs.
	if os.Getenv("JIRADUCK_TEST_READ_SNAPSHOT") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSnapshotQueryAndSQLWhileServing$")
		cmd.Env = append(os.Environ(), "JIRADUCK_TEST_READ_SNAPSHOT="+export.SnapshotPath(live.dir))
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "snapshot-ok issues=50 meta=8") {
			t.Errorf("reading the snapshot in another process: %v\n%s", err, out)
		}
	}

	environ := append(siteEnviron(live), "JIRADUCK_ADMIN_TOKEN="+app.SiteAdmin, "JIRADUCK_LISTEN="+live.Service.Addr())
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
	_, errOut, code = runProcess(t, append(siteEnviron(live), "JIRADUCK_LISTEN="+live.Service.Addr()), "sql", "SELECT 1")
	if code != 1 || !strings.Contains(errOut, "JIRADUCK_ADMIN_TOKEN") {
		t.Errorf("sql without a token during serve: code %d err %q", code, errOut)
	}
	_, errOut, code = runProcess(t, append(siteEnviron(live), "JIRADUCK_ADMIN_TOKEN=wrong", "JIRADUCK_LISTEN="+live.Service.Addr()), "sql", "SELECT 1")
	if code != 1 || !strings.Contains(errOut, "admin token") {
		t.Errorf("sql with a wrong token: code %d err %q", code, errOut)
	}
	out, errOut, code = runProcess(t, environ, "query", "--format", "csv", "SELECT count(*) AS n FROM jira_issues")
	if code != 0 || !strings.Contains(out, "n\n50\n") {
		t.Errorf("query from another process during serve: code %d out %q err %q", code, out, errOut)
	}
	must(t, live.Service.Close())
	out, errOut, code = runCmd(t, siteEnviron(live), "sql", "--format", "csv", "SELECT count(*) AS n FROM raw_issues")
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
	os.Exit(m.Run())
}

// runProcess runs jiraduck as a separate process (this test binary playing
// it), for what only another process sees: file locks.
func runProcess(t *testing.T, environ []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append([]string{"JIRADUCK_TEST_AS_MAIN=1", "PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, environ...)
	cmd.Dir = t.TempDir()
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

// TestBatchExportCheckpointsFirst: a batch command checkpoints before it
// exports, so that what it wrote is not pinned in DuckDB's memory while the
// partitions are written (the exports after a 1,000,000-issue rebuild ran
// out of memory without it). The WAL is empty once the export has run.
func TestBatchExportCheckpointsFirst(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg, err := config.FromMap(map[string]string{"JIRADUCK_DATA_DIR": t.TempDir(), "JIRADUCK_LOG_LEVEL": "warn"})
	must(t, err)
	b, err := app.OpenBatch(ctx, cfg, app.NewLogger(cfg, io.Discard), "test", app.BatchOptions{})
	must(t, err)
	defer b.Close()
	_, err = b.Store.StartRun(ctx, "test", nil)
	must(t, err)
	wal := app.StorePath(cfg) + ".wal"
	if st, err := os.Stat(wal); err != nil || st.Size() == 0 {
		t.Fatalf("the WAL holds nothing to checkpoint (%v)", err)
	}
	_, err = b.ExportDirty()
	must(t, err)
	if st, err := os.Stat(wal); err == nil && st.Size() > 0 {
		t.Errorf("the WAL holds %d bytes after the export, want them checkpointed first", st.Size())
	}
}
