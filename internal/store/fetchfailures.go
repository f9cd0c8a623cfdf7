package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// FetchFailure is an issue whose latest fetch failed, whatever asked for the
// fetch; it stays until a fetch of the issue succeeds.
type FetchFailure struct {
	// Issue is the key or id the fetch was asked with; IssueKey and IssueID
	// are what is known besides.
	Issue    string `json:"issue"`
	IssueKey string `json:"issue_key,omitempty"`
	IssueID  string `json:"issue_id,omitempty"`
	// Reason is a short kind of failure ("jira unavailable", "status 403"),
	// safe for unauthenticated pages; Error is the whole text, for
	// operators.
	Reason      string    `json:"reason"`
	Error       string    `json:"error,omitempty"`
	FirstFailed time.Time `json:"first_failed"`
	LastFailed  time.Time `json:"last_failed"`
	Failures    int       `json:"failures"`
}

// RecordFetchFailure notes a failed fetch of f.Issue at f.LastFailed,
// counting it with those before.
func RecordFetchFailure(ctx context.Context, tx *Tx, f FetchFailure) error {
	err := execErr(tx.ExecContext(ctx, `INSERT INTO fetch_failures (issue, issue_key, issue_id, reason, error, first_failed, last_failed, failures)
		VALUES (?, ?, ?, ?, ?, ?, ?, 1)
		ON CONFLICT (issue) DO UPDATE SET issue_key = coalesce(excluded.issue_key, fetch_failures.issue_key),
			issue_id = coalesce(excluded.issue_id, fetch_failures.issue_id), reason = excluded.reason, error = excluded.error,
			last_failed = excluded.last_failed, failures = fetch_failures.failures + 1`,
		f.Issue, nullable(f.IssueKey), nullable(f.IssueID), f.Reason, f.Error, f.LastFailed.UTC(), f.LastFailed.UTC()))
	if err != nil {
		return fmt.Errorf("record failed fetch of %s: %w", f.Issue, err)
	}
	return nil
}

// ClearFetchFailures forgets the failures of the issues named by any of
// names (a key or an id): a fetch of them succeeded.
func ClearFetchFailures(ctx context.Context, tx *Tx, names []string) error {
	if len(names) == 0 {
		return nil
	}
	args := make([]any, 0, 3*len(names))
	for range 3 {
		for _, n := range names {
			args = append(args, n)
		}
	}
	ph := placeholders(len(names))
	err := execErr(tx.ExecContext(ctx, `DELETE FROM fetch_failures WHERE issue IN (`+ph+`) OR issue_key IN (`+ph+`) OR issue_id IN (`+ph+`)`, args...))
	if err != nil {
		return fmt.Errorf("clear failed fetches: %w", err)
	}
	return nil
}

// FetchFailureNames returns every key and id that names an issue whose
// latest fetch failed.
func (s *Store) FetchFailureNames(ctx context.Context) (map[string]bool, error) {
	out := map[string]bool{}
	err := RunQuery(ctx, s.db, `SELECT issue FROM fetch_failures UNION SELECT issue_key FROM fetch_failures WHERE issue_key IS NOT NULL
		UNION SELECT issue_id FROM fetch_failures WHERE issue_id IS NOT NULL`, intoSet(out))
	if err != nil {
		return nil, fmt.Errorf("read failed fetches: %w", err)
	}
	return out, nil
}

// FetchFailures returns the issues whose latest fetch failed, the most
// recent failure first, at most limit of them, and how many there are.
func (s *Store) FetchFailures(ctx context.Context, limit int) ([]FetchFailure, int, error) {
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM fetch_failures`).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count failed fetches: %w", err)
	}
	out, err := Collect(ctx, s.db, `SELECT issue, coalesce(issue_key, ''), coalesce(issue_id, ''), reason, error, first_failed,
		last_failed, failures FROM fetch_failures ORDER BY last_failed DESC, issue LIMIT ?`, func(rows *sql.Rows) (f FetchFailure, err error) {
		err = rows.Scan(&f.Issue, &f.IssueKey, &f.IssueID, &f.Reason, &f.Error, &f.FirstFailed, &f.LastFailed, &f.Failures)
		f.FirstFailed, f.LastFailed = f.FirstFailed.UTC(), f.LastFailed.UTC()
		return f, err
	}, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("list failed fetches: %w", err)
	}
	return out, total, nil
}

// FetchFailureReasons counts the issues whose latest fetch failed, by reason.
func (s *Store) FetchFailureReasons(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	err := RunQuery(ctx, s.db, `SELECT reason, count(*) FROM fetch_failures GROUP BY reason`, func(rows *sql.Rows) error {
		var r string
		var n int
		if err := rows.Scan(&r, &n); err != nil {
			return err
		}
		out[r] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count failed fetches: %w", err)
	}
	return out, nil
}
