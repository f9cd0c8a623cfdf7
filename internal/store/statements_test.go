package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSplitStatements(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   string
		want []string
	}{
		{"one", "SELECT 1", []string{"SELECT 1"}},
		{"trailing semicolon", "SELECT 1;", []string{"SELECT 1"}},
		{"two", "BEGIN TRANSACTION; SELECT 1", []string{"BEGIN TRANSACTION", " SELECT 1"}},
		{"semicolon in a string", "SELECT 'a;b'; SELECT 2", []string{"SELECT 'a;b'", " SELECT 2"}},
		{"doubled quote", "SELECT 'it''s;'; SELECT 2", []string{"SELECT 'it''s;'", " SELECT 2"}},
		{"escape string", `SELECT E'a\';b'; SELECT 2`, []string{`SELECT E'a\';b'`, " SELECT 2"}},
		{"quoted name", `SELECT 1 AS "x;y"; SELECT 2`, []string{`SELECT 1 AS "x;y"`, " SELECT 2"}},
		{"line comment", "SELECT 1 -- no; split\n; SELECT 2", []string{"SELECT 1 -- no; split\n", " SELECT 2"}},
		{"block comment", "SELECT /* a; /* nested; */ b; */ 1; SELECT 2", []string{"SELECT /* a; /* nested; */ b; */ 1", " SELECT 2"}},
		{"dollar quoted", "SELECT $q$a;b$q$; SELECT $$c;d$$", []string{"SELECT $q$a;b$q$", " SELECT $$c;d$$"}},
		{"parameter is not a tag", "SELECT $1; SELECT 2", []string{"SELECT $1", " SELECT 2"}},
		{"only comments", "-- nothing\n/* here */ ;;", nil},
		{"empty", "   ", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, SplitStatements(tc.in)); diff != "" {
				t.Errorf("got/want (-want +got):\n%s", diff)
			}
		})
	}
}

// confinedStore is a migrated store in <tmp>/data with a file outside it,
// <tmp>/outside/secret.txt, that no statement may read.
func confinedStore(t *testing.T) (s *Store, dataDir, outside string) {
	t.Helper()
	root := t.TempDir()
	dataDir = filepath.Join(root, "data")
	outside = filepath.Join(root, "outside")
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("JIRA_SLA_API_TOKEN=s3cret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), filepath.Join(dataDir, FileName), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s, dataDir, outside
}

// TestStoreConfined runs each statement on the store's shared pool, as the
// package's own code (exports, snapshots) does, so that it is DuckDB's
// confinement that refuses, not the statement check of RunChecked.
func TestStoreConfined(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, dataDir, outside := confinedStore(t)
	q := Quote
	refused := []struct{ name, sql string }{
		{"read /etc/passwd", "SELECT * FROM read_text('/etc/passwd')"},
		{"read a file outside", "SELECT * FROM read_text(" + q(filepath.Join(outside, "secret.txt")) + ")"},
		{"read outside through ..", "SELECT * FROM read_text(" + q(filepath.Join(dataDir, "..", "outside", "secret.txt")) + ")"},
		{"glob outside", "SELECT * FROM glob(" + q(filepath.Join(outside, "*")) + ")"},
		{"copy out", "COPY (SELECT 1) TO " + q(filepath.Join(outside, "x.csv"))},
		{"copy to /tmp", "COPY (SELECT 1) TO '/tmp/jiraduck-confined-test.csv'"},
		{"attach outside", "ATTACH " + q(filepath.Join(outside, "other.duckdb")) + " AS other"},
		{"widen the directories", "SET allowed_directories = ['/']"},
		{"widen the paths", "SET allowed_paths = ['/etc/passwd']"},
		{"reset the lock", "RESET lock_configuration"},
		{"unset the lock", "SET lock_configuration = false"},
		{"turn external access on", "SET enable_external_access = true"},
		{"turn external access off", "SET enable_external_access = false"},
		{"memory limit", "SET memory_limit = '2MB'"},
		{"threads", "SET threads = 1"},
		{"extension repository", "SET custom_extension_repository = 'http://127.0.0.1:1/'"},
		{"install", "INSTALL httpfs"},
		{"install from a url", "INSTALL httpfs FROM 'http://127.0.0.1:1/'"},
		{"load", "LOAD httpfs"},
		{"load a file", "LOAD " + q(filepath.Join(dataDir, "x.duckdb_extension"))},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.DB().ExecContext(ctx, tc.sql); err == nil {
				t.Fatalf("%s: got no error, want DuckDB to refuse it", tc.sql)
			}
		})
	}
	if _, err := os.Stat("/tmp/jiraduck-confined-test.csv"); err == nil {
		t.Error("COPY wrote /tmp/jiraduck-confined-test.csv")
	}
	// What the process itself does in its data directory keeps working.
	allowed := []string{
		"COPY (SELECT 1 AS a) TO " + q(filepath.Join(dataDir, "x.parquet")) + " (FORMAT parquet)",
		"SELECT count(*) FROM read_parquet(" + q(filepath.Join(dataDir, "x.parquet")) + ")",
		"ATTACH " + q(filepath.Join(dataDir, "snap.duckdb")) + " AS snap",
		"CREATE TABLE snap.t AS SELECT 1 AS a",
		"USE snap", "USE jiraduck", "DETACH snap",
		"CHECKPOINT",
	}
	conn, err := s.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, st := range allowed {
		if _, err := conn.ExecContext(ctx, st); err != nil {
			t.Errorf("%s: got %v, want it to work inside the data directory", st, err)
		}
	}
	var tz string
	if err := s.DB().QueryRowContext(ctx, "SELECT current_setting('TimeZone')").Scan(&tz); err != nil || tz != "UTC" {
		t.Errorf("TimeZone: got %q (%v), want UTC", tz, err)
	}
}

