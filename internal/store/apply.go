package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

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
func keepSLAColumns(ctx context.Context, tx *Tx, id string, r *normalize.Rows) error {
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
func (s *Store) DeleteIssue(ctx context.Context, tx *Tx, id, key, reason string, at time.Time) (bool, error) {
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
func (s *Store) MarkDirty(ctx context.Context, tx *Tx, parts ...Partition) error {
	if len(parts) == 0 {
		return nil
	}
	args := make([]any, 0, 4*len(parts))
	now := time.Now().UTC()
	seen := map[Partition]bool{}
	for _, p := range parts {
		if seen[p] {
			continue
		}
		seen[p] = true
		args = append(args, p.Table, p.Month, s.gen.Add(1), now)
	}
	query := `INSERT INTO dirty_partitions (table_name, month, generation, marked_at) VALUES ` + valueRows(len(args)/4, 4) +
		` ON CONFLICT (table_name, month) DO UPDATE SET generation = excluded.generation, marked_at = excluded.marked_at`
	if err := execErr(tx.ExecContext(ctx, query, args...)); err != nil {
		return fmt.Errorf("mark partitions dirty: %w", err)
	}
	return nil
}

// execErr keeps only the error of an Exec: DuckDB discards a transaction whose
// statement failed even when Commit later returns nil, so every one is checked.
func execErr(_ sql.Result, err error) error { return err }

// KeyConflictError is an issue that could not be written because one of its
// rows carries an id the store holds for another issue: Jira's ids are
// unique across the site, so the data sent is at fault, and writing the
// issue again will fail the same way until it changes.
type KeyConflictError struct {
	// Issue is the key of the issue being written; Other the key of the
	// issue that holds the id.
	Issue, Other string
	// Table and ID name the row: "changelog" and "10001".
	Table, ID string
	Err       error
}

func (e *KeyConflictError) Error() string {
	noun := strings.TrimSuffix(e.Table, "s")
	return fmt.Sprintf("apply %s: %s id %s is already stored for issue %s (Jira sent one id for two issues): %v", e.Issue, noun, e.ID, e.Other, e.Err)
}

func (e *KeyConflictError) Unwrap() error { return e.Err }

// ownIDs are the tables whose rows are keyed by an id of their own, not by
// the issue's key: the rows that two issues can collide on.
var ownIDs = []struct{ table, column string }{
	{"comments", "comment_id"}, {"attachments", "attachment_id"}, {"changelog", "change_id"}, {"worklogs", "worklog_id"},
}

// ExplainConflict turns the failure to write r (err, from a transaction that
// has been rolled back) into a *KeyConflictError naming the other issue when
// the cause was a primary key that another issue holds; any other error is
// returned as it is. DuckDB's duplicate-key message names the key but not
// the row holding it, and a failed transaction cannot be queried, so the
// store is read afresh.
func (s *Store) ExplainConflict(ctx context.Context, r *normalize.Rows, err error) error {
	if err == nil || !duplicateKey(err) {
		return err
	}
	ids := map[string][]any{}
	for _, c := range r.Comments {
		ids["comments"] = append(ids["comments"], c.CommentID)
	}
	for _, a := range r.Attachments {
		ids["attachments"] = append(ids["attachments"], a.AttachmentID)
	}
	for _, c := range r.Changelog {
		ids["changelog"] = append(ids["changelog"], c.ChangeID)
	}
	for _, w := range r.Worklogs {
		ids["worklogs"] = append(ids["worklogs"], w.WorklogID)
	}
	for _, t := range ownIDs {
		for chunk := range slices.Chunk(ids[t.table], 500) {
			// Rows under a former key of the same issue are its own: a move
			// takes them along in the same transaction.
			var id, other string
			qerr := s.db.QueryRowContext(ctx, `SELECT c.`+t.column+`, c.issue_key FROM `+t.table+` c
				LEFT JOIN issues i ON i.issue_key = c.issue_key
				WHERE c.`+t.column+` IN (`+placeholders(len(chunk))+`) AND c.issue_key <> ? AND coalesce(i.issue_id, '') <> ?
				ORDER BY 1 LIMIT 1`, append(chunk, r.Issue.IssueKey, r.Issue.IssueID)...).Scan(&id, &other)
			if errors.Is(qerr, sql.ErrNoRows) {
				continue
			}
			if qerr != nil {
				return err
			}
			return &KeyConflictError{Issue: r.Issue.IssueKey, Other: other, Table: t.table, ID: id, Err: err}
		}
	}
	return err
}

// duplicateKey reports DuckDB's refusal of a row whose primary key is taken,
// from a statement or from the appender (whose error carries only the text).
func duplicateKey(err error) bool {
	var de *duckdb.Error
	if errors.As(err, &de) && de.Type == duckdb.ErrorTypeConstraint {
		return true
	}
	// The appender says "Duplicate key ... violates primary key constraint"
	// against stored rows and "constraint violation: duplicate key" within
	// its own batch.
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "duplicate key") || strings.Contains(msg, "violates primary key")
}
