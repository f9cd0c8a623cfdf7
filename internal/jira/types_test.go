package jira

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func decodeFixture[T any](t *testing.T, rel string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(fixture(t, rel), &v); err != nil {
		t.Fatalf("decode %s: %v", rel, err)
	}
	return v
}

func TestDecodeIssueV3Real(t *testing.T) {
	issue := decodeFixture[Issue](t, "rest/issue/get_issue_v3_expand_renderedFields_names_transitions__xsoar_real_anonymised.json")
	f := issue.Fields
	checks := []struct {
		name      string
		got, want any
	}{
		{"id", issue.ID, ID("21487")},
		{"key", issue.Key, "COMPANYSA-35"},
		{"summary", f.Summary, "Testing summary XSOAR mirroring"},
		{"project", *f.Project, Project{ID: "10022", Key: "COMPANYSA", Name: "Company Snoozing App"}},
		{"status", f.Status.Name, "In Progress"},
		{"status category", f.Status.StatusCategory.Key, "indeterminate"},
		{"priority", f.Priority.Name, "Low"},
		{"resolution", f.Resolution, (*Resolution)(nil)},
		{"issue type", f.IssueType.Name, "Story"},
		{"created", f.Created.Time, time.Date(2023, 3, 1, 9, 34, 49, 730e6, time.UTC)},
		{"updated", f.Updated.Time, time.Date(2023, 4, 19, 21, 51, 21, 562e6, time.UTC)},
		{"resolution date", f.ResolutionDate.IsZero(), true},
		{"due date", f.DueDate, "2024-12-30"},
		{"labels", len(f.Labels), 5},
		{"components", f.Components[0].Name, "Almost-Done"},
		{"assignee email", f.Assignee.EmailAddress, "admin@demistodev.com"},
		{"attachment id", f.Attachment[0].ID, ID("16465")},
		{"attachment size", f.Attachment[0].Size, int64(13264)},
		{"comment total", f.Comment.Total, 2},
		{"comment jsdPublic", string(f.Comment.Comments[0].JSDPublic), "true"},
		{"links", len(f.IssueLinks), 2},
		{"inward link", f.IssueLinks[0].InwardIssue.Key, "TSTPRD-6"},
		{"inward link status", f.IssueLinks[0].InwardIssue.Fields.Status.Name, "To Do"},
		{"outward link", f.IssueLinks[1].OutwardIssue.Key, "XSOAR-19"},
		{"subtask", f.Subtasks[0].Key, "COMPANYSA-63"},
		{"changelog absent", issue.Changelog, (*Changelog)(nil)},
		{"rendered kept", len(issue.RenderedFields) > 0, true},
	}
	for _, c := range checks {
		if diff := cmp.Diff(c.want, c.got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}
	if public, ok := f.Comment.Comments[0].Public(); !public || !ok {
		t.Errorf("Public: got %v, %v", public, ok)
	}
	custom := f.Custom()
	if _, ok := custom["customfield_10071"]; !ok {
		t.Error("custom fields: customfield_10071 (an sla error) missing")
	}
	if _, ok := custom["customfield_10075"]; ok {
		t.Error("custom fields: null customfield_10075 present")
	}
	if string(custom["customfield_10019"]) != `"0|i00kjb:"` {
		t.Errorf("customfield_10019: got %s", custom["customfield_10019"])
	}
	for k := range custom {
		if !strings.HasPrefix(k, "customfield_") {
			t.Errorf("custom fields: %s is not custom", k)
		}
	}
	if v, ok := f.Field("summary"); !ok || string(v) != `"Testing summary XSOAR mirroring"` {
		t.Errorf("Field(summary): got %s, %v", v, ok)
	}
}

func TestDecodeIssueDefaultFields(t *testing.T) {
	issue := decodeFixture[Issue](t, "rest/issue/get_issue_v3_default_fields__mtroja98_real.json")
	f := issue.Fields
	if issue.Key != "JAVA-62" || f.Assignee != nil || f.DueDate != "" || f.Comment.Total != 0 {
		t.Errorf("got key %s assignee %v due %q comments %d", issue.Key, f.Assignee, f.DueDate, f.Comment.Total)
	}
	if f.Creator.AccountID != "712020:16abfc80-5861-43e3-8ba3-d7ff7caee17a" {
		t.Errorf("creator: got %+v", f.Creator)
	}
	var doc struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(f.Description, &doc); err != nil || doc.Type != "doc" {
		t.Errorf("description: got %s", f.Description)
	}
}

// The documented example differs from real answers: fields.comment is a bare
// list, attachment ids are numbers and updated is a number.
func TestDecodeIssueOpenAPIExample(t *testing.T) {
	issue := decodeFixture[Issue](t, "rest/issue/get_issue__openapi_example.json")
	f := issue.Fields
	if f.Comment == nil || len(f.Comment.Comments) != 1 || f.Comment.Total != 1 {
		t.Fatalf("comment: got %+v", f.Comment)
	}
	if f.Comment.Comments[0].Visibility.Type != "role" {
		t.Errorf("visibility: got %+v", f.Comment.Comments[0].Visibility)
	}
	if f.Attachment[0].ID != "10000" {
		t.Errorf("attachment id: got %q", f.Attachment[0].ID)
	}
	if f.IssueLinks[0].OutwardIssue.ID != "10004L" {
		t.Errorf("link id: got %q", f.IssueLinks[0].OutwardIssue.ID)
	}
}

func TestIssueFieldsRoundTrip(t *testing.T) {
	raw := fixture(t, "rest/issue/get_issue_v3_expand_renderedFields_names_transitions__xsoar_real_anonymised.json")
	var issue Issue
	if err := json.Unmarshal(raw, &issue); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(issue.Fields)
	if err != nil {
		t.Fatal(err)
	}
	var got, want map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	var top struct {
		Fields map[string]any `json:"fields"`
	}
	if err := json.Unmarshal(raw, &top); err != nil {
		t.Fatal(err)
	}
	want = top.Fields
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fields round trip (-want +got):\n%s", diff)
	}

	// Built by hand: typed fields plus raw custom fields.
	built := IssueFields{
		Summary: "hello",
		Created: Time{time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)},
		Raw:     map[string]json.RawMessage{"customfield_1": json.RawMessage(`{"a":1}`)},
	}
	out, err = json.Marshal(built)
	if err != nil {
		t.Fatal(err)
	}
	var back IssueFields
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if back.Summary != "hello" || !back.Created.Equal(built.Created.Time) || string(back.Custom()["customfield_1"]) != `{"a":1}` {
		t.Errorf("built fields: got %s", out)
	}
}

