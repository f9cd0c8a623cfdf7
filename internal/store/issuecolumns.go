package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// The settings that shape the issues table (JIRA_FIELD_MAP, JIRA_SLA_FIELDS)
// are recorded with the rows they shaped, as the args of a rebuild run:
// issue_columns holds a description of them, and the latest run that carries
// one says what the stored rows and the published partitions were derived
// with. A run that did not end well leaves that unknown, so the next start
// derives them again. Rebuild runs are what CheckRebuild reads, so a
// re-derivation cut short keeps the partial tables from being published.

// IssueColumnsArg is the args key of a run that derived the issues rows.
const IssueColumnsArg = "issue_columns"

// AppliedIssueColumns returns the issue-columns description the stored rows
// were last derived with; ok is false when none is recorded or the run that
// recorded the latest did not complete.
func (s *Store) AppliedIssueColumns(ctx context.Context) (value string, ok bool, err error) {
	var v sql.NullString
	var status string
	err = s.db.QueryRowContext(ctx, `SELECT json_extract_string(args, '$.`+IssueColumnsArg+`'), status FROM sync_runs
		WHERE job = 'rebuild' AND json_extract_string(args, '$.`+IssueColumnsArg+`') IS NOT NULL
		ORDER BY run_id DESC LIMIT 1`).Scan(&v, &status)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("read the recorded issue columns: %w", err)
	}
	return v.String, status == RunOK, nil
}

// RecordIssueColumns records, as a finished rebuild run with nothing to do,
// that the stored rows match the issue-columns description value: the store
// holds no issue yet, so every row will be derived with it.
func (s *Store) RecordIssueColumns(ctx context.Context, value string) error {
	args, err := json.Marshal(map[string]string{IssueColumnsArg: value, "reason": "issue columns recorded on an empty store"})
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	_, err = s.db.ExecContext(ctx, `INSERT INTO sync_runs (job, started_at, finished_at, status, counts, args, cursor)
		VALUES ('rebuild', ?, ?, ?, '{"issues":0}', ?, ?)`, now, now, RunOK, string(args), RebuildComplete)
	if err != nil {
		return fmt.Errorf("record the issue columns: %w", err)
	}
	return nil
}

// HoldsIssues reports whether the store holds a payload or has published a
// partition: whether a change of the issue columns has anything to rewrite.
func (s *Store) HoldsIssues(ctx context.Context) (bool, error) {
	var held bool
	err := s.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM raw_issues) OR EXISTS (SELECT 1 FROM partitions)`).Scan(&held)
	if err != nil {
		return false, fmt.Errorf("look for stored issues: %w", err)
	}
	return held, nil
}

// DropIssueColumns removes from issues every column that is neither one of
// its fixed columns nor in keep: a promoted column whose setting was removed.
// Left in place, it would hold NULL for every new row and linger in the
// snapshot; the values it held are still in the stored payloads. It returns
// the columns it dropped.
func (s *Store) DropIssueColumns(ctx context.Context, keep []string) ([]string, error) {
	have, err := s.IssueColumnNames(ctx)
	if err != nil {
		return nil, fmt.Errorf("drop issue columns: %w", err)
	}
	var dropped []string
	for _, c := range have {
		if c == "synced_at" || slices.Contains(issueBaseColumns, c) || slices.Contains(keep, c) {
			continue
		}
		if !columnName.MatchString(c) {
			return dropped, fmt.Errorf("drop issue column %q: not a column jiraduck adds", c)
		}
		if _, err := s.db.ExecContext(ctx, "ALTER TABLE issues DROP COLUMN "+c); err != nil {
			return dropped, fmt.Errorf("drop issue column %s: %w", c, err)
		}
		dropped = append(dropped, c)
	}
	return dropped, nil
}
