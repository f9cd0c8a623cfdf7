package normalize

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/jira"
)

// worklogIssue is a minimal issue payload whose fields.worklog is embedded.
func worklogIssue(embedded string) json.RawMessage {
	return json.RawMessage(`{"id":"10002","key":"ED-1","fields":{"created":"2021-01-31T23:30:00.000-0100","summary":"x"` +
		embedded + `}}`)
}

// TestWorklogsPageFixture derives the rows of Jira's documented worklog page
// (ADF comment, group visibility) and of the worklog of a real Jira Cloud
// worklog_updated delivery (v2 string comment, "+0530" times).
func TestWorklogsPageFixture(t *testing.T) {
	var page struct {
		Worklogs []json.RawMessage `json:"worklogs"`
	}
	if err := json.Unmarshal(readFixture(t, "rest/worklog/get_issue_worklogs_paged__openapi_example.json"), &page); err != nil {
		t.Fatal(err)
	}
	var hook struct {
		Worklog json.RawMessage `json:"worklog"`
	}
	if err := json.Unmarshal(readFixture(t, "webhooks/worklog_updated/basic__zulip.json"), &hook); err != nil {
		t.Fatal(err)
	}
	b := bundleOf(t, worklogIssue(""))
	b.Worklogs, b.State.Worklogs = append(page.Worklogs, hook.Worklog), jira.StateComplete
	r, err := FromBundle(b, defaultOpts)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Worklogs) != 2 {
		t.Fatalf("got %d worklogs, want 2", len(r.Worklogs))
	}
	doc, real := r.Worklogs[0], r.Worklogs[1]
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"id", doc.WorklogID, "100028"},
		{"issue id is the issue's", doc.IssueID, "10002"},
		{"issue key", doc.IssueKey, "ED-1"},
		{"author", deref(doc.AuthorName) + "/" + deref(doc.AuthorAccountID), "Mia Krystof/5b10a2844c20165700ede21g"},
		{"update author", deref(doc.UpdateAuthorAccountID), "5b10a2844c20165700ede21g"},
		{"started in UTC", doc.StartedAt.Format(time.RFC3339Nano), "2021-01-17T12:34:00Z"},
		{"seconds", *doc.TimeSpentSeconds, int64(12000)},
		{"comment as text", deref(doc.Comment), "I did some work here."},
		{"visibility", deref(doc.VisibilityType) + "/" + deref(doc.VisibilityValue), "group/jira-developers"},
		{"real started, +0530 to UTC", real.StartedAt.Format(time.RFC3339Nano), "2026-09-21T02:46:58.108Z"},
		{"real seconds", *real.TimeSpentSeconds, int64(115200)},
		{"real empty comment is NULL", real.Comment == nil, true},
		{"real author", deref(real.AuthorName), "Leo Franchi"},
		{"real updated", real.UpdatedAt.Format(time.RFC3339Nano), "2026-09-22T18:49:13.744Z"},
		{"real without visibility", real.VisibilityType == nil, true},
		{"state", r.Raw.WorklogsState, Complete},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
	golden(t, "worklogs.json", r.Worklogs)
}

// TestWorklogsFromEmbedded: a bundle that carries no worklog list of its own
// (one stored before worklogs were fetched, which rebuild reads) takes the
// worklogs its issue embeds, and their state says whether that is all of them.
func TestWorklogsFromEmbedded(t *testing.T) {
	one := `{"id":"501","started":"2021-02-01T10:00:00.000+0000","timeSpentSeconds":600,"created":"2021-02-01T10:00:00.000+0000"}`
	two := `{"id":"502","started":"2021-02-02T10:00:00.000+0000","timeSpentSeconds":900,"created":"2021-02-02T10:00:00.000+0000"}`
	tests := []struct {
		name      string
		embedded  string
		wantIDs   string
		wantState State
	}{
		{"whole page is complete", `,"worklog":{"startAt":0,"maxResults":20,"total":2,"worklogs":[` + one + `,` + two + `]}`, "501,502", Complete},
		{"empty page is complete", `,"worklog":{"startAt":0,"maxResults":20,"total":0,"worklogs":[]}`, "", Complete},
		{"truncated page is partial", `,"worklog":{"startAt":0,"maxResults":20,"total":25,"worklogs":[` + one + `]}`, "501", Partial},
		{"bare list is complete", `,"worklog":[` + two + `]`, "502", Complete},
		{"no worklog field is unknown", ``, "", Unknown},
		{"null worklog field is unknown", `,"worklog":null`, "", Unknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := bundleOf(t, worklogIssue(tc.embedded))
			for _, stored := range []bool{false, true} {
				opts := defaultOpts
				opts.Stored = stored
				r, err := FromBundle(b, opts)
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, w := range r.Worklogs {
					ids = append(ids, w.WorklogID)
				}
				if got := strings.Join(ids, ","); got != tc.wantIDs || r.Raw.WorklogsState != tc.wantState {
					t.Errorf("stored=%v: got %q %s, want %q %s", stored, got, r.Raw.WorklogsState, tc.wantIDs, tc.wantState)
				}
				if tc.wantState != Complete && !r.Raw.Incomplete() {
					t.Errorf("stored=%v: a %s worklog list leaves the issue complete", stored, tc.wantState)
				}
			}
		})
	}
}

