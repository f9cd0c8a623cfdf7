package store

import (
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// appendRows appends rows to table through DuckDB's appender on conn, inside
// the transaction open there. A duplicate key surfaces when the appender is
// closed, and fails the transaction like an INSERT would.
func appendRows(conn *sql.Conn, table string, cols []string, rows [][]any) error {
	return conn.Raw(func(dc any) error {
		a, err := duckdb.NewAppenderWithColumns(dc.(driver.Conn), "", "", table, cols)
		if err != nil {
			return fmt.Errorf("append %s: %w", table, err)
		}
		vals := make([]driver.Value, len(cols))
		for _, row := range rows {
			for i, v := range row {
				vals[i] = appendValue(v)
			}
			if err := a.AppendRow(vals...); err != nil {
				_ = a.Close()
				return fmt.Errorf("append %s: %w", table, err)
			}
		}
		if err := a.Close(); err != nil {
			return fmt.Errorf("append %s: %w", table, err)
		}
		return nil
	})
}

// jsonText is the text of a JSON column's value. The appender encodes what
// it is given as JSON (a plain string would become a JSON string literal), so
// JSON text goes to it as json.RawMessage and to INSERTs as a string.
type jsonText string

// jsonValue wraps the text of a JSON column, NULL when nil.
func jsonValue(s *string) any {
	if s == nil {
		return nil
	}
	return jsonText(*s)
}

// bindValue turns a row value into what an INSERT binds.
func bindValue(v any) any {
	if j, ok := v.(jsonText); ok {
		return string(j)
	}
	return v
}

// appendValue turns the row values of this package into what the appender
// takes: pointers become their value or NULL.
func appendValue(v any) driver.Value {
	switch x := v.(type) {
	case jsonText:
		return json.RawMessage(x)
	case *string:
		if x == nil {
			return nil
		}
		return *x
	case *time.Time:
		if x == nil {
			return nil
		}
		return *x
	case *int64:
		if x == nil {
			return nil
		}
		return *x
	case *int32:
		if x == nil {
			return nil
		}
		return *x
	case *bool:
		if x == nil {
			return nil
		}
		return *x
	case *float64:
		if x == nil {
			return nil
		}
		return *x
	case []string:
		if x == nil {
			return []string{}
		}
		return x
	}
	return v
}
