package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Run statuses of sync_runs.
const (
	RunRunning     = "running"
	RunOK          = "ok"
	RunFailed      = "failed"
	RunInterrupted = "interrupted"
)

// Run is one row of sync_runs: a poll, reconcile, backfill, rebuild, export or
// snapshot.
type Run struct {
	ID         int64          `json:"run_id"`
	Job        string         `json:"job"`
	StartedAt  time.Time      `json:"started_at"`
	FinishedAt *time.Time     `json:"finished_at,omitempty"`
	Status     string         `json:"status"`
	Counts     map[string]int `json:"counts"`
	Args       map[string]any `json:"args,omitempty"`
	Error      string         `json:"error,omitempty"`
}

// StartRun records the start of a job and returns its id. Runs of the job that
// a crash left "running" are marked interrupted first.
func (s *Store) StartRun(ctx context.Context, job string, args map[string]any) (int64, error) {
	argsJSON, _ := json.Marshal(args)
	var id int64
	err := s.WithTx(ctx, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE sync_runs SET status = ?, finished_at = ? WHERE job = ? AND status = ?`,
			RunInterrupted, time.Now().UTC(), job, RunRunning); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `INSERT INTO sync_runs (job, started_at, status, counts, args) VALUES (?, ?, ?, '{}', ?) RETURNING run_id`,
			job, time.Now().UTC(), RunRunning, string(argsJSON)).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("record %s start: %w", job, err)
	}
	return id, nil
}

// UpdateRun records progress of a running job.
func (s *Store) UpdateRun(ctx context.Context, id int64, counts map[string]int) error {
	c, _ := json.Marshal(counts)
	_, err := s.db.ExecContext(ctx, `UPDATE sync_runs SET counts = ? WHERE run_id = ?`, string(c), id)
	return err
}

// FinishRun records the end of a job.
func (s *Store) FinishRun(ctx context.Context, id int64, status string, counts map[string]int, runErr error) error {
	c, _ := json.Marshal(counts)
	var msg *string
	if runErr != nil {
		m := runErr.Error()
		msg = &m
	}
	_, err := s.db.ExecContext(ctx, `UPDATE sync_runs SET status = ?, finished_at = ?, counts = ?, error = ? WHERE run_id = ?`,
		status, time.Now().UTC(), string(c), msg, id)
	if err != nil {
		return fmt.Errorf("record run end: %w", err)
	}
	return nil
}

// LastRuns returns the latest run of every job.
func (s *Store) LastRuns(ctx context.Context) ([]Run, error) {
	return s.runs(ctx, `WHERE run_id IN (SELECT max(run_id) FROM sync_runs GROUP BY job) ORDER BY job`)
}

// RecentRuns returns the newest runs.
func (s *Store) RecentRuns(ctx context.Context, limit int) ([]Run, error) {
	return s.runs(ctx, `ORDER BY run_id DESC LIMIT ?`, limit)
}

func (s *Store) runs(ctx context.Context, where string, args ...any) ([]Run, error) {
	out, err := Collect(ctx, s.db, `SELECT run_id, job, started_at, finished_at, status, coalesce(counts::VARCHAR, '{}'),
		coalesce(args::VARCHAR, '{}'), coalesce(error, '') FROM sync_runs `+where, func(rows *sql.Rows) (r Run, err error) {
		var fin sql.NullTime
		var counts, a string
		if err := rows.Scan(&r.ID, &r.Job, &r.StartedAt, &fin, &r.Status, &counts, &a, &r.Error); err != nil {
			return r, err
		}
		r.StartedAt = r.StartedAt.UTC()
		if fin.Valid {
			t := fin.Time.UTC()
			r.FinishedAt = &t
		}
		_ = json.Unmarshal([]byte(counts), &r.Counts)
		_ = json.Unmarshal([]byte(a), &r.Args)
		return r, nil
	}, args...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return out, nil
}

// SyncState is what the store knows of one issue, to decide whether Jira's
// copy must be fetched.
type SyncState struct {
	Key        string
	Updated    time.Time
	Incomplete bool
}

// SyncStates returns the sync state of every stored (not deleted) issue by id.
func (s *Store) SyncStates(ctx context.Context) (map[string]SyncState, error) {
	out := map[string]SyncState{}
	err := RunQuery(ctx, s.db, `SELECT issue_id, issue_key, updated_at, incomplete FROM raw_issues WHERE deleted_at IS NULL`, func(rows *sql.Rows) error {
		var id string
		var st SyncState
		var upd sql.NullTime
		if err := rows.Scan(&id, &st.Key, &upd, &st.Incomplete); err != nil {
			return err
		}
		st.Updated = upd.Time.UTC()
		out[id] = st
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read sync states: %w", err)
	}
	return out, nil
}

// ErrNoRun means no run of the job was recorded.
var ErrNoRun = errors.New("no run recorded")

// A rebuild records in its run's cursor whether the analyst tables are
// partial: RebuildEmptied in the transaction that empties them, and
// RebuildComplete in the one that ends the rebuild. Until a rebuild completes
// the tables hold only the issues it reached, and publishing them would take
// rows away from the analysts' files.
const (
	RebuildEmptied  = "tables emptied"
	RebuildComplete = "complete"
)

// SetRunCursor records how far a run got, inside tx so that it commits with
// the work it describes.
func SetRunCursor(ctx context.Context, tx *Tx, id int64, cursor string) error {
	if err := execErr(tx.ExecContext(ctx, `UPDATE sync_runs SET cursor = ? WHERE run_id = ?`, cursor, id)); err != nil {
		return fmt.Errorf("record run progress: %w", err)
	}
	return nil
}

// ErrPartialRebuild means the latest rebuild emptied the analyst tables and
// did not finish: they are partial until a rebuild completes.
var ErrPartialRebuild = errors.New("the analyst tables are partly rebuilt: a rebuild emptied them and did not finish; run jiraduck rebuild again before publishing")

// CheckRebuild returns ErrPartialRebuild (naming the run) while the latest
// rebuild has emptied the tables without completing.
func (s *Store) CheckRebuild(ctx context.Context) error {
	var id int64
	var cursor sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT run_id, cursor FROM sync_runs WHERE job = 'rebuild' ORDER BY run_id DESC LIMIT 1`).Scan(&id, &cursor)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("read the state of the latest rebuild: %w", err)
	case cursor.String == RebuildEmptied:
		return fmt.Errorf("%w (run %d)", ErrPartialRebuild, id)
	}
	return nil
}
