package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jiraduck/jiraduck/internal/normalize"
)

// Partition names one exported file: a table and a month (YYYY-MM).
type Partition struct {
	Table string `json:"table"`
	Month string `json:"month"`
}

// ApplyResult says what applying an issue changed.
type ApplyResult struct {
	// Changed lists the analyst tables whose rows changed.
	Changed []string
	// Moved is the issue's previous key when its key changed.
	Moved string
	// Stale is set when the store held a newer version of the issue and
	// nothing was written (ApplyOptions.SkipStale).
	Stale bool
}

// keepSLAColumns copies the stored flat SLA columns into the new issue row
// when this fetch learnt nothing about SLAs: unknown keeps what is stored, on
// issues as in the sla table.
func keepSLAColumns(ctx context.Context, tx *sql.Tx, id string, r *normalize.Rows) error {
	if len(r.Issue.SLA) == 0 {
		return nil
	}
	var cols []string
	for _, c := range r.Issue.SLA {
		cols = append(cols, c.Name+"_breached", c.Name+"_goal_millis", c.Name+"_elapsed_millis", c.Name+"_remaining_millis")
	}
	dest := make([]any, 0, len(cols))
	vals := make([]struct {
		b              sql.NullBool
		goal, el, rest sql.NullInt64
	}, len(r.Issue.SLA))
	for i := range vals {
		dest = append(dest, &vals[i].b, &vals[i].goal, &vals[i].el, &vals[i].rest)
	}
	err := tx.QueryRowContext(ctx, `SELECT `+strings.Join(cols, ", ")+` FROM issues WHERE issue_id = ?`, id).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read stored sla columns: %w", err)
	}
	for i := range r.Issue.SLA {
		c, v := &r.Issue.SLA[i], vals[i]
		c.Breached, c.GoalMillis, c.ElapsedMillis, c.RemainingMillis = nullBool(v.b), nullInt(v.goal), nullInt(v.el), nullInt(v.rest)
	}
	return nil
}

func nullBool(v sql.NullBool) *bool {
	if !v.Valid {
		return nil
	}
	return &v.Bool
}

func nullInt(v sql.NullInt64) *int64 {
	if !v.Valid {
		return nil
	}
	return &v.Int64
}

// DeleteIssue removes an issue's rows from every analyst table, and the link
// rows of other issues that point at it (see links.go), marks their
// partitions dirty and leaves a tombstone in raw_issues with the reason. It
// finds the issue by id, or by key when the id is unknown. It reports whether
// anything was stored.
func (s *Store) DeleteIssue(ctx context.Context, tx *sql.Tx, id, key, reason string, at time.Time) (bool, error) {
	var storedID, storedKey string
	var created sql.NullTime
	err := tx.QueryRowContext(ctx, `SELECT issue_id, issue_key, created_at FROM raw_issues
		WHERE (issue_id = ? OR (? = '' AND issue_key = ?)) AND deleted_at IS NULL`, id, id, key).Scan(&storedID, &storedKey, &created)
	if errors.Is(err, sql.ErrNoRows) {
		// Not in raw_issues: clear any analyst row under the key all the same.
		err = tx.QueryRowContext(ctx, `SELECT issue_id, issue_key, created_at FROM issues WHERE issue_id = ? OR issue_key = ?`, id, key).
			Scan(&storedID, &storedKey, &created)
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
	}
	if err != nil {
		return false, fmt.Errorf("delete %s: %w", firstNonEmpty(key, id), err)
	}
	linking, err := dropLinksTo(ctx, tx, storedID, storedKey)
	if err != nil {
		return false, fmt.Errorf("delete %s: %w", storedKey, err)
	}
	if err := s.MarkDirty(ctx, tx, linking...); err != nil {
		return false, fmt.Errorf("delete %s: %w", storedKey, err)
	}
	for _, table := range normalize.Tables {
		if err := execErr(tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE issue_key = ?`, storedKey)); err != nil {
			return false, fmt.Errorf("delete %s: %s: %w", storedKey, table, err)
		}
	}
	if err := execErr(tx.ExecContext(ctx, `UPDATE raw_issues SET deleted_at = ?, deleted_reason = ?, payload = NULL, row_hashes = NULL
		WHERE issue_id = ?`, at, reason, storedID)); err != nil {
		return false, fmt.Errorf("delete %s: tombstone: %w", storedKey, err)
	}
	if created.Valid {
		var marks []Partition
		for _, t := range normalize.Tables {
			marks = append(marks, Partition{t, normalize.Month(created.Time)})
		}
		if err := s.MarkDirty(ctx, tx, marks...); err != nil {
			return false, fmt.Errorf("delete %s: %w", storedKey, err)
		}
	}
	return true, nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// MarkDirty records partitions to export, in the caller's transaction. Every
// mark takes a new generation so an export clears only what it has seen.
func (s *Store) MarkDirty(ctx context.Context, tx *sql.Tx, parts ...Partition) error {
	if len(parts) == 0 {
		return nil
	}
	var b strings.Builder
	args := make([]any, 0, 4*len(parts))
	b.WriteString(`INSERT INTO dirty_partitions (table_name, month, generation, marked_at) VALUES `)
	now := time.Now().UTC()
	seen := map[Partition]bool{}
	n := 0
	for _, p := range parts {
		if seen[p] {
			continue
		}
		seen[p] = true
		if n > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?)")
		args = append(args, p.Table, p.Month, s.gen.Add(1), now)
		n++
	}
	b.WriteString(` ON CONFLICT (table_name, month) DO UPDATE SET generation = excluded.generation, marked_at = excluded.marked_at`)
	if err := execErr(tx.ExecContext(ctx, b.String(), args...)); err != nil {
		return fmt.Errorf("mark partitions dirty: %w", err)
	}
	return nil
}

// execErr keeps only the error of an Exec: DuckDB discards a transaction whose
// statement failed even when Commit later returns nil, so every one is checked.
func execErr(_ sql.Result, err error) error { return err }
