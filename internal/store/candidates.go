package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// Candidate is a stored issue a scheduled job looks at: its identity and
// what the healing compares with Jira. Its payload is read apart
// (Payloads), for the few issues at a time that need it.
type Candidate struct {
	ID         string
	Key        string
	Status     string
	Resolution string
	Updated    time.Time
	SLAHash    string
}

// SLACandidates returns the issues the SLA poll refreshes: those whose status
// category is not done, plus those done and updated since doneSince (to catch
// reopenings); with all set, every stored issue. The list carries no
// payloads: reading every candidate's payload in one sorted query ran
// DuckDB's 128MB pool out of memory on a site of 7,233 issues, and held
// them all in Go's heap besides.
func (s *Store) SLACandidates(ctx context.Context, doneSince time.Time, all bool) ([]Candidate, error) {
	where := `(r.status_category_key IS NULL OR r.status_category_key <> 'done' OR r.updated_at >= ?)`
	args := []any{doneSince}
	if all {
		where, args = "true", nil
	}
	out, err := Collect(ctx, s.db, `SELECT r.issue_id, r.issue_key, coalesce(i.status, ''), coalesce(i.resolution, ''),
		r.updated_at, coalesce(json_extract_string(r.row_hashes, '$.sla'), '')
		FROM raw_issues r LEFT JOIN issues i ON i.issue_id = r.issue_id
		WHERE r.deleted_at IS NULL AND r.payload IS NOT NULL AND `+where+` ORDER BY r.issue_id`, func(rows *sql.Rows) (c Candidate, err error) {
		var upd sql.NullTime
		err = rows.Scan(&c.ID, &c.Key, &c.Status, &c.Resolution, &upd, &c.SLAHash)
		c.Updated = upd.Time.UTC()
		return c, err
	}, args...)
	if err != nil {
		return nil, fmt.Errorf("list sla candidates: %w", err)
	}
	return out, nil
}

// Payloads returns the stored payloads of the live issues among ids, by id.
func (s *Store) Payloads(ctx context.Context, ids []string) (map[string][]byte, error) {
	out := map[string][]byte{}
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	err := RunQuery(ctx, s.db, `SELECT issue_id, payload::VARCHAR FROM raw_issues
		WHERE issue_id IN (`+placeholders(len(ids))+`) AND deleted_at IS NULL AND payload IS NOT NULL`, func(rows *sql.Rows) error {
		var id, payload string
		if err := rows.Scan(&id, &payload); err != nil {
			return err
		}
		out[id] = []byte(payload)
		return nil
	}, args...)
	if err != nil {
		return nil, fmt.Errorf("read stored payloads: %w", err)
	}
	return out, nil
}

// RawPayload is one stored payload as rebuild reads it.
type RawPayload struct {
	ID      string
	Payload []byte
}

// RawPayloads streams stored payloads in batches of up to n, in storage
// order, for rebuild: memory stays bounded whatever the store's size. Each
// batch is a range of row ids, which DuckDB reads without scanning or sorting
// the rest of the table, as a page ordered by issue_id would for each batch.
func (s *Store) RawPayloads(ctx context.Context, n int, fn func(batch []RawPayload) error) error {
	var last sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT max(rowid) FROM raw_issues`).Scan(&last); err != nil {
		return fmt.Errorf("read raw payloads: %w", err)
	}
	for from := int64(0); last.Valid && from <= last.Int64; from += int64(n) {
		batch, err := Collect(ctx, s.db, `SELECT issue_id, payload FROM raw_issues
			WHERE rowid >= ? AND rowid < ? AND deleted_at IS NULL AND payload IS NOT NULL`, func(rows *sql.Rows) (p RawPayload, err error) {
			var payload string
			err = rows.Scan(&p.ID, &payload)
			p.Payload = []byte(payload)
			return p, err
		}, from, from+int64(n))
		if err != nil {
			return fmt.Errorf("read raw payloads: %w", err)
		}
		if len(batch) == 0 {
			continue
		}
		if err := fn(batch); err != nil {
			return err
		}
	}
	return nil
}

// SupersededPayloads returns the ids of stored payloads that another live
// payload under the same key replaces: the later fetched one (by id when
// fetched at the same time) is the one that holds the key, as on the live
// path, where the latest write of a key replaces what it held.
func (s *Store) SupersededPayloads(ctx context.Context) (map[string]bool, error) {
	out := map[string]bool{}
	err := RunQuery(ctx, s.db, `SELECT issue_id FROM (
		SELECT issue_id, row_number() OVER (PARTITION BY issue_key ORDER BY fetched_at DESC, issue_id DESC) AS r
		FROM raw_issues WHERE deleted_at IS NULL AND payload IS NOT NULL) WHERE r > 1`, intoSet(out))
	if err != nil {
		return nil, fmt.Errorf("superseded payloads: %w", err)
	}
	return out, nil
}

// RecentIssueIDs returns ids of issues named by webhook events received since
// t, newest first: reconcile asks Jira's search to read them consistently.
func (s *Store) RecentIssueIDs(ctx context.Context, since time.Time, limit int) ([]string, error) {
	out, err := Collect(ctx, s.db, `SELECT issue_id FROM (SELECT issue_id, max(received_at) AS t FROM webhook_events
		WHERE received_at >= ? AND issue_id IS NOT NULL GROUP BY issue_id) ORDER BY t DESC LIMIT ?`, scanOne[string], since, limit)
	if err != nil {
		return nil, fmt.Errorf("recent issue ids: %w", err)
	}
	return out, nil
}

// HashesOf decodes a row_hashes value.
func HashesOf(raw string) map[string]string {
	out := map[string]string{}
	_ = json.Unmarshal([]byte(raw), &out)
	return out
}