// TestStoreConfinedRelativeDataDir: JIRADUCK_DATA_DIR defaults to ./data,
// and the exports name their files relative to it.
func TestStoreConfinedRelativeDataDir(t *testing.T) {
	ctx := context.Background()
	t.Chdir(t.TempDir())
	s, err := Open(ctx, filepath.Join("data", FileName), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.DB().ExecContext(ctx, "COPY (SELECT 1) TO 'data/x.parquet' (FORMAT parquet)"); err != nil {
		t.Errorf("relative path inside the data directory: got %v, want it written", err)
	}
	if _, err := s.DB().ExecContext(ctx, "COPY (SELECT 1) TO 'beside.parquet' (FORMAT parquet)"); err == nil {
		t.Error("relative path beside the data directory: got no error, want a refusal")
	}
	if _, err := s.DB().ExecContext(ctx, "COPY (SELECT 1) TO 'data2/x.parquet' (FORMAT parquet)"); err == nil {
		t.Error("a sibling whose name starts with the data directory's: got no error, want a refusal")
	}
}

func TestStoreAllowedDirs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	root := t.TempDir()
	elsewhere := filepath.Join(root, "elsewhere")
	if err := os.MkdirAll(elsewhere, 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, filepath.Join(root, "data", FileName), Options{AllowedDirs: []string{elsewhere}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.DB().ExecContext(ctx, "ATTACH '"+filepath.Join(elsewhere, "snap.duckdb")+"' AS snap"); err != nil {
		t.Errorf("attach in an allowed directory: got %v, want it attached", err)
	}
	if _, err := s.DB().ExecContext(ctx, "ATTACH '"+filepath.Join(root, "other.duckdb")+"' AS other"); err == nil {
		t.Error("attach beside the allowed directories: got no error, want a refusal")
	}
}

func TestRunIsolatedRefuses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, dataDir, _ := confinedStore(t)
	if err := os.WriteFile(filepath.Join(dataDir, "x.csv"), []byte("a\n1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, "CREATE TABLE copy_target (a VARCHAR)"); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, sql, kind string }{
		{"attach", "ATTACH ':memory:' AS m", "ATTACH"},
		{"attach inside the data directory", "ATTACH '" + filepath.Join(dataDir, "x.duckdb") + "' AS x", "ATTACH"},
		{"detach", "DETACH jiraduck", "DETACH"},
		{"copy to", "COPY issues TO '" + filepath.Join(dataDir, "parquet", "x.parquet") + "'", "COPY"},
		{"copy from", "COPY copy_target FROM '" + filepath.Join(dataDir, "x.csv") + "'", "COPY"},
		{"export", "EXPORT DATABASE '" + filepath.Join(dataDir, "dump") + "'", "EXPORT"},
		{"install", "INSTALL httpfs", "INSTALL/LOAD"},
		{"force install from a url", "FORCE INSTALL httpfs FROM 'http://127.0.0.1:1/'", "INSTALL/LOAD"},
		{"load", "LOAD httpfs", "INSTALL/LOAD"},
		{"set", "SET memory_limit = '2MB'", "SET"},
		{"reset", "RESET lock_configuration", "SET"},
		{"pragma setting", "PRAGMA threads = 1", "SET"},
		{"prepare", "PREPARE p AS SELECT 1", "PREPARE"},
		{"explain analyze of a copy", "EXPLAIN ANALYZE COPY issues TO '" + filepath.Join(dataDir, "y.csv") + "'", "EXPLAIN of COPY"},
		{"copy outside", "COPY issues TO '/tmp/jiraduck-refused.csv'", "Permission Error"},
		{"second statement", "SELECT 1; ATTACH ':memory:' AS m", "ATTACH (statement 2 of 2)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.RunIsolated(ctx, tc.sql, Limits{Allow: Maintenance})
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("got %v, want ErrRefused", err)
			}
			if !strings.Contains(err.Error(), tc.kind) {
				t.Errorf("got %q, want it to name %s", err, tc.kind)
			}
		})
	}
	var n int
	if err := s.DB().QueryRowContext(ctx, "SELECT count(*) FROM duckdb_databases() WHERE database_name IN ('m', 'x')").Scan(&n); err != nil || n != 0 {
		t.Errorf("databases attached by refused statements: got %d (%v), want 0", n, err)
	}
	for _, ok := range []string{
		"SELECT count(*) FROM issues",
		"CREATE TABLE scratch AS SELECT 1 AS a; UPDATE scratch SET a = 2; DELETE FROM scratch; DROP TABLE scratch",
		"BEGIN TRANSACTION; SELECT 1; COMMIT",
		"CHECKPOINT",
		"EXPLAIN SELECT * FROM issues",
		"SHOW TABLES",
	} {
		if _, err := s.RunIsolated(ctx, ok, Limits{Allow: Maintenance}); err != nil {
			t.Errorf("%s: got %v, want it run", ok, err)
		}
	}
}

func TestRunCheckedReadOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := OpenConfined(ctx, []string{t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := Exec(ctx, db, "CREATE TABLE t AS SELECT 1 AS a", "CREATE VIEW v AS SELECT * FROM t"); err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	refused := []struct{ name, sql string }{
		{"copy", "COPY t TO 'x.csv'"},
		{"attach", "ATTACH ':memory:' AS m"},
		{"detach", "DETACH memory"},
		{"install", "INSTALL httpfs"},
		{"load", "LOAD httpfs"},
		{"set", "SET threads = 1"},
		{"pragma setting", "PRAGMA threads = 1"},
		{"export", "EXPORT DATABASE 'x'"},
		{"create", "CREATE TABLE u (a INT)"},
		{"create view", "CREATE OR REPLACE VIEW v AS SELECT 2 AS a"},
		{"insert", "INSERT INTO t VALUES (2)"},
		{"update", "UPDATE t SET a = 3"},
		{"delete", "DELETE FROM t"},
		{"drop", "DROP VIEW v"},
		{"call checkpoint", "CALL checkpoint()"},
		{"checkpoint", "CHECKPOINT"},
		{"transaction", "BEGIN TRANSACTION"},
		{"explain analyze of a delete", "EXPLAIN ANALYZE DELETE FROM t"},
		{"explain of a copy", "EXPLAIN COPY t TO 'x.csv'"},
		{"read then write", "SELECT 1; DELETE FROM t"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			_, err := RunChecked(ctx, conn, tc.sql, Limits{Allow: ReadOnly})
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("got %v, want ErrRefused", err)
			}
		})
	}
	var n int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM t WHERE a = 1").Scan(&n); err != nil || n != 1 {
		t.Errorf("rows of t after the refusals: got %d (%v), want the one row untouched", n, err)
	}
	for _, ok := range []string{"SELECT * FROM v", "WITH x AS (SELECT 1) SELECT * FROM x", "FROM t", "VALUES (1)", "SHOW TABLES",
		"DESCRIBE t", "SUMMARIZE t", "PRAGMA table_info('t')", "EXPLAIN SELECT * FROM t", "EXPLAIN ANALYZE SELECT * FROM t", "SELECT 1; SELECT 2"} {
		if _, err := RunChecked(ctx, conn, ok, Limits{Allow: ReadOnly}); err != nil {
			t.Errorf("%s: got %v, want it run", ok, err)
		}
	}
}

