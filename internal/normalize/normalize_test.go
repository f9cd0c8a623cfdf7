package normalize

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/jira"
)

var update = flag.Bool("update", false, "rewrite golden files")

const fixtures = "../../../shared/jira-fixtures"

func readFixture(t *testing.T, rel string) json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, rel))
	if err != nil {
		t.Skipf("fixture %s not available: %v", rel, err)
	}
	return b
}

var fetched = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// bundleOf builds the bundle FetchIssue would return for a GET issue payload
// whose embedded lists are whole.
func bundleOf(t *testing.T, issue json.RawMessage) *jira.Bundle {
	t.Helper()
	var embedded struct {
		Fields struct {
			Comment struct {
				Comments []json.RawMessage `json:"comments"`
			} `json:"comment"`
		} `json:"fields"`
		Changelog struct {
			Histories []json.RawMessage `json:"histories"`
		} `json:"changelog"`
	}
	if err := json.Unmarshal(issue, &embedded); err != nil {
		t.Fatal(err)
	}
	return &jira.Bundle{Issue: issue, Comments: embedded.Fields.Comment.Comments, Histories: embedded.Changelog.Histories,
		State:     jira.BundleState{Comments: jira.StateComplete, Changelog: jira.StateComplete, RemoteLinks: jira.StateComplete, SLA: jira.StateComplete},
		FetchedAt: fetched}
}

var defaultOpts = Options{
	BrowseBase: "https://acme.atlassian.net",
	SLANames:   []string{"first_response", "time_to_resolution"},
}

func TestRealIssue(t *testing.T) {
	raw := readFixture(t, "rest/issue/get_issue_v3_expand_renderedFields_names_transitions__xsoar_real_anonymised.json")
	r, err := FromBundle(bundleOf(t, raw), defaultOpts)
	if err != nil {
		t.Fatal(err)
	}
	i := r.Issue
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"key", i.IssueKey, "COMPANYSA-35"},
		{"id", i.IssueID, "21487"},
		{"url", deref(i.IssueURL), "https://acme.atlassian.net/browse/COMPANYSA-35"},
		{"created in UTC, millis kept", i.CreatedAt.Format(time.RFC3339Nano), "2023-03-01T09:34:49.73Z"},
		{"month", r.Month(), "2023-03"},
		{"synced_at", i.SyncedAt, fetched},
		{"raw key", r.Raw.IssueKey, "COMPANYSA-35"},
		{"comment count", int(i.CommentCount), len(r.Comments)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	if i.Summary == nil || *i.Summary == "" {
		t.Error("summary is empty")
	}
	if i.Description == nil || strings.Contains(*i.Description, `"type"`) {
		t.Errorf("description is not readable text: %v", deref(i.Description))
	}
	var decoded jira.Bundle
	if err := json.Unmarshal(r.Raw.Payload, &decoded); err != nil {
		t.Fatalf("raw payload is not a bundle: %v", err)
	}
	var top map[string]json.RawMessage
	json.Unmarshal(decoded.Issue, &top)
	if _, ok := top["renderedFields"]; ok || len(r.Raw.Payload) >= len(raw) {
		t.Errorf("stored payload not compacted: %d bytes for a %d byte issue", len(r.Raw.Payload), len(raw))
	}
	again, err := FromBundle(&decoded, defaultOpts)
	if err != nil {
		t.Fatal(err)
	}
	again.Issue.SyncedAt, again.Raw.Payload = r.Issue.SyncedAt, r.Raw.Payload
	if a, b := again.Hashes(), r.Hashes(); fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("rows from the stored payload differ from rows of the fetch: %v vs %v", a, b)
	}
	golden(t, "xsoar_issue.json", r)
}

