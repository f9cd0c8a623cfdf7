package main

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/internal/export"
	"github.com/jiraduck/jiraduck/internal/intake"
	"github.com/jiraduck/jiraduck/internal/jobs"
	"github.com/jiraduck/jiraduck/internal/store"
)

// stoppedSite is a backfilled site whose serve has stopped, so that batch
// commands open the store directly: what a user runs them on.
func stoppedSite(t *testing.T) *apptest.LiveSite {
	t.Helper()
	live := apptest.StartLiveSite(t, 20, nil, nil)
	if _, err := jobs.Backfill(context.Background(), live.Service.Client(), live.Service.Store(), live.Service.Processor(), jobs.BackfillOptions{}); err != nil {
		t.Fatal(err)
	}
	live.Settle(t)
	apptest.Must(t, live.Service.Close())
	return live
}

// aPartition is one published partition of the issues table.
func aPartition(t *testing.T, dir string) string {
	t.Helper()
	parts, err := filepath.Glob(filepath.Join(export.Root(dir), "issues", "month=*", "data.parquet"))
	if err != nil || len(parts) == 0 {
		t.Fatalf("no issues partition under %s: %v", dir, err)
	}
	return parts[0]
}

// storeIntact checks that the store still opens and holds its issues, and
// that the partition is as it was.
func storeIntact(t *testing.T, live *apptest.LiveSite, partition, partitionSum string) {
	t.Helper()
	out, errOut, code := runCmd(t, apptest.SiteEnviron(live), "sql", "--format", "csv", "SELECT count(*) AS n FROM issues")
	if code != 0 || out != "n\n20\n" {
		t.Errorf("the store after: code %d out %q err %q, want 20 issues", code, out, errOut)
	}
	if got := apptest.FileSHA256(t, partition); got != partitionSum {
		t.Errorf("%s changed", partition)
	}
}

func TestQueryRunsReadStatementsOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator test skipped in -short mode")
	}
	t.Parallel()
	live := stoppedSite(t)
	environ := apptest.SiteEnviron(live)
	partition := aPartition(t, live.Dir)
	sum := apptest.FileSHA256(t, partition)
	storeFile := filepath.Join(live.Dir, store.FileName)
	written := filepath.Join(t.TempDir(), "x.csv")
	q := store.Quote
	cases := []struct{ name, sql, says string }{
		{"copy over a partition", "COPY (SELECT * FROM jira_issues LIMIT 1) TO " + q(partition) + " (FORMAT parquet)", "COPY"},
		{"copy out", "COPY (SELECT 1) TO " + q(written), "refused"},
		{"attach the store and delete", "ATTACH " + q(storeFile) + " AS s; DELETE FROM s.issues", "refused"},
		{"attach in memory", "ATTACH ':memory:' AS m", "ATTACH"},
		{"detach", "DETACH memory", "DETACH"},
		{"install", "INSTALL httpfs", "INSTALL/LOAD"},
		{"load", "LOAD httpfs", "INSTALL/LOAD"},
		{"set", "SET threads = 1", "SET"},
		{"set the sandbox off", "SET enable_external_access = true", "SET"},
		{"reset the lock", "RESET lock_configuration", "SET"},
		{"pragma", "PRAGMA threads = 1", "SET"},
		{"export", "EXPORT DATABASE " + q(filepath.Join(t.TempDir(), "dump")), "refused"},
		{"create", "CREATE TABLE t AS SELECT 1", "CREATE"},
		{"create or replace a view", "CREATE OR REPLACE VIEW jira_issues AS SELECT 1 AS issue_key", "CREATE"},
		{"insert", "CREATE TEMP TABLE t (a INT); INSERT INTO t VALUES (1)", "CREATE"},
		{"update", "UPDATE jira_issues SET summary = 'x'", "refused"},
		{"delete", "DELETE FROM jira_issues", "refused"},
		{"drop", "DROP VIEW jira_issues", "DROP"},
		{"call checkpoint", "CALL checkpoint()", "CALL"},
		{"transaction", "BEGIN TRANSACTION", "BEGIN"},
		{"explain analyze of a copy", "EXPLAIN ANALYZE COPY (SELECT 1) TO " + q(partition), "EXPLAIN of COPY"},
		{"read /etc/passwd", "SELECT * FROM read_text('/etc/passwd')", "Permission Error"},
		{"read the store", "SELECT * FROM read_blob(" + q(storeFile) + ")", "Permission Error"},
		{"read then copy", "SELECT 1; COPY (SELECT 1) TO " + q(partition), "statement 2 of 2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, args := range [][]string{{"query", tc.sql}, {"query", "--format", "parquet", "--out", filepath.Join(t.TempDir(), "o.parquet"), tc.sql}} {
				out, errOut, code := runCmd(t, environ, args...)
				if args[1] == "--format" && strings.Contains(tc.sql, ";") {
					// Several statements cannot become one Parquet file.
					tc.says = "refused"
				}
				if code != 2 || !strings.Contains(errOut, tc.says) || !strings.Contains(errOut, "query: ") {
					t.Errorf("%v: got code %d err %q out %q, want 2 and an error naming %q", args[:len(args)-1], code, errOut, out, tc.says)
				}
			}
		})
	}
	if _, err := os.Stat(written); err == nil {
		t.Errorf("COPY wrote %s", written)
	}
	storeIntact(t, live, partition, sum)
	for _, ok := range []string{"SELECT count(*) AS n FROM jira_issues", "FROM jira_issues SELECT count(*) AS n", "DESCRIBE jira_issues", "SHOW TABLES",
		"EXPLAIN SELECT * FROM jira_issues", "SELECT 1 AS a; SELECT count(*) AS n FROM jira_comments"} {
		if out, errOut, code := runCmd(t, environ, "query", ok); code != 0 {
			t.Errorf("%s: got code %d out %q err %q, want 0", ok, code, out, errOut)
		}
	}
}

func TestOutRefusesTheDataDirectorysFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator test skipped in -short mode")
	}
	t.Parallel()
	live := stoppedSite(t)
	environ := apptest.SiteEnviron(live)
	partition := aPartition(t, live.Dir)
	sum := apptest.FileSHA256(t, partition)
	storeFile := filepath.Join(live.Dir, store.FileName)
	link := filepath.Join(t.TempDir(), "looks-harmless.duckdb")
	apptest.Must(t, os.Symlink(storeFile, link))
	dirLink := filepath.Join(t.TempDir(), "data")
	apptest.Must(t, os.Symlink(live.Dir, dirLink))
	hard := filepath.Join(live.Dir, "hardlink.duckdb")
	apptest.Must(t, os.Link(storeFile, hard))
	targets := []struct{ name, path, what string }{
		{"the store", storeFile, "the store"},
		{"the store, relative with ..", filepath.Join(live.Dir, "..", filepath.Base(live.Dir), store.FileName), "the store"},
		{"a symbolic link to the store", link, "the store"},
		{"the store through a linked folder", filepath.Join(dirLink, store.FileName), "the store"},
		{"a hard link to the store", hard, "the store"},
		{"the WAL", storeFile + ".wal", "write-ahead log"},
		{"the journal", filepath.Join(live.Dir, intake.JournalName), "webhook journal"},
		{"a partition", partition, "Parquet tree"},
		{"a new file in the parquet tree", filepath.Join(live.Dir, "parquet", "new.duckdb"), "Parquet tree"},
		{"an attachment", filepath.Join(live.Dir, "attachments", "X-1", "1_a.txt"), "attachments"},
	}
	for _, tc := range targets {
		t.Run(tc.name, func(t *testing.T) {
			for _, args := range [][]string{
				{"snapshot", "--out", tc.path},
				{"snapshot", "--out", tc.path, "--force"},
				{"query", "--out", tc.path, "--format", "csv", "SELECT 1"},
				{"query", "--out", tc.path, "--force", "--format", "parquet", "SELECT 1"},
			} {
				out, errOut, code := runCmd(t, environ, args...)
				if code != 2 || !strings.Contains(errOut, tc.what) {
					t.Errorf("%v: got code %d err %q out %q, want 2 naming %s", args, code, errOut, out, tc.what)
				}
			}
		})
	}
	storeIntact(t, live, partition, sum)

	t.Run("existing file", func(t *testing.T) {
		dir := t.TempDir()
		existing := filepath.Join(dir, "mine.txt")
		apptest.Must(t, os.WriteFile(existing, []byte("keep me\n"), 0o644))
		for _, args := range [][]string{
			{"snapshot", "--out", existing},
			{"query", "--out", existing, "SELECT 1"},
			{"query", "--out", existing, "--format", "parquet", "SELECT 1"},
		} {
			_, errOut, code := runCmd(t, environ, args...)
			if code != 2 || !strings.Contains(errOut, "--force") {
				t.Errorf("%v: got code %d err %q, want 2 pointing at --force", args, code, errOut)
			}
			if b, _ := os.ReadFile(existing); string(b) != "keep me\n" {
				t.Fatalf("%v replaced the existing file without --force", args)
			}
		}
		if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) != 0 {
			t.Errorf("staging files left: %v", left)
		}
		out, errOut, code := runCmd(t, environ, "query", "--out", existing, "--force", "--format", "csv", "SELECT count(*) AS n FROM jira_issues")
		if b, _ := os.ReadFile(existing); code != 0 || string(b) != "n\n20\n" {
			t.Errorf("query --force: code %d out %q err %q, file %q; want it replaced by n,20", code, out, errOut, b)
		}
		snap := filepath.Join(dir, "snap.duckdb")
		for i, args := range [][]string{{"snapshot", "--out", snap}, {"snapshot", "--out", snap, "--force"}} {
			if _, errOut, code := runCmd(t, environ, args...); code != 0 {
				t.Fatalf("run %d %v: code %d err %q", i+1, args, code, errOut)
			}
		}
		pq := filepath.Join(dir, "issues.parquet")
		if _, errOut, code := runCmd(t, environ, "query", "--format", "parquet", "--out", pq, "SELECT issue_key FROM jira_issues -- a trailing comment"); code != 0 {
			t.Fatalf("query --format parquet: code %d err %q", code, errOut)
		}
		db, err := sql.Open("duckdb", "")
		apptest.Must(t, err)
		defer db.Close()
		var snapIssues, pqRows int
		apptest.Must(t, db.QueryRow("SELECT count(*) FROM read_parquet(?)", pq).Scan(&pqRows))
		_, err = db.Exec("ATTACH '" + snap + "' AS snap (READ_ONLY)")
		apptest.Must(t, err)
		apptest.Must(t, db.QueryRow("SELECT count(*) FROM snap.issues").Scan(&snapIssues))
		if snapIssues != 20 || pqRows != 20 {
			t.Errorf("snapshot issues %d, parquet rows %d: want 20 and 20", snapIssues, pqRows)
		}
	})
	t.Run("default snapshot is replaced", func(t *testing.T) {
		for i := range 2 {
			if _, errOut, code := runCmd(t, environ, "snapshot"); code != 0 {
				t.Fatalf("snapshot %d: code %d err %q", i+1, code, errOut)
			}
		}
		if _, errOut, code := runCmd(t, environ, "snapshot", "--out", export.SnapshotPath(live.Dir)); code != 0 {
			t.Fatalf("snapshot --out the default path: code %d err %q", code, errOut)
		}
	})
}

