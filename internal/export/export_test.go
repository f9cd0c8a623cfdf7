package export

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/normalize"
	"github.com/jiraduck/jiraduck/internal/store"

	_ "github.com/duckdb/duckdb-go/v2"
)

func sp(s string) *string { return &s }

type fixture struct {
	dir string
	s   *store.Store
	w   *store.Writer
	e   *Exporter
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(dir, store.FileName), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	w := s.NewWriter(32, nil)
	t.Cleanup(func() { w.Close(); s.Close() })
	cols := store.IssueColumns([]string{"first_response", "time_to_resolution"}, nil)
	return &fixture{dir: dir, s: s, w: w, e: New(s, w, Options{DataDir: dir, IssueColumns: cols})}
}

func rows(key, id string, created time.Time, comments int) *normalize.Rows {
	now := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	r := &normalize.Rows{
		Raw: normalize.Raw{IssueID: id, IssueKey: key, CreatedAt: created, Payload: []byte(`{}`),
			CommentsState: normalize.Complete, ChangelogState: normalize.Complete, RemoteLinksState: normalize.Complete,
			SLAState: normalize.Complete, AttachmentsState: normalize.Complete, FetchedAt: now},
		Issue: normalize.Issue{IssueKey: key, IssueID: id, Summary: sp("s " + key), CreatedAt: created, SyncedAt: now,
			SLA: []normalize.SLAColumns{{Name: "first_response"}, {Name: "time_to_resolution"}}},
	}
	for i := 0; i < comments; i++ {
		r.Comments = append(r.Comments, normalize.Comment{CommentID: id + "-" + string(rune('a'+i)), IssueKey: key, Body: sp("c")})
	}
	return r
}