func TestCommentsPageFixture(t *testing.T) {
	page := readFixture(t, "rest/comment/get_issue_comments_expand_renderedBody__xsoar_real_anonymised.json")
	var p struct {
		Comments []json.RawMessage `json:"comments"`
	}
	if err := json.Unmarshal(page, &p); err != nil {
		t.Fatal(err)
	}
	issue := []byte(`{"id":"1","key":"SUP-1","fields":{"created":"2024-01-31T23:30:00.000-0100","summary":"x"}}`)
	b := bundleOf(t, issue)
	b.Comments = p.Comments
	r, err := FromBundle(b, defaultOpts)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Comments) != len(p.Comments) || len(r.Comments) == 0 {
		t.Fatalf("got %d comments, want %d", len(r.Comments), len(p.Comments))
	}
	for _, c := range r.Comments {
		if c.IssueKey != "SUP-1" || c.CreatedAt == nil || c.Body == nil {
			t.Errorf("comment %s incomplete: %+v", c.CommentID, c)
		}
	}
	if r.Month() != "2024-02" {
		t.Errorf("month of 2024-01-31T23:30-0100: got %s, want 2024-02 (UTC)", r.Month())
	}
	golden(t, "xsoar_comments.json", r.Comments)
}

func TestSLAFixtures(t *testing.T) {
	values := readFixture(t, "jsm/sla_custom_field_values_one_request__seculayer_cloud_real.json")
	ongoing := readFixture(t, "jsm/sla_custom_field_ongoing_cycle__seculayer_cloud_real.json")
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(values, &fields); err != nil {
		t.Fatal(err)
	}
	fields["customfield_20000"] = ongoing
	fields["customfield_20001"] = json.RawMessage(`null`)
	fields["created"] = json.RawMessage(`"2026-07-06T09:00:00.000+0900"`)
	fields["summary"] = json.RawMessage(`"sla"`)
	body, _ := json.Marshal(map[string]any{"id": "49224", "key": "TACEA-4540", "fields": fields})
	opts := defaultOpts
	opts.SLAFields = map[string]string{"customfield_12084": "first_response", "customfield_20000": "time_to_resolution",
		"customfield_12118": "qa_review", "customfield_20001": "never"}
	r, err := FromBundle(bundleOf(t, body), opts)
	if err != nil {
		t.Fatal(err)
	}
	var completed, ongoingRows int
	for _, s := range r.SLA {
		switch s.Cycle {
		case "completed":
			completed++
			if s.Paused != nil {
				t.Errorf("completed cycle has paused set")
			}
			if s.WithinCalendarHours != nil {
				t.Errorf("completed cycle has within_calendar_hours %v; Jira does not say it of completed cycles", *s.WithinCalendarHours)
			}
		case "ongoing":
			ongoingRows++
			if s.Paused == nil {
				t.Errorf("ongoing cycle lacks paused")
			}
			if s.WithinCalendarHours == nil || *s.WithinCalendarHours {
				t.Errorf("ongoing cycle: within_calendar_hours %v, want false as the fixture says", s.WithinCalendarHours)
			}
		}
		if !s.ObservedAt.Equal(fetched) {
			t.Errorf("observed_at: got %v", s.ObservedAt)
		}
	}
	if completed != 1 || ongoingRows != 1 {
		t.Errorf("got %d completed and %d ongoing rows, want 1 and 1", completed, ongoingRows)
	}
	fr := r.Issue.SLA[0]
	if fr.Name != "first_response" || fr.GoalMillis == nil || *fr.GoalMillis != 28800000 || fr.ElapsedMillis == nil || *fr.ElapsedMillis != 3700376 {
		t.Errorf("first_response flat columns from the last completed cycle: got %+v", fr)
	}
	if ttr := r.Issue.SLA[1]; ttr.Breached == nil || ttr.RemainingMillis == nil {
		t.Errorf("time_to_resolution from the ongoing cycle: got %+v", ttr)
	}
	if r.Issue.RequestType == nil {
		t.Error("request type not found in the JSM fields")
	}
	if r.Raw.SLAState != Complete {
		t.Errorf("sla state: got %s, want complete", r.Raw.SLAState)
	}
	golden(t, "seculayer_sla.json", r.SLA)
}

func TestSLAErrorMessageMeansNoCycles(t *testing.T) {
	body := []byte(`{"id":"1","key":"SUP-1","fields":{"created":"2024-01-01T00:00:00.000+0000",
		"customfield_1":{"errorMessage":"You do not have permission to view this SLA."}}}`)
	opts := defaultOpts
	opts.SLAFields = map[string]string{"customfield_1": "first_response"}
	r, err := FromBundle(bundleOf(t, body), opts)
	if err != nil {
		t.Fatal(err)
	}
	if r.Raw.SLAState != Complete || len(r.SLA) != 0 {
		t.Errorf("got state %s with %d rows, want complete and none (Jira's answer for the field)", r.Raw.SLAState, len(r.SLA))
	}
}

