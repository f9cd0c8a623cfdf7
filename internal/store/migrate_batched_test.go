package store

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestMigrationWithinASmallPool: a store written before migration 0004,
// whose payloads take several times DuckDB's buffer pool, is migrated to the
// current version within a small pool, every payload read once. Run as one
// statement over raw_issues, 0004 ran out of memory: DuckDB parsed the
// payloads of a whole vector of rows into one arena from the pool.
func TestMigrationWithinASmallPool(t *testing.T) {
	t.Parallel()
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
	if _, _, err := s.migrate(ctx, all[:3]); err != nil {
		t.Fatal(err)
	}
	// Payloads of about 40 KB of small values, as Jira's are (comments,
	// histories, users): 120 MB in all, twice the pool. Issue i has
	// i % 30 worklogs and embeds at most 21 of them.
	const n = 3000
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO raw_issues (issue_id, issue_key, created_at, payload, comments_state,
			changelog_state, remote_links_state, sla_state, attachments_state, incomplete, fetched_at)
		SELECT i::VARCHAR, 'SUP-' || i, TIMESTAMPTZ '2024-01-01 00:00:00+00', '{"issue":{"id":"' || i || '","key":"SUP-' || i ||
			'","fields":{"summary":"issue ' || i || '","worklog":{"startAt":0,"total":' || (i % 30) || ',"worklogs":[' ||
			repeat('{"id":"' || i || '","timeSpentSeconds":60},', least(i % 30, 20)) || '{"id":"0"}]},"comment":{"comments":[' ||
			repeat('{"id":"' || i || '","author":{"accountId":"5b10a2844c20165700ede21g","active":true},' ||
				'"body":{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"fine"}]}]},' ||
				'"created":"2024-01-01T10:00:00.000+0000"},', 160) || '{"id":"0"}]}}}}',
			'complete', 'complete', 'complete', 'complete', 'complete', false, now()
		FROM range(1, ?) t(i)`, n+1); err != nil {
		t.Fatal(err)
	}
	var payloadBytes int64
	if err := s.DB().QueryRowContext(ctx, `SELECT sum(strlen(payload)) FROM raw_issues`).Scan(&payloadBytes); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	const limit = "64MB"
	if payloadBytes < 100e6 {
		t.Fatalf("payloads: got %d bytes, want at least 100 MB against a %s pool", payloadBytes, limit)
	}

	s, err = Open(ctx, path, Options{MemoryLimit: limit})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v, applied, err := s.Migrate(ctx)
	if err != nil {
		t.Fatalf("migrate %d MB of payloads within %s: %v", payloadBytes/1e6, limit, err)
	}
	if want := all[len(all)-1].Version; v != want || len(applied) != len(all)-3 {
		t.Errorf("got version %d with %v applied, want %d with %d applied", v, applied, want, len(all)-3)
	}
	wantPartial := 0
	for i := 1; i <= n; i++ {
		if total, embedded := i%30, min(i%30, 20)+1; total > embedded {
			wantPartial++
		}
	}
	var partial, complete, incomplete, unset int
	if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FILTER (worklogs_state = 'partial'), count(*) FILTER (worklogs_state = 'complete'),
		count(*) FILTER (incomplete), count(*) FILTER (worklogs_state IS NULL) FROM raw_issues`).Scan(&partial, &complete, &incomplete, &unset); err != nil {
		t.Fatal(err)
	}
	if partial != wantPartial || complete != n-wantPartial || incomplete != wantPartial || unset != 0 {
		t.Errorf("worklog states: got %d partial, %d complete, %d incomplete, %d unset; want %d, %d, %d, 0",
			partial, complete, incomplete, unset, wantPartial, n-wantPartial, wantPartial)
	}
}

