package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/jiraduck/jiraduck/internal/files"
)

// Every table of the store has a primary key, and DuckDB (1.5) never drops
// the rows deleted from a table with an index: a checkpoint writes them out
// again, marked deleted, even when a whole row group is deleted. A
// checkpoint also rewrites each row group written to into new blocks and
// frees the old ones only for the next checkpoint. Each re-fetch of an issue
// deletes its rows and appends the new ones, so a storm left the file twice
// the size of the same data written once (docs/benchmarks.md, "Store
// growth"). Updating rows in place instead keeps the rows' count, but DuckDB
// then rewrites the whole column of the row group at the next checkpoint,
// every payload for one edited issue. So the store is compacted instead:
// copied into a new file, which holds only live rows, that then takes the
// old one's place.

// CompactRatio is the waste at which CompactIfWasteful copies the store: the
// file's blocks over the blocks its live rows are estimated to need.
const CompactRatio = 1.2

// compactMinWaste is the least waste worth a copy: a small store whose
// ratio passes CompactRatio through a few blocks is left alone.
const compactMinWaste = 8 << 20

// compactSuffix names the copy a compaction writes beside the store.
const compactSuffix = ".compact"

// Waste is the store file's size against an estimate of what its live rows
// need: what a copy of the store into a new file (or a rebuild of it from
// scratch) would take.
type Waste struct {
	FileBytes int64
	LiveBytes int64
	// FreeBlocks and TotalBlocks are DuckDB's own count; the rest of the
	// waste is rows deleted but still stored.
	FreeBlocks, TotalBlocks int64
}

// Ratio is FileBytes over LiveBytes (1 for an empty estimate).
func (w Waste) Ratio() float64 {
	if w.LiveBytes <= 0 {
		return 1
	}
	return float64(w.FileBytes) / float64(w.LiveBytes)
}

// Wasteful reports whether the store is worth compacting.
func (w Waste) Wasteful() bool {
	return w.Ratio() > CompactRatio && w.FileBytes-w.LiveBytes >= compactMinWaste
}

// MeasureWaste estimates the store's waste: DuckDB's free blocks, and in
// each table the share of its blocks that hold deleted rows (the rows a
// table's segments count against the rows it holds).
func (s *Store) MeasureWaste(ctx context.Context) (Waste, error) {
	var w Waste
	var blockSize, used int64
	err := s.db.QueryRowContext(ctx, `SELECT block_size, total_blocks, free_blocks, used_blocks FROM pragma_database_size()
		WHERE database_name = current_database()`).Scan(&blockSize, &w.TotalBlocks, &w.FreeBlocks, &used)
	if err != nil {
		return Waste{}, fmt.Errorf("measure waste: %w", err)
	}
	tables, err := tableNames(ctx, s.db, "current_database()")
	if err != nil {
		return Waste{}, fmt.Errorf("measure waste: %w", err)
	}
	dead := 0.0
	for _, t := range tables {
		var stored, live, blocks int64
		err := s.db.QueryRowContext(ctx, fmt.Sprintf(`WITH seg AS (SELECT column_id, segment_type, count, block_id, additional_block_ids
				FROM pragma_storage_info(%s))
			SELECT (SELECT coalesce(sum(count), 0) FROM seg WHERE column_id = 0 AND segment_type <> 'VALIDITY'),
				(SELECT count(*) FROM %s),
				(SELECT count(DISTINCT b) FROM (SELECT block_id AS b FROM seg WHERE block_id >= 0
					UNION ALL SELECT unnest(additional_block_ids) FROM seg))`, Quote(t), quoteIdent(t))).Scan(&stored, &live, &blocks)
		if err != nil {
			return Waste{}, fmt.Errorf("measure waste of %s: %w", t, err)
		}
		if stored > live && stored > 0 {
			dead += float64(blocks) * float64(stored-live) / float64(stored)
		}
	}
	w.FileBytes = w.TotalBlocks * blockSize
	w.LiveBytes = max(used-int64(dead), 0) * blockSize
	return w, nil
}

