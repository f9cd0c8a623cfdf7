package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// Result is the outcome of an ad-hoc statement: column names and rows of values
// rendered for people and machines.
type Result struct {
	Columns []string `json:"columns"`
	Rows    [][]any  `json:"rows"`
	// RowsAffected is set for statements that return no rows.
	RowsAffected int64 `json:"rows_affected,omitempty"`
}

// RunSQL runs one or more statements, as an operator typed them, and returns
// the result of the last one. Values come back JSON-friendly: timestamps in
// RFC 3339 UTC, lists as slices, decimals and huge integers as strings.
func RunSQL(ctx context.Context, db *sql.DB, query string, maxRows int) (*Result, error) {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	res := &Result{Columns: cols, Rows: [][]any{}}
	err = eachRow(rows, func(rows *sql.Rows) error {
		vals, err := scanPlain(rows, len(cols))
		if err != nil {
			return err
		}
		res.Rows = append(res.Rows, vals)
		if maxRows > 0 && len(res.Rows) >= maxRows {
			return errStop
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// A statement without a result set (UPDATE, DELETE...) still reports a
	// "Count" column in DuckDB; keep it as is so the operator sees the count.
	return res, nil
}

// RunSQL runs an operator's statement on the store.
func (s *Store) RunSQL(ctx context.Context, query string, maxRows int) (*Result, error) {
	return RunSQL(ctx, s.db, query, maxRows)
}

// scanPlain reads a row of n columns as JSON-friendly values (plain).
func scanPlain(rows *sql.Rows, n int) ([]any, error) {
	vals := make([]any, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	for i, v := range vals {
		vals[i] = plain(v)
	}
	return vals, nil
}

// plain converts driver values to JSON-friendly Go values.
func plain(v any) any {
	switch x := v.(type) {
	case nil, bool, string, int64, int32, int16, int8, int, uint8, uint16, uint32, float32, float64:
		return x
	case uint64:
		if x > 1<<53 {
			return strconv.FormatUint(x, 10)
		}
		return x
	case *big.Int:
		// HUGEINT results (count_if, sums of BIGINT) usually fit an int64.
		if x.IsInt64() {
			return x.Int64()
		}
		return x.String()
	case []byte:
		return string(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case duckdb.UUID:
		return x.String()
	case duckdb.Decimal:
		return x.String()
	case duckdb.Interval:
		return fmt.Sprintf("%d months %d days %d us", x.Months, x.Days, x.Micros)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plain(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = plain(e)
		}
		return out
	case duckdb.Map:
		out := map[string]any{}
		for k, e := range x {
			out[fmt.Sprint(plain(k))] = plain(e)
		}
		return out
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice {
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = plain(rv.Index(i).Interface())
		}
		return out
	}
	if b, err := json.Marshal(v); err == nil {
		return strings.Trim(string(b), `"`)
	}
	return fmt.Sprint(v)
}