func TestDecodeCommentPages(t *testing.T) {
	page := decodeFixture[CommentPage](t, "rest/comment/get_issue_comments_expand_renderedBody__xsoar_real_anonymised.json")
	if page.Total != 3 || len(page.Comments) != 3 || page.MaxResults != 50 {
		t.Fatalf("got total %d, %d comments", page.Total, len(page.Comments))
	}
	c := page.Comments[2]
	if c.ID != "18394" || c.Author.DisplayName != "Example User" || c.UpdateAuthor == nil {
		t.Errorf("comment: got %+v", c)
	}
	if !c.Created.Equal(time.Date(2023, 4, 24, 12, 41, 54, 472e6, time.UTC)) {
		t.Errorf("created: got %v", c.Created)
	}
	doc := decodeFixture[CommentPage](t, "rest/comment/get_issue_comments_paged__openapi_example.json")
	if v := doc.Comments[0].Visibility; v == nil || v.Type != "role" || v.Value != "Administrators" || v.Identifier != "Administrators" {
		t.Errorf("visibility: got %+v", v)
	}
	if _, ok := doc.Comments[0].Public(); ok {
		t.Error("Public: a comment without jsdPublic reports a value")
	}
	single := decodeFixture[Comment](t, "rest/comment/get_issue_comment_single__openapi_example.json")
	if single.ID != "10000" {
		t.Errorf("single comment: got %+v", single)
	}
}

func TestCommentJSDPublicNotBoolean(t *testing.T) {
	var c Comment
	if err := json.Unmarshal([]byte(`{"id":"1","jsdPublic":"yes"}`), &c); err != nil {
		t.Fatalf("a string jsdPublic fails decoding: %v", err)
	}
	if _, ok := c.Public(); ok {
		t.Error("Public: a string counts as a boolean")
	}
	if err := json.Unmarshal([]byte(`{"id":"1","jsdPublic":false}`), &c); err != nil {
		t.Fatal(err)
	}
	if public, ok := c.Public(); public || !ok {
		t.Errorf("Public: got %v, %v", public, ok)
	}
}