// TestRunIsolatedLeavesPoolClean: a transaction an operator leaves open, or
// aborted, must not reach the connections the writer uses.
func TestRunIsolatedLeavesPoolClean(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, _ := confinedStore(t)
	// One pooled connection: any connection left dirty would be the next
	// one the writer gets.
	if _, err := s.DB().ExecContext(ctx, "CREATE TABLE pool_probe (n INT)"); err != nil {
		t.Fatal(err)
	}
	s.DB().SetMaxOpenConns(1)
	s.DB().SetMaxIdleConns(1)
	for _, q := range []string{
		"BEGIN TRANSACTION; SELECT 1",
		"BEGIN TRANSACTION; SELECT * FROM no_such_table",
		"BEGIN TRANSACTION; CREATE TABLE left_open (a INT)",
		"USE system",
	} {
		_, _ = s.RunIsolated(ctx, q, Limits{Allow: Maintenance})
		err := s.WithTx(ctx, func(tx *Tx) error {
			_, err := tx.ExecContext(ctx, "INSERT INTO pool_probe VALUES (1)")
			return err
		})
		if err != nil {
			t.Fatalf("write after %q: got %v, want it committed", q, err)
		}
	}
	var n int
	if err := s.DB().QueryRowContext(ctx, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'left_open'").Scan(&n); err != nil || n != 0 {
		t.Errorf("table created in a transaction left open: got %d (%v), want it rolled back", n, err)
	}
}

func TestRunIsolatedByteCap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, _ := confinedStore(t)
	_, err := s.RunIsolated(ctx, "SELECT repeat('x', 100000) FROM range(100)", Limits{Allow: Maintenance, MaxBytes: 1 << 20})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
	if !strings.Contains(err.Error(), "1048576 bytes") {
		t.Errorf("got %q, want it to name the cap", err)
	}
	res, err := s.RunIsolated(ctx, "SELECT repeat('x', 100000) FROM range(5)", Limits{Allow: Maintenance, MaxBytes: 1 << 20})
	if err != nil || len(res.Rows) != 5 {
		t.Fatalf("under the cap: got %v rows, %v; want 5 rows", res, err)
	}
	// The cap inside DuckDB keeps the statement's order, columns and rows
	// limit.
	res, err = s.RunIsolated(ctx, "SELECT i, i * 2 AS a, 1 AS a FROM range(5) t(i) ORDER BY i DESC", Limits{Allow: Maintenance, MaxBytes: 1 << 20, MaxRows: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(res.Columns, res.Rows); got != "[i a a] [[4 8 1] [3 6 1] [2 4 1]]" {
		t.Errorf("got %s, want [i a a] [[4 8 1] [3 6 1] [2 4 1]]", got)
	}
}
