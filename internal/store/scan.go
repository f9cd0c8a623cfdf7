package store

import (
	"context"
	"database/sql"
	"errors"
)

// Querier runs a query: *sql.DB, *sql.Conn, *sql.Tx and *Tx all do.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Execer runs a statement: *sql.DB, *sql.Conn, *sql.Tx and *Tx all do.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// errStop, returned by the function given each row, stops reading rows
// without an error.
var errStop = errors.New("stop reading rows")

// RunQuery runs query on q and calls fn with each row. It returns the first
// error: the query's, fn's, or the one that ended the rows early, which a
// loop over rows.Next alone takes for the last row (a failed connection, a
// cancelled context, DuckDB running out of memory half-way).
func RunQuery(ctx context.Context, q Querier, query string, fn func(*sql.Rows) error, args ...any) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	return eachRow(rows, fn)
}

// Collect runs query on q and returns what scan makes of each row, in order;
// errors are those of RunQuery.
func Collect[T any](ctx context.Context, q Querier, query string, scan func(*sql.Rows) (T, error), args ...any) ([]T, error) {
	var out []T
	err := RunQuery(ctx, q, query, func(rows *sql.Rows) error {
		v, err := scan(rows)
		if err != nil {
			return err
		}
		out = append(out, v)
		return nil
	}, args...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// scanOne reads a row of one column.
func scanOne[T any](rows *sql.Rows) (T, error) {
	var v T
	err := rows.Scan(&v)
	return v, err
}

// eachRow calls fn with each of rows, closes them and returns the first
// error (see RunQuery); fn returns errStop to stop before the last row.
func eachRow(rows *sql.Rows, fn func(*sql.Rows) error) error {
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			if errors.Is(err, errStop) {
				return nil
			}
			return err
		}
	}
	return rows.Err()
}

// scanAny reads a row of one column as an any holding a T: the form query
// arguments take.
func scanAny[T any](rows *sql.Rows) (any, error) {
	v, err := scanOne[T](rows)
	return v, err
}
