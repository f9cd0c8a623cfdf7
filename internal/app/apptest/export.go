package apptest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/export"
	"github.com/jiraduck/jiraduck/internal/jira"
	"github.com/jiraduck/jiraduck/internal/normalize"
	"github.com/jiraduck/jiraduck/internal/store"
)

// liveOnly lists, per table, the columns that differ by design between a
// live fetch and the reference: observation times, and what only a download
// produces.
func liveOnly() map[string]string {
	return map[string]string{
		"issues":      "EXCLUDE (synced_at)",
		"sla":         "EXCLUDE (observed_at)",
		"attachments": "EXCLUDE (local_path, sha256, skipped_reason)",
	}
}

// CompareExports asserts that every table's Parquet under got and want hold
// the same rows, duplicates included, leaving out the columns a live fetch
// fills differently from the reference.
func CompareExports(t *testing.T, got, want string) {
	t.Helper()
	CompareExportsExcluding(t, got, want, liveOnly())
}

// CompareExportsExact is CompareExports with no column left out.
func CompareExportsExact(t *testing.T, got, want string) {
	t.Helper()
	CompareExportsExcluding(t, got, want, map[string]string{})
}

// CompareExportsExcluding is CompareExports leaving out, per table, the
// columns an EXCLUDE clause of excluded names.
func CompareExportsExcluding(t *testing.T, got, want string, excluded map[string]string) {
	t.Helper()
	db, err := store.OpenMemory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, table := range normalize.Tables {
		read := func(dir string) string {
			glob := filepath.Join(export.Root(dir), table, "month=*", "*.parquet")
			if files, _ := filepath.Glob(glob); len(files) == 0 {
				return ""
			}
			return fmt.Sprintf("SELECT * %s FROM read_parquet('%s', hive_partitioning = true)", excluded[table], glob)
		}
		g, w := read(got), read(want)
		switch {
		case g == "" && w == "":
			continue
		case g == "" || w == "":
			t.Errorf("%s: exported on one side only (got %q, want %q)", table, g, w)
			continue
		}
		differ := false
		for _, q := range []string{g + " EXCEPT ALL " + w, w + " EXCEPT ALL " + g} {
			n := QueryInt(t, db, "SELECT count(*) FROM ("+q+")")
			if n != 0 {
				t.Errorf("%s: %d rows differ between the live export and the emulator's state; first: %s", table, n, firstRow(t, db, q))
				differ = true
			}
		}
		if differ {
			logDiff(t, got, want, table, excluded[table], 5)
		}
	}
}

// firstRow renders the first row of a query for a failure message.
func firstRow(t *testing.T, db *sql.DB, q string) string {
	res, err := store.RunSQL(context.Background(), db, q+" LIMIT 1", 1)
	if err != nil || len(res.Rows) == 0 {
		return fmt.Sprint(err)
	}
	var parts []string
	for i, c := range res.Columns {
		parts = append(parts, fmt.Sprintf("%s=%v", c, res.Rows[0][i]))
	}
	return strings.Join(parts, " ")
}

// LongRun reports whether the long variants run.
func LongRun() bool { return os.Getenv("JIRADUCK_TEST_LONG") != "" }

// Pick returns short or long by the variant that runs.
func Pick[T any](short, long T) T {
	if LongRun() {
		return long
	}
	return short
}

// Figures logs a scenario's figures on one line, for docs/reliability.md.
func Figures(t *testing.T, scenario string, kv ...any) {
	t.Helper()
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, " %v=%v", kv[i], kv[i+1])
	}
	t.Logf("figures %s variant=%s%s", scenario, Pick("short", "long"), b.String())
}

func MemoryDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := store.OpenMemory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// PartitionAudit is what CheckPartitions found.
type PartitionAudit struct {
	Files int
	Rows  int64
}

