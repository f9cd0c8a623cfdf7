package store

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files")

func openTemp(t testing.TB) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "data", FileName), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// migratedBefore opens a new store with the migrations below version
// applied: a store an older release left, for a migration's test.
func migratedBefore(t testing.TB, version int) *Store {
	t.Helper()
	s := openTemp(t)
	all, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var before []Migration
	for _, m := range all {
		if m.Version < version {
			before = append(before, m)
		}
	}
	if _, _, err := s.migrate(context.Background(), before); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMigrateGoldenSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTemp(t)
	version, applied, err := s.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	all, _ := Migrations()
	if last := all[len(all)-1].Version; version != last || len(applied) != len(all) {
		t.Fatalf("got version %d applied %v, want %d and all", version, applied, last)
	}
	dump, err := s.SchemaDump(ctx)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "schema.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(dump), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/store -update)", err)
	}
	if dump != string(want) {
		t.Errorf("schema differs from %s (run with -update after checking):\n%s", golden, lineDiff(string(want), dump))
	}
}

func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			b.WriteString("want: " + a + "\n got: " + c + "\n")
		}
	}
	return b.String()
}

func TestMigrateIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	v1, _, err := s.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v2, applied, err := s.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v2 != v1 || len(applied) != 0 {
		t.Errorf("second run: got version %d applied %v, want %d and none", v2, applied, v1)
	}
	var n int
	if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	all, _ := Migrations()
	if n != len(all) {
		t.Errorf("schema_migrations rows: got %d, want %d", n, len(all))
	}
}

func TestEveryDesignTableExists(t *testing.T) {
	t.Parallel()
	s := migrated(t)
	tables, err := s.Tables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, n := range tables {
		have[n] = true
	}
	for _, want := range []string{"issues", "comments", "attachments", "changelog", "issuelinks", "remote_links",
		"sla", "issue_fields", "raw_issues", "fields", "webhook_events", "sync_runs", "schema_migrations"} {
		if !have[want] {
			t.Errorf("table %s missing; have %v", want, tables)
		}
	}
}

func TestFailedMigrationRollsBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTemp(t)
	bad := []Migration{
		{Version: 1, Name: "ok", SQL: "CREATE TABLE a (x INTEGER);"},
		{Version: 2, Name: "broken", SQL: "CREATE TABLE b (x INTEGER); SELECT * FROM missing_table;"},
	}
	v, applied, err := s.migrate(ctx, bad)
	if err == nil || !strings.Contains(err.Error(), "apply 0002_broken") {
		t.Fatalf("got %v, want an error naming 0002_broken", err)
	}
	if v != 1 || len(applied) != 1 {
		t.Errorf("got version %d applied %v, want 1 and [1]", v, applied)
	}
	var n int
	if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM duckdb_tables() WHERE table_name = 'b'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("table b of the failed migration exists; want it rolled back")
	}
}

// TestMigrationFilledInLaterIsApplied: a store migrated by a binary that
// knew 0001 and 0003 gets 0002 from the binary that adds it, though its
// highest recorded version is already past it.
func TestMigrationFilledInLaterIsApplied(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTemp(t)
	first := []Migration{
		{Version: 1, Name: "a", SQL: "CREATE TABLE a (x INTEGER);"},
		{Version: 3, Name: "c", SQL: "CREATE TABLE c (x INTEGER);"},
	}
	if _, applied, err := s.migrate(ctx, first); err != nil || !slices.Equal(applied, []int{1, 3}) {
		t.Fatalf("first binary: got applied %v (%v), want [1 3]", applied, err)
	}
	later := []Migration{first[0], {Version: 2, Name: "b", SQL: "CREATE TABLE b (x INTEGER);"}, first[1]}
	v, applied, err := s.migrate(ctx, later)
	if err != nil || v != 3 || !slices.Equal(applied, []int{2}) {
		t.Fatalf("later binary: got version %d applied %v (%v), want 3 and [2]", v, applied, err)
	}
	if _, err := s.DB().ExecContext(ctx, "SELECT * FROM b"); err != nil {
		t.Errorf("table of the filled-in migration: %v", err)
	}
	if _, applied, err := s.migrate(ctx, later); err != nil || len(applied) != 0 {
		t.Errorf("again: got applied %v (%v), want none", applied, err)
	}
}

func TestPendingMigrations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := migrated(t)
	if p, err := s.PendingMigrations(ctx); err != nil || len(p) != 0 {
		t.Fatalf("migrated store: got pending %v (%v), want none", p, err)
	}
	if _, err := s.DB().ExecContext(ctx, `DELETE FROM schema_migrations WHERE version = 2`); err != nil {
		t.Fatal(err)
	}
	if p, err := s.PendingMigrations(ctx); err != nil || !slices.Equal(p, []int{2}) {
		t.Errorf("with 0002 unrecorded: got pending %v (%v), want [2]", p, err)
	}
}

func TestNewerDatabaseRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := migrated(t)
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO schema_migrations VALUES (999, 'future', now())`); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Migrate(ctx); err == nil || !strings.Contains(err.Error(), "newer than this binary") {
		t.Errorf("got %v, want a refusal", err)
	}
}

func TestLoadMigrationsChecksNumbering(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		files   fstest.MapFS
		wantErr string
	}{
		{"gap", fstest.MapFS{"0001_a.sql": {}, "0003_c.sql": {}}, ""},
		{"duplicate", fstest.MapFS{"0001_a.sql": {}, "0001_b.sql": {}}, "share version 1"},
		{"ok", fstest.MapFS{"0001_a.sql": {}, "0002_b.sql": {}, "README.md": {}}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadMigrations(tc.files)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("got %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestEnsureIssueColumns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := migrated(t)
	cols := []Column{{"severity", "VARCHAR"}, {"time_to_triage_breached", "BOOLEAN"}}
	for i := 0; i < 2; i++ {
		if err := s.EnsureIssueColumns(ctx, cols); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	var n int
	if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM duckdb_columns() WHERE table_name = 'issues' AND column_name IN ('severity', 'time_to_triage_breached')`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("got %d promoted columns, want 2", n)
	}
	if err := s.EnsureIssueColumns(ctx, []Column{{"x; DROP TABLE issues", "VARCHAR"}}); err == nil {
		t.Error("a hostile column name was accepted")
	}
}

func TestWithTx(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := migrated(t)
	count := func() int {
		var n int
		if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM fields`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	insert := func(tx *Tx, id string) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO fields (field_id, name, custom, fetched_at) VALUES (?, 'n', true, now())`, id)
		return err
	}
	t.Run("commit", func(t *testing.T) {
		if err := s.WithTx(ctx, func(tx *Tx) error { return insert(tx, "a") }); err != nil {
			t.Fatal(err)
		}
		if got := count(); got != 1 {
			t.Errorf("got %d rows, want 1", got)
		}
	})
	t.Run("error rolls back", func(t *testing.T) {
		boom := errors.New("boom")
		err := s.WithTx(ctx, func(tx *Tx) error {
			if err := insert(tx, "b"); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("got %v, want boom", err)
		}
		if got := count(); got != 1 {
			t.Errorf("got %d rows, want 1", got)
		}
	})
	t.Run("failed statement rolls back", func(t *testing.T) {
		err := s.WithTx(ctx, func(tx *Tx) error {
			if err := insert(tx, "c"); err != nil {
				return err
			}
			return insert(tx, "a") // duplicate key
		})
		if err == nil {
			t.Fatal("got nil, want a duplicate key error")
		}
		if got := count(); got != 1 {
			t.Errorf("got %d rows, want 1", got)
		}
	})
	t.Run("panic rolls back", func(t *testing.T) {
		func() {
			defer func() { _ = recover() }()
			_ = s.WithTx(ctx, func(tx *Tx) error {
				if err := insert(tx, "d"); err != nil {
					return err
				}
				panic("boom")
			})
		}()
		if got := count(); got != 1 {
			t.Errorf("got %d rows, want 1", got)
		}
	})
}

func TestFileModes(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "nested", "data")
	s, err := Open(context.Background(), filepath.Join(dir, FileName), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != 0o640 {
		t.Errorf("file mode: got %o, want 640", got)
	}
}

func TestRunSQL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := migrated(t)
	res, err := s.RunSQL(ctx, `SELECT 1 AS n, 'x' AS s, [1,2] AS l, TIMESTAMPTZ '2024-03-01 10:00:00+02' AS t, NULL AS z`, 0)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Columns, ",") != "n,s,l,t,z" {
		t.Errorf("columns: got %v", res.Columns)
	}
	row := res.Rows[0]
	if row[3] != "2024-03-01T08:00:00Z" {
		t.Errorf("timestamp: got %v, want 2024-03-01T08:00:00Z (UTC)", row[3])
	}
	if row[4] != nil {
		t.Errorf("null: got %v", row[4])
	}
	if _, err := s.RunSQL(ctx, `SELEC 1`, 0); err == nil {
		t.Error("a bad statement gave no error")
	}
}