func TestBundleStatesCarryOver(t *testing.T) {
	body := []byte(`{"id":"1","key":"SUP-1","fields":{"created":"2024-01-01T00:00:00.000+0000"}}`)
	b := bundleOf(t, body)
	b.State.Comments, b.State.RemoteLinks = jira.StatePartial, jira.StateUnknown
	r, err := FromBundle(b, defaultOpts)
	if err != nil {
		t.Fatal(err)
	}
	if r.State("comments") != Partial || r.State("remote_links") != Unknown || r.State("issues") != Complete {
		t.Errorf("got comments %s remote_links %s issues %s", r.State("comments"), r.State("remote_links"), r.State("issues"))
	}
	if !r.Raw.Incomplete() {
		t.Error("raw not marked incomplete")
	}
}

func TestRejectsBadPayloads(t *testing.T) {
	cases := map[string]string{
		"hostile key": `{"id":"1","key":"../../etc-1","fields":{"created":"2024-01-01T00:00:00.000+0000"}}`,
		"no key":      `{"id":"1","fields":{"created":"2024-01-01T00:00:00.000+0000"}}`,
		"no created":  `{"id":"1","key":"SUP-1","fields":{}}`,
		"not json":    `{"id":`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			b := &jira.Bundle{Issue: json.RawMessage(body)}
			if _, err := FromBundle(b, defaultOpts); err == nil {
				t.Error("got nil error")
			}
		})
	}
}

func TestLinksAndFields(t *testing.T) {
	body := []byte(`{"id":"7","key":"SUP-7","fields":{"created":"2024-01-01T00:00:00.000+0000",
	 "issuelinks":[{"id":"10","type":{"name":"Blocks","inward":"is blocked by","outward":"blocks"},
	   "outwardIssue":{"id":"8","key":"SUP-8","fields":{"summary":"other","status":{"name":"Open"},"priority":{"name":"High"}}}},
	  {"id":"11","type":{"name":"Relates"},"inwardIssue":{"id":"9","key":"OPS-9","fields":{"summary":"in"}}}],
	 "customfield_1":"text","customfield_2":3.5,"customfield_3":{"value":"Gold","id":"1"},
	 "customfield_4":[{"value":"a"},{"value":"b"}],"customfield_5":{"displayName":"Ann","accountId":"x"},
	 "customfield_6":null,"customfield_7":[],"customfield_8":{"value":"Parent","child":{"value":"Child"}},
	 "customfield_9":{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"rich"}]}]}}}`)
	opts := defaultOpts
	opts.FieldMap = []FieldColumn{{"customfield_3", "tier"}, {"customfield_99", "absent"}}
	opts.FieldNames = map[string]string{"customfield_1": "Text field"}
	r, err := FromBundle(bundleOf(t, body), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.IssueLinks) != 2 || deref(r.IssueLinks[0].Direction) != "outward" || deref(r.IssueLinks[1].Direction) != "inward" ||
		deref(r.IssueLinks[0].LinkedIssuePriority) != "High" || deref(r.IssueLinks[1].LinkedIssueKey) != "OPS-9" ||
		deref(r.IssueLinks[0].LinkedIssueID) != "8" || deref(r.IssueLinks[1].LinkedIssueID) != "9" {
		t.Errorf("links: %+v", r.IssueLinks)
	}
	want := map[string]string{"customfield_1": "text", "customfield_2": "3.5", "customfield_3": "Gold", "customfield_4": "a, b",
		"customfield_5": "Ann", "customfield_8": "Parent - Child", "customfield_9": "rich"}
	got := map[string]string{}
	for _, f := range r.Fields {
		got[f.FieldID] = deref(f.ValueText)
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: got %q, want %q", id, got[id], w)
		}
	}
	if _, ok := got["customfield_6"]; ok {
		t.Error("a null custom field was kept")
	}
	if _, ok := got["customfield_7"]; ok {
		t.Error("an empty list custom field was kept")
	}
	if deref(r.Fields[0].FieldName) != "Text field" {
		t.Errorf("field name: got %v", r.Fields[0].FieldName)
	}
	if len(r.Issue.Promoted) != 2 || deref(r.Issue.Promoted[0].Value) != "Gold" || r.Issue.Promoted[1].Value != nil {
		t.Errorf("promoted: %+v", r.Issue.Promoted)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func golden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if string(want) != string(got)+"\n" {
		t.Errorf("%s differs from the golden file (run with -update after checking)", name)
	}
}