func TestDecodeChangelogPages(t *testing.T) {
	page := decodeFixture[ChangelogPage](t, "rest/changelog/get_issue_changelog_paged_values_isLast__digitalservice_real_anonymised.json")
	if !page.IsLast || page.Total != 6 || len(page.Values) == 0 {
		t.Fatalf("got isLast %v total %d values %d", page.IsLast, page.Total, len(page.Values))
	}
	var done *History
	for i := range page.Values {
		if page.Values[i].ID == "70805" {
			done = &page.Values[i]
		}
	}
	if done == nil || len(done.Items) != 2 {
		t.Fatalf("history 70805: got %+v", done)
	}
	res := done.Items[0]
	if res.Field != "resolution" || res.From != nil || res.FromString != nil || *res.To != "10000" || *res.ToString != "Done" {
		t.Errorf("resolution item: got %+v", res)
	}
	if !done.Created.Equal(time.Date(2023, 11, 7, 8, 46, 8, 367e6, time.UTC)) {
		t.Errorf("created: got %v", done.Created)
	}
	doc := decodeFixture[ChangelogPage](t, "rest/changelog/get_issue_changelog_paged__openapi_example.json")
	if doc.IsLast || doc.StartAt != 2 || len(doc.Values) != 2 {
		t.Errorf("documented page: got %+v", doc)
	}
	if it := doc.Values[0].Items[0]; it.FieldID != "fieldId" || it.FieldType != "jira" || *it.FromString != "" {
		t.Errorf("documented item: got %+v", it)
	}
	decodeFixture[ChangelogPage](t, "rest/changelog/get_issue_changelog_paged_variant2__digitalservice_real_anonymised.json")
}

func TestDecodeSearchPages(t *testing.T) {
	page := decodeFixture[SearchPage](t, "rest/search/post_search_jql_page1_nextPageToken_isLast_false__mtroja98_real.json")
	if page.IsLast || page.NextPageToken == "" || len(page.Issues) != 3 {
		t.Fatalf("got isLast %v token %q issues %d", page.IsLast, page.NextPageToken, len(page.Issues))
	}
	if page.Issues[0].Key != "JAVA-93" || page.Issues[0].ID != "10300" || len(page.Issues[0].Fields) == 0 {
		t.Errorf("first issue: got %+v", page.Issues[0])
	}
	if !page.Issues[0].Updated.IsZero() {
		t.Error("updated was not asked for, yet set")
	}
	doc := decodeFixture[SearchPage](t, "rest/search/post_search_jql__openapi_example.json")
	if !doc.IsLast || doc.NextPageToken != "" || len(doc.Issues) != 1 {
		t.Fatalf("documented page: got %+v", doc)
	}
	if doc.Issues[0].Updated.IsZero() {
		t.Error("documented page: updated not decoded")
	}
}

func TestDecodeFields(t *testing.T) {
	fields := decodeFixture[[]Field](t, "rest/field/get_fields__openapi_example.json")
	if len(fields) != 2 || fields[0].ID != "description" || fields[0].Custom || fields[0].Schema.System != "description" {
		t.Errorf("got %+v", fields)
	}
	for _, f := range fields {
		if f.IsSLAField() {
			t.Errorf("%s is not an sla field", f.ID)
		}
	}
	var sla Field
	if err := json.Unmarshal([]byte(`{"id":"customfield_10161","name":"Time to resolution","custom":true,
		"schema":{"type":"sd-servicelevelagreement","custom":"com.atlassian.servicedesk:sd-sla-field","customId":10161}}`), &sla); err != nil {
		t.Fatal(err)
	}
	if !sla.IsSLAField() || sla.Schema.CustomID != 10161 {
		t.Errorf("sla field: got %+v", sla)
	}
}

