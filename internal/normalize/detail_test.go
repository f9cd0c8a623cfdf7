package normalize

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/jiraduck/jiraduck/internal/jira"
)

// detailGolden is what the issue-detail columns of one real capture say.
type detailGolden struct {
	Fixture                                                                                        string
	Issue                                                                                          string
	OriginalEstimateSeconds, RemainingEstimateSeconds, TimeSpentSeconds                            *int64
	AggregateOriginalEstimateSeconds, AggregateRemainingEstimateSeconds, AggregateTimeSpentSeconds *int64
	StatusCategoryChangedAt                                                                        string
	ProjectType, SecurityLevel                                                                     *string
	TeamManaged                                                                                    *bool
	IssueTypeHierarchyLevel, Votes, Watches                                                        *int32
	SubtaskKeys                                                                                    []string
}

// TestIssueDetailOnRealCaptures derives the issue-detail columns from every
// real capture of an issue: GET issue with the default fields (flat time
// fields, no timetracking), with *all (timetracking too) and a search page.
func TestIssueDetailOnRealCaptures(t *testing.T) {
	var out []detailGolden
	for _, fx := range []string{
		"rest/issue/get_issue_v3_default_fields__mtroja98_real.json",
		"rest/issue/get_issue_v3_expand_renderedFields_names_transitions__xsoar_real_anonymised.json",
		"rest/search/get_search_legacy_startAt_total__digitalservice_real_anonymised.json",
	} {
		raw := readFixture(t, fx)
		var page struct {
			Issues []json.RawMessage `json:"issues"`
		}
		issues := []json.RawMessage{raw}
		if json.Unmarshal(raw, &page) == nil && len(page.Issues) > 0 {
			issues = page.Issues
		}
		for n, issue := range issues {
			// Only the issue: the search page's issues embed no lists.
			b := &jira.Bundle{Issue: issue, State: jira.BundleState{Comments: jira.StateComplete,
				Changelog: jira.StateComplete, RemoteLinks: jira.StateComplete, SLA: jira.StateComplete}, FetchedAt: fetched}
			r, err := FromBundle(b, defaultOpts)
			if err != nil {
				t.Fatalf("%s issue %d: %v", fx, n, err)
			}
			i := r.Issue
			g := detailGolden{Fixture: fx, Issue: i.IssueKey,
				OriginalEstimateSeconds: i.OriginalEstimateSeconds, RemainingEstimateSeconds: i.RemainingEstimateSeconds,
				TimeSpentSeconds: i.TimeSpentSeconds, AggregateOriginalEstimateSeconds: i.AggregateOriginalEstimateSeconds,
				AggregateRemainingEstimateSeconds: i.AggregateRemainingEstimateSeconds,
				AggregateTimeSpentSeconds:         i.AggregateTimeSpentSeconds,
				ProjectType:                       i.ProjectType, SecurityLevel: i.SecurityLevel, TeamManaged: i.TeamManaged,
				IssueTypeHierarchyLevel: i.IssueTypeHierarchyLevel, Votes: i.Votes, Watches: i.Watches, SubtaskKeys: i.SubtaskKeys}
			if i.StatusCategoryChangedAt != nil {
				g.StatusCategoryChangedAt = i.StatusCategoryChangedAt.Format("2006-01-02T15:04:05.000Z07:00")
			}
			out = append(out, g)
		}
	}
	golden(t, "issue_detail.json", out)
}