// TestPlainStringTextIsRedacted checks that the wiki-markup strings of v2
// payloads (descriptions and comment bodies) get the credential redaction
// ADF text gets.
func TestPlainStringTextIsRedacted(t *testing.T) {
	body := []byte(`{"id":"3","key":"SUP-3","fields":{"created":"2024-01-01T00:00:00.000+0000",
	 "description":"h2. Access\n[console|https://admin:hunter2@c.example/x?token=s3cret&page=2] or https://files.example/f?X-Amz-Signature=abc",
	 "comment":{"total":1,"comments":[{"id":"30","body":"try https://api.example/v1?API_KEY=k1&q=x.","created":"2024-01-02T00:00:00.000+0000"}]}}}`)
	r, err := FromBundle(bundleOf(t, body), defaultOpts)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, got, want string
	}{
		{"description", deref(r.Issue.Description),
			"h2. Access\n[console|https://admin:REDACTED@c.example/x?token=REDACTED&page=2] or https://files.example/f?X-Amz-Signature=REDACTED"},
		{"comment body", deref(r.Comments[0].Body), "try https://api.example/v1?API_KEY=REDACTED&q=x."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

// TestCustomFieldCredentialsRedacted: a custom field holding a pre-signed
// link (a URL field, a text field, an option, a rich-text link) publishes
// neither its value_text nor its value_json with the credential, and a
// field without one keeps its JSON as Jira sent it.
func TestCustomFieldCredentialsRedacted(t *testing.T) {
	body := []byte(`{"id":"4","key":"SUP-4","fields":{"created":"2024-01-01T00:00:00.000+0000",
	 "customfield_1":"https://files.example/f.pdf?X-Amz-Signature=abc123&v=2",
	 "customfield_2":"see https://api.example/v1?token=s3cret.",
	 "customfield_3":{"value":"https://admin:hunter2@c.example/x","id":"5"},
	 "customfield_4":{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"console",
	   "marks":[{"type":"link","attrs":{"href":"https://c.example/x?access_token=t0k"}}]}]}]},
	 "customfield_5":{"value":"Gold <b>","id":"1"}}}`)
	r, err := FromBundle(bundleOf(t, body), defaultOpts)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]string{}
	for _, f := range r.Fields {
		got[f.FieldID] = [2]string{deref(f.ValueText), deref(f.ValueJSON)}
	}
	tests := []struct{ id, text, json string }{
		{"customfield_1", "https://files.example/f.pdf?X-Amz-Signature=REDACTED&v=2",
			`"https://files.example/f.pdf?X-Amz-Signature=REDACTED&v=2"`},
		{"customfield_2", "see https://api.example/v1?token=REDACTED.", `"see https://api.example/v1?token=REDACTED."`},
		{"customfield_3", "https://admin:REDACTED@c.example/x", `{"id":"5","value":"https://admin:REDACTED@c.example/x"}`},
		{"customfield_4", "console (https://c.example/x?access_token=REDACTED)", ""},
		{"customfield_5", "Gold <b>", `{"value":"Gold <b>","id":"1"}`},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			g := got[tc.id]
			if g[0] != tc.text {
				t.Errorf("value_text: got %q, want %q", g[0], tc.text)
			}
			if tc.json != "" && g[1] != tc.json {
				t.Errorf("value_json: got %s, want %s", g[1], tc.json)
			}
			for _, secret := range []string{"abc123", "s3cret", "hunter2", "t0k"} {
				if strings.Contains(g[0], secret) || strings.Contains(g[1], secret) {
					t.Errorf("%q published: text %q, json %s", secret, g[0], g[1])
				}
			}
		})
	}
}