func (f *fixture) apply(t *testing.T, r *normalize.Rows) {
	t.Helper()
	err := f.w.Do(context.Background(), func(ctx context.Context, tx *store.Tx) error {
		_, err := f.s.ApplyIssue(ctx, tx, r)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) exportDirty(t *testing.T) []string {
	t.Helper()
	done, err := f.e.ExportDirty(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range done {
		out = append(out, p.Table+"@"+p.Month)
	}
	sort.Strings(out)
	return out
}

// readParquet counts rows of a glob with a separate in-memory DuckDB, as an
// analyst would.
func readParquet(t *testing.T, query string) int {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

var (
	jan = time.Date(2024, 1, 15, 12, 0, 0, 0, time.UTC)
	feb = time.Date(2024, 2, 29, 23, 59, 0, 0, time.UTC)
)

func TestExportWritesMonthlyPartitions(t *testing.T) {
	f := newFixture(t)
	f.apply(t, rows("SUP-1", "1", jan, 2))
	f.apply(t, rows("SUP-2", "2", feb, 3))
	f.apply(t, rows("SUP-3", "3", feb, 0))
	done := f.exportDirty(t)
	// New issues dirty only the tables they have rows in.
	if strings.Join(done, ",") != "comments@2024-01,comments@2024-02,issues@2024-01,issues@2024-02" {
		t.Errorf("exported %v, want comments and issues of both months", done)
	}
	root := Root(f.dir)
	if n := readParquet(t, "SELECT count(*) FROM read_parquet('"+root+"/issues/*/*.parquet', hive_partitioning=true) WHERE month = '2024-02'"); n != 2 {
		t.Errorf("issues in 2024-02: got %d, want 2", n)
	}
	if n := readParquet(t, "SELECT count(*) FROM read_parquet('"+root+"/comments/*/*.parquet', hive_partitioning=true) WHERE month = '2024-01'"); n != 2 {
		t.Errorf("comments in 2024-01: got %d, want 2", n)
	}
	// Empty tables write no file: a month with no rows has no folder.
	if _, err := os.Stat(filepath.Join(root, "remote_links", "month=2024-01")); !os.IsNotExist(err) {
		t.Errorf("remote_links month=2024-01 exists for an empty partition (err %v)", err)
	}
	m, err := ReadManifest(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	var issueRows int64
	for _, p := range m.Partitions {
		if p.Table == "issues" {
			issueRows += p.Rows
		}
		if len(p.SHA256) != 64 || p.Bytes == 0 {
			t.Errorf("manifest entry %+v lacks a digest or size", p)
		}
	}
	if issueRows != 3 {
		t.Errorf("manifest issue rows: got %d, want 3", issueRows)
	}
	if d, _ := f.s.DirtyPartitions(context.Background()); len(d) != 0 {
		t.Errorf("dirty after export: %v", d)
	}
}

func TestExportRewritesOnlyChangedMonth(t *testing.T) {
	f := newFixture(t)
	f.apply(t, rows("SUP-1", "1", jan, 2))
	f.apply(t, rows("SUP-2", "2", feb, 3))
	f.exportDirty(t)
	janFile := PartitionPath(f.dir, "comments", "2024-01")
	before, _ := os.Stat(janFile)
	febBefore, _ := os.Stat(PartitionPath(f.dir, "comments", "2024-02"))
	time.Sleep(20 * time.Millisecond)
	f.apply(t, rows("SUP-2", "2", feb, 4))
	done := f.exportDirty(t)
	if strings.Join(done, ",") != "comments@2024-02" {
		t.Errorf("exported %v, want only comments of 2024-02", done)
	}
	after, _ := os.Stat(janFile)
	if !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("the untouched January file was rewritten")
	}
	febAfter, _ := os.Stat(PartitionPath(f.dir, "comments", "2024-02"))
	if febAfter.ModTime().Equal(febBefore.ModTime()) {
		t.Errorf("the February file was not rewritten")
	}
	if n := readParquet(t, "SELECT count(*) FROM '"+PartitionPath(f.dir, "comments", "2024-02")+"'"); n != 4 {
		t.Errorf("comments in February: got %d, want 4", n)
	}
}

func TestExportRemovesEmptiedMonth(t *testing.T) {
	f := newFixture(t)
	f.apply(t, rows("SUP-1", "1", jan, 1))
	f.exportDirty(t)
	err := f.w.Do(context.Background(), func(ctx context.Context, tx *store.Tx) error {
		_, err := f.s.DeleteIssue(ctx, tx, "1", "SUP-1", "deleted", time.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	f.exportDirty(t)
	for _, table := range []string{"issues", "comments"} {
		if _, err := os.Stat(filepath.Dir(PartitionPath(f.dir, table, "2024-01"))); !os.IsNotExist(err) {
			t.Errorf("%s month folder still exists after its last issue was deleted", table)
		}
	}
	m, _ := ReadManifest(f.dir)
	if len(m.Partitions) != 0 {
		t.Errorf("manifest still lists %v", m.Partitions)
	}
}

func TestExportSchemaStableWhenColumnsAllNull(t *testing.T) {
	f := newFixture(t)
	f.apply(t, rows("SUP-1", "1", jan, 1))
	f.exportDirty(t)
	db, _ := sql.Open("duckdb", "")
	defer db.Close()
	var typ string
	err := db.QueryRow("SELECT column_type FROM (DESCRIBE SELECT * FROM '" + PartitionPath(f.dir, "issues", "2024-01") + "') WHERE column_name = 'resolved_at'").Scan(&typ)
	if err != nil {
		t.Fatal(err)
	}
	if typ != "TIMESTAMP WITH TIME ZONE" {
		t.Errorf("resolved_at (all NULL): got type %s, want TIMESTAMP WITH TIME ZONE", typ)
	}
}

func TestMarkAllAndInvalidMonth(t *testing.T) {
	f := newFixture(t)
	f.apply(t, rows("SUP-1", "1", jan, 1))
	f.exportDirty(t)
	if err := MarkAll(context.Background(), f.s, f.w, []string{"issues"}, nil); err != nil {
		t.Fatal(err)
	}
	if got := f.exportDirty(t); strings.Join(got, ",") != "issues@2024-01" {
		t.Errorf("got %v, want issues@2024-01", got)
	}
	if err := MarkAll(context.Background(), f.s, f.w, []string{"issues"}, []string{"2024-13"}); err == nil {
		t.Error("an invalid month was accepted")
	}
	if _, err := f.e.selectQuery("issues", "2024-01'; DROP TABLE issues; --"); err == nil {
		t.Error("a hostile month reached the query")
	}
}

// TestReadersNeverSeeHalfAFile reads every partition in a loop while exports
// rewrite them: every read must succeed (or fail loudly and be retried) and
// never count duplicated rows.
func TestReadersNeverSeeHalfAFile(t *testing.T) {
	if testing.Short() {
		t.Skip("reader race test skipped in -short mode")
	}
	f := newFixture(t)
	for i := 0; i < 50; i++ {
		f.apply(t, rows("SUP-"+itoa(i+1), itoa(1000+i), jan, 3))
	}
	f.exportDirty(t)
	var stop atomic.Bool
	var reads, retries atomic.Int64
	var bad atomic.Value
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		db, _ := sql.Open("duckdb", "")
		defer db.Close()
		glob := Root(f.dir) + "/comments/*/*.parquet"
		for !stop.Load() {
			var n int
			if err := db.QueryRow("SELECT count(*) FROM read_parquet('" + glob + "')").Scan(&n); err != nil {
				retries.Add(1) // a query spanning a rename can fail loudly; readers retry
				continue
			}
			reads.Add(1)
			if n != 150 {
				bad.Store(n)
			}
		}
	}()
	for round := 0; round < 20; round++ {
		r := rows("SUP-1", "1000", jan, 3)
		r.Comments[0].Body = sp("round " + itoa(round))
		f.apply(t, r)
		f.exportDirty(t)
	}
	stop.Store(true)
	wg.Wait()
	if v := bad.Load(); v != nil {
		t.Errorf("a reader saw %v comments, want always 150", v)
	}
	if reads.Load() == 0 {
		t.Error("the reader never completed a read")
	}
	t.Logf("reads %d, failed reads retried %d", reads.Load(), retries.Load())
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestLinkedIssueIDStaysInTheStore: the store keeps the other end's id of a
// link; the partition files and the analysts' snapshot have the columns of
// the design only.
func TestLinkedIssueIDStaysInTheStore(t *testing.T) {
	f := newFixture(t)
	r := rows("SUP-1", "1000", jan, 0)
	r.IssueLinks = []normalize.IssueLink{{IssueKey: "SUP-1", LinkID: "7", LinkedIssueKey: sp("SUP-2"), LinkedIssueID: sp("1001")}}
	f.apply(t, r)
	f.exportDirty(t)
	if _, err := Snapshot(context.Background(), f.s, SnapshotPath(f.dir)); err != nil {
		t.Fatal(err)
	}
	db, err := store.OpenMemory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("ATTACH '" + SnapshotPath(f.dir) + "' AS snap (READ_ONLY)"); err != nil {
		t.Fatal(err)
	}
	want := strings.Join(store.TableColumns("issuelinks"), ",")
	for _, c := range []struct{ name, query string }{
		{"partition", "SELECT string_agg(column_name, ',') FROM (DESCRIBE SELECT * FROM read_parquet('" +
			PartitionPath(f.dir, "issuelinks", "2024-01") + "', hive_partitioning = false))"},
		{"snapshot", "SELECT string_agg(column_name, ',' ORDER BY column_index) FROM duckdb_columns() " +
			"WHERE database_name = 'snap' AND table_name = 'issuelinks'"},
	} {
		var got string
		if err := db.QueryRow(c.query).Scan(&got); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got != want {
			t.Errorf("%s columns of issuelinks: got %s, want %s", c.name, got, want)
		}
	}
}

// fillFourMonths writes four issues, one in each of four months, with one to
// four comments.
func fillFourMonths(t *testing.T, f *fixture) {
	t.Helper()
	months := []time.Time{jan, feb, time.Date(2024, 3, 3, 0, 0, 0, 0, time.UTC), time.Date(2024, 4, 4, 0, 0, 0, 0, time.UTC)}
	for i, m := range months {
		f.apply(t, rows("SUP-"+itoa(i+1), itoa(i+1), m, i+1))
	}
}

// manifestDigests is the manifest of dir as sorted lines of partition, rows
// and digest.
func manifestDigests(t *testing.T, dir string) string {
	t.Helper()
	m, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range m.Partitions {
		out = append(out, fmt.Sprintf("%s@%s %d %s", p.Table, p.Month, p.Rows, p.SHA256))
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// TestExportWorkersWriteWhatOneWrites: partitions written several at once are
// the files one at a time writes, every one is recorded, and a partition that
// fails does not stop the others; it stays dirty and its error is returned.
func TestExportWorkersWriteWhatOneWrites(t *testing.T) {
	one := newFixture(t)
	fillFourMonths(t, one)
	want := one.exportDirty(t)

	many := newFixture(t)
	many.e.opts.Workers = 3
	fillFourMonths(t, many)
	// A partition whose month cannot be exported, among the good ones.
	if _, err := many.s.DB().Exec(`INSERT INTO dirty_partitions VALUES ('issues', '2024-13', 1, now())`); err != nil {
		t.Fatal(err)
	}
	done, err := many.e.ExportDirty(context.Background())
	if err == nil || !strings.Contains(err.Error(), "2024-13") {
		t.Errorf("ExportDirty: err %v, want the failure of month 2024-13", err)
	}
	var got []string
	for _, p := range done {
		got = append(got, p.Table+"@"+p.Month)
	}
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("with 3 workers exported %v, want %v", got, want)
	}
	if g, w := manifestDigests(t, many.dir), manifestDigests(t, one.dir); g != w {
		t.Errorf("manifest with 3 workers:\n%s\nwant, as one worker wrote it:\n%s", g, w)
	}
	dirty, err := many.s.DirtyPartitions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(dirty) != 1 || dirty[0].Month != "2024-13" {
		t.Errorf("dirty after the export: %v, want only issues@2024-13", dirty)
	}
}

// TestExportOutOfMemoryWritesAlone: a partition that runs out of DuckDB's
// memory beside another is written again with nothing beside it, the pass
// succeeds, and its files are those one worker writes.
func TestExportOutOfMemoryWritesAlone(t *testing.T) {
	one := newFixture(t)
	fillFourMonths(t, one)
	one.exportDirty(t)

	many := newFixture(t)
	many.e.opts.Workers = 2
	fillFourMonths(t, many)
	var mu sync.Mutex
	inFlight, calls, aloneAtRetry := 0, map[string]int{}, false
	many.e.beforeCopy = func(d store.DirtyPartition) error {
		mu.Lock()
		key := d.Table + "@" + d.Month
		calls[key]++
		inFlight++
		first := calls[key] == 1
		if key == "comments@2024-02" && !first {
			aloneAtRetry = inFlight == 1
		}
		mu.Unlock()
		defer func() { mu.Lock(); inFlight--; mu.Unlock() }()
		time.Sleep(5 * time.Millisecond) // long enough for the other worker to start one
		if key == "comments@2024-02" && first {
			return fmt.Errorf("Out of Memory Error: failed to allocate data of size 32.0 MiB (230.5 MiB/244.1 MiB used)")
		}
		return nil
	}
	if _, err := many.e.ExportDirty(context.Background()); err != nil {
		t.Fatalf("ExportDirty: %v, want the partition that ran out of memory written again", err)
	}
	if calls["comments@2024-02"] != 2 || !aloneAtRetry {
		t.Errorf("comments@2024-02 written %d times, alone the second time: %v; want twice, alone", calls["comments@2024-02"], aloneAtRetry)
	}
	for k, n := range calls {
		if k != "comments@2024-02" && n != 1 {
			t.Errorf("%s written %d times, want once", k, n)
		}
	}
	if g, w := manifestDigests(t, many.dir), manifestDigests(t, one.dir); g != w {
		t.Errorf("manifest after the retry:\n%s\nwant, as one worker wrote it:\n%s", g, w)
	}
	dirty, err := many.s.DirtyPartitions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(dirty) != 0 {
		t.Errorf("still dirty after the pass: %v", dirty)
	}
}

// TestExportRowGroupsBounded: a partition with more rows than RowGroupRows is
// written in several row groups, none larger, with every row in key order.
func TestExportRowGroupsBounded(t *testing.T) {
	f := newFixture(t)
	// DuckDB cuts row groups between its vectors of 2,048 rows.
	f.e.opts.RowGroupRows = 2048
	big := rows("SUP-1", "1", jan, 0)
	for i := range 5000 {
		big.Comments = append(big.Comments, normalize.Comment{CommentID: fmt.Sprintf("1-%05d", i), IssueKey: "SUP-1", Body: sp("c")})
	}
	f.apply(t, big)
	f.apply(t, rows("SUP-2", "2", jan, 1))
	f.exportDirty(t)
	file := PartitionPath(f.dir, "comments", "2024-01")
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q := fmt.Sprintf(`SELECT count(*), max(row_group_num_rows), sum(row_group_num_rows) FROM (
		SELECT DISTINCT row_group_id, row_group_num_rows FROM parquet_metadata(%s))`, store.Quote(file))
	var groups, largest, total int
	if err := db.QueryRow(q).Scan(&groups, &largest, &total); err != nil {
		t.Fatal(err)
	}
	if total != 5001 || largest > 2048 || groups < 3 {
		t.Errorf("comments 2024-01: %d rows in %d row groups of at most %d; want 5,001 rows in groups of at most 2,048", total, groups, largest)
	}
	var ordered bool
	if err := db.QueryRow(fmt.Sprintf(`SELECT bool_and(k >= lag_k OR lag_k IS NULL) FROM (
		SELECT issue_key || '/' || comment_id AS k, lag(issue_key || '/' || comment_id) OVER () AS lag_k FROM read_parquet(%s))`, store.Quote(file))).Scan(&ordered); err != nil {
		t.Fatal(err)
	}
	if !ordered {
		t.Error("comments 2024-01: rows not in key order across row groups")
	}
}
