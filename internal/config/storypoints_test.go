package config

import (
	"strings"
	"testing"
)

func TestStoryPointsField(t *testing.T) {
	tests := []struct {
		name    string
		vars    map[string]string
		want    string
		wantErr string
	}{
		{"unset: found by name", nil, "", ""},
		{"a custom field id", map[string]string{"JIRA_STORY_POINTS_FIELD": " customfield_10016 "}, "customfield_10016", ""},
		{"a field name", map[string]string{"JIRA_STORY_POINTS_FIELD": "Story Points"}, "",
			`JIRA_STORY_POINTS_FIELD: "Story Points" is not a custom field id (customfield_NNNNN)`},
		{"a system field", map[string]string{"JIRA_STORY_POINTS_FIELD": "timeestimate"}, "",
			`JIRA_STORY_POINTS_FIELD: "timeestimate" is not a custom field id`},
		{"JIRA_FIELD_MAP takes the built-in column's name", map[string]string{"JIRA_FIELD_MAP": "customfield_10016:story_points"}, "",
			"JIRA_FIELD_MAP: name story_points is the built-in story points column of issues: set JIRA_STORY_POINTS_FIELD=customfield_10016 instead"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := FromMap(tc.vars)
			switch {
			case tc.wantErr != "":
				if err == nil || !IsError(err) || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error starting %q", err, tc.wantErr)
				}
			case err != nil:
				t.Fatalf("got %v, want no error", err)
			case c.StoryPointsField != tc.want:
				t.Errorf("got %q, want %q", c.StoryPointsField, tc.want)
			}
		})
	}
}