func quoteIdent(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// ErrShared means the store is open elsewhere in this process, so its file
// cannot be replaced: that handle would go on writing to the old one.
var ErrShared = errors.New("compact store: the store is open elsewhere in this process")

// CompactResult says what CompactIfWasteful found and did.
type CompactResult struct {
	Before    Waste
	Compacted bool
	// AfterBytes is the new file's size when Compacted.
	AfterBytes int64
}

// CompactIfWasteful copies the store at path into a new file and puts the
// copy in its place when the file wastes more than CompactRatio, or always
// with force. The store must not be open anywhere: it opens the file itself,
// with opts, and returns ErrShared, doing nothing, when this process has it
// open elsewhere.
//
// A crash at any point loses nothing. The copy is written beside the store
// under another name and checked table by table against the original; only
// then, with both closed, the original's WAL folded in and the copy synced,
// is it renamed onto the store, which the file system does at once or not
// at all. A copy left by a crash is removed at the next attempt.
func CompactIfWasteful(ctx context.Context, path string, opts Options, force bool) (CompactResult, error) {
	var res CompactResult
	tmp := path + compactSuffix
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return res, nil
	}
	s, err := Open(ctx, path, opts)
	if err != nil {
		return res, fmt.Errorf("compact store: %w", err)
	}
	if s.shared {
		s.Close()
		return res, ErrShared
	}
	// Only the process holding the store's lock touches the copy: another
	// one's compaction may be writing it.
	if err := removeCopy(tmp); err != nil {
		s.Close()
		return res, fmt.Errorf("compact store: %w", err)
	}
	copied, err := s.compactInto(ctx, tmp, force, &res)
	if cerr := s.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("compact store: %w", cerr)
	}
	if err != nil || !copied {
		_ = removeCopy(tmp)
		return res, err
	}
	if err := swapIn(tmp, path); err != nil {
		_ = removeCopy(tmp)
		return res, fmt.Errorf("compact store: %w", err)
	}
	if fi, err := os.Stat(path); err == nil {
		res.AfterBytes = fi.Size()
	}
	res.Compacted = true
	s.log.WithFields(map[string]any{"before_bytes": res.Before.FileBytes, "after_bytes": res.AfterBytes,
		"estimated_live_bytes": res.Before.LiveBytes}).Info("store compacted")
	return res, nil
}

// compactInto checkpoints the open store, measures it and, when it is worth
// it, copies it into tmp and checks the copy; it reports whether it did.
func (s *Store) compactInto(ctx context.Context, tmp string, force bool, res *CompactResult) (bool, error) {
	if err := s.Checkpoint(ctx); err != nil {
		return false, fmt.Errorf("compact store: %w", err)
	}
	w, err := s.MeasureWaste(ctx)
	if err != nil {
		return false, fmt.Errorf("compact store: %w", err)
	}
	res.Before = w
	if !force && !w.Wasteful() {
		return false, nil
	}
	var src string
	if err := s.db.QueryRowContext(ctx, `SELECT current_database()`).Scan(&src); err != nil {
		return false, fmt.Errorf("compact store: %w", err)
	}
	const dst = "jiraduck_compact"
	// One connection: ATTACH is per database instance, but the copy and the
	// checks must not race another statement's use of the alias.
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return false, fmt.Errorf("compact store: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`ATTACH %s AS %s`, Quote(tmp), dst)); err != nil {
		return false, fmt.Errorf("compact store: attach the copy: %w", err)
	}
	attached := true
	defer func() {
		if attached {
			_, _ = conn.ExecContext(context.Background(), `DETACH `+dst)
		}
	}()
	if err := copyTables(ctx, conn, src, dst); err != nil {
		return false, fmt.Errorf("compact store: copy: %w", err)
	}
	if err := alignSequences(ctx, conn, src, dst); err != nil {
		return false, fmt.Errorf("compact store: %w", err)
	}
	if err := sameContents(ctx, conn, src, dst); err != nil {
		return false, fmt.Errorf("compact store: the copy differs, the store is kept as it is: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `CHECKPOINT `+dst); err != nil {
		return false, fmt.Errorf("compact store: checkpoint the copy: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `DETACH `+dst); err != nil {
		return false, fmt.Errorf("compact store: detach the copy: %w", err)
	}
	attached = false
	return true, nil
}

// copyTables copies the schema of database src into dst, then each table's
// rows in a statement and a transaction of its own. COPY FROM DATABASE
// copies every table in one statement, and ran out of memory on the
// 100,000-issue store at a 128MB pool (at once, whatever the copy's
// progress); table by table, DuckDB writes out each table's rows, keeping
// what does not fit in the pool in its temp directory, before the next one,
// and the same copy took 59 s within that pool.
func copyTables(ctx context.Context, conn *sql.Conn, src, dst string) error {
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`COPY FROM DATABASE %s TO %s (SCHEMA)`, quoteIdent(src), dst)); err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	tables, err := tableNames(ctx, conn, Quote(src))
	if err != nil {
		return err
	}
	for _, t := range tables {
		if _, err := conn.ExecContext(ctx, fmt.Sprintf(`INSERT INTO %s.main.%s SELECT * FROM %s.main.%s`,
			dst, quoteIdent(t), quoteIdent(src), quoteIdent(t))); err != nil {
			return fmt.Errorf("%s: %w", t, err)
		}
		// The copied table's primary-key index stays in the pool until it
		// is written out; the next tables' would add to it.
		if _, err := conn.ExecContext(ctx, `CHECKPOINT `+dst); err != nil {
			return fmt.Errorf("checkpoint after %s: %w", t, err)
		}
	}
	return nil
}