// TestLockedByAnotherProcess starts this test binary as a second process that
// holds the database, as serve would, and checks that Open reports ErrLocked.
func TestLockedByAnotherProcess(t *testing.T) {
	if path := os.Getenv("JIRADUCK_TEST_HOLD_DB"); path != "" {
		s, err := Open(context.Background(), path, Options{})
		if err != nil {
			os.Exit(3)
		}
		defer s.Close()
		os.Stdout.WriteString("holding\n")
		time.Sleep(30 * time.Second)
		return
	}
	path := filepath.Join(t.TempDir(), FileName)
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockedByAnotherProcess$")
	cmd.Env = append(os.Environ(), "JIRADUCK_TEST_HOLD_DB="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	buf := make([]byte, 64)
	n, _ := out.Read(buf)
	if !strings.Contains(string(buf[:n]), "holding") {
		t.Fatalf("holder did not start: %q", buf[:n])
	}
	_, err = Open(context.Background(), path, Options{})
	if !errors.Is(err, ErrLocked) {
		t.Errorf("got %v, want ErrLocked", err)
	}
}

// TestMemoryLimit: the buffer pool cap reaches DuckDB.
func TestMemoryLimit(t *testing.T) {
	t.Parallel()
	for _, limit := range []string{"100MB", "2 GiB"} {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), FileName), Options{MemoryLimit: limit})
		if err != nil {
			t.Fatalf("open with %q: %v", limit, err)
		}
		var got string
		if err := s.DB().QueryRow(`SELECT current_setting('memory_limit')`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		s.Close()
		want := map[string]string{"100MB": "95.3 MiB", "2 GiB": "2.0 GiB"}[limit]
		if got != want {
			t.Errorf("memory_limit for %q: got %q, want %q", limit, got, want)
		}
	}
}

// TestCheckpointThreshold: the store checkpoints on its own at 1GB of
// write-ahead log unless Options name another size, which reaches DuckDB.
func TestCheckpointThreshold(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ set, want string }{{"", "953.6 MiB"}, {"16GB", "14.9 GiB"}} {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), FileName), Options{CheckpointThreshold: tc.set})
		if err != nil {
			t.Fatalf("open with %q: %v", tc.set, err)
		}
		var got string
		err = s.DB().QueryRow(`SELECT current_setting('checkpoint_threshold')`).Scan(&got)
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("CheckpointThreshold %q: got %q, want %q", tc.set, got, tc.want)
		}
	}
}

// TestReleaseMemory: ReleaseMemory reaches DuckDB as a zero threshold for
// purging freed memory, and the default leaves DuckDB's.
func TestReleaseMemory(t *testing.T) {
	t.Parallel()
	for _, release := range []bool{false, true} {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), FileName), Options{ReleaseMemory: release})
		if err != nil {
			t.Fatalf("open with ReleaseMemory %v: %v", release, err)
		}
		var got string
		err = s.DB().QueryRow(`SELECT current_setting('allocator_bulk_deallocation_flush_threshold')`).Scan(&got)
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		if zero := got == "0 bytes"; zero != release {
			t.Errorf("ReleaseMemory %v: threshold %q", release, got)
		}
	}
}

