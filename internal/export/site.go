package export

import (
	"regexp"

	"github.com/jiraduck/jiraduck/internal/store"
)

// The analyst views carry a site column: the site's name (JIRADUCK_SITE).
// The Parquet files do not: in the bucket the name is in the path
// (<prefix>/site=<name>/jira/...), and a hive-partitioned read of every
// site's files gives the column from there; a file column of the same name
// would be read twice over by engines that add partition columns to the
// files' own (Spark refuses such a table, Athena and Trino want partition
// columns apart from the data columns). So the local views add the column
// the bucket's layout gives, and a query runs alike on both.

// siteLiteral is the SQL value of the site column: the name, or NULL when
// the site has none (no JIRADUCK_SITE, no JIRA_DOMAIN).
func siteLiteral(site string) string {
	if site == "" {
		return "CAST(NULL AS VARCHAR)"
	}
	return store.Quote(site)
}

// viewStatement splits CREATE OR REPLACE VIEW <name> AS <query> after AS.
var viewStatement = regexp.MustCompile(`(?is)^(.*?\bCREATE\s+OR\s+REPLACE\s+VIEW\s+\S+\s+AS\s+)(.*?)[;\s]*$`)

// withSite adds the site column to a view's statement: its query's columns
// and the site's name after them. A statement of another shape is left as
// it is.
func withSite(stmt, site string) string {
	m := viewStatement.FindStringSubmatch(stmt)
	if m == nil {
		return stmt
	}
	return m[1] + "SELECT *, " + siteLiteral(site) + " AS site FROM (" + m[2] + ")"
}
