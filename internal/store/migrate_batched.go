package store

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
)

// A statement of a migration that reads every stored payload cannot run
// over a whole table at once within a small buffer pool. DuckDB's JSON
// functions parse the values of a vector (2,048 rows) into an arena taken
// from the pool and freed only after the vector, one arena per thread: on
// the benchmark's 100,000-issue store, migration 0004's UPDATE of
// raw_issues needed more than 244 MB however small the rest of the work,
// and failed there with "failed to allocate data of size 16.0 MiB". So a
// migration marks such a statement, and it runs on ranges of rows holding
// at most migrationBatchBytes of the column it reads, one statement per
// range, all in the migration's transaction: DuckDB skips the row groups
// outside a range by their rowids, and what the transaction changes is
// kept in buffer-managed blocks that spill to the temp directory, so the
// migration still commits whole or not at all.
//
// In a migration file, the line
//
//	-- batched: <table>.<column>
//
// marks the statement that follows it (up to the first line that ends with
// a semicolon); the statement selects the rows of a range with the
// parameters $1 (the first rowid) and $2 (the rowid after the last).

// migrationBatchBytes bounds the bytes of the read column in one range.
// About 64 KB of text per vector row at most, an arena far below the
// smallest buffer pool serve derives (96 MB).
const migrationBatchBytes = 4 << 20

var (
	batchedMark  = regexp.MustCompile(`(?m)^--[ \t]*batched:[ \t]*([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)[ \t]*$`)
	statementEnd = regexp.MustCompile(`(?m);[ \t]*$`)
)

// migrationStep is a part of a migration: SQL run once, or a statement run
// for each range of rows of table, bounded by the bytes of column.
type migrationStep struct {
	sql           string
	table, column string
}

// migrationSteps splits a migration's SQL at its batched statements.
func migrationSteps(text string) ([]migrationStep, error) {
	var steps []migrationStep
	for {
		loc := batchedMark.FindStringSubmatchIndex(text)
		if loc == nil {
			if strings.TrimSpace(text) != "" {
				steps = append(steps, migrationStep{sql: text})
			}
			return steps, nil
		}
		if before := text[:loc[0]]; strings.TrimSpace(before) != "" {
			steps = append(steps, migrationStep{sql: before})
		}
		table, column := text[loc[2]:loc[3]], text[loc[4]:loc[5]]
		rest := text[loc[1]:]
		end := statementEnd.FindStringIndex(rest)
		if end == nil {
			return nil, fmt.Errorf("batched statement on %s.%s: no line ends it with a semicolon", table, column)
		}
		stmt := rest[:end[1]]
		if !strings.Contains(stmt, "$1") || !strings.Contains(stmt, "$2") {
			return nil, fmt.Errorf("batched statement on %s.%s: it must select its rows by rowid with $1 and $2", table, column)
		}
		steps = append(steps, migrationStep{sql: stmt, table: table, column: column})
		text = rest[end[1]:]
	}
}

// run applies the step in tx.
func (st migrationStep) run(ctx context.Context, tx *Tx) error {
	if st.table == "" {
		_, err := tx.ExecContext(ctx, st.sql)
		return err
	}
	ranges, err := rowRanges(ctx, tx, st.table, st.column, migrationBatchBytes)
	if err != nil {
		return err
	}
	for _, r := range ranges {
		if _, err := tx.ExecContext(ctx, st.sql, r[0], r[1]); err != nil {
			return fmt.Errorf("rows %d to %d of %s: %w", r[0], r[1]-1, st.table, err)
		}
	}
	return nil
}

// rowRanges splits the rows of table into ranges of rowids [first, end)
// whose values of column take about maxBytes at most; a row larger than
// that is a range of its own. The lengths are read rowWindow rows at a
// time: DuckDB holds every value of a vector it reads, and a plain scan of
// raw_issues.payload needed more than an 80MB pool.
func rowRanges(ctx context.Context, q rowQuerier, table, column string, maxBytes int64) ([][2]int64, error) {
	var top sql.NullInt64
	if err := q.QueryRowContext(ctx, fmt.Sprintf(`SELECT max(rowid) FROM %s`, quoteIdent(table))).Scan(&top); err != nil {
		return nil, fmt.Errorf("split %s into batches: %w", table, err)
	}
	var out [][2]int64
	first, last, size := int64(-1), int64(-1), int64(0)
	query := fmt.Sprintf(`SELECT rowid, coalesce(strlen(%s), 0) FROM %s WHERE rowid >= $1 AND rowid < $2 ORDER BY rowid`,
		quoteIdent(column), quoteIdent(table))
	for from := int64(0); top.Valid && from <= top.Int64; from += rowWindow {
		err := RunQuery(ctx, q, query, func(rows *sql.Rows) error {
			var id, n int64
			if err := rows.Scan(&id, &n); err != nil {
				return err
			}
			if first >= 0 && size+n > maxBytes {
				out = append(out, [2]int64{first, last + 1})
				first, size = -1, 0
			}
			if first < 0 {
				first = id
			}
			last, size = id, size+n
			return nil
		}, from, from+rowWindow)
		if err != nil {
			return nil, fmt.Errorf("split %s into batches: %w", table, err)
		}
	}
	if first >= 0 {
		out = append(out, [2]int64{first, last + 1})
	}
	return out, nil
}

// rowQuerier is a Querier that also answers single rows: *sql.DB, *Tx.
type rowQuerier interface {
	Querier
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// rowWindow is how many rows rowRanges reads the lengths of at once.
const rowWindow = 256