func TestIssueDetailColumns(t *testing.T) {
	tests := []struct {
		name   string
		fields string
		check  func(i *Issue) (got, want any)
	}{
		{"flat time field wins over timetracking",
			`"timeoriginalestimate":7200,"timetracking":{"originalEstimateSeconds":3600}`,
			func(i *Issue) (any, any) { return words(deref64(i.OriginalEstimateSeconds)), "7200" }},
		{"timetracking fills a missing flat field",
			`"timetracking":{"timeSpentSeconds":400,"remainingEstimateSeconds":200}`,
			func(i *Issue) (any, any) {
				return words(deref64(i.TimeSpentSeconds), deref64(i.RemainingEstimateSeconds)), "400 200"
			}},
		{"aggregates only from the aggregate fields",
			`"timetracking":{"timeSpentSeconds":400},"aggregatetimespent":1000`,
			func(i *Issue) (any, any) {
				return words(deref64(i.AggregateTimeSpentSeconds), i.AggregateOriginalEstimateSeconds == nil), "1000 true"
			}},
		{"a whole number written as a float",
			`"timespent":3.6e3`,
			func(i *Issue) (any, any) { return words(deref64(i.TimeSpentSeconds)), "3600" }},
		{"a fraction or text is no number",
			`"timespent":1.5,"timeestimate":"3600"`,
			func(i *Issue) (any, any) {
				return words(i.TimeSpentSeconds == nil, i.RemainingEstimateSeconds == nil), "true true"
			}},
		{"votes of the wrong shape leave the issue alone",
			`"votes":"many","watches":{"watchCount":3},"security":{"name":"Internal"}`,
			func(i *Issue) (any, any) {
				return words(i.Votes == nil, *i.Watches, *i.SecurityLevel), "true 3 Internal"
			}},
		{"project type and team-managed",
			`"project":{"id":"1","key":"SUP","projectTypeKey":"service_desk","simplified":true}`,
			func(i *Issue) (any, any) { return words(*i.ProjectType, *i.TeamManaged), "service_desk true" }},
		{"hierarchy level of a sub-task",
			`"issuetype":{"name":"Sub-task","subtask":true,"hierarchyLevel":-1}`,
			func(i *Issue) (any, any) { return words(*i.IssueTypeHierarchyLevel), "-1" }},
		{"sub-task keys in Jira's order",
			`"subtasks":[{"id":"12","key":"SUP-12","fields":{}},{"id":"9","key":"SUP-9","fields":{}}]`,
			func(i *Issue) (any, any) { return words(i.SubtaskKeys), "[SUP-12 SUP-9]" }},
		{"no sub-tasks is an empty list",
			``,
			func(i *Issue) (any, any) { return words(i.SubtaskKeys != nil, len(i.SubtaskKeys)), "true 0" }},
		{"status category change time in UTC",
			`"statuscategorychangedate":"2025-09-11T22:30:21.310+0200"`,
			func(i *Issue) (any, any) {
				return i.StatusCategoryChangedAt.Format("2006-01-02T15:04:05.000Z07:00"), "2025-09-11T20:30:21.310Z"
			}},
		{"an unreadable status category time is NULL",
			`"statuscategorychangedate":"yesterday"`,
			func(i *Issue) (any, any) { return i.StatusCategoryChangedAt == nil, true }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fields := `"created":"2024-01-01T00:00:00.000+0000"`
			if tc.fields != "" {
				fields += "," + tc.fields
			}
			r, err := FromBundle(bundleOf(t, []byte(`{"id":"1","key":"SUP-1","fields":{`+fields+`}}`)), defaultOpts)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := tc.check(&r.Issue); got != want {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

// TestAccountsAndActivity: comment update authors and attachment authors
// keep their account id and name when the account hides its e-mail (8 of
// 108 real comments had such an update author), and change items carry the
// accounts a user field moved between and the history's metadata, in the
// shapes of real Jira Cloud changelogs.
func TestAccountsAndActivity(t *testing.T) {
	issue := []byte(`{"id":"1","key":"SUP-1","fields":{"created":"2024-01-01T00:00:00.000+0000",
		"attachment":[{"id":"10","filename":"a.png","size":1,"author":{"accountId":"712020:aa","displayName":"Ann"}}],
		"comment":{"total":1,"comments":[{"id":"20","author":{"accountId":"u1","displayName":"Bo","emailAddress":"bo@x.example"},
			"updateAuthor":{"accountId":"712020:cc","displayName":"Cy","active":true},"created":"2024-01-02T00:00:00.000+0000"}]}},
		"changelog":{"total":2,"histories":[
		{"id":"100","created":"2024-01-03T00:00:00.000+0000","author":{"accountId":"u1"},
		 "historyMetadata":{"type":"jira.system.transition","activityDescription":"Start progress","description":"ignored"},
		 "items":[{"field":"assignee","fieldtype":"jira","fieldId":"assignee","from":null,"fromString":null,
		   "to":"712020:5cec","toString":"Kushal","tmpFromAccountId":null,"tmpToAccountId":"712020:5cec"},
		  {"field":"status","fieldtype":"jira","fieldId":"status","from":"1","fromString":"Open","to":"3","toString":"In Progress"}]},
		{"id":"101","created":"2024-01-04T00:00:00.000+0000",
		 "historyMetadata":{"type":"myplugin:type","description":"from the order process"},
		 "items":[{"field":"reporter","fieldtype":"jira","fieldId":"reporter","from":"u1","fromString":"Bo","to":"u2","toString":"Di"},
		  {"field":"Approver","fieldtype":"custom","fieldId":"customfield_10001","from":"u1","fromString":"Bo","to":"u2","toString":"Di"}]},
		{"id":"103","created":"2024-01-06T00:00:00.000+0000",
		 "items":[{"field":"Assignee","fieldtype":"jira","from":"u2","fromString":"Di","to":null,"toString":null}]},
		{"id":"102","created":"2024-01-05T00:00:00.000+0000","historyMetadata":"not an object",
		 "items":[{"field":"summary","fieldtype":"jira","fieldId":"summary","from":null,"fromString":"a","to":null,"toString":"b"}]}]}}`)
	r, err := FromBundle(bundleOf(t, issue), defaultOpts)
	if err != nil {
		t.Fatal(err)
	}
	c, a := r.Comments[0], r.Attachments[0]
	tests := []struct {
		name      string
		got, want string
	}{
		{"comment update author account", deref(c.UpdateAuthorAccountID), "712020:cc"},
		{"comment update author name", deref(c.UpdateAuthorName), "Cy"},
		{"comment update author email", words(c.UpdateAuthorEmail == nil), "true"},
		{"attachment author account", deref(a.AuthorAccountID), "712020:aa"},
		{"attachment author name", deref(a.AuthorName), "Ann"},
		{"assignee to account (tmpToAccountId)", deref(r.Changelog[0].ToAccountID), "712020:5cec"},
		{"assignee from account (null)", words(r.Changelog[0].FromAccountID == nil), "true"},
		{"status change names no account", words(r.Changelog[1].FromAccountID == nil && r.Changelog[1].ToAccountID == nil), "true"},
		{"activity type", deref(r.Changelog[1].ActivityType), "jira.system.transition"},
		{"activity description", deref(r.Changelog[1].ActivityDescription), "Start progress"},
		{"reporter accounts from from/to", deref(r.Changelog[2].FromAccountID) + " " + deref(r.Changelog[2].ToAccountID), "u1 u2"},
		{"description when no activity description", deref(r.Changelog[2].ActivityDescription), "from the order process"},
		{"custom user field is not guessed", words(r.Changelog[3].FromAccountID == nil), "true"},
		{"an item without fieldId named by its field", deref(r.Changelog[4].FromAccountID) + " " + words(r.Changelog[4].ToAccountID == nil), "u2 true"},
		{"metadata that is no object", words(r.Changelog[5].ActivityType == nil, deref(r.Changelog[5].ToString)), "true b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

// TestRealChangelogPages derives changelog rows from real paged changelogs
// and Atlassian's documented example, account and activity columns included.
func TestRealChangelogPages(t *testing.T) {
	var rows []ChangeItem
	for _, fx := range []string{
		"rest/changelog/get_issue_changelog_paged_values_isLast__digitalservice_real_anonymised.json",
		"rest/changelog/get_issue_changelog_paged_variant2__digitalservice_real_anonymised.json",
		"rest/changelog/get_issue_changelog_paged__openapi_example.json",
	} {
		var page jira.ChangelogPage
		if err := json.Unmarshal(readFixture(t, fx), &page); err != nil {
			t.Fatalf("%s: %v", fx, err)
		}
		var p struct {
			Values []json.RawMessage `json:"values"`
		}
		if err := json.Unmarshal(readFixture(t, fx), &p); err != nil {
			t.Fatal(err)
		}
		b := bundleOf(t, []byte(`{"id":"1","key":"SUP-1","fields":{"created":"2023-01-01T00:00:00.000+0000"}}`))
		b.Histories = p.Values
		r, err := FromBundle(b, defaultOpts)
		if err != nil {
			t.Fatalf("%s: %v", fx, err)
		}
		if len(r.Changelog) == 0 {
			t.Fatalf("%s: no changelog rows", fx)
		}
		rows = append(rows, r.Changelog...)
	}
	golden(t, "changelog_pages.json", rows)
}

// words joins values with spaces, as Sprintln does.
func words(v ...any) string { return strings.TrimSuffix(fmt.Sprintln(v...), "\n") }

func deref64(p *int64) int64 {
	if p == nil {
		return -1
	}
	return *p
}
