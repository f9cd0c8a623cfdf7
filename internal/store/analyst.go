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

// Exec runs statements on db, each checked.
func Exec(ctx context.Context, db *sql.DB, statements ...string) error {
	for _, st := range statements {
		if _, err := db.ExecContext(ctx, st); err != nil {
			return fmt.Errorf("%w", err)
		}
	}
	return nil
}
