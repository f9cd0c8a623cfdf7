package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"testing"
	"time"
)

// TestMigrationHashesStoredBodies: events stored before body_sha256 existed
// get the hash the intake computes, so a replay of one of them is known.
func TestMigrationHashesStoredBodies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := migratedBefore(t, 3)
	bodies := []string{`{"timestamp":1,"webhookEvent":"jira:issue_updated","issue":{"key":"SUP-1"}}`, `{"x":"caf\u00e9 \u2603"}`}
	for i, b := range append(bodies, "") {
		var body any
		if b != "" {
			body = b
		}
		if _, err := s.DB().ExecContext(ctx, `INSERT INTO webhook_events (event_id, webhook_event, received_at, state, body)
			VALUES (?, 'jira:issue_updated', ?, 'done', ?)`, i+1, time.Now(), body); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for i, b := range bodies {
		known, err := KnownBodies(ctx, s.DB(), []string{fmt.Sprintf("%x", sha256.Sum256([]byte(b)))})
		if err != nil {
			t.Fatal(err)
		}
		if len(known) != 1 {
			t.Errorf("body %d: got %v known, want its hash", i, known)
		}
	}
	var missing sql.NullString
	if err := s.DB().QueryRowContext(ctx, `SELECT body_sha256 FROM webhook_events WHERE body IS NULL`).Scan(&missing); err != nil {
		t.Fatal(err)
	}
	if missing.Valid {
		t.Errorf("hash of an event without a body: got %q, want NULL", missing.String)
	}
}

func TestFetchFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := migrated(t)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	write := func(fn func(tx *Tx) error) {
		t.Helper()
		if err := s.WithTx(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	for i, f := range []FetchFailure{
		{Issue: "SUP-1", IssueKey: "SUP-1", Reason: "jira unavailable", Error: "fetch SUP-1: status 503", LastFailed: at},
		{Issue: "SUP-1", Reason: "status 403", Error: "fetch SUP-1: status 403", LastFailed: at.Add(time.Minute)},
		{Issue: "10002", IssueID: "10002", Reason: "timed out", Error: "fetch 10002: deadline", LastFailed: at.Add(2 * time.Minute)},
	} {
		write(func(tx *Tx) error { return RecordFetchFailure(ctx, tx, f) })
		_ = i
	}
	got, total, err := s.FetchFailures(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if total != 2 || len(got) != 2 {
		t.Fatalf("failures: got %d (%d listed), want 2", total, len(got))
	}
	if got[0].Issue != "10002" || got[1].Issue != "SUP-1" {
		t.Errorf("order: got %s, %s, want 10002, SUP-1", got[0].Issue, got[1].Issue)
	}
	sup := got[1]
	if sup.Failures != 2 || sup.Reason != "status 403" || sup.IssueKey != "SUP-1" || !sup.FirstFailed.Equal(at) || !sup.LastFailed.Equal(at.Add(time.Minute)) {
		t.Errorf("SUP-1: got %+v, want 2 failures, the latest reason, the key kept, first and last times", sup)
	}
	names, err := s.FetchFailureNames(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !names["SUP-1"] || !names["10002"] || len(names) != 2 {
		t.Errorf("names: got %v, want SUP-1 and 10002", names)
	}
	// A success known by the issue's id clears the failure recorded by key.
	write(func(tx *Tx) error {
		return RecordFetchFailure(ctx, tx, FetchFailure{Issue: "SUP-1", IssueID: "10001", Reason: "r", Error: "e", LastFailed: at})
	})
	write(func(tx *Tx) error { return ClearFetchFailures(ctx, tx, []string{"10001", "10002"}) })
	if _, total, err := s.FetchFailures(ctx, 10); err != nil || total != 0 {
		t.Errorf("after success: got %d failures (%v), want 0", total, err)
	}
}
