package store

import (
	"context"
	"database/sql"
	"slices"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/normalize"
)

// childTables are the tables that carry issue_month.
func childTables() []string {
	var out []string
	for _, t := range normalize.Tables {
		if t != "issues" {
			out = append(out, t)
		}
	}
	return out
}

// rowMonths is the distinct issue_month values of key's rows in table,
// "NULL" for a row without one.
func rowMonths(t *testing.T, s *Store, table, key string) []string {
	t.Helper()
	var out []string
	err := RunQuery(context.Background(), s.DB(), `SELECT DISTINCT coalesce(strftime(issue_month, '%Y-%m'), 'NULL') FROM `+table+
		` WHERE issue_key = ? ORDER BY 1`, func(rows *sql.Rows) error {
		var m string
		if err := rows.Scan(&m); err != nil {
			return err
		}
		out = append(out, m)
		return nil
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fullRows is sampleRows with a row in every child table.
func fullRows(key, id string, created time.Time) *normalize.Rows {
	r := sampleRows(key, id, created)
	r.IssueLinks = []normalize.IssueLink{{IssueKey: key, LinkID: id + "3", LinkedIssueKey: sp("SUP-999")}}
	r.Fields = []normalize.IssueField{{IssueKey: key, FieldID: "customfield_2", ValueText: sp("Gold")}}
	r.InlineMedia = []normalize.InlineMedia{{IssueKey: key, CommentID: sp(id + "01"), MediaIndex: 0}}
	r.IssueSprints = []normalize.IssueSprint{{IssueKey: key, SprintID: "4"}}
	r.IssueOrganizations = []normalize.IssueOrganization{{IssueKey: key, OrganizationID: "9"}}
	return r
}

// TestChildRowsCarryTheirIssueMonth: every child row is written with the UTC
// month of its issue's created, which is the partition the exporter selects
// it for, even where the issue's own time zone puts created in the month
// before.
func TestChildRowsCarryTheirIssueMonth(t *testing.T) {
	t.Parallel()
	s := migrated(t)
	// 2024-03-31 22:00 at -05:00 is 2024-04-01 03:00 UTC.
	lateMarch := time.Date(2024, 3, 31, 22, 0, 0, 0, time.FixedZone("", -5*3600))
	apply(t, s, fullRows("SUP-1", "100", march))
	apply(t, s, fullRows("SUP-2", "200", lateMarch))
	for _, table := range childTables() {
		if got := rowMonths(t, s, table, "SUP-1"); !slices.Equal(got, []string{"2024-03"}) {
			t.Errorf("%s of SUP-1: months %v, want [2024-03]", table, got)
		}
		if got := rowMonths(t, s, table, "SUP-2"); !slices.Equal(got, []string{"2024-04"}) {
			t.Errorf("%s of SUP-2: months %v, want [2024-04]", table, got)
		}
	}
}

// TestRowsFollowAChangedCreated: should a payload give an issue another
// created month, the rows of collections it does not bring whole (unknown or
// partial) take the new month with the rest, and both months are marked.
func TestRowsFollowAChangedCreated(t *testing.T) {
	t.Parallel()
	s := migrated(t)
	apply(t, s, fullRows("SUP-1", "100", march))
	clearDirty(t, s)
	may := time.Date(2024, 5, 2, 12, 0, 0, 0, time.UTC)
	r := fullRows("SUP-1", "100", may)
	r.Raw.CommentsState = normalize.Unknown // inline_media follows the comments
	r.Comments, r.InlineMedia = nil, nil
	r.Raw.RemoteLinksState = normalize.Partial
	r.RemoteLinks = []normalize.RemoteLink{{IssueKey: "SUP-1", RemoteLinkID: "2", URL: sp("https://example.test/2")}}
	apply(t, s, r)
	for _, table := range childTables() {
		if got := rowMonths(t, s, table, "SUP-1"); !slices.Equal(got, []string{"2024-05"}) {
			t.Errorf("%s: months %v, want [2024-05]", table, got)
		}
	}
	if n := count(t, s, `SELECT count(*) FROM comments`); n != 2 {
		t.Errorf("comments: %d rows, want the 2 kept", n)
	}
	if n := count(t, s, `SELECT count(*) FROM remote_links`); n != 2 {
		t.Errorf("remote_links: %d rows, want the kept one and the new one", n)
	}
	got := dirty(t, s)
	for _, table := range []string{"comments", "inline_media", "remote_links", "changelog"} {
		for _, m := range []string{"2024-03", "2024-05"} {
			if !slices.Contains(got, table+"@"+m) {
				t.Errorf("%s@%s not marked; marked %v", table, m, got)
			}
		}
	}
}

// TestMigrationGivesChildRowsTheirMonth: migration 0009 fills issue_month of
// every child row from its issue's created_at (UTC) and leaves the rows of
// an issue the store does not hold without one, so they stay unexported.
func TestMigrationGivesChildRowsTheirMonth(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := migratedBefore(t, 9)
	for _, q := range []string{
		`INSERT INTO issues (issue_key, issue_id, created_at, synced_at) VALUES
			('SUP-1', '100', TIMESTAMPTZ '2024-03-31 22:00:00-05', now()), ('SUP-2', '200', TIMESTAMPTZ '2023-12-31 23:59:59+00', now())`,
		`INSERT INTO comments (comment_id, issue_key) VALUES ('1', 'SUP-1'), ('2', 'SUP-2'), ('3', 'SUP-9')`,
		`INSERT INTO changelog (change_id, item_index, issue_key) VALUES ('1', 0, 'SUP-1'), ('1', 1, 'SUP-1')`,
		`INSERT INTO issue_fields (issue_key, field_id) VALUES ('SUP-2', 'customfield_1')`,
		`INSERT INTO issuelinks (issue_key, link_id, linked_issue_id) VALUES ('SUP-1', '5', '200')`,
		`INSERT INTO worklogs (worklog_id, issue_id, issue_key) VALUES ('7', '200', 'SUP-2')`,
	} {
		if _, err := s.DB().ExecContext(ctx, q); err != nil {
			t.Fatalf("%.50s: %v", q, err)
		}
	}
	if _, _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		table, key string
		want       []string
	}{
		{"comments", "SUP-1", []string{"2024-04"}},
		{"comments", "SUP-2", []string{"2023-12"}},
		{"comments", "SUP-9", []string{"NULL"}},
		{"changelog", "SUP-1", []string{"2024-04"}},
		{"issue_fields", "SUP-2", []string{"2023-12"}},
		{"issuelinks", "SUP-1", []string{"2024-04"}},
		{"worklogs", "SUP-2", []string{"2023-12"}},
	} {
		if got := rowMonths(t, s, c.table, c.key); !slices.Equal(got, c.want) {
			t.Errorf("%s of %s: months %v, want %v", c.table, c.key, got, c.want)
		}
	}
	if n := count(t, s, `SELECT count(*) FROM changelog`); n != 2 {
		t.Errorf("changelog: %d rows after the migration, want 2", n)
	}
}