func TestDecodeRemoteLinks(t *testing.T) {
	links := decodeFixture[[]RemoteLink](t, "rest/remotelink/get_issue_remotelinks__openapi_example.json")
	if len(links) != 2 {
		t.Fatalf("got %d links", len(links))
	}
	want := RemoteLink{
		ID:           "10000",
		Self:         "https://your-domain.atlassian.net/rest/api/issue/MKY-1/remotelink/10000",
		GlobalID:     "system=http://www.mycompany.com/support&id=1",
		Application:  &RemoteApplication{Type: "com.acme.tracker", Name: "My Acme Tracker"},
		Relationship: "causes",
		Object: RemoteObject{
			URL: "http://www.mycompany.com/support?id=1", Title: "TSTSUP-111", Summary: "Customer support issue",
			Icon: &RemoteIcon{URL16x16: "http://www.mycompany.com/support/ticket.png", Title: "Support Ticket"},
			Status: &RemoteStatus{Resolved: true, Icon: &RemoteIcon{
				URL16x16: "http://www.mycompany.com/support/resolved.png", Title: "Case Closed",
				Link: "http://www.mycompany.com/support?id=1&details=closed"}},
		},
	}
	if diff := cmp.Diff(want, links[0]); diff != "" {
		t.Errorf("remote link (-want +got):\n%s", diff)
	}
	single := decodeFixture[RemoteLink](t, "rest/remotelink/get_issue_remotelink_single__openapi_example.json")
	if single.ID != "10000" {
		t.Errorf("single: got id %q", single.ID)
	}
}

func TestDecodeAttachmentAndLink(t *testing.T) {
	a := decodeFixture[Attachment](t, "rest/attachment/get_attachment_metadata__openapi_example.json")
	if a.ID != "10000" || a.Filename != "picture.jpg" || a.Size != 23123 || a.MimeType != "image/jpeg" ||
		!strings.HasSuffix(a.Content, "/attachment/content/10000") || !strings.HasSuffix(a.Thumbnail, "/thumbnail/10000") {
		t.Errorf("attachment: got %+v", a)
	}
	l := decodeFixture[IssueLink](t, "rest/issuelink/get_issuelink__openapi_example.json")
	if l.ID != "10001" || l.InwardIssue.Key != "PR-3" || l.OutwardIssue.Key != "PR-2" ||
		l.InwardIssue.Fields.Priority.Name != "Trivial" || l.OutwardIssue.Fields.IssueType.Name != "Task" {
		t.Errorf("link: got %+v", l)
	}
}

