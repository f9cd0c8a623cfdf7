package store

import (
	"context"
	"testing"
	"time"
)

// TestWorklogMigrationMarksTruncatedPayloads: migration 0004 gives the
// payloads stored before it a worklog state from what their issue embeds,
// and marks incomplete, for reconcile to fetch again, only those that embed
// fewer worklogs than their total.
func TestWorklogMigrationMarksTruncatedPayloads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := migratedBefore(t, 4)
	tests := []struct {
		name, payload  string
		deleted        bool
		wantState      any
		wantIncomplete bool
	}{
		{"truncated", `{"issue":{"fields":{"worklog":{"total":25,"worklogs":[{"id":"1"},{"id":"2"}]}}}}`, false, "partial", true},
		{"whole", `{"issue":{"fields":{"worklog":{"total":2,"worklogs":[{"id":"3"},{"id":"4"}]}}}}`, false, "complete", false},
		{"none logged", `{"issue":{"fields":{"worklog":{"startAt":0,"total":0,"worklogs":[]}}}}`, false, "complete", false},
		{"bare list", `{"issue":{"fields":{"worklog":[{"id":"5"}]}}}`, false, "complete", false},
		{"no worklog field", `{"issue":{"fields":{"summary":"x"}}}`, false, "unknown", false},
		{"null worklog field", `{"issue":{"fields":{"worklog":null}}}`, false, "unknown", false},
		{"deleted issue", `{"issue":{"fields":{"worklog":{"total":25,"worklogs":[]}}}}`, true, nil, false},
	}
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, tc := range tests {
		var deleted any
		if tc.deleted {
			deleted = at
		}
		if _, err := s.DB().ExecContext(ctx, `INSERT INTO raw_issues (issue_id, issue_key, payload, fetched_at, deleted_at)
			VALUES (?, ?, ?, ?, ?)`, i+1, "SUP-"+string(rune('1'+i)), tc.payload, at, deleted); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var state any
			var incomplete bool
			if err := s.DB().QueryRowContext(ctx, `SELECT worklogs_state, incomplete FROM raw_issues WHERE issue_id = ?`, i+1).
				Scan(&state, &incomplete); err != nil {
				t.Fatal(err)
			}
			if state != tc.wantState || incomplete != tc.wantIncomplete {
				t.Errorf("got %v incomplete=%v, want %v incomplete=%v", state, incomplete, tc.wantState, tc.wantIncomplete)
			}
		})
	}
}

// TestCursorsAndWorklogIssues: the store keeps the change-list cursors and
// names the live issues of stored worklogs.
func TestCursorsAndWorklogIssues(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := migrated(t)
	if _, ok, err := s.Cursor(ctx, "worklog_updated"); ok || err != nil {
		t.Fatalf("cursor of a new store: got %v %v, want none", ok, err)
	}
	for _, v := range []string{"1000", "2000"} {
		if err := s.WithTx(ctx, func(tx *Tx) error { return SetCursor(ctx, tx, "worklog_updated", v, time.Now()) }); err != nil {
			t.Fatal(err)
		}
		if got, ok, err := s.Cursor(ctx, "worklog_updated"); got != v || !ok || err != nil {
			t.Errorf("cursor: got %q %v %v, want %q", got, ok, err, v)
		}
	}
	apply(t, s, sampleRows("SUP-1", "100", march))
	got, err := s.WorklogIssues(ctx, []string{"1007", "999"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got["1007"].ID != "100" || got["1007"].Key != "SUP-1" || got["1007"].FetchedAt.IsZero() {
		t.Errorf("got %+v, want worklog 1007 of SUP-1 (100) only", got)
	}
	if oldest, ok, err := s.OldestFetch(ctx); !ok || err != nil || !oldest.Equal(got["1007"].FetchedAt) {
		t.Errorf("oldest fetch: got %v %v %v, want %v", oldest, ok, err, got["1007"].FetchedAt)
	}
	issues, err := s.StoredIssues(ctx, []string{"100", "200"})
	if err != nil || len(issues) != 1 || issues["100"].Key != "SUP-1" {
		t.Errorf("stored issues: got %+v %v, want 100 only", issues, err)
	}
}
