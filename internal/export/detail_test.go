package export

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/jira"
	"github.com/jiraduck/jiraduck/internal/normalize"
)

// detailPayload is an issue carrying everything issue #25 brings to the
// tables: time tracking, project and type facts, sub-tasks, security,
// votes, watches, authors without e-mail, user-field changes with account
// ids and metadata, and an image in the description linked to its
// attachment.
const detailPayload = `{"id":"900","key":"DET-1","fields":{
	"created":"2024-03-05T10:00:00.000+0100","summary":"detail",
	"timeoriginalestimate":7200,"timeestimate":3600,"timespent":5400,
	"aggregatetimeoriginalestimate":10800,"aggregatetimeestimate":3600,"aggregatetimespent":9000,
	"statuscategorychangedate":"2024-03-06T08:30:00.000+0000",
	"project":{"id":"1","key":"DET","name":"Detail","projectTypeKey":"software","simplified":true},
	"issuetype":{"id":"3","name":"Story","hierarchyLevel":0},
	"subtasks":[{"id":"901","key":"DET-2","fields":{}},{"id":"902","key":"DET-3","fields":{}}],
	"security":{"id":"10000","name":"Staff only"},
	"votes":{"votes":4,"hasVoted":false},"watches":{"watchCount":6,"isWatching":false},
	"attachment":[{"id":"10500","filename":"trace.png","size":10,"created":"2024-03-05T10:01:00.000+0100",
		"author":{"accountId":"acc-att","displayName":"Att Author"}}],
	"description":{"type":"doc","version":1,"content":[{"type":"mediaSingle","content":[
		{"type":"media","attrs":{"type":"file","id":"6f1c0b5e-1111-4d2a-9b7e-3c8d2f1a0e55","collection":"","alt":"trace.png"}}]}]},
	"comment":{"total":1,"comments":[{"id":"7000","body":null,"created":"2024-03-05T11:00:00.000+0100",
		"author":{"accountId":"acc-a","displayName":"A"},"updateAuthor":{"accountId":"acc-up","displayName":"Up Dater"}}]}},
	"changelog":{"total":1,"histories":[{"id":"8000","created":"2024-03-05T12:00:00.000+0100",
		"historyMetadata":{"type":"jira.automation","activityDescription":"Auto-assign"},
		"items":[{"field":"assignee","fieldtype":"jira","fieldId":"assignee","from":"acc-x","fromString":"X",
			"to":"acc-y","toString":"Y","tmpFromAccountId":"acc-x","tmpToAccountId":"acc-y"}]}]}}`

// TestNewColumnsReachParquet: every column added for issue #25 carries its
// value from the payload through the store into the month's Parquet file.
func TestNewColumnsReachParquet(t *testing.T) {
	f := newFixture(t)
	b := &jira.Bundle{Issue: []byte(detailPayload),
		State:     jira.BundleState{Comments: jira.StateComplete, Changelog: jira.StateComplete, RemoteLinks: jira.StateComplete, SLA: jira.StateComplete},
		FetchedAt: time.Date(2024, 4, 1, 0, 0, 0, 0, time.UTC)}
	var raw struct {
		Fields struct {
			Comment struct {
				Comments []json.RawMessage `json:"comments"`
			} `json:"comment"`
		} `json:"fields"`
		Changelog struct {
			Histories []json.RawMessage `json:"histories"`
		} `json:"changelog"`
	}
	if err := json.Unmarshal([]byte(detailPayload), &raw); err != nil {
		t.Fatal(err)
	}
	b.Comments = append(b.Comments, raw.Fields.Comment.Comments...)
	b.Histories = append(b.Histories, raw.Changelog.Histories...)
	r, err := normalize.FromBundle(b, normalize.Options{SLANames: []string{"first_response", "time_to_resolution"}})
	if err != nil {
		t.Fatal(err)
	}
	f.apply(t, r)
	f.exportDirty(t)
	root := Root(f.dir)
	tests := []struct {
		table, column, want string
	}{
		{"issues", "original_estimate_seconds", "7200"},
		{"issues", "remaining_estimate_seconds", "3600"},
		{"issues", "time_spent_seconds", "5400"},
		{"issues", "aggregate_original_estimate_seconds", "10800"},
		{"issues", "aggregate_remaining_estimate_seconds", "3600"},
		{"issues", "aggregate_time_spent_seconds", "9000"},
		{"issues", "strftime(status_category_changed_at AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M')", "2024-03-06 08:30"},
		{"issues", "project_type", "software"},
		{"issues", "team_managed", "true"},
		{"issues", "issue_type_hierarchy_level", "0"},
		{"issues", "array_to_string(subtask_keys, ',')", "DET-2,DET-3"},
		{"issues", "security_level", "Staff only"},
		{"issues", "votes", "4"},
		{"issues", "watches", "6"},
		{"comments", "update_author_account_id", "acc-up"},
		{"comments", "update_author_name", "Up Dater"},
		{"attachments", "author_account_id", "acc-att"},
		{"attachments", "author_name", "Att Author"},
		{"changelog", "from_account_id", "acc-x"},
		{"changelog", "to_account_id", "acc-y"},
		{"changelog", "activity_type", "jira.automation"},
		{"changelog", "activity_description", "Auto-assign"},
		{"inline_media", "attachment_id", "10500"},
		{"inline_media", "filename", "trace.png"},
		{"inline_media", "linked_by", "filename"},
		{"inline_media", "coalesce(comment_id, 'description')", "description"},
		{"inline_media", "media_id", "6f1c0b5e-1111-4d2a-9b7e-3c8d2f1a0e55"},
	}
	db := viewsDB(t, root)
	for _, tc := range tests {
		t.Run(tc.table+"."+tc.column, func(t *testing.T) {
			file := filepath.Join(root, tc.table, "month=2024-03", "data.parquet")
			var got string
			if err := db.QueryRow("SELECT CAST(" + tc.column + " AS VARCHAR) FROM read_parquet('" + file + "')").Scan(&got); err != nil {
				t.Fatalf("read %s: %v", tc.column, err)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