// tableNames are the tables of a database, db an SQL expression of its name.
func tableNames(ctx context.Context, q Querier, db string) ([]string, error) {
	return Collect(ctx, q, `SELECT table_name FROM duckdb_tables()
		WHERE database_name = `+db+` AND schema_name = 'main' AND NOT temporary ORDER BY table_name`, scanOne[string])
}

// alignSequences brings every sequence of the copy to the value it has in
// the store: ids taken from them (webhook events, runs) must never be given
// out twice.
func alignSequences(ctx context.Context, q *sql.Conn, src, dst string) error {
	type seq struct {
		name string
		last sql.NullInt64
	}
	read := func(db string) (map[string]sql.NullInt64, error) {
		out := map[string]sql.NullInt64{}
		err := RunQuery(ctx, q, `SELECT sequence_name, last_value FROM duckdb_sequences() WHERE database_name = ? AND schema_name = 'main'`,
			func(rows *sql.Rows) error {
				var s seq
				if err := rows.Scan(&s.name, &s.last); err != nil {
					return err
				}
				out[s.name] = s.last
				return nil
			}, db)
		return out, err
	}
	have, err := read(src)
	if err != nil {
		return fmt.Errorf("read sequences: %w", err)
	}
	got, err := read(dst)
	if err != nil {
		return fmt.Errorf("read copied sequences: %w", err)
	}
	for name, want := range have {
		cur, ok := got[name]
		if !ok {
			return fmt.Errorf("sequence %s was not copied", name)
		}
		if !want.Valid || (cur.Valid && cur.Int64 >= want.Int64) {
			continue
		}
		// DuckDB cannot set a sequence's value: take values until it has
		// the store's. nextval over a range costs about a second for ten
		// million.
		n := want.Int64
		if cur.Valid {
			n = want.Int64 - cur.Int64
		}
		var last int64
		if err := q.QueryRowContext(ctx, fmt.Sprintf(`SELECT max(nextval(%s)) FROM range(%d)`, Quote(dst+".main."+name), n)).Scan(&last); err != nil {
			return fmt.Errorf("advance sequence %s: %w", name, err)
		}
		if last != want.Int64 {
			return fmt.Errorf("sequence %s: got %d in the copy, want %d", name, last, want.Int64)
		}
	}
	return nil
}

// sameContents checks the copy against the store: the same tables with the
// same number of rows, and the same constraints, indexes, views and macros.
func sameContents(ctx context.Context, q *sql.Conn, src, dst string) error {
	a, err := tableNames(ctx, q, Quote(src))
	if err != nil {
		return err
	}
	b, err := tableNames(ctx, q, Quote(dst))
	if err != nil {
		return err
	}
	if strings.Join(a, ",") != strings.Join(b, ",") {
		return fmt.Errorf("tables: got %v in the copy, want %v", b, a)
	}
	for _, t := range a {
		var n, m int64
		if err := q.QueryRowContext(ctx, fmt.Sprintf(`SELECT (SELECT count(*) FROM %s.main.%s), (SELECT count(*) FROM %s.main.%s)`,
			quoteIdent(src), quoteIdent(t), quoteIdent(dst), quoteIdent(t))).Scan(&n, &m); err != nil {
			return fmt.Errorf("count rows of %s: %w", t, err)
		}
		if n != m {
			return fmt.Errorf("%s: got %d rows in the copy, want %d", t, m, n)
		}
	}
	for _, c := range []struct{ what, from string }{
		{"constraints", "duckdb_constraints()"}, {"indexes", "duckdb_indexes()"},
		{"views", "duckdb_views() WHERE NOT internal AND"}, {"macros", "duckdb_functions() WHERE function_type IN ('macro', 'table_macro') AND NOT internal AND"},
	} {
		where := " WHERE"
		from := c.from
		if strings.HasSuffix(from, "AND") {
			where = ""
		}
		var n, m int64
		if err := q.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(*) FILTER (database_name = ?), count(*) FILTER (database_name = ?) FROM %s%s TRUE`, from, where),
			src, dst).Scan(&n, &m); err != nil {
			return fmt.Errorf("count %s: %w", c.what, err)
		}
		if n != m {
			return fmt.Errorf("%s: got %d in the copy, want %d", c.what, m, n)
		}
	}
	return nil
}

// removeCopy removes a compaction's copy and its WAL, if any.
func removeCopy(tmp string) error {
	for _, p := range []string{tmp, tmp + ".wal"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// swapIn puts the closed copy tmp in the place of the closed store at path.
// Neither may have a WAL left: the store's would be replayed onto the copy,
// and the copy's would be lost with its name.
func swapIn(tmp, path string) error {
	for _, wal := range []string{path + ".wal", tmp + ".wal"} {
		if _, err := os.Stat(wal); err == nil {
			return fmt.Errorf("%s remains after closing; the store is kept as it is", filepath.Base(wal))
		}
	}
	return files.Publish(tmp, path)
}
