package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// Candidate is a stored issue a scheduled job looks at: its identity, what
// the healing compares with Jira, and the payload its SLA values are overlaid
// on.
type Candidate struct {
	ID         string
	Key        string
	Status     string
	Resolution string
	Updated    time.Time
	SLAHash    string
	Payload    []byte
}

// SLACandidates returns the issues the SLA poll refreshes: those whose status
// category is not done, plus those done and updated since doneSince (to catch
// reopenings); with all set, every stored issue.
func (s *Store) SLACandidates(ctx context.Context, doneSince time.Time, all bool) ([]Candidate, error) {
	where := `(r.status_category_key IS NULL OR r.status_category_key <> 'done' OR r.updated_at >= ?)`
	args := []any{doneSince}
	if all {
		where, args = "true", nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT r.issue_id, r.issue_key, coalesce(i.status, ''), coalesce(i.resolution, ''),
		r.updated_at, coalesce(json_extract_string(r.row_hashes, '$.sla'), ''), r.payload::VARCHAR
		FROM raw_issues r LEFT JOIN issues i ON i.issue_id = r.issue_id
		WHERE r.deleted_at IS NULL AND r.payload IS NOT NULL AND `+where+` ORDER BY r.issue_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list sla candidates: %w", err)
	}
	defer rows.Close()
	var out []Candidate
	for rows.Next() {
		var c Candidate
		var upd sql.NullTime
		var payload string
		if err := rows.Scan(&c.ID, &c.Key, &c.Status, &c.Resolution, &upd, &c.SLAHash, &payload); err != nil {
			return nil, err
		}
		c.Updated = upd.Time.UTC()
		c.Payload = []byte(payload)
		out = append(out, c)
	}
	return out, rows.Err()
}

// RawPayloads streams stored payloads in batches of up to n, oldest id first,
// for rebuild: memory stays bounded whatever the store's size.
func (s *Store) RawPayloads(ctx context.Context, n int, fn func(batch [][]byte) error) error {
	after := ""
	for {
		rows, err := s.db.QueryContext(ctx, `SELECT issue_id, payload::VARCHAR FROM raw_issues
			WHERE deleted_at IS NULL AND payload IS NOT NULL AND issue_id > ? ORDER BY issue_id LIMIT ?`, after, n)
		if err != nil {
			return fmt.Errorf("read raw payloads: %w", err)
		}
		var batch [][]byte
		for rows.Next() {
			var id, p string
			if err := rows.Scan(&id, &p); err != nil {
				rows.Close()
				return err
			}
			after = id
			batch = append(batch, []byte(p))
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		if err := fn(batch); err != nil {
			return err
		}
		if len(batch) < n {
			return nil
		}
	}
}

// RecentIssueIDs returns ids of issues named by webhook events received since
// t, newest first: reconcile asks Jira's search to read them consistently.
func (s *Store) RecentIssueIDs(ctx context.Context, since time.Time, limit int) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT issue_id FROM (SELECT issue_id, max(received_at) AS t FROM webhook_events
		WHERE received_at >= ? AND issue_id IS NOT NULL GROUP BY issue_id) ORDER BY t DESC LIMIT ?`, since, limit)
	if err != nil {
		return nil, fmt.Errorf("recent issue ids: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// HashesOf decodes a row_hashes value.
func HashesOf(raw string) map[string]string {
	out := map[string]string{}
	_ = json.Unmarshal([]byte(raw), &out)
	return out
}
