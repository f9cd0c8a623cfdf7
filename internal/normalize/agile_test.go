package normalize

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// agileIssue is the real Jira Cloud issue of TestRealIssue with the sprint,
// Organizations and story points values of testdata/agile_fields.json.
func agileIssue(t *testing.T, drop ...string) json.RawMessage {
	t.Helper()
	var issue map[string]json.RawMessage
	if err := json.Unmarshal(readFixture(t, "rest/issue/get_issue_v3_expand_renderedFields_names_transitions__xsoar_real_anonymised.json"), &issue); err != nil {
		t.Fatal(err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(issue["fields"], &fields); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join("testdata", "agile_fields.json"))
	if err != nil {
		t.Fatal(err)
	}
	var extra map[string]json.RawMessage
	if err := json.Unmarshal(b, &extra); err != nil {
		t.Fatal(err)
	}
	delete(extra, "_provenance")
	for k, v := range extra {
		fields[k] = v
	}
	for _, k := range drop {
		delete(fields, k)
	}
	issue["fields"], _ = json.Marshal(fields)
	out, _ := json.Marshal(issue)
	return out
}

// agileOpts names the fields as the catalog finds them on the site.
var agileOpts = func() Options {
	o := defaultOpts
	o.SprintFields = []string{"customfield_10020"}
	o.OrganizationFields = []string{"customfield_10002"}
	o.StoryPointsFields = []string{"customfield_10028", "customfield_10016"}
	return o
}()

// TestIssueSprintsAndOrganizations derives issue_sprints,
// issue_organizations and story_points from a real-shaped issue.
func TestIssueSprintsAndOrganizations(t *testing.T) {
	r, err := FromBundle(bundleOf(t, agileIssue(t)), agileOpts)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.IssueSprints) != 3 || len(r.IssueOrganizations) != 2 || r.Issue.StoryPoints == nil {
		t.Fatalf("got %d sprints, %d organizations, story points %v; want 3 (the repeated one once, the text form read), 2 and a number",
			len(r.IssueSprints), len(r.IssueOrganizations), r.Issue.StoryPoints)
	}
	key := r.Issue.IssueKey
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"first sprint", r.IssueSprints[0].SprintID + "/" + deref(r.IssueSprints[0].SprintName) + "/" + deref(r.IssueSprints[0].SprintState), "5/QAI Sprint 5/closed"},
		{"carried over to the active sprint", r.IssueSprints[1].SprintID + "/" + deref(r.IssueSprints[1].SprintState), "6/active"},
		{"text form: a comma in the name, state in lower case", r.IssueSprints[2].SprintID + "/" + deref(r.IssueSprints[2].SprintName) + "/" + deref(r.IssueSprints[2].SprintState), "4/QAI Sprint 4, hotfixes/closed"},
		{"sprint rows under the issue's key", r.IssueSprints[0].IssueKey, key},
		{"organization", r.IssueOrganizations[1].OrganizationID + "/" + deref(r.IssueOrganizations[1].OrganizationName), "7/Atlas Coffee Co"},
		{"story points from the first field with a number, a numeric string read", *r.Issue.StoryPoints, 8.0},
		{"tables complete", string(r.State("issue_sprints")) + "/" + string(r.State("issue_organizations")), "complete/complete"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
	golden(t, "agile_rows.json", struct {
		Sprints       []IssueSprint
		Organizations []IssueOrganization
		StoryPoints   *float64
	}{r.IssueSprints, r.IssueOrganizations, r.Issue.StoryPoints})
}

// TestAgileFieldsEdgeCases: fields the site does not know, values that are
// not what the schema promises, and an issue without them.
func TestAgileFieldsEdgeCases(t *testing.T) {
	tests := []struct {
		name        string
		opts        func(o *Options)
		drop        []string
		wantSprints int
		wantOrgs    int
		wantPoints  any
	}{
		{"fields unknown to the catalog give no rows", func(o *Options) { *o = defaultOpts }, nil, 0, 0, nil},
		{"story points from the second field when the first is empty", func(o *Options) {}, []string{"customfield_10028"}, 3, 2, 5.0},
		{"no story points field has a value", func(o *Options) {}, []string{"customfield_10028", "customfield_10016"}, 3, 2, nil},
		{"a field that is no list is left out", func(o *Options) {
			o.SprintFields = []string{"customfield_10016"}
			o.OrganizationFields = []string{"customfield_10028"}
		}, nil, 0, 0, 8.0},
		{"a story points field holding text is no estimate", func(o *Options) { o.StoryPointsFields = []string{"summary"} }, nil, 3, 2, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := agileOpts
			tc.opts(&opts)
			r, err := FromBundle(bundleOf(t, agileIssue(t, tc.drop...)), opts)
			if err != nil {
				t.Fatal(err)
			}
			var points any
			if r.Issue.StoryPoints != nil {
				points = *r.Issue.StoryPoints
			}
			if len(r.IssueSprints) != tc.wantSprints || len(r.IssueOrganizations) != tc.wantOrgs || points != tc.wantPoints {
				t.Errorf("got %d sprints, %d organizations, story points %v; want %d, %d, %v",
					len(r.IssueSprints), len(r.IssueOrganizations), points, tc.wantSprints, tc.wantOrgs, tc.wantPoints)
			}
		})
	}
}
