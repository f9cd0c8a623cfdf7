package export

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	sqlfiles "github.com/jiraduck/jiraduck/sql"
)

// View is one analyst view: its name, the table it reads and its statement.
type View struct {
	Name  string
	Table string
	SQL   string
}

// Views returns the analyst views (sql/view_*.sql) reading the partitions
// under root. Only views whose table has at least one published file are
// returned: DuckDB refuses to create a view over a glob that matches nothing.
func Views(root string) ([]View, error) {
	entries, err := fs.Glob(sqlfiles.FS, "view_*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(entries)
	var out []View
	for _, name := range entries {
		body, err := fs.ReadFile(sqlfiles.FS, name)
		if err != nil {
			return nil, err
		}
		view := strings.TrimSuffix(strings.TrimPrefix(name, "view_"), ".sql")
		table := strings.TrimPrefix(view, "jira_")
		files, _ := filepath.Glob(filepath.Join(root, table, "month=*", "*.parquet"))
		if len(files) == 0 {
			continue
		}
		out = append(out, View{Name: view, Table: table, SQL: strings.ReplaceAll(string(body), "{{root}}", sqlQuote(root))})
	}
	return out, nil
}

// sqlQuote escapes a path for use inside a single-quoted SQL literal.
func sqlQuote(s string) string { return strings.ReplaceAll(s, "'", "''") }

// CheckRoot reports a missing parquet folder in words an analyst understands.
func CheckRoot(root string) error {
	st, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("no exported data at %s (run jiraduck serve, backfill or export first)", root)
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a folder", root)
	}
	return nil
}
