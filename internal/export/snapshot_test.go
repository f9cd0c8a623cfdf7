package export

import (
	"context"
	"database/sql"
	"strings"
	"testing"
)

// TestSnapshotOpensInOlderDuckDB: the snapshot is written in the storage
// format DuckDB 1.0 reads, whatever format the embedded DuckDB would choose
// for a new file, so an analyst's older DuckDB opens it.
func TestSnapshotOpensInOlderDuckDB(t *testing.T) {
	f := newFixture(t)
	f.apply(t, rows("SUP-1", "1000", jan, 2))
	out := SnapshotPath(f.dir)
	if _, err := Snapshot(context.Background(), f.s, out); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("duckdb", out+"?access_mode=read_only")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tags string
	if err := db.QueryRow("SELECT tags::VARCHAR FROM duckdb_databases() WHERE database_name = current_database()").Scan(&tags); err != nil {
		t.Fatal(err)
	}
	if want := SnapshotStorageVersion + "+"; !strings.Contains(tags, `"`+want+`"`) && !strings.Contains(tags, "="+want) {
		t.Errorf("snapshot storage version: got tags %s, want %s", tags, want)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM jira_comments").Scan(&n); err != nil || n != 2 {
		t.Errorf("snapshot comments: got %d (%v), want 2", n, err)
	}
}
