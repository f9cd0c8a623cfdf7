package export

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/store"
	sqlfiles "github.com/jiraduck/jiraduck/sql"
)

// View is one analyst view: its name, the table it reads and its statement.
type View struct {
	Name  string
	Table string
	SQL   string
}

// Views returns the analyst views (sql/view_*.sql) reading the partitions
// under root. A table with no published file yet gets a typed view with no
// rows instead (see emptyView): DuckDB refuses to create a view over a glob
// that matches nothing, and a query of a table that is merely empty should
// return nothing, not "does not exist".
func Views(root string) ([]View, error) {
	entries, err := fs.Glob(sqlfiles.FS, "view_*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(entries)
	// The views' SQL holds {{root}} inside a string literal: what goes there
	// is the quoted path without its quotes.
	inside := store.Quote(root)
	inside = inside[1 : len(inside)-1]
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
			out = append(out, emptyView(view, table))
			continue
		}
		out = append(out, View{Name: view, Table: table, SQL: strings.ReplaceAll(string(body), "{{root}}", inside)})
	}
	return out, nil
}

// emptyView is the view of a table with no partition: its columns as the
// files would have them (with the hive month column, VARCHAR) and no row.
// The issues columns are those of the default settings: with no partition
// of issues there is no issue, and no promoted value, to show.
func emptyView(view, table string) View {
	cols := store.TableColumns(table)
	if table == "issues" {
		cols = store.IssueColumns(config.DefaultSLAFields, nil)
	}
	exprs := make([]string, 0, len(cols)+1)
	for _, c := range cols {
		exprs = append(exprs, fmt.Sprintf("CAST(NULL AS %s) AS %s", store.ColumnType(c), c))
	}
	exprs = append(exprs, "CAST(NULL AS VARCHAR) AS month")
	return View{Name: view, Table: table, SQL: fmt.Sprintf("CREATE OR REPLACE VIEW %s AS SELECT %s WHERE false", view, strings.Join(exprs, ", "))}
}

// CheckRoot reports a missing parquet folder in words an analyst understands.
func CheckRoot(root string) error {
	st, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("no exported data at %s: nothing is published until the store holds issues "+
			"(jiraduck backfill, or serve as webhooks arrive, loads and publishes them)", root)
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a folder", root)
	}
	return nil
}
