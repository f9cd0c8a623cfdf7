package store

import (
	"context"
	"slices"
	"testing"
)

// defaultSLA are the issues columns of the default SLA metrics: the
// migration creates them, but they are settings' columns all the same.
var defaultSLA = []string{"first_response_breached", "first_response_goal_millis", "first_response_elapsed_millis",
	"first_response_remaining_millis", "time_to_resolution_breached", "time_to_resolution_goal_millis",
	"time_to_resolution_elapsed_millis", "time_to_resolution_remaining_millis"}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestDropIssueColumns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name        string
		added       []string
		keep        []string
		wantDropped []string
	}{
		{name: "removed field leaves", added: []string{"severity", "team"}, keep: append([]string{"team"}, defaultSLA...),
			wantDropped: []string{"severity"}},
		{name: "kept fields stay", added: []string{"severity"}, keep: append([]string{"severity"}, defaultSLA...)},
		{name: "only the fixed columns stay with an empty keep", keep: nil, wantDropped: defaultSLA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := migrated(t)
			var cols []Column
			for _, c := range tt.added {
				cols = append(cols, Column{Name: c, Type: "VARCHAR"})
			}
			if err := s.EnsureIssueColumns(ctx, cols); err != nil {
				t.Fatal(err)
			}
			// A row, so that dropping works on a table with data and keys.
			if _, err := s.DB().Exec(`INSERT INTO issues (issue_key, issue_id, created_at, synced_at) VALUES ('A-1', '1', now(), now())`); err != nil {
				t.Fatal(err)
			}
			dropped, err := s.DropIssueColumns(ctx, tt.keep)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(dropped, tt.wantDropped) {
				t.Errorf("dropped: got %v, want %v", dropped, tt.wantDropped)
			}
			have, err := s.IssueColumnNames(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range issueBaseColumns {
				if !slices.Contains(have, c) {
					t.Errorf("fixed column %s dropped", c)
				}
			}
			for _, c := range tt.wantDropped {
				if slices.Contains(have, c) {
					t.Errorf("column %s still there: %v", c, have)
				}
			}
			var n int
			if err := s.DB().QueryRow(`SELECT count(*) FROM issues`).Scan(&n); err != nil || n != 1 {
				t.Errorf("issues rows after the drop: got %d (%v), want 1", n, err)
			}
		})
	}
}

func TestAppliedIssueColumns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name   string
		setup  func(t *testing.T, s *Store)
		want   string
		wantOK bool
	}{
		{name: "nothing recorded", setup: func(*testing.T, *Store) {}},
		{name: "recorded on an empty store", setup: func(t *testing.T, s *Store) {
			noErr(t, s.RecordIssueColumns(ctx, "a"))
		}, want: "a", wantOK: true},
		{name: "latest wins", setup: func(t *testing.T, s *Store) {
			noErr(t, s.RecordIssueColumns(ctx, "a"))
			noErr(t, s.RecordIssueColumns(ctx, "b"))
		}, want: "b", wantOK: true},
		{name: "an unfinished rewrite leaves it unknown", setup: func(t *testing.T, s *Store) {
			noErr(t, s.RecordIssueColumns(ctx, "a"))
			_, err := s.StartRun(ctx, "rebuild", map[string]any{IssueColumnsArg: "b"})
			noErr(t, err)
		}, want: "b", wantOK: false},
		{name: "a plain rebuild changes nothing", setup: func(t *testing.T, s *Store) {
			noErr(t, s.RecordIssueColumns(ctx, "a"))
			id, err := s.StartRun(ctx, "rebuild", map[string]any{"batch": 500})
			noErr(t, err)
			noErr(t, s.FinishRun(ctx, id, RunFailed, nil, nil))
		}, want: "a", wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := migrated(t)
			tt.setup(t, s)
			got, ok, err := s.AppliedIssueColumns(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("got %q ok=%v, want %q ok=%v", got, ok, tt.want, tt.wantOK)
			}
			if err := s.CheckRebuild(ctx); err != nil {
				t.Errorf("check rebuild: %v", err)
			}
		})
	}
}

func TestColumnTypesMatchTheMigrations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := migrated(t)
	rows, err := s.DB().QueryContext(ctx, `SELECT table_name, column_name, data_type FROM duckdb_columns()
		WHERE schema_name = 'main' AND table_name IN ('issues', 'comments', 'attachments', 'changelog', 'issuelinks',
			'remote_links', 'sla', 'issue_fields') ORDER BY table_name, column_index`)
	noErr(t, err)
	defer rows.Close()
	n := 0
	for rows.Next() {
		var table, col, typ string
		noErr(t, rows.Scan(&table, &col, &typ))
		var got string
		noErr(t, s.DB().QueryRowContext(ctx, "SELECT typeof(CAST(NULL AS "+ColumnType(col)+"))").Scan(&got))
		if got != typ {
			t.Errorf("%s.%s: ColumnType gives %s, the migrations %s", table, col, got, typ)
		}
		n++
	}
	noErr(t, rows.Err())
	if n < 100 {
		t.Errorf("columns checked: got %d, want every analyst column (more than 100)", n)
	}
}
