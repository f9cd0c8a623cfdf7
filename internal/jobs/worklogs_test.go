package jobs

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/normalize"
)

// worklogsJSON is n worklogs as Jira gives them, ids from first.
func worklogsJSON(first, n int) string {
	var list []string
	for i := range n {
		list = append(list, fmt.Sprintf(`{"id":"%d","timeSpentSeconds":60,"started":"2024-01-02T10:00:00.000+0000","created":"2024-01-02T10:%02d:00.000+0000"}`, first+i, i))
	}
	return "[" + strings.Join(list, ",") + "]"
}

// TestRebuildDerivesWorklogs: rebuild derives the worklogs of every stored
// payload: those a bundle holds itself, and for a payload stored before
// worklogs were fetched, those its issue embeds.
func TestRebuildDerivesWorklogs(t *testing.T) {
	h := newImportStore(t)
	issue := func(id, embedded string) string {
		return fmt.Sprintf(`{"id":"%s","key":"SUP-%s","fields":{"created":"2024-01-01T00:00:00.000+0000","summary":"x","worklog":%s}}`, id, id, embedded)
	}
	const oldState = `"state":{"comments":"complete","changelog":"complete","remote_links":"complete","sla":"complete"},"fetched_at":"2024-01-05T00:00:00Z"}`
	tests := []struct {
		id, payload string
		want        int
	}{
		{"1", `{"issue":` + issue("1", `{"startAt":0,"maxResults":20,"total":2,"worklogs":`+worklogsJSON(100, 2)+`}`) +
			`,"comments":[],"histories":[],"remote_links":[],` + oldState, 2},
		{"2", `{"issue":` + issue("2", `{"startAt":0,"maxResults":20,"total":25,"worklogs":`+worklogsJSON(200, 20)+`}`) +
			`,"comments":[],"histories":[],"remote_links":[],` + oldState, 20},
		{"3", `{"issue":` + issue("3", `{"startAt":0,"maxResults":20,"total":25,"worklogs":[]}`) +
			`,"comments":[],"histories":[],"remote_links":[],"worklogs":` + worklogsJSON(300, 25) +
			`,"state":{"comments":"complete","changelog":"complete","remote_links":"complete","sla":"complete","worklogs":"complete"},"fetched_at":"2024-01-05T00:00:00Z"}`, 25},
	}
	at := time.Date(2024, 1, 5, 0, 0, 0, 0, time.UTC)
	for _, tc := range tests {
		if _, err := h.s.DB().Exec(`INSERT INTO raw_issues (issue_id, issue_key, created_at, payload, fetched_at) VALUES (?, ?, ?, ?, ?)`,
			tc.id, "SUP-"+tc.id, at, tc.payload, at); err != nil {
			t.Fatal(err)
		}
	}
	res, err := Rebuild(context.Background(), h.s, h.w, normalize.Options{}, RebuildOptions{DataDir: t.TempDir()})
	if err != nil || res.Issues != 3 || res.Skipped != 0 {
		t.Fatalf("rebuild: %+v %v, want 3 issues", res, err)
	}
	for _, tc := range tests {
		t.Run("SUP-"+tc.id, func(t *testing.T) {
			if n := count(t, h.s, fmt.Sprintf(`SELECT count(*) FROM worklogs WHERE issue_id = '%s' AND issue_key = 'SUP-%s'`, tc.id, tc.id)); n != tc.want {
				t.Errorf("got %d worklogs, want %d", n, tc.want)
			}
		})
	}
}
