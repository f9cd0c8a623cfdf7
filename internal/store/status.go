package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
)

// StoreOnlyTables are the tables that stay in the canonical store and are
// never exported.
var StoreOnlyTables = []string{"raw_issues", "fields", "webhook_events", "sync_runs", "dirty_partitions", "partitions", "schema_migrations",
	"dimension_objects", "dimension_tables"}

// TableCount is the number of rows of one table; Err is set instead when the
// table could not be counted.
type TableCount struct {
	Table string
	Rows  int64
	Err   error
}

var plainName = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// RowCounts counts the rows of each table, one statement per table so a
// missing or broken table costs only its own line.
func (s *Store) RowCounts(ctx context.Context, tables []string) []TableCount {
	out := make([]TableCount, 0, len(tables))
	for _, t := range tables {
		c := TableCount{Table: t}
		if !plainName.MatchString(t) {
			c.Err = fmt.Errorf("count %q: not a table name", t)
		} else if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM "`+t+`"`).Scan(&c.Rows); err != nil {
			c.Err = fmt.Errorf("count %s: %w", t, err)
		}
		out = append(out, c)
	}
	return out
}

// AttachmentCounts says how many catalogued attachments have their bytes
// stored, how many were skipped on purpose (too large, refused) and how many
// are still waiting for a download.
type AttachmentCounts struct {
	Total       int64
	Stored      int64
	StoredBytes int64
	Skipped     int64
	Pending     int64
}

// AttachmentCounts counts the attachments by what happened to their bytes.
func (s *Store) AttachmentCounts(ctx context.Context) (AttachmentCounts, error) {
	var c AttachmentCounts
	err := s.db.QueryRowContext(ctx, `SELECT count(*),
		count(*) FILTER (WHERE local_path IS NOT NULL),
		coalesce(sum(size_bytes) FILTER (WHERE local_path IS NOT NULL), 0),
		count(*) FILTER (WHERE skipped_reason IS NOT NULL),
		count(*) FILTER (WHERE local_path IS NULL AND skipped_reason IS NULL)
		FROM attachments`).Scan(&c.Total, &c.Stored, &c.StoredBytes, &c.Skipped, &c.Pending)
	if err != nil {
		return AttachmentCounts{}, fmt.Errorf("count attachments: %w", err)
	}
	return c, nil
}

// IssueCounts describes raw_issues: issues stored, issues whose last fetch
// fell short of a collection (healed by the next poll or reconcile) and
// tombstones of deleted issues.
type IssueCounts struct {
	Live       int64
	Incomplete int64
	Deleted    int64
}

// IssueCounts counts the stored issues by state.
func (s *Store) IssueCounts(ctx context.Context) (IssueCounts, error) {
	var c IssueCounts
	err := s.db.QueryRowContext(ctx, `SELECT
		count(*) FILTER (WHERE deleted_at IS NULL),
		count(*) FILTER (WHERE deleted_at IS NULL AND incomplete),
		count(*) FILTER (WHERE deleted_at IS NOT NULL)
		FROM raw_issues`).Scan(&c.Live, &c.Incomplete, &c.Deleted)
	if err != nil {
		return IssueCounts{}, fmt.Errorf("count issues: %w", err)
	}
	return c, nil
}

// FileSizes returns the size of the database file and of its write-ahead log
// (zero when there is none, as after a checkpoint).
func (s *Store) FileSizes() (db, wal int64, err error) {
	st, err := os.Stat(s.path)
	if err != nil {
		return 0, 0, fmt.Errorf("size of %s: %w", s.path, err)
	}
	db = st.Size()
	st, err = os.Stat(s.path + ".wal")
	switch {
	case err == nil:
		wal = st.Size()
	case !errors.Is(err, fs.ErrNotExist):
		return db, 0, fmt.Errorf("size of %s.wal: %w", s.path, err)
	}
	return db, wal, nil
}

// MemoryUse is what DuckDB holds for one kind of use (its tag: BASE_TABLE,
// ART_INDEX, HASH_TABLE, ORDER_BY, ...): in its buffer pool and spilled to its
// temporary files.
type MemoryUse struct {
	Tag       string
	Bytes     int64
	TempBytes int64
}

// Memory reports DuckDB's memory by tag (duckdb_memory()): what fills the
// pool that JIRADUCK_DUCKDB_MEMORY_LIMIT caps, and what does not leave it.
func (s *Store) Memory(ctx context.Context) ([]MemoryUse, error) {
	uses, err := Collect(ctx, s.db, `SELECT tag, memory_usage_bytes, temporary_storage_bytes FROM duckdb_memory() ORDER BY tag`,
		func(rows *sql.Rows) (MemoryUse, error) {
			var m MemoryUse
			err := rows.Scan(&m.Tag, &m.Bytes, &m.TempBytes)
			return m, err
		})
	if err != nil {
		return nil, fmt.Errorf("duckdb memory: %w", err)
	}
	return uses, nil
}