// CheckPartitions asserts that the published layout is whole: every file
// under parquet/jira is either the manifest or a partition that DuckDB reads,
// whose rows and digest are those the manifest and the store's partitions
// table record, and whose rows are exactly the store's rows of that table and
// month; no partition the store holds rows for is missing, and nothing half
// written (staging or temporary files) is left in parquet/.
func CheckPartitions(t *testing.T, dataDir string, db *sql.DB) PartitionAudit {
	t.Helper()
	var audit PartitionAudit
	man, err := export.ReadManifest(dataDir)
	if err != nil {
		t.Fatalf("manifest: %v", err)
	}
	inManifest := map[string]store.PublishedPartition{}
	for _, p := range man.Partitions {
		inManifest[p.Table+"/"+p.Month] = p
	}
	recorded := map[string]int64{}
	rs, err := db.Query(`SELECT table_name, month, rows FROM partitions`)
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var table, month string
		var n int64
		if err := rs.Scan(&table, &month, &n); err != nil {
			t.Fatal(err)
		}
		recorded[table+"/"+month] = n
	}
	rs.Close()
	stored := storedRowsPerPartition(t, db)

	reader := MemoryDB(t)
	seen := map[string]bool{}
	root := export.Root(dataDir)
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "manifest.json" {
			return nil
		}
		parts := strings.Split(filepath.ToSlash(rel), "/")
		var id string
		switch {
		case len(parts) == 3 && strings.HasPrefix(parts[1], "month=") && parts[2] == "data.parquet":
			id = parts[0] + "/" + strings.TrimPrefix(parts[1], "month=")
		case len(parts) == 2 && parts[1] == "data.parquet":
			// A dimension table's one file.
			id = parts[0] + "/"
		default:
			t.Errorf("unexpected file in the published layout: %s", rel)
			return nil
		}
		seen[id] = true
		audit.Files++
		var n int64
		if err := reader.QueryRow(fmt.Sprintf("SELECT count(*) FROM read_parquet('%s')", p)).Scan(&n); err != nil {
			t.Errorf("%s does not read: %v", rel, err)
			return nil
		}
		audit.Rows += n
		m, ok := inManifest[id]
		switch {
		case !ok:
			t.Errorf("%s: %d rows, not in the manifest", rel, n)
		case m.Rows != n:
			t.Errorf("%s: %d rows, manifest says %d", rel, n, m.Rows)
		case m.SHA256 != FileSHA256(t, p):
			t.Errorf("%s: digest differs from the manifest's", rel)
		}
		if r, ok := recorded[id]; !ok || r != n {
			t.Errorf("%s: %d rows, the store's partitions table says %d (recorded %v)", rel, n, r, ok)
		}
		if s := stored[id]; s != n {
			t.Errorf("%s: %d rows, the store holds %d", rel, n, s)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for id, n := range stored {
		if !seen[id] && n > 0 {
			t.Errorf("partition %s: the store holds %d rows but no file is published", id, n)
		}
	}
	for id := range inManifest {
		if !seen[id] {
			t.Errorf("partition %s is in the manifest but has no file", id)
		}
	}
	return audit
}

