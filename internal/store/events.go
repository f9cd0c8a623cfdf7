package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Event states of webhook_events.
const (
	EventPending = "pending"
	EventDone    = "done"
	EventFailed  = "failed"
	EventIgnored = "ignored"
)

// Event is one accepted webhook delivery.
type Event struct {
	ID             int64
	DeliveryID     string
	Type           string
	IssueKey       string
	IssueID        string
	RelatedIssueID string
	JiraTimestamp  time.Time
	ReceivedAt     time.Time
	RetryCount     int
	State          string
	Attempts       int
	LastError      string
	Body           []byte
	// BodySHA256 is the lower-case hex SHA-256 of Body ("" without one):
	// a second delivery of the same body is a replay (see KnownBodies).
	BodySHA256 string
}

// NextEventID is the id after the highest stored event; the intake numbers
// events itself so a whole batch is inserted without a round trip per row.
func (s *Store) NextEventID(ctx context.Context) (int64, error) {
	var max sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT max(event_id) FROM webhook_events`).Scan(&max); err != nil {
		return 0, fmt.Errorf("next event id: %w", err)
	}
	return max.Int64 + 1, nil
}

// KnownDeliveries returns which of the delivery ids are already stored.
func KnownDeliveries(ctx context.Context, tx Querier, ids []string) (map[string]bool, error) {
	known, err := presentValues(ctx, tx, `SELECT delivery_id FROM webhook_events WHERE delivery_id IN (%s)`, ids)
	if err != nil {
		return nil, fmt.Errorf("look up deliveries: %w", err)
	}
	return known, nil
}

// KnownBodies returns which of the body hashes (Event.BodySHA256) are
// already stored: a delivery whose body was stored before, under another
// delivery id, is a replay.
func KnownBodies(ctx context.Context, tx Querier, hashes []string) (map[string]bool, error) {
	known, err := presentValues(ctx, tx, `SELECT body_sha256 FROM webhook_events WHERE body_sha256 IN (%s)`, hashes)
	if err != nil {
		return nil, fmt.Errorf("look up webhook bodies: %w", err)
	}
	return known, nil
}

// DeliveryCount is the number of stored events with a delivery id, and the
// number with a body hash.
func (s *Store) DeliveryCount(ctx context.Context) (ids, bodies int, err error) {
	if err := s.db.QueryRowContext(ctx, `SELECT count(delivery_id), count(body_sha256) FROM webhook_events`).Scan(&ids, &bodies); err != nil {
		return 0, 0, fmt.Errorf("count deliveries: %w", err)
	}
	return ids, bodies, nil
}

// EachDelivery calls fn with the delivery id and the body hash of every
// stored event that has either ("" for the one it lacks).
func (s *Store) EachDelivery(ctx context.Context, fn func(id, bodySHA256 string)) error {
	err := RunQuery(ctx, s.db, `SELECT coalesce(delivery_id, ''), coalesce(body_sha256, '') FROM webhook_events
		WHERE delivery_id IS NOT NULL OR body_sha256 IS NOT NULL`, func(rows *sql.Rows) error {
		var id, sum string
		if err := rows.Scan(&id, &sum); err != nil {
			return err
		}
		fn(id, sum)
		return nil
	})
	if err != nil {
		return fmt.Errorf("read deliveries: %w", err)
	}
	return nil
}

// StoredEventIDs returns which of the event ids are stored.
func (s *Store) StoredEventIDs(ctx context.Context, ids []int64) (map[int64]bool, error) {
	out, err := presentValues(ctx, s.db, `SELECT event_id FROM webhook_events WHERE event_id IN (%s)`, ids)
	if err != nil {
		return nil, fmt.Errorf("look up events: %w", err)
	}
	return out, nil
}

// presentValues returns which of the values query answers with: query
// selects one column and has %s where the IN list of placeholders goes. The
// values are asked 1,000 at a time, each once.
func presentValues[T comparable](ctx context.Context, q Querier, query string, values []T) (map[T]bool, error) {
	out := map[T]bool{}
	seen := map[T]bool{}
	var ask []any
	for _, v := range values {
		if !seen[v] {
			seen[v] = true
			ask = append(ask, v)
		}
	}
	for chunk := range slices.Chunk(ask, 1000) {
		if err := RunQuery(ctx, q, fmt.Sprintf(query, placeholders(len(chunk))), intoSet(out), chunk...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// intoSet is what RunQuery calls to add the one column of each row to set.
func intoSet[T comparable](set map[T]bool) func(*sql.Rows) error {
	return func(rows *sql.Rows) error {
		v, err := scanOne[T](rows)
		if err != nil {
			return err
		}
		set[v] = true
		return nil
	}
}

// eventColumns are the columns InsertEvents writes.
var eventColumns = []string{"event_id", "delivery_id", "webhook_event", "issue_key", "issue_id", "related_issue_id",
	"jira_timestamp", "received_at", "retry_count", "state", "attempts", "body", "body_sha256"}

// InsertEvents appends events: through DuckDB's appender when tx carries its
// connection (WithBulkTx, the Writer), else in one multi-row INSERT. Webhook
// bodies are large, and binding them as parameters is slower than appending
// them (BenchmarkMoveEvents).
func InsertEvents(ctx context.Context, tx *Tx, events []*Event) error {
	if len(events) == 0 {
		return nil
	}
	rows := make([][]any, len(events))
	for i, e := range events {
		var ts *time.Time
		if !e.JiraTimestamp.IsZero() {
			t := e.JiraTimestamp
			ts = &t
		}
		var body *string
		if len(e.Body) > 0 {
			s := string(e.Body)
			body = &s
		}
		rows[i] = []any{e.ID, nullable(e.DeliveryID), e.Type, nullable(e.IssueKey), nullable(e.IssueID),
			nullable(e.RelatedIssueID), ts, e.ReceivedAt, int32(e.RetryCount), e.State, int32(0), body, nullable(e.BodySHA256)}
	}
	if conn := tx.conn; conn != nil {
		return appendRows(conn, "webhook_events", eventColumns, rows)
	}
	var b strings.Builder
	b.WriteString("INSERT INTO webhook_events (" + strings.Join(eventColumns, ", ") + ") VALUES ")
	tuple := "(" + placeholders(len(eventColumns)) + ")"
	args := make([]any, 0, len(eventColumns)*len(events))
	for i, row := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(tuple)
		args = append(args, row...)
	}
	return execErr(tx.ExecContext(ctx, b.String(), args...))
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// PendingEvents lists accepted events not yet processed, oldest first.
func (s *Store) PendingEvents(ctx context.Context) ([]*Event, error) {
	return s.queryEvents(ctx, `WHERE state = ? ORDER BY event_id`, EventPending)
}

// RecentEvents lists the newest events, newest first.
func (s *Store) RecentEvents(ctx context.Context, limit int) ([]*Event, error) {
	return s.queryEvents(ctx, `ORDER BY event_id DESC LIMIT ?`, limit)
}

// FailedEvents lists events that failed for good, newest first.
func (s *Store) FailedEvents(ctx context.Context, limit int) ([]*Event, error) {
	return s.queryEvents(ctx, `WHERE state = ? ORDER BY event_id DESC LIMIT ?`, EventFailed, limit)
}

func (s *Store) queryEvents(ctx context.Context, where string, args ...any) ([]*Event, error) {
	out, err := Collect(ctx, s.db, `SELECT event_id, coalesce(delivery_id, ''), webhook_event, coalesce(issue_key, ''),
		coalesce(issue_id, ''), coalesce(related_issue_id, ''), jira_timestamp, received_at, retry_count, state, attempts,
		coalesce(last_error, '') FROM webhook_events `+where, func(rows *sql.Rows) (*Event, error) {
		e := &Event{}
		var ts sql.NullTime
		if err := rows.Scan(&e.ID, &e.DeliveryID, &e.Type, &e.IssueKey, &e.IssueID, &e.RelatedIssueID, &ts, &e.ReceivedAt,
			&e.RetryCount, &e.State, &e.Attempts, &e.LastError); err != nil {
			return nil, err
		}
		if ts.Valid {
			e.JiraTimestamp = ts.Time.UTC()
		}
		e.ReceivedAt = e.ReceivedAt.UTC()
		return e, nil
	}, args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return out, nil
}

// FinishEvents sets the final state of events, with an error text for failures.
func FinishEvents(ctx context.Context, tx *Tx, ids []int64, state, lastError string, attempts int) error {
	if len(ids) == 0 {
		return nil
	}
	ph := strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ")
	args := []any{state, nullable(lastError), attempts, time.Now().UTC()}
	for _, id := range ids {
		args = append(args, id)
	}
	return execErr(tx.ExecContext(ctx, `UPDATE webhook_events SET state = ?, last_error = ?, attempts = attempts + ?, processed_at = ?
		WHERE event_id IN (`+ph+`)`, args...))
}

// EventCounts returns the number of events per state.
func (s *Store) EventCounts(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	err := RunQuery(ctx, s.db, `SELECT state, count(*) FROM webhook_events GROUP BY state`, func(rows *sql.Rows) error {
		var st string
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return err
		}
		out[st] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count events: %w", err)
	}
	return out, nil
}

// LastEventAt is when the newest event was received (zero when none).
func (s *Store) LastEventAt(ctx context.Context) (time.Time, error) {
	var t sql.NullTime
	err := s.db.QueryRowContext(ctx, `SELECT max(received_at) FROM webhook_events`).Scan(&t)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, err
	}
	return t.Time.UTC(), nil
}

// PruneEvents deletes finished events received before cutoff. The newest
// event always stays: event ids continue from the highest stored one, and an
// empty table would let a restart hand out ids again.
func PruneEvents(ctx context.Context, tx *Tx, cutoff time.Time) (int64, error) {
	res, err := tx.ExecContext(ctx, `DELETE FROM webhook_events WHERE state IN ('done', 'ignored') AND received_at < ?
		AND event_id < (SELECT max(event_id) FROM webhook_events)`, cutoff)
	if err != nil {
		return 0, fmt.Errorf("prune events: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// IssueIDByKey finds the id of a stored issue by its current key.
func (s *Store) IssueIDByKey(ctx context.Context, key string) (string, error) {
	var id string
	err := s.db.QueryRowContext(ctx, `SELECT issue_id FROM raw_issues WHERE issue_key = ? AND deleted_at IS NULL`, key).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return id, err
}

// StoredUpdated returns the stored `updated` of an issue, zero when unknown.
func StoredUpdated(ctx context.Context, tx *Tx, id string) (time.Time, error) {
	var t sql.NullTime
	err := tx.QueryRowContext(ctx, `SELECT updated_at FROM raw_issues WHERE issue_id = ? AND deleted_at IS NULL`, id).Scan(&t)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	return t.Time, err
}

// RetryFailed puts failed events back to pending, all of them or those
// given, and returns them so that the caller queues them again. Their last
// error stays until they succeed.
func RetryFailed(ctx context.Context, tx *Tx, ids []int64) ([]*Event, error) {
	where := `state = 'failed'`
	var args []any
	if len(ids) > 0 {
		where += ` AND event_id IN (` + strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ") + `)`
		for _, id := range ids {
			args = append(args, id)
		}
	}
	out, err := Collect(ctx, tx, `SELECT event_id, webhook_event, coalesce(issue_key, ''), coalesce(issue_id, ''),
		coalesce(related_issue_id, ''), received_at FROM webhook_events WHERE `+where+` ORDER BY event_id`, func(rows *sql.Rows) (*Event, error) {
		e := &Event{State: EventPending}
		err := rows.Scan(&e.ID, &e.Type, &e.IssueKey, &e.IssueID, &e.RelatedIssueID, &e.ReceivedAt)
		return e, err
	}, args...)
	if err != nil {
		return nil, fmt.Errorf("retry failed events: %w", err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	if err := execErr(tx.ExecContext(ctx, `UPDATE webhook_events SET state = 'pending', processed_at = NULL WHERE `+where, args...)); err != nil {
		return nil, fmt.Errorf("retry failed events: %w", err)
	}
	return out, nil
}