// TestWorklogsSurviveStorage: the stored payload holds the worklogs once (the
// issue's embedded list is emptied, its total kept), and rows derived from it
// again equal those of the fetch.
func TestWorklogsSurviveStorage(t *testing.T) {
	var list []string
	for i := range 25 {
		list = append(list, fmt.Sprintf(`{"id":"%d","started":"2021-02-01T10:00:00.000+0000","timeSpentSeconds":60,"created":"2021-02-01T10:%02d:00.000+0000"}`, 600+i, i))
	}
	issue := worklogIssue(`,"worklog":{"startAt":0,"maxResults":20,"total":25,"worklogs":[` + strings.Join(list[:20], ",") + `]}`)
	b := bundleOf(t, issue)
	for _, w := range list {
		b.Worklogs = append(b.Worklogs, json.RawMessage(w))
	}
	b.State.Worklogs = jira.StateComplete
	r, err := FromBundle(b, defaultOpts)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Worklogs) != 25 || r.Raw.WorklogsState != Complete {
		t.Fatalf("got %d worklogs %s, want 25 complete", len(r.Worklogs), r.Raw.WorklogsState)
	}
	stored, err := jira.DecodeBundle(r.Raw.Payload)
	if err != nil {
		t.Fatal(err)
	}
	var top struct {
		Fields struct {
			Worklog struct {
				Total    int               `json:"total"`
				Worklogs []json.RawMessage `json:"worklogs"`
			} `json:"worklog"`
		} `json:"fields"`
	}
	if err := json.Unmarshal(stored.Issue, &top); err != nil {
		t.Fatal(err)
	}
	if top.Fields.Worklog.Total != 25 || len(top.Fields.Worklog.Worklogs) != 0 || len(stored.Worklogs) != 25 {
		t.Errorf("stored: embedded %d of total %d, bundle %d; want 0 of 25 and 25", len(top.Fields.Worklog.Worklogs),
			top.Fields.Worklog.Total, len(stored.Worklogs))
	}
	opts := defaultOpts
	opts.Stored = true
	again, err := FromBundle(stored, opts)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := again.Hashes()["worklogs"], r.Hashes()["worklogs"]; a != b || again.Raw.WorklogsState != Complete {
		t.Errorf("rows from the stored payload: digest %s state %s, want %s complete", a, again.Raw.WorklogsState, b)
	}
}

// TestWorklogCommentIsRedacted: a worklog comment gets the credential
// redaction of comment bodies, in ADF and as a v2 string.
func TestWorklogCommentIsRedacted(t *testing.T) {
	adfComment := `{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"see https://api.example/v1?API_KEY=k1&q=x"}]}]}`
	tests := []struct {
		name, comment, want string
	}{
		{"adf", adfComment, "see https://api.example/v1?API_KEY=REDACTED&q=x"},
		{"v2 string", `"try https://admin:hunter2@c.example/x"`, "try https://admin:REDACTED@c.example/x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := bundleOf(t, worklogIssue(""))
			b.Worklogs = []json.RawMessage{json.RawMessage(`{"id":"7","comment":` + tc.comment + `}`)}
			b.State.Worklogs = jira.StateComplete
			r, err := FromBundle(b, defaultOpts)
			if err != nil {
				t.Fatal(err)
			}
			if got := deref(r.Worklogs[0].Comment); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