// storedRowsPerPartition counts the store's rows per table and month of the
// parent issue's creation.
func storedRowsPerPartition(t *testing.T, db *sql.DB) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, table := range normalize.Tables {
		q := fmt.Sprintf(`SELECT strftime(i.created_at AT TIME ZONE 'UTC', '%%Y-%%m'), count(*) FROM %s t JOIN issues i ON t.issue_key = i.issue_key GROUP BY 1`, table)
		if table == "issues" {
			q = `SELECT strftime(created_at AT TIME ZONE 'UTC', '%Y-%m'), count(*) FROM issues GROUP BY 1`
		}
		rs, err := db.Query(q)
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		for rs.Next() {
			var month string
			var n int64
			if err := rs.Scan(&month, &n); err != nil {
				t.Fatal(err)
			}
			out[table+"/"+month] = n
		}
		rs.Close()
	}
	// The dimension tables that have a file: what a refresh wrote.
	var dims []string
	rs, err := db.Query(`SELECT table_name FROM dimension_tables WHERE rows_sha256 IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var table string
		if err := rs.Scan(&table); err != nil {
			t.Fatal(err)
		}
		dims = append(dims, table)
	}
	rs.Close()
	for _, table := range dims {
		var n int64
		if err := db.QueryRow(fmt.Sprintf(`SELECT count(*) FROM %s`, store.DimensionTableName(table))).Scan(&n); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		out[table+"/"] = n
	}
	return out
}

func FileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ReferenceExport exports what the emulator says every given issue is,
// through a fresh store and the normalizer, into a new folder: the expected
// Parquet of a serve with settings cfg whose catalog gives opts.
func ReferenceExport(t *testing.T, em *emulator.Emulator, cfg *config.Config, opts normalize.Options, keys []string) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := store.Open(ctx, filepath.Join(dir, store.FileName), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureIssueColumns(ctx, app.PromotedColumns(cfg)); err != nil {
		t.Fatal(err)
	}
	w := s.NewWriter(64, nil)
	defer w.Close()
	// Issues are written 64 to a transaction, as the writer groups them
	// under load: one transaction each took most of the reference's time.
	var batch []*normalize.Rows
	flush := func() {
		t.Helper()
		if len(batch) == 0 {
			return
		}
		if err := w.Do(ctx, func(ctx context.Context, tx *store.Tx) error {
			_, err := s.ApplyBatch(ctx, tx, batch, store.ApplyOptions{})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		batch = nil
	}
	for _, key := range keys {
		st, err := em.State(key)
		if err != nil {
			t.Fatalf("state of %s: %v", key, err)
		}
		var links []json.RawMessage
		if err := json.Unmarshal(st.RemoteLinks, &links); err != nil {
			t.Fatal(err)
		}
		b := &jira.Bundle{Issue: st.Issue, Comments: st.Comments, Histories: st.Changelog, RemoteLinks: links,
			State: jira.BundleState{Comments: jira.StateComplete, Changelog: jira.StateComplete,
				RemoteLinks: jira.StateComplete, SLA: jira.StateComplete}, FetchedAt: time.Now()}
		rows, err := normalize.FromBundle(b, opts)
		if err != nil {
			t.Fatal(err)
		}
		if batch = append(batch, rows); len(batch) == 64 {
			flush()
		}
	}
	flush()
	ex := export.New(s, w, export.Options{DataDir: dir, IssueColumns: app.ExportIssueColumns(cfg)})
	if err := export.MarkAll(ctx, s, w, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ex.ExportDirty(ctx); err != nil {
		t.Fatal(err)
	}
	return dir
}

// logDiff logs up to limit rows of table that differ between two exports,
// both ways, to explain a failed comparison.
func logDiff(t *testing.T, got, want, table, exclude string, limit int) {
	t.Helper()
	db := MemoryDB(t)
	read := func(dir string) string {
		return fmt.Sprintf("SELECT * %s FROM read_parquet('%s', hive_partitioning = true)", exclude,
			filepath.Join(export.Root(dir), table, "month=*", "*.parquet"))
	}
	for _, side := range []struct{ name, q string }{{"only live", read(got) + " EXCEPT ALL " + read(want)}, {"only emulator", read(want) + " EXCEPT ALL " + read(got)}} {
		res, err := store.RunSQL(context.Background(), db, side.q+fmt.Sprintf(" LIMIT %d", limit), limit)
		if err != nil {
			t.Logf("%s %s: %v", table, side.name, err)
			continue
		}
		for _, r := range res.Rows {
			var parts []string
			for i, c := range res.Columns {
				s := fmt.Sprint(r[i])
				if len(s) > 60 {
					s = s[:60] + "..."
				}
				parts = append(parts, c+"="+s)
			}
			t.Logf("%s %s: %s", table, side.name, strings.Join(parts, " "))
		}
	}
}

// LastBytes returns the end of s, for failure messages.
func LastBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// ParquetColumns lists a Parquet file's columns in order.
func ParquetColumns(t *testing.T, db *sql.DB, path string) []string {
	t.Helper()
	var out []string
	for _, c := range DescribeFile(t, db, path) {
		out = append(out, c[0])
	}
	return out
}

// DescribeFile lists a Parquet file's columns and their DuckDB types in
// order, without the hive month column DuckDB would add from the path.
func DescribeFile(t *testing.T, db *sql.DB, path string) [][2]string {
	t.Helper()
	rows, err := db.Query(fmt.Sprintf(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(%s, hive_partitioning = false))`,
		store.Quote(path)))
	Must(t, err)
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var c [2]string
		Must(t, rows.Scan(&c[0], &c[1]))
		out = append(out, c)
	}
	Must(t, rows.Err())
	return out
}