// TestEmptyTablesKeepsTheirDefinition: emptied tables keep their columns,
// keys and constraints, promoted field columns included, and take rows again.
func TestEmptyTablesKeepsTheirDefinition(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := migrated(t)
	if _, err := s.DB().ExecContext(ctx, `ALTER TABLE issues ADD COLUMN severity VARCHAR`); err != nil {
		t.Fatal(err)
	}
	before, err := s.SchemaDump(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO issues (issue_key, issue_id, severity, created_at, synced_at) VALUES ('SUP-1', '1', 'high', now(), now())`,
		`INSERT INTO comments (comment_id, issue_key) VALUES ('10', 'SUP-1')`,
	} {
		if _, err := s.DB().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.WithTx(ctx, func(tx *Tx) error { return EmptyTables(ctx, tx, []string{"issues", "comments"}) }); err != nil {
		t.Fatal(err)
	}
	after, err := s.SchemaDump(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("schema changed (-before +after):\n%s", diff)
	}
	var n int
	if err := s.DB().QueryRowContext(ctx, `SELECT (SELECT count(*) FROM issues) + (SELECT count(*) FROM comments)`).Scan(&n); err != nil || n != 0 {
		t.Errorf("rows left: %d (%v), want 0", n, err)
	}
	// The primary key still holds.
	_, err = s.DB().ExecContext(ctx, `INSERT INTO comments (comment_id, issue_key) VALUES ('10', 'SUP-1'), ('10', 'SUP-1')`)
	if err == nil || !strings.Contains(err.Error(), "uplicate key") {
		t.Errorf("a duplicate comment id: got %v, want a duplicate key error", err)
	}
	// A table with an index of its own is refused, untouched.
	if _, err := s.DB().ExecContext(ctx, `CREATE INDEX comments_issue ON comments (issue_key)`); err != nil {
		t.Fatal(err)
	}
	err = s.WithTx(ctx, func(tx *Tx) error { return EmptyTables(ctx, tx, []string{"comments"}) })
	if err == nil || !strings.Contains(err.Error(), "indexes") {
		t.Errorf("a table with an index: got %v, want a refusal", err)
	}
}

// invalidatedByOOM is what DuckDB 1.5.6 answered every statement with after
// it ran out of memory rolling a transaction back (serve at a 64MB cap on a
// 100,000-issue store, under a bulk edit).
const invalidatedByOOM = "FATAL Error: Failed: database has been invalidated because of a previous fatal error. The database must be restarted prior to being used again.\n" +
	"Original error: \"Failed to rollback transaction. Cannot continue operation.\n" +
	"Original Error: Out of Memory Error: failed to pin block of size 256.0 KiB (61.0 MiB/61.0 MiB used)\n\n" +
	"Possible solutions:\n* Reducing the number of threads (SET threads=X)\n\""

func TestUsable(t *testing.T) {
	t.Parallel()
	s := migrated(t)
	ctx := context.Background()
	if err := s.Usable(ctx); err != nil {
		t.Fatalf("an open store: got %v, want nil", err)
	}
	if !Invalidated(errors.New(invalidatedByOOM)) {
		t.Errorf("Invalidated does not recognise DuckDB's message")
	}
	if Invalidated(errors.New("Conflict on update!")) || Invalidated(nil) {
		t.Errorf("Invalidated recognises an ordinary error or nil")
	}
	if got, want := originalError(invalidatedByOOM), "Out of Memory Error: failed to pin block of size 256.0 KiB (61.0 MiB/61.0 MiB used)"; got != want {
		t.Errorf("originalError: got %q, want %q", got, want)
	}
	// A closed handle fails, but not as an invalidated store: restarting
	// would not be the remedy.
	s.Close()
	err := s.Usable(ctx)
	if err == nil || Invalidated(err) {
		t.Errorf("a closed store: got %v, want an error that is not ErrInvalidated", err)
	}
}

// TestCheckpointWaitsForARollback: a write transaction still being rolled
// back (database/sql does it in a goroutine once its context is cancelled,
// as at shutdown) makes DuckDB refuse a checkpoint for a moment; Checkpoint
// waits for it instead of failing the close.
func TestCheckpointWaitsForARollback(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	if _, _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO sync_cursors VALUES ('x', '1', now())`); err != nil {
		t.Fatal(err)
	}
	tx, err := s.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE sync_cursors SET value = '2' WHERE name = 'x'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, "CHECKPOINT"); err == nil || !strings.Contains(err.Error(), "other write transactions active") {
		t.Fatalf("a checkpoint beside a write transaction: got %v, want DuckDB's refusal", err)
	}
	done := make(chan error, 1)
	go func() {
		time.Sleep(100 * time.Millisecond)
		done <- tx.Rollback()
	}()
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatalf("checkpoint while the transaction ends: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestMigrationDropsIssueScopedKeys: migration 0008 keeps every row of the
// four tables it recreates without their primary keys, and their columns.
func TestMigrationDropsIssueScopedKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := migratedBefore(t, 8)
	for _, q := range []string{
		`INSERT INTO issue_fields VALUES ('SUP-1', 'customfield_1', 'Tier', 'Gold', '{"value":"Gold"}'), ('SUP-2', 'customfield_1', 'Tier', NULL, NULL)`,
		`INSERT INTO issuelinks VALUES ('SUP-1', '10', 'Blocks', 'outward', 'SUP-2', 's', 'Open', 'High', '200')`,
		`INSERT INTO issue_sprints VALUES ('SUP-1', '3', 'Sprint 3', 'active'), ('SUP-1', '4', 'Sprint 4', 'future')`,
		`INSERT INTO issue_organizations VALUES ('SUP-2', '9', 'Acme')`,
	} {
		if _, err := s.DB().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for table, want := range map[string]string{
		"issue_fields":        `SUP-1|customfield_1|Tier|Gold|{"value":"Gold"}; SUP-2|customfield_1|Tier`,
		"issuelinks":          "SUP-1|10|Blocks|outward|SUP-2|s|Open|High|200",
		"issue_sprints":       "SUP-1|3|Sprint 3|active; SUP-1|4|Sprint 4|future",
		"issue_organizations": "SUP-2|9|Acme",
	} {
		var got string
		err := s.DB().QueryRowContext(ctx, `SELECT string_agg(concat_ws('|', *COLUMNS(*)), '; ' ORDER BY rowid) FROM `+table).Scan(&got)
		if err != nil {
			t.Fatal(err)
		}
		// concat_ws skips NULLs; the columns' order is the table's.
		if got != want {
			t.Errorf("%s: got %q, want %q", table, got, want)
		}
		var keys int
		if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM duckdb_constraints() WHERE table_name = ? AND constraint_type = 'PRIMARY KEY'`, table).Scan(&keys); err != nil {
			t.Fatal(err)
		}
		if keys != 0 {
			t.Errorf("%s: still has a primary key", table)
		}
	}
}
