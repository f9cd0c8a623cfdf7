package export

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/jiraduck/jiraduck/internal/dimensions"
	"github.com/jiraduck/jiraduck/internal/files"
	"github.com/jiraduck/jiraduck/internal/normalize"
	"github.com/jiraduck/jiraduck/internal/store"
)

// TestEmptyTablesGetTypedViews: an export of issues without comments,
// links or SLA rows publishes no file for those tables; their views still
// exist, with no row and the columns and types the files would have.
func TestEmptyTablesGetTypedViews(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.apply(t, rows("A-1", "1", jan, 0))
	f.exportDirty(t)

	// A reference tree where every table has a file, empty ones included:
	// DuckDB writes the schema of an empty SELECT. It lies in the data
	// directory: the store's DuckDB may write nowhere else.
	ref := filepath.Join(f.dir, "reference")
	for _, table := range normalize.Tables {
		q, err := f.e.selectQuery(table, "2024-01")
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(ref, table, "month=2024-01")
		if err := files.MkdirAll(dir); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.DB().ExecContext(ctx, fmt.Sprintf("COPY (%s) TO %s (FORMAT parquet)", q, store.Quote(filepath.Join(dir, "data.parquet")))); err != nil {
			t.Fatal(err)
		}
	}
	published := viewsDB(t, Root(f.dir))
	reference := viewsDB(t, ref)
	for _, table := range normalize.Tables {
		t.Run(table, func(t *testing.T) {
			view := "jira_" + table
			got, want := describe(t, published, view), describe(t, reference, view)
			if !slices.Equal(got, want) {
				t.Errorf("columns of %s:\n got %v\nwant %v", view, got, want)
			}
			wantRows := 0
			if table == "issues" {
				wantRows = 1
			}
			var n int
			if err := published.QueryRow("SELECT count(*) FROM " + view).Scan(&n); err != nil || n != wantRows {
				t.Errorf("rows of %s: got %d (%v), want %d", view, n, err, wantRows)
			}
		})
	}
}

func viewsDB(t *testing.T, root string) *sql.DB {
	t.Helper()
	db, err := store.OpenMemory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	views, err := Views(root)
	if err != nil {
		t.Fatal(err)
	}
	tables := 0
	for _, v := range views {
		if v.Table != "" {
			tables++
		}
	}
	if want := len(normalize.Tables) + len(dimensions.Sources()); tables != want {
		t.Fatalf("views over %s: got %d of tables, want one per table (%d)", root, tables, want)
	}
	for _, v := range views {
		if _, err := db.Exec(v.SQL); err != nil {
			t.Fatalf("view %s: %v", v.Name, err)
		}
	}
	return db
}

// describe lists "name type" of a view's columns in order.
func describe(t *testing.T, db *sql.DB, view string) []string {
	t.Helper()
	rows, err := db.Query("SELECT column_name, column_type FROM (DESCRIBE " + view + ")")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			t.Fatal(err)
		}
		out = append(out, name+" "+typ)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
