package store

import (
	"context"
	"testing"
)

// TestIssueDetailMigrationTakesPromotedNames: a JIRA_FIELD_MAP column that
// had one of the names migration 0005 builds in (the settings refuse it
// from then on) gives way to the built-in column and its type, instead of
// failing the migration and with it every start.
func TestIssueDetailMigrationTakesPromotedNames(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := migratedBefore(t, 5)
	if err := s.EnsureIssueColumns(ctx, []Column{{"votes", "VARCHAR"}, {"severity", "VARCHAR"}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("got %v, want migration 0005 to replace the promoted column votes", err)
	}
	for col, want := range map[string]string{"votes": "INTEGER", "severity": "VARCHAR", "subtask_keys": "VARCHAR[]"} {
		var got string
		err := s.DB().QueryRowContext(ctx, `SELECT data_type FROM information_schema.columns
			WHERE table_name = 'issues' AND column_name = ?`, col).Scan(&got)
		if err != nil || got != want {
			t.Errorf("issues.%s: got type %q (%v), want %s", col, got, err, want)
		}
	}
}
