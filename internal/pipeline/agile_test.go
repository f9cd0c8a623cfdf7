package pipeline

import (
	"slices"
	"testing"

	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/jira"
	"github.com/jiraduck/jiraduck/internal/store"
)

func TestAgileFieldsOfTheCatalog(t *testing.T) {
	fields := []store.FieldMeta{
		{ID: "customfield_10028", Name: "Story Points", Custom: true, SchemaType: "number", SchemaCustom: "com.atlassian.jira.plugin.system.customfieldtypes:float"},
		{ID: "customfield_10020", Name: "Sprint", Custom: true, SchemaType: "array", SchemaCustom: jira.SprintFieldType},
		{ID: "customfield_10016", Name: "Story point estimate", Custom: true, SchemaType: "number", SchemaCustom: jira.StoryPointsFieldType},
		{ID: "customfield_10002", Name: "Organizations", Custom: true, SchemaType: "array", SchemaCustom: jira.OrganizationsFieldType},
		{ID: "customfield_10099", Name: "story points", Custom: true, SchemaType: "string"},
		{ID: "customfield_10003", Name: "Sprint (old)", Custom: true, SchemaType: "array", SchemaCustom: jira.SprintFieldType},
		{ID: "customfield_10004", Name: "Estimate (pts)", Custom: true, SchemaType: "number", SchemaCustom: jira.StoryPointsFieldType},
	}
	tests := []struct {
		name                  string
		setting               string
		fields                []store.FieldMeta
		sprints, orgs, points []string
	}{
		{"found by schema and name", "", fields,
			[]string{"customfield_10003", "customfield_10020"}, []string{"customfield_10002"},
			[]string{"customfield_10028", "customfield_10004", "customfield_10016"}},
		{"JIRA_STORY_POINTS_FIELD wins", "customfield_10016", fields,
			[]string{"customfield_10003", "customfield_10020"}, []string{"customfield_10002"}, []string{"customfield_10016"}},
		{"a site without them", "", fields[4:5], nil, nil, nil},
		{"the setting before the field list is known", "customfield_12345", nil, nil, nil, []string{"customfield_12345"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCatalog(&config.Config{StoryPointsField: tc.setting})
			c.set(tc.fields)
			o := c.Options()
			if !slices.Equal(o.SprintFields, tc.sprints) || !slices.Equal(o.OrganizationFields, tc.orgs) || !slices.Equal(o.StoryPointsFields, tc.points) {
				t.Errorf("got sprints %v, organizations %v, story points %v; want %v, %v, %v",
					o.SprintFields, o.OrganizationFields, o.StoryPointsFields, tc.sprints, tc.orgs, tc.points)
			}
		})
	}
}
