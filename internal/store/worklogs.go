package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Cursor returns the value of a sync cursor (sync_cursors) and whether one is
// stored.
func (s *Store) Cursor(ctx context.Context, name string) (string, bool, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM sync_cursors WHERE name = ?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read cursor %s: %w", name, err)
	}
	return v, true, nil
}

// SetCursor records a sync cursor inside tx.
func SetCursor(ctx context.Context, tx *Tx, name, value string, at time.Time) error {
	err := execErr(tx.ExecContext(ctx, `INSERT INTO sync_cursors (name, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, name, value, at.UTC()))
	if err != nil {
		return fmt.Errorf("record cursor %s: %w", name, err)
	}
	return nil
}

// StoredIssue is a live stored issue and when it was last fetched.
type StoredIssue struct {
	ID        string
	Key       string
	FetchedAt time.Time
}

// WorklogIssues returns, by worklog id, the live stored issue each of the
// given worklogs belongs to; worklogs the store does not hold are left out.
func (s *Store) WorklogIssues(ctx context.Context, worklogIDs []string) (map[string]StoredIssue, error) {
	out := map[string]StoredIssue{}
	for chunk := range slices.Chunk(worklogIDs, 500) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		err := RunQuery(ctx, s.db, `SELECT w.worklog_id, r.issue_id, r.issue_key, r.fetched_at
			FROM worklogs w JOIN raw_issues r ON r.issue_id = w.issue_id
			WHERE w.worklog_id IN (`+placeholders(len(chunk))+`) AND r.deleted_at IS NULL`, func(rows *sql.Rows) error {
			var id string
			var st StoredIssue
			if err := rows.Scan(&id, &st.ID, &st.Key, &st.FetchedAt); err != nil {
				return err
			}
			st.FetchedAt = st.FetchedAt.UTC()
			out[id] = st
			return nil
		}, args...)
		if err != nil {
			return nil, fmt.Errorf("find the issues of stored worklogs: %w", err)
		}
	}
	return out, nil
}

// StoredIssues returns the live stored issues among the given ids, by id.
func (s *Store) StoredIssues(ctx context.Context, issueIDs []string) (map[string]StoredIssue, error) {
	out := map[string]StoredIssue{}
	for chunk := range slices.Chunk(issueIDs, 500) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		err := RunQuery(ctx, s.db, `SELECT issue_id, issue_key, fetched_at FROM raw_issues
			WHERE issue_id IN (`+placeholders(len(chunk))+`) AND deleted_at IS NULL`, func(rows *sql.Rows) error {
			var st StoredIssue
			if err := rows.Scan(&st.ID, &st.Key, &st.FetchedAt); err != nil {
				return err
			}
			st.FetchedAt = st.FetchedAt.UTC()
			out[st.ID] = st
			return nil
		}, args...)
		if err != nil {
			return nil, fmt.Errorf("find stored issues: %w", err)
		}
	}
	return out, nil
}

// OldestFetch returns the earliest time a live stored issue was fetched, and
// false when the store holds none.
func (s *Store) OldestFetch(ctx context.Context) (time.Time, bool, error) {
	var t sql.NullTime
	if err := s.db.QueryRowContext(ctx, `SELECT min(fetched_at) FROM raw_issues WHERE deleted_at IS NULL`).Scan(&t); err != nil {
		return time.Time{}, false, fmt.Errorf("read the oldest fetch: %w", err)
	}
	return t.Time.UTC(), t.Valid, nil
}
