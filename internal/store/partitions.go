package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"
)

// DirtyPartition is a partition waiting for export and the generation of its
// latest mark.
type DirtyPartition struct {
	Partition
	Generation int64
	// MarkedAt is when the latest change to the partition was committed.
	MarkedAt time.Time
}

// DirtyPartitions lists the partitions waiting for export: those of the
// issues table first, then by month (oldest first) and table. The exporter
// publishes them in this order, so an edit reaches the table analysts read
// first before the rows it adds elsewhere (its changelog entry, the link rows
// of other issues that name it): exporting those first, in month order,
// kept an edit from the issues table's files markedly longer (P2).
func (s *Store) DirtyPartitions(ctx context.Context) ([]DirtyPartition, error) {
	out, err := Collect(ctx, s.db, `SELECT table_name, month, generation, marked_at FROM dirty_partitions ORDER BY table_name <> 'issues', month, table_name`,
		func(rows *sql.Rows) (d DirtyPartition, err error) {
			err = rows.Scan(&d.Table, &d.Month, &d.Generation, &d.MarkedAt)
			return d, err
		})
	if err != nil {
		return nil, fmt.Errorf("list dirty partitions: %w", err)
	}
	return out, nil
}

// PublishedPartition is one exported file as recorded in partitions and the
// manifest.
type PublishedPartition struct {
	Table string `json:"table"`
	// Month is empty for a dimension table, whose one file is not split
	// by month.
	Month string `json:"month"`
	// Path is the file's path relative to parquet/jira.
	Path      string    `json:"path"`
	Rows      int64     `json:"rows"`
	Bytes     int64     `json:"bytes"`
	SHA256    string    `json:"sha256"`
	WrittenAt time.Time `json:"written_at"`
}

// RecordExport clears the dirty marks an export has seen and records the file
// it published (or, for an empty month, forgets the partition).
func RecordExport(ctx context.Context, tx *Tx, d DirtyPartition, p *PublishedPartition) error {
	return RecordExports(ctx, tx, []ExportRecord{{Dirty: d, Published: p}})
}

// ExportRecord is one partition an export pass wrote: the mark it saw, and
// the file it published (nil: the month is empty and its file removed).
type ExportRecord struct {
	Dirty     DirtyPartition
	Published *PublishedPartition
}

// RecordExports is RecordExport for a whole pass, in at most three
// statements per 500 partitions: two statements each, one of them an
// INSERT OR REPLACE, held the writer for 2 to 8 ms a partition, and a pass
// under sustained load records dozens while the edits it publishes wait.
func RecordExports(ctx context.Context, tx *Tx, xs []ExportRecord) error {
	for chunk := range slices.Chunk(xs, 500) {
		if err := recordExports(ctx, tx, chunk); err != nil {
			return err
		}
	}
	return nil
}

func recordExports(ctx context.Context, tx *Tx, xs []ExportRecord) error {
	var markArgs, goneArgs, pubArgs []any
	for _, x := range xs {
		d := x.Dirty
		markArgs = append(markArgs, d.Table, d.Month, d.Generation)
		if p := x.Published; p != nil {
			pubArgs = append(pubArgs, p.Table, p.Month, p.Rows, p.Bytes, p.SHA256, p.WrittenAt)
		} else {
			goneArgs = append(goneArgs, d.Table, d.Month)
		}
	}
	// A mark newer than the one the export saw stays: its change came
	// after the file was written.
	if err := execErr(tx.ExecContext(ctx, `DELETE FROM dirty_partitions d USING (VALUES `+valueRows(len(markArgs)/3, 3)+`) v(table_name, month, generation)
		WHERE d.table_name = v.table_name AND d.month = v.month AND d.generation <= v.generation`, markArgs...)); err != nil {
		return fmt.Errorf("clear %d dirty marks: %w", len(xs), err)
	}
	if len(goneArgs) > 0 {
		if err := execErr(tx.ExecContext(ctx, `DELETE FROM partitions p USING (VALUES `+valueRows(len(goneArgs)/2, 2)+`) v(table_name, month)
			WHERE p.table_name = v.table_name AND p.month = v.month`, goneArgs...)); err != nil {
			return fmt.Errorf("forget %d emptied partitions: %w", len(goneArgs)/2, err)
		}
	}
	if len(pubArgs) > 0 {
		if err := execErr(tx.ExecContext(ctx, `INSERT OR REPLACE INTO partitions (table_name, month, rows, bytes, sha256, written_at)
			VALUES `+valueRows(len(pubArgs)/6, 6), pubArgs...)); err != nil {
			return fmt.Errorf("record %d partitions: %w", len(pubArgs)/6, err)
		}
	}
	return nil
}

// Partitions lists the published partitions.
func (s *Store) Partitions(ctx context.Context) ([]PublishedPartition, error) {
	out, err := Collect(ctx, s.db, `SELECT table_name, month, rows, bytes, sha256, written_at FROM partitions ORDER BY table_name, month`,
		func(rows *sql.Rows) (p PublishedPartition, err error) {
			err = rows.Scan(&p.Table, &p.Month, &p.Rows, &p.Bytes, &p.SHA256, &p.WrittenAt)
			p.WrittenAt = p.WrittenAt.UTC()
			p.Path = PartitionFile(p.Table, p.Month)
			return p, err
		})
	if err != nil {
		return nil, fmt.Errorf("list partitions: %w", err)
	}
	if out == nil {
		out = []PublishedPartition{} // the manifest lists none as []
	}
	return out, nil
}

// IssueMonths lists the months that hold at least one issue.
func (s *Store) IssueMonths(ctx context.Context) ([]string, error) {
	out, err := Collect(ctx, s.db, `SELECT DISTINCT strftime(created_at, '%Y-%m') AS m FROM issues ORDER BY m`, scanOne[string])
	if err != nil {
		return nil, fmt.Errorf("list issue months: %w", err)
	}
	return out, nil
}

// IssueColumnNames lists the columns the issues table has now, in table order.
func (s *Store) IssueColumnNames(ctx context.Context) ([]string, error) {
	out, err := Collect(ctx, s.db, `SELECT column_name FROM duckdb_columns() WHERE table_name = 'issues' AND schema_name = 'main' ORDER BY column_index`, scanOne[string])
	if err != nil {
		return nil, fmt.Errorf("list issue columns: %w", err)
	}
	return out, nil
}

// PartitionFile is a published file's path relative to parquet/jira, with
// forward slashes: <table>/month=YYYY-MM/data.parquet, or
// <table>/data.parquet for a dimension table (month "").
func PartitionFile(table, month string) string {
	if month == "" {
		return table + "/data.parquet"
	}
	return table + "/month=" + month + "/data.parquet"
}
