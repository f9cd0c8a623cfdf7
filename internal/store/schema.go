package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// SchemaDump describes the main schema as text: every table with its columns,
// types, nullability and defaults, every constraint, sequence and view, in a
// stable order. The migration test compares it with a golden file.
func (s *Store) SchemaDump(ctx context.Context) (string, error) {
	var b strings.Builder
	last := ""
	err := RunQuery(ctx, s.db, `
		SELECT table_name, column_name, data_type, is_nullable, coalesce(column_default, '')
		FROM duckdb_columns()
		WHERE schema_name = 'main' AND NOT internal
		ORDER BY table_name, column_index`, func(rows *sql.Rows) error {
		var table, col, typ, def string
		var nullable bool
		if err := rows.Scan(&table, &col, &typ, &nullable, &def); err != nil {
			return err
		}
		if table != last {
			fmt.Fprintf(&b, "\n%s\n", table)
			last = table
		}
		line := fmt.Sprintf("  %s %s", col, typ)
		if !nullable {
			line += " NOT NULL"
		}
		if def != "" {
			line += " DEFAULT " + def
		}
		b.WriteString(line + "\n")
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("schema dump: columns: %w", err)
	}
	b.WriteString("\nconstraints\n")
	err = RunQuery(ctx, s.db, `
		SELECT table_name, constraint_type, array_to_string(constraint_column_names, ',')
		FROM duckdb_constraints()
		WHERE schema_name = 'main' AND constraint_type IN ('PRIMARY KEY', 'UNIQUE', 'FOREIGN KEY')
		ORDER BY 1, 2, 3`, func(rows *sql.Rows) error {
		var table, typ, cols string
		if err := rows.Scan(&table, &typ, &cols); err != nil {
			return err
		}
		fmt.Fprintf(&b, "  %s %s (%s)\n", table, typ, cols)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("schema dump: constraints: %w", err)
	}
	for _, part := range []struct{ title, query string }{
		{"sequences", `SELECT sequence_name FROM duckdb_sequences() WHERE schema_name = 'main' ORDER BY 1`},
		{"views", `SELECT view_name FROM duckdb_views() WHERE schema_name = 'main' AND NOT internal ORDER BY 1`},
	} {
		names, err := Collect(ctx, s.db, part.query, scanOne[string])
		if err != nil {
			return "", fmt.Errorf("schema dump: %s: %w", part.title, err)
		}
		b.WriteString("\n" + part.title + "\n")
		for _, name := range names {
			fmt.Fprintf(&b, "  %s\n", name)
		}
	}
	return strings.TrimLeft(b.String(), "\n"), nil
}

// Tables lists the tables of the main schema.
func (s *Store) Tables(ctx context.Context) ([]string, error) {
	out, err := Collect(ctx, s.db, `SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND NOT internal ORDER BY 1`, scanOne[string])
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	return out, nil
}

// ForgetRowHashes clears the digests of every stored issue's rows (see
// ApplyOptions.KeepPayload), so that the next apply of each issue writes all
// of its rows and stores them again.
func ForgetRowHashes(ctx context.Context, tx *Tx) error {
	if _, err := tx.ExecContext(ctx, "UPDATE raw_issues SET row_hashes = NULL"); err != nil {
		return fmt.Errorf("forget row digests: %w", err)
	}
	return nil
}

// EmptyTables empties the named tables inside tx by dropping each and
// creating it again from its own definition (columns, keys and constraints as
// they stand, JIRA_FIELD_MAP columns included). A DELETE of every row costs
// each primary key's index a deletion per row, which on a large store was
// nearly half of a rebuild's time; this takes milliseconds. A table with an
// index of its own, which CREATE TABLE would not bring back, is refused.
func EmptyTables(ctx context.Context, tx *Tx, tables []string) error {
	for _, t := range tables {
		var ddl string
		var dependents int
		err := tx.QueryRowContext(ctx, `SELECT t.sql,
			(SELECT count(*) FROM duckdb_indexes() i WHERE i.schema_name = 'main' AND i.table_name = t.table_name)
			FROM duckdb_tables() t WHERE t.schema_name = 'main' AND t.table_name = ?`, t).Scan(&ddl, &dependents)
		if err != nil {
			return fmt.Errorf("empty %s: read its definition: %w", t, err)
		}
		if dependents > 0 {
			return fmt.Errorf("empty %s: it has %d indexes that dropping it would lose", t, dependents)
		}
		if _, err := tx.ExecContext(ctx, "DROP TABLE "+t); err != nil {
			return fmt.Errorf("empty %s: %w", t, err)
		}
		if _, err := tx.ExecContext(ctx, ddl); err != nil {
			return fmt.Errorf("empty %s: create it again: %w", t, err)
		}
	}
	return nil
}

// columnTypes are the DuckDB types of the analyst columns that are not
// VARCHAR. Every analyst table gives a column name one type, so the name
// decides it; TestColumnTypesMatchTheMigrations holds this to the schema.
var columnTypes = map[string]string{
	"created_at": "TIMESTAMPTZ", "updated_at": "TIMESTAMPTZ", "resolved_at": "TIMESTAMPTZ", "synced_at": "TIMESTAMPTZ",
	"changed_at": "TIMESTAMPTZ", "start_time": "TIMESTAMPTZ", "stop_time": "TIMESTAMPTZ", "breach_time": "TIMESTAMPTZ",
	"observed_at": "TIMESTAMPTZ",
	"due_date":    "DATE",
	"labels":      "VARCHAR[]", "components": "VARCHAR[]", "fix_versions": "VARCHAR[]",
	"attachment_count": "INTEGER", "comment_count": "INTEGER", "issuelink_count": "INTEGER", "item_index": "INTEGER",
	"cycle_index": "INTEGER",
	"size_bytes":  "BIGINT", "goal_millis": "BIGINT", "elapsed_millis": "BIGINT", "remaining_millis": "BIGINT",
	"breached": "BOOLEAN", "paused": "BOOLEAN", "within_calendar_hours": "BOOLEAN", "public_visibility": "BOOLEAN",
	"value_json":                "JSON",
	"original_estimate_seconds": "BIGINT", "remaining_estimate_seconds": "BIGINT", "time_spent_seconds": "BIGINT",
	"aggregate_original_estimate_seconds": "BIGINT", "aggregate_remaining_estimate_seconds": "BIGINT",
	"aggregate_time_spent_seconds": "BIGINT", "status_category_changed_at": "TIMESTAMPTZ", "team_managed": "BOOLEAN",
	"issue_type_hierarchy_level": "INTEGER", "subtask_keys": "VARCHAR[]", "votes": "INTEGER", "watches": "INTEGER",
	"media_index": "INTEGER", "started_at": "TIMESTAMPTZ",
	"story_points": "DOUBLE", "issue_month": "DATE",
}

// ColumnType is the DuckDB type of an analyst column. The flat SLA columns
// of issues (<metric>_breached, <metric>_*_millis) follow their suffix; a
// JIRA_FIELD_MAP column, like most, is VARCHAR.
func ColumnType(name string) string {
	if t, ok := columnTypes[name]; ok {
		return t
	}
	switch {
	case strings.HasSuffix(name, "_breached"):
		return "BOOLEAN"
	case strings.HasSuffix(name, "_millis"):
		return "BIGINT"
	}
	return "VARCHAR"
}
