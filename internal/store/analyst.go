package store

import (
	"context"
	"database/sql"
	"fmt"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// OpenMemory opens a private in-memory DuckDB for read-only work over files
// (the analyst views over Parquet): it never touches the canonical store, so
// it works while serve holds it.
func OpenMemory(ctx context.Context) (*sql.DB, error) {
	connector, err := duckdb.NewConnector("?"+dsnSettings, initConn)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(connector)
	// One connection: views and settings live in one session.
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// OpenConfined opens a private in-memory DuckDB, like OpenMemory, whose file
// access is confined to dirs (and everything under them) and paths, with its
// configuration locked so that no statement can widen that: what `query`
// runs analysts' SQL in.
func OpenConfined(ctx context.Context, dirs, paths []string) (*sql.DB, error) {
	connector, err := duckdb.NewConnector("?"+dsnSettings, nil)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := confine(ctx, db, dirs, paths); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// CopyParquet writes the answer of query, which must be one statement that
// only reads, to a zstd Parquet file at path.
func CopyParquet(ctx context.Context, conn *sql.Conn, query, path string) error {
	pieces := SplitStatements(query)
	if len(pieces) != 1 {
		return fmt.Errorf("%w: --format parquet writes the answer of one statement, got %d", ErrRefused, len(pieces))
	}
	if err := Vet(ctx, conn, pieces[0], ReadOnly); err != nil {
		return err
	}
	// The statement goes on lines of its own: a trailing line comment
	// would otherwise swallow the closing parenthesis.
	_, err := conn.ExecContext(ctx, fmt.Sprintf("COPY (\n%s\n) TO %s (FORMAT parquet, COMPRESSION zstd)", pieces[0], Quote(path)))
	return err
}

// Exec runs statements on db, each checked.
func Exec(ctx context.Context, db *sql.DB, statements ...string) error {
	for _, st := range statements {
		if _, err := db.ExecContext(ctx, st); err != nil {
			return fmt.Errorf("%w", err)
		}
	}
	return nil
}