// TestWritersWhileServing: a command that writes the store refuses it while
// serve holds it, with exit code 1 and a message that says what to do.
func TestWritersWhileServing(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator test skipped in -short mode")
	}
	t.Parallel()
	live := apptest.StartLiveSite(t, 5, nil, nil)
	path := filepath.Join(live.Dir, store.FileName)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"migrate"}, "jiraduck: migrate: " + path + " is held by a running jiraduck serve; stop it first (serve applies pending migrations itself when it starts)\n"},
		{[]string{"export"}, "jiraduck: export: " + path + " is held by a running jiraduck serve, which exports every change itself\n"},
		{[]string{"rebuild"}, "jiraduck: rebuild: " + path + " is held by a running jiraduck serve; stop it first (serve keeps the store fresh by itself)\n"},
		{[]string{"backfill"}, "jiraduck: backfill: " + path + " is held by a running jiraduck serve; stop it first (serve keeps the store fresh by itself)\n"},
	} {
		t.Run(c.args[0], func(t *testing.T) {
			_, errOut, code := runProcess(t, apptest.SiteEnviron(live), c.args...)
			if code != 1 || !strings.HasSuffix(errOut, c.want) {
				t.Errorf("%s during serve: got code %d err %q, want 1 and %q", c.args[0], code, errOut, c.want)
			}
		})
	}
}
