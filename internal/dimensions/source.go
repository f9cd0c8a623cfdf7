// Package dimensions keeps the site's objects other than issues (projects,
// users, versions, statuses, sprints, organizations, ...) as unpartitioned
// analyst tables: parquet/jira/<table>/data.parquet. Each table is a Source:
// how Jira serves its objects and how one stored object becomes a row.
package dimensions

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/jiraduck/jiraduck/internal/jira/client"
)

// Product is the Jira product whose REST API serves a table. A site without
// the product answers its API with 403 or 404: the table is then skipped with
// one log line and a note on the status page, never failed.
type Product string

// The products a table can come from.
const (
	Platform    Product = ""            // /rest/api/3: every Jira Cloud site
	Software    Product = "software"    // /rest/agile/1.0: Jira Software
	ServiceDesk Product = "servicedesk" // /rest/servicedeskapi: Jira Service Management
)

// Column is one column of a dimension table.
type Column struct {
	Name string // snake_case, as analysts see it
	Type string // DuckDB type: VARCHAR, BIGINT, DOUBLE, BOOLEAN, DATE, TIMESTAMPTZ, VARCHAR[]
}

// Object is one object of a table as Jira gave it: its id within the table
// (unique per table) and its JSON payload, stored raw so that rebuild can
// derive the row again without calling Jira.
type Object struct {
	ID      string
	Payload json.RawMessage
}

// Source is one dimension table.
type Source struct {
	// Table is the table's name; the view is jira_<Table>.
	Table string
	// Columns in table order.
	Columns []Column
	// Key names the columns that identify a row.
	Key []string
	// Product is the API the objects come from.
	Product Product
	// Events are the webhook event types (e.g. "sprint_started") that make
	// the table refresh within seconds.
	Events []string
	// Fetch returns every object of the table, paging through Jira.
	Fetch func(ctx context.Context, c *client.Client) ([]Object, error)
	// Row derives one row, in Columns order, from a stored object. Values are
	// nil (NULL), string, int64, float64, bool, time.Time or []string.
	Row func(o Object) ([]any, error)

	// References (optional) names issue-level columns, as "table.column",
	// whose values are ids of this table's objects. After Fetch, the ids
	// found there that Fetch did not return are looked up with Resolve
	// (required with References): every account id in issues, comments,
	// worklogs, changelog and attachments resolves in users, even those of
	// accounts users/search no longer lists.
	References []string
	// Resolve (optional) fetches the objects of the given ids; ids Jira
	// does not know are left out.
	Resolve func(ctx context.Context, c *client.Client, ids []string) ([]Object, error)
}

// Sources lists every dimension table in the order they are refreshed: a
// table whose Fetch needs another's objects (sprints need boards) comes after it.
func Sources() []Source {
	return slices.Concat(platformSources(), softwareSources(), serviceDeskSources())
}

// Lookup returns the source of a dimension table by name.
func Lookup(table string) (Source, bool) {
	for _, s := range Sources() {
		if s.Table == table {
			return s, true
		}
	}
	return Source{}, false
}
