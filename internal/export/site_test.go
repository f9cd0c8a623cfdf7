package export

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jiraduck/jiraduck/internal/store"
)

// siteTree copies a fixture's exported tree under base as the bucket lays
// it out: base/site=<site>/jira/<table>/month=YYYY-MM/data.parquet.
func siteTree(t *testing.T, f *fixture, base, site string) {
	t.Helper()
	src := Root(f.dir)
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || !strings.HasSuffix(p, ".parquet") {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		dst := filepath.Join(base, "site="+site, "jira", rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o640)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func columnsOf(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.Query("DESCRIBE " + q)
	if err != nil {
		t.Fatalf("describe %s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		var rest [5]sql.NullString
		if err := rows.Scan(&name, &rest[0], &rest[1], &rest[2], &rest[3], &rest[4]); err != nil {
			t.Fatal(err)
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// TestSitesUnionWithHivePartitions: the files of two sites laid out as in
// the bucket read as one table with DuckDB's hive partitioning, with site
// and month columns and no clash, and with the same columns as one site's
// local view, whose site column the settings give.
func TestSitesUnionWithHivePartitions(t *testing.T) {
	ctx := context.Background()
	acme, globex := newFixture(t), newFixture(t)
	acme.apply(t, rows("A-1", "1", jan, 2))
	acme.apply(t, rows("A-2", "2", jan.AddDate(0, 1, 0), 1))
	acme.exportDirty(t)
	globex.apply(t, rows("G-1", "11", jan, 0))
	globex.exportDirty(t)
	base := t.TempDir()
	siteTree(t, acme, base, "acme")
	siteTree(t, globex, base, "globex")

	db, err := store.OpenMemory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	union := "read_parquet(" + store.Quote(filepath.Join(base, "site=*", "jira", "issues", "*", "*.parquet")) + ", hive_partitioning = true)"
	got := map[string]int{}
	q, err := db.Query("SELECT site || ' ' || month || ' ' || issue_key FROM " + union + " ORDER BY 1")
	if err != nil {
		t.Fatalf("union of the sites: %v", err)
	}
	for q.Next() {
		var s string
		if err := q.Scan(&s); err != nil {
			t.Fatal(err)
		}
		got[s]++
	}
	q.Close()
	want := map[string]int{"acme 2024-01 A-1": 1, "acme 2024-02 A-2": 1, "globex 2024-01 G-1": 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows of the union (-want +got):\n%s", diff)
	}

	views, err := ViewsFor(Root(acme.dir), "acme")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range views {
		if _, err := db.Exec(v.SQL); err != nil {
			t.Fatalf("view %s: %v", v.Name, err)
		}
	}
	var site string
	if err := db.QueryRow("SELECT DISTINCT site FROM jira_issues").Scan(&site); err != nil || site != "acme" {
		t.Errorf("site column of the local view: got %q (%v), want acme", site, err)
	}
	if diff := cmp.Diff(columnsOf(t, db, "SELECT * FROM "+union), columnsOf(t, db, "jira_issues")); diff != "" {
		t.Errorf("columns of the union and of the local view differ (-union +view):\n%s", diff)
	}
	// A table with no file yet has the site column too.
	var n int
	if err := db.QueryRow("SELECT count(site) FROM jira_worklogs").Scan(&n); err != nil {
		t.Errorf("site column of an empty table's view: %v", err)
	}
}

// TestWithSite covers the statement shapes the site column is added to.
func TestWithSite(t *testing.T) {
	cases := []struct{ name, stmt, site, want string }{
		{"table view", "-- comment\nCREATE OR REPLACE VIEW jira_issues AS\nSELECT * FROM read_parquet('x');", "acme",
			"-- comment\nCREATE OR REPLACE VIEW jira_issues AS\nSELECT *, 'acme' AS site FROM (SELECT * FROM read_parquet('x'))"},
		{"no site", "CREATE OR REPLACE VIEW v AS SELECT 1 AS a", "",
			"CREATE OR REPLACE VIEW v AS SELECT *, CAST(NULL AS VARCHAR) AS site FROM (SELECT 1 AS a)"},
		{"quote in the name", "CREATE OR REPLACE VIEW v AS SELECT 1", "o'neil", "CREATE OR REPLACE VIEW v AS SELECT *, 'o''neil' AS site FROM (SELECT 1)"},
		{"another statement", "SELECT 1", "acme", "SELECT 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := withSite(c.stmt, c.site); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// TestSnapshotViewsHaveTheSite: the snapshot's views carry the site column
// too, every table's, with the name the options give.
func TestSnapshotViewsHaveTheSite(t *testing.T) {
	f := newFixture(t)
	f.apply(t, rows("SUP-1", "1000", jan, 2))
	out := SnapshotPath(f.dir)
	if _, err := SnapshotTo(context.Background(), f.s, out, SnapshotOptions{Replace: true, Site: "acme"}); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("duckdb", out+"?access_mode=read_only")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cases := []struct {
		view string
		want string
	}{
		{"jira_issues", "acme 1"},
		{"jira_comments", "acme 2"},
		{"jira_worklogs", " 0"},
	}
	for _, c := range cases {
		t.Run(c.view, func(t *testing.T) {
			var got string
			if err := db.QueryRow("SELECT coalesce(any_value(site), '') || ' ' || count(*) FROM " + c.view).Scan(&got); err != nil || got != c.want {
				t.Errorf("site and rows of %s: got %q (%v), want %q", c.view, got, err, c.want)
			}
		})
	}
}
