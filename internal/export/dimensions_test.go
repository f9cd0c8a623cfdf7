package export

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/dimensions"
	"github.com/jiraduck/jiraduck/internal/store"
)

// writeStatuses stores the statuses dimension table with the given rows,
// as a refresh would.
func (f *fixture) writeStatuses(t *testing.T, digest string, rows ...[]any) {
	t.Helper()
	ctx := context.Background()
	src, _ := dimensions.Lookup("statuses")
	table := dimensions.StoreTable(src)
	if _, err := f.s.EnsureDimensionTables(ctx, []store.DimensionTable{table}); err != nil {
		t.Fatal(err)
	}
	err := f.w.Do(ctx, func(ctx context.Context, tx *store.Tx) error {
		_, err := f.s.WriteDimension(ctx, tx, store.DimensionWrite{Table: table, Rows: rows, RowsSHA256: digest,
			ObjectsSHA256: "o-" + digest, At: time.Now().UTC(), Fetched: true})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func statusRow(id, name string) []any {
	return []any{id, name, nil, "done", "Done", "GLOBAL", nil}
}

// TestDimensionExport: a dimension table is published as one file,
// parquet/jira/<table>/data.parquet, listed in the manifest with its path
// and no month, in key order; unchanged content leaves the file and its
// entry alone; an emptied table keeps a file with no rows.
func TestDimensionExport(t *testing.T) {
	f := newFixture(t)
	f.writeStatuses(t, "d1", statusRow("3", "Done"), statusRow("1", "Open"), statusRow("2", "Doing"))
	done := f.exportDirty(t)
	if !slices.Equal(done, []string{"statuses@"}) {
		t.Errorf("got %v exported, want statuses@ (no month)", done)
	}
	path := filepath.Join(Root(f.dir), "statuses", "data.parquet")
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ids string
	if err := db.QueryRow(`SELECT string_agg(id, ',') FROM read_parquet(?)`, path).Scan(&ids); err != nil {
		t.Fatal(err)
	}
	if ids != "1,2,3" {
		t.Errorf("got ids %s, want 1,2,3 (key order)", ids)
	}
	m, err := ReadManifest(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	var entry *store.PublishedPartition
	for i, p := range m.Partitions {
		if p.Table == "statuses" {
			entry = &m.Partitions[i]
		}
	}
	if entry == nil || entry.Month != "" || entry.Path != "statuses/data.parquet" || entry.Rows != 3 || entry.SHA256 == "" || entry.Bytes == 0 {
		t.Fatalf("got manifest entry %+v, want statuses/data.parquet, no month, 3 rows, a digest", entry)
	}
	raw, err := os.ReadFile(filepath.Join(Root(f.dir), "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"path": "statuses/data.parquet"`) {
		t.Errorf("manifest.json has no path for the statuses file:\n%s", raw)
	}
	st, _ := os.Stat(path)

	// The same rows again: nothing to export, the file untouched.
	f.writeStatuses(t, "d1", statusRow("3", "Done"), statusRow("1", "Open"), statusRow("2", "Doing"))
	if done := f.exportDirty(t); len(done) != 0 {
		t.Errorf("unchanged: got %v exported, want nothing", done)
	}
	if st2, _ := os.Stat(path); !st2.ModTime().Equal(st.ModTime()) {
		t.Error("unchanged: the file was written again")
	}

	f.writeStatuses(t, "d2")
	f.exportDirty(t)
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM read_parquet(?)`, path).Scan(&n); err != nil {
		t.Fatalf("emptied table: %v", err)
	}
	if n != 0 {
		t.Errorf("emptied table: got %d rows, want 0", n)
	}
}

// TestDimensionViews: jira_<table> reads the table's one file; without a
// file the view has the table's columns and no row.
func TestDimensionViews(t *testing.T) {
	f := newFixture(t)
	views, err := Views(Root(f.dir))
	if err != nil {
		t.Fatal(err)
	}
	find := func(vs []View, name string) View {
		for _, v := range vs {
			if v.Name == name {
				return v
			}
		}
		t.Fatalf("no view %s", name)
		return View{}
	}
	if v := find(views, "jira_statuses"); !strings.Contains(v.SQL, "WHERE false") || !strings.Contains(v.SQL, "category_key") {
		t.Errorf("without a file: got %s, want a typed view with no row", v.SQL)
	}
	f.writeStatuses(t, "d1", statusRow("1", "Open"))
	f.exportDirty(t)
	views, err = Views(Root(f.dir))
	if err != nil {
		t.Fatal(err)
	}
	v := find(views, "jira_statuses")
	if !strings.Contains(v.SQL, "/statuses/data.parquet") || strings.Contains(v.SQL, "{{root}}") {
		t.Errorf("with a file: got %s, want a view over statuses/data.parquet", v.SQL)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, v := range views {
		if _, err := db.Exec(v.SQL); err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
	}
	var name string
	if err := db.QueryRow(`SELECT name FROM jira_statuses`).Scan(&name); err != nil || name != "Open" {
		t.Errorf("got %q (%v), want Open", name, err)
	}
	// Every dimension table has a view, from sql/ or made alike.
	for _, src := range dimensions.Sources() {
		find(views, "jira_"+src.Table)
	}
}

// TestSnapshotHasDimensionTables: the snapshot copies every dimension
// table under its analysts' name, with a view and a described _meta row.
func TestSnapshotHasDimensionTables(t *testing.T) {
	f := newFixture(t)
	f.writeStatuses(t, "d1", statusRow("1", "Open"), statusRow("2", "Done"))
	out := SnapshotPath(f.dir)
	res, err := Snapshot(context.Background(), f.s, out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows["statuses"] != 2 {
		t.Errorf("got %d statuses in the snapshot, want 2", res.Rows["statuses"])
	}
	db, err := sql.Open("duckdb", out+"?access_mode=read_only")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	var desc string
	if err := db.QueryRow(`SELECT count(*) FROM jira_statuses`).Scan(&n); err != nil || n != 2 {
		t.Errorf("jira_statuses: got %d (%v), want 2", n, err)
	}
	if err := db.QueryRow(`SELECT description FROM _meta WHERE table_name = 'statuses'`).Scan(&desc); err != nil || desc == "" {
		t.Errorf("_meta: got %q (%v), want a description of statuses", desc, err)
	}
}

// TestMarkAllWithDimensionFiles: marking every table (rebuild, export)
// marks the dimension tables' files too, and a published one, whose month
// is empty, is no invalid month; --table of a dimension table marks its
// file alone.
func TestMarkAllWithDimensionFiles(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.apply(t, rows("SUP-1", "100", jan, 1))
	f.writeStatuses(t, "d1", statusRow("1", "Open"))
	f.exportDirty(t)
	for _, tc := range []struct {
		name   string
		tables []string
		want   []string
	}{
		{"every table", nil, []string{"comments@2024-01", "issues@2024-01", "statuses@"}},
		{"one dimension table", []string{"statuses"}, []string{"statuses@"}},
		{"one partitioned table", []string{"comments"}, []string{"comments@2024-01"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := MarkAll(ctx, f.s, f.w, tc.tables, nil); err != nil {
				t.Fatal(err)
			}
			dirty, err := f.s.DirtyPartitions(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range dirty {
				if d.Table == "issues" || d.Table == "comments" || d.Table == "statuses" {
					got = append(got, d.Table+"@"+d.Month)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v marked, want %v", got, tc.want)
			}
			f.exportDirty(t)
		})
	}
}