func TestDecodeSLA(t *testing.T) {
	values := decodeFixture[map[string]json.RawMessage](t, "jsm/sla_custom_field_values_one_request__seculayer_cloud_real.json")
	tests := []struct {
		name, field string
		check       func(t *testing.T, v *SLAValue)
	}{
		{"null", "customfield_11038", func(t *testing.T, v *SLAValue) {
			if v != nil {
				t.Errorf("got %+v, want nil", v)
			}
		}},
		{"never started", "customfield_12118", func(t *testing.T, v *SLAValue) {
			if v.Name != "QA 검토 SLA" || v.OngoingCycle != nil || len(v.CompletedCycles) != 0 || v.Current() != nil {
				t.Errorf("got %+v", v)
			}
		}},
		{"completed", "customfield_12084", func(t *testing.T, v *SLAValue) {
			if v.OngoingCycle != nil || len(v.CompletedCycles) != 1 {
				t.Fatalf("got %+v", v)
			}
			c := v.Current()
			if c != &v.CompletedCycles[0] || c.Breached || c.GoalDuration.Millis != 28800000 ||
				c.ElapsedTime.Millis != 3700376 || c.RemainingTime.Duration() != 25099624*time.Millisecond {
				t.Errorf("cycle: got %+v", c)
			}
			if got := c.StopTime.Time(); !got.Equal(time.UnixMilli(1783386100376)) {
				t.Errorf("stop time: got %v", got)
			}
		}},
		{"ongoing", "customfield_12151", func(t *testing.T, v *SLAValue) {
			c := v.Current()
			if c == nil || c != v.OngoingCycle || c.Paused || c.WithinCalendarHours == nil || *c.WithinCalendarHours || c.StopTime != nil {
				t.Fatalf("got %+v", c)
			}
			if c.BreachTime.Jira != "2026-07-27T18:00:00.000+0900" || c.GoalDuration.Duration() != 120*time.Hour {
				t.Errorf("ongoing cycle: got %+v", c)
			}
			if got, want := c.StartTime.Time(), time.Date(2026, 7, 6, 9, 2, 13, 432e6, time.UTC); !got.Equal(want) {
				t.Errorf("start: got %v, want %v", got, want)
			}
			if v.ID != "58" || v.SLADisplayFormat != "NEW_SLA_FORMAT" {
				t.Errorf("value: got id %q format %q", v.ID, v.SLADisplayFormat)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := DecodeSLA(values[tt.field])
			if err != nil {
				t.Fatalf("DecodeSLA: %v", err)
			}
			tt.check(t, v)
		})
	}

	t.Run("ongoing fixture", func(t *testing.T) {
		v, err := DecodeSLA(fixture(t, "jsm/sla_custom_field_ongoing_cycle__seculayer_cloud_real.json"))
		if err != nil || v.OngoingCycle == nil || v.OngoingCycle.RemainingTime.Millis != 6479409 {
			t.Errorf("got %+v, %v", v, err)
		}
	})
	t.Run("data center", func(t *testing.T) {
		v, err := DecodeSLA(fixture(t, "jsm/sla_value_time_to_resolution__datacenter_real.json"))
		if err != nil || v.OngoingCycle.WithinCalendarHours == nil || !*v.OngoingCycle.WithinCalendarHours || v.Name != "Time to resolution" {
			t.Errorf("got %+v, %v", v, err)
		}
	})
	t.Run("servicedesk api page", func(t *testing.T) {
		var page struct {
			Values []json.RawMessage `json:"values"`
		}
		if err := json.Unmarshal(fixture(t, "jsm/get_request_sla_page__prismatic_docs_example.json"), &page); err != nil {
			t.Fatal(err)
		}
		v, err := DecodeSLA(page.Values[0])
		if err != nil || v.OngoingCycle.RemainingTime != nil || v.OngoingCycle.StartTime.Time().UnixMilli() != 1444290120000 {
			t.Errorf("got %+v, %v", v, err)
		}
	})
	t.Run("error message", func(t *testing.T) {
		issue := decodeFixture[Issue](t, "rest/issue/get_issue_v3_expand_renderedFields_names_transitions__xsoar_real_anonymised.json")
		v, err := DecodeSLA(issue.Fields.Raw["customfield_10071"])
		if err != nil {
			t.Fatal(err)
		}
		if v.ErrorMessage != "The service project you are trying to view does not exist." || v.Current() != nil {
			t.Errorf("got %+v", v)
		}
	})
	t.Run("not an object", func(t *testing.T) {
		for _, raw := range []string{`"x"`, `[]`, `12`} {
			if _, err := DecodeSLA(json.RawMessage(raw)); err == nil {
				t.Errorf("%s: got no error", raw)
			}
		}
		if v, err := DecodeSLA(nil); v != nil || err != nil {
			t.Errorf("empty: got %v, %v", v, err)
		}
	})
}

func TestErrorMessages(t *testing.T) {
	tests := []struct {
		rel  string
		want []string
	}{
		{"errors/400_create_issue_field_errors__real.json", []string{"project: Specify a valid project ID or key"}},
		{"errors/400_search_jql_invalid_project_warningMessages__real.json", []string{"The value 'KAN' does not exist for the field 'project'."}},
		{"errors/401_client_must_be_authenticated__real.json", []string{"Client must be authenticated to access this resource."}},
		{"errors/401_user_is_not_logged_in__openapi_example.json", []string{"User is not logged in."}},
		{"errors/403_no_access_operation__real.json", []string{"You currently don't have access to perform this operation."}},
		{"errors/404_issue_does_not_exist_or_no_permission__openapi_example.json", []string{"Issue does not exist or you do not have permission to see it."}},
		{"errors/404_with_details_object__openapi_example.json", []string{
			"Project with ID '10000' was not found.",
			"Project with ID '10001'. The following issue types were not found: [10000, 10001]"}},
		{"errors/429_rate_limited__real.json", []string{"The request has been rate-limited. Please try again later."}},
	}
	for _, tt := range tests {
		t.Run(tt.rel, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, ErrorMessages(fixture(t, tt.rel))); diff != "" {
				t.Errorf("messages (-want +got):\n%s", diff)
			}
		})
	}
	if got := ErrorMessages([]byte("<html><title>Oops - an error has occurred</title></html>")); got != nil {
		t.Errorf("html: got %q", got)
	}
	if got := ErrorMessages([]byte("  Service   Unavailable \n")); !cmp.Equal(got, []string{"Service Unavailable"}) {
		t.Errorf("text: got %q", got)
	}
	long := ErrorMessages([]byte(`{"errorMessages":["` + strings.Repeat("é", 400) + `"]}`))
	if len(long[0]) > maxMessageLen+3 || !strings.HasSuffix(long[0], "...") {
		t.Errorf("long message not bounded: %d bytes", len(long[0]))
	}
}
