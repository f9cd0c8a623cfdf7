package export

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/dimensions"
	"github.com/jiraduck/jiraduck/internal/normalize"
	"github.com/jiraduck/jiraduck/internal/store"
	sqlfiles "github.com/jiraduck/jiraduck/sql"
)

// View is one analyst view: its name, the table it reads and its statement.
// A derived view (jira_issue_field_history) reads other views: its Table is
// empty.
type View struct {
	Name  string
	Table string
	SQL   string
}

// Views returns the analyst views (sql/view_*.sql) reading the partitions
// under root. A table with no published file yet gets a typed view with no
// rows instead (see emptyView): DuckDB refuses to create a view over a glob
// that matches nothing, and a query of a table that is merely empty should
// return nothing, not "does not exist". The derived views, which read the
// table views, come last.
func Views(root string) ([]View, error) { return ViewsFor(root, "") }

// ViewsFor is Views with the site column holding site's name (see
// withSite).
func ViewsFor(root, site string) ([]View, error) {
	tables, derived, err := viewFiles()
	if err != nil {
		return nil, err
	}
	// The views' SQL holds {{root}} inside a string literal: what goes there
	// is the quoted path without its quotes.
	inside := store.Quote(root)
	inside = inside[1 : len(inside)-1]
	out := make([]View, 0, len(tables)+len(derived))
	for _, v := range tables {
		pattern := filepath.Join(root, v.Table, "month=*", "*.parquet")
		if _, dim := dimensions.Lookup(v.Table); dim {
			pattern = filepath.Join(root, v.Table, "data.parquet")
		}
		files, _ := filepath.Glob(pattern)
		if len(files) == 0 {
			out = append(out, emptyView(v.Name, v.Table, site))
			continue
		}
		v.SQL = withSite(strings.ReplaceAll(v.SQL, "{{root}}", inside), site)
		out = append(out, v)
	}
	return append(out, derived...), nil
}

// DerivedViews returns the views that read other analyst views rather than
// a table's files, in name order: the snapshot creates them over its own.
func DerivedViews() ([]View, error) {
	_, derived, err := viewFiles()
	return derived, err
}

// viewFiles reads sql/view_*.sql in name order: the views of analyst tables
// (jira_<table>), and the derived ones, which name no table.
func viewFiles() (tables, derived []View, err error) {
	entries, err := fs.Glob(sqlfiles.FS, "view_*.sql")
	if err != nil {
		return nil, nil, err
	}
	sort.Strings(entries)
	for _, name := range entries {
		body, err := fs.ReadFile(sqlfiles.FS, name)
		if err != nil {
			return nil, nil, err
		}
		view := strings.TrimSuffix(strings.TrimPrefix(name, "view_"), ".sql")
		table := strings.TrimPrefix(view, "jira_")
		if _, dim := dimensions.Lookup(table); !dim && !slices.Contains(normalize.Tables, table) {
			derived = append(derived, View{Name: view, SQL: string(body)})
			continue
		}
		tables = append(tables, View{Name: view, Table: table, SQL: string(body)})
	}
	// A dimension table without a file in sql/ gets the statement every
	// one of them has.
	for _, src := range dimensions.Sources() {
		if !slices.ContainsFunc(tables, func(v View) bool { return v.Table == src.Table }) {
			tables = append(tables, View{Name: "jira_" + src.Table, Table: src.Table, SQL: DimensionViewSQL(src.Table)})
		}
	}
	return tables, derived, nil
}

// DimensionViewSQL is the view of a dimension table over its one file, as
// sql/view_jira_<table>.sql writes it.
func DimensionViewSQL(table string) string {
	return fmt.Sprintf("CREATE OR REPLACE VIEW jira_%s AS\nSELECT * FROM read_parquet('{{root}}/%s/data.parquet');\n", table, table)
}

// emptyView is the view of a table with no partition: its columns as the
// files would have them (with the hive month column, VARCHAR, and the site)
// and no row.
// The issues columns are those of the default settings: with no partition
// of issues there is no issue, and no promoted value, to show.
func emptyView(view, table, site string) View {
	if src, dim := dimensions.Lookup(table); dim {
		exprs := make([]string, 0, len(src.Columns)+1)
		for _, c := range src.Columns {
			exprs = append(exprs, fmt.Sprintf("CAST(NULL AS %s) AS %s", c.Type, store.Ident(c.Name)))
		}
		exprs = append(exprs, siteLiteral(site)+" AS site")
		return View{Name: view, Table: table, SQL: fmt.Sprintf("CREATE OR REPLACE VIEW %s AS SELECT %s WHERE false", view, strings.Join(exprs, ", "))}
	}
	cols := store.TableColumns(table)
	if table == "issues" {
		cols = store.IssueColumns(config.DefaultSLAFields, nil)
	}
	exprs := make([]string, 0, len(cols)+1)
	for _, c := range cols {
		exprs = append(exprs, fmt.Sprintf("CAST(NULL AS %s) AS %s", store.ColumnType(c), c))
	}
	exprs = append(exprs, "CAST(NULL AS VARCHAR) AS month", siteLiteral(site)+" AS site")
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