// TestMigrationSteps: a migration's SQL is split at its batched statements,
// which must select their rows with $1 and $2.
func TestMigrationSteps(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, sql string
		want      []migrationStep
		err       string
	}{
		{"plain", "CREATE TABLE a (x INTEGER);\nCREATE TABLE b (x INTEGER);\n",
			[]migrationStep{{sql: "CREATE TABLE a (x INTEGER);\nCREATE TABLE b (x INTEGER);\n"}}, ""},
		{"batched between plain", "CREATE TABLE a (x INTEGER);\n-- batched: raw_issues.payload\nUPDATE a SET x = 1\nWHERE rowid >= $1 AND rowid < $2;\nDROP TABLE a;\n",
			[]migrationStep{{sql: "CREATE TABLE a (x INTEGER);\n"},
				{sql: "\nUPDATE a SET x = 1\nWHERE rowid >= $1 AND rowid < $2;", table: "raw_issues", column: "payload"},
				{sql: "\nDROP TABLE a;\n"}}, ""},
		{"no range", "-- batched: raw_issues.payload\nUPDATE a SET x = 1;\n", nil, "$1 and $2"},
		{"no end", "-- batched: raw_issues.payload\nUPDATE a SET x = 1 WHERE rowid >= $1 AND rowid < $2\n", nil, "semicolon"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := migrationSteps(tc.sql)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want an error about %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d steps %q, want %d", len(got), got, len(tc.want))
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("step %d: got %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// TestRowRanges: the ranges cover every row once, each within the bound
// unless one row alone is past it.
func TestRowRanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTemp(t)
	if _, err := s.DB().ExecContext(ctx, `CREATE TABLE t AS SELECT i, CASE WHEN i = 5 THEN repeat('x', 100) WHEN i = 8 THEN NULL
		ELSE repeat('x', 10) END AS v FROM range(10) r(i)`); err != nil {
		t.Fatal(err)
	}
	got, err := rowRanges(ctx, s.DB(), "t", "v", 35)
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]int64{{0, 3}, {3, 5}, {5, 6}, {6, 10}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

// TestFailedBatchedMigrationRollsBack: a migration whose batched statement
// fails in a later batch, after earlier ones changed rows, leaves the store
// as it was: its statements before and its batches are rolled back
// together, and it is not recorded.
func TestFailedBatchedMigrationRollsBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTemp(t)
	// 2,000 rows of 4 KB: two batches at least; the last row fails.
	migrations := []Migration{
		{Version: 1, Name: "rows", SQL: "CREATE TABLE t AS SELECT i, repeat('x', 4096) AS v FROM range(2000) r(i);"},
		{Version: 2, Name: "broken", SQL: "ALTER TABLE t ADD COLUMN y INTEGER;\n-- batched: t.v\n" +
			"UPDATE t SET y = CASE WHEN i = 1999 THEN error('no more') ELSE 1 END WHERE rowid >= $1 AND rowid < $2;\n"},
	}
	v, applied, err := s.migrate(ctx, migrations)
	var me *MigrationError
	if !errors.As(err, &me) || me.Version != 2 || me.Before != 1 || !strings.Contains(err.Error(), "no more") {
		t.Fatalf("got %v, want the failure of 0002_broken from version 1", err)
	}
	if v != 1 || !slices.Equal(applied, []int{1}) {
		t.Errorf("got version %d applied %v, want 1 and [1]", v, applied)
	}
	ranges, err := rowRanges(ctx, s.DB(), "t", "v", migrationBatchBytes)
	if err != nil || len(ranges) < 2 {
		t.Fatalf("batches of the failed statement: got %v (%v), want at least 2", ranges, err)
	}
	var columns int
	if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM duckdb_columns() WHERE table_name = 't' AND column_name = 'y'`).Scan(&columns); err != nil {
		t.Fatal(err)
	}
	if columns != 0 {
		t.Errorf("column y of the failed migration: got %d, want it rolled back", columns)
	}
}

// TestMigrationErrorSaysWhatToDo: a failed migration is reported on one
// line that says the store was rolled back and what to do.
func TestMigrationErrorSaysWhatToDo(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, cause, want string
	}{
		{"out of memory", "Out of Memory Error: failed to allocate data of size 16.0 MiB (228.9 MiB/244.1 MiB used)\n\nPossible solutions:\n* x",
			"JIRADUCK_DUCKDB_MEMORY_LIMIT raised"},
		{"disk full", "IO Error: Could not write file \"jiraduck.duckdb.tmp/x\": No space left on device", "free space"},
		{"other", "Binder Error: no such column", "previous release"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := &MigrationError{Version: 4, Name: "worklogs", Before: 3, Err: errors.New(tc.cause)}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("got %q, want one line", msg)
			}
			for _, want := range []string{"apply 0004_worklogs", "rolled back", "version 3", tc.want} {
				if !strings.Contains(msg, want) {
					t.Errorf("got %q, want it to say %q", msg, want)
				}
			}
		})
	}
}
