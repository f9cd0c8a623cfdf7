package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/internal/export"
)

// portabilityDir holds the reader the portability test runs: hyparquet, a
// Parquet reader for JavaScript that jiraduck did not write, installed with
// npm ci outside the Go module (.ci/run does it).
const portabilityDir = "../../internal/export/testdata/portability"

// parquetTypes are the Parquet types DuckDB's types are written as, named as
// read.mjs names them.
var parquetTypes = map[string]string{
	"VARCHAR": "STRING", "INTEGER": "INT32", "BIGINT": "INT64", "BOOLEAN": "BOOLEAN", "DATE": "DATE",
	"TIMESTAMP WITH TIME ZONE": "TIMESTAMP_UTC", "JSON": "JSON", "VARCHAR[]": "LIST<STRING>", "DOUBLE": "DOUBLE",
}

// TestPortableParquet reads every partition of a demo export with a reader
// we did not write and compares what it finds with the manifest (rows) and
// with DuckDB (columns, their order and types); every partition of a table
// has the same columns.
func TestPortableParquet(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator test skipped in -short mode")
	}
	t.Parallel()
	node := nodeReader(t)
	dir := filepath.Join(t.TempDir(), "data")
	if out, errOut, code := runCmd(t, []string{"JIRADUCK_LOG_FORMAT=json", "JIRADUCK_LOG_LEVEL=warn"},
		"demo", "--issues", "80", "--events", "60", "--data-dir", dir); code != 0 {
		t.Fatalf("demo: code %d\n%s\n%s", code, out, errOut)
	}
	root := export.Root(dir)
	cmd := exec.Command(node, filepath.Join(portabilityDir, "read.mjs"), root)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node read.mjs: %v\n%s", err, stderr.String())
	}
	var files []struct {
		Path    string      `json:"path"`
		Rows    int64       `json:"rows"`
		NumRows int64       `json:"num_rows"`
		Columns [][2]string `json:"columns"`
	}
	if err := json.Unmarshal(out, &files); err != nil {
		t.Fatalf("read.mjs output: %v", err)
	}
	m, err := export.ReadManifest(dir)
	apptest.Must(t, err)
	want := map[string]int64{}
	for _, p := range m.Partitions {
		// Every entry names its file; a dimension table's has no month.
		want[filepath.FromSlash(p.Path)] = p.Rows
	}
	if len(files) != len(want) {
		t.Errorf("partitions read: got %d, the manifest lists %d", len(files), len(want))
	}
	db := apptest.MemoryDB(t)
	tableColumns := map[string][][2]string{}
	tables := map[string]bool{}
	for _, f := range files {
		rows, ok := want[f.Path]
		switch {
		case !ok:
			t.Errorf("%s: not in the manifest", f.Path)
		case f.Rows != rows || f.NumRows != rows:
			t.Errorf("%s: read %d rows (footer says %d), the manifest %d", f.Path, f.Rows, f.NumRows, rows)
		}
		var duck [][2]string
		for _, c := range apptest.DescribeFile(t, db, filepath.Join(root, f.Path)) {
			typ, ok := parquetTypes[c[1]]
			if !ok {
				t.Errorf("%s: column %s has DuckDB type %s, which this test does not map to Parquet", f.Path, c[0], c[1])
			}
			duck = append(duck, [2]string{c[0], typ})
		}
		if !slices.Equal(f.Columns, duck) {
			t.Errorf("%s columns:\n read %v\nDuckDB %v", f.Path, f.Columns, duck)
		}
		table := strings.Split(filepath.ToSlash(f.Path), "/")[0]
		tables[table] = true
		if prev, ok := tableColumns[table]; ok && !slices.Equal(prev, f.Columns) {
			t.Errorf("%s: columns differ from another partition of %s:\n got %v\nwant %v", f.Path, table, f.Columns, prev)
		}
		tableColumns[table] = f.Columns
	}
	if len(tables) < 5 {
		t.Errorf("tables read: got %v, want most analyst tables from a demo", tables)
	}
}

// nodeReader returns node's path once read.mjs can run, and skips (fails
// where JIRADUCK_REQUIRE_NODE=1, as in CI) when it cannot.
func nodeReader(t *testing.T) string {
	t.Helper()
	missing := func(why string) {
		msg := fmt.Sprintf("portability test: %s (install Node.js and run npm ci in internal/export/testdata/portability; .ci/run does)", why)
		if os.Getenv("JIRADUCK_REQUIRE_NODE") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node not found")
	}
	for _, m := range []string{"hyparquet", "hyparquet-compressors"} {
		if _, err := os.Stat(filepath.Join(portabilityDir, "node_modules", m, "package.json")); err != nil {
			missing(m + " is not installed")
		}
	}
	return node
}
