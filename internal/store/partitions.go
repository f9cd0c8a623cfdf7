package store

import (
	"context"
	"database/sql"
	"fmt"
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
	if err := execErr(tx.ExecContext(ctx, `DELETE FROM dirty_partitions WHERE table_name = ? AND month = ? AND generation <= ?`,
		d.Table, d.Month, d.Generation)); err != nil {
		return fmt.Errorf("clear dirty %s %s: %w", d.Table, d.Month, err)
	}
	if p == nil {
		return execErr(tx.ExecContext(ctx, `DELETE FROM partitions WHERE table_name = ? AND month = ?`, d.Table, d.Month))
	}
	return execErr(tx.ExecContext(ctx, `INSERT OR REPLACE INTO partitions (table_name, month, rows, bytes, sha256, written_at)
		VALUES (?, ?, ?, ?, ?, ?)`, p.Table, p.Month, p.Rows, p.Bytes, p.SHA256, p.WrittenAt))
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
