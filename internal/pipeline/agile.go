package pipeline

import (
	"slices"
	"strings"

	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/jira"
	"github.com/jiraduck/jiraduck/internal/store"
)

// storyPointsNames are the names Jira gives its story points fields, in the
// order they are read: company-managed projects estimate in "Story Points",
// team-managed ones (and newer company-managed boards) in "Story point
// estimate". A site can have both; an issue has a number in one of them.
var storyPointsNames = []string{"story points", "story point estimate"}

// agileFields finds, in the site's field list, the sprint and Organizations
// fields by their schema (as SLA fields are found) and the story points
// fields: JIRA_STORY_POINTS_FIELD when set, else the number fields named as
// Jira names them (and Jira Software's estimate field under any name). Each list is sorted by field id, so that rows do not
// depend on the order Jira lists fields in.
func agileFields(cfg *config.Config, fields []store.FieldMeta) (sprints, orgs, points []string) {
	byName := make([][]string, len(storyPointsNames))
	for _, f := range fields {
		switch f.SchemaCustom {
		case jira.SprintFieldType:
			sprints = append(sprints, f.ID)
		case jira.OrganizationsFieldType:
			orgs = append(orgs, f.ID)
		}
		if !f.Custom || f.SchemaType != "number" {
			continue
		}
		i := slices.IndexFunc(storyPointsNames, func(n string) bool { return strings.EqualFold(strings.TrimSpace(f.Name), n) })
		if i < 0 && f.SchemaCustom == jira.StoryPointsFieldType {
			// Jira Software's own estimate field, renamed.
			i = len(storyPointsNames) - 1
		}
		if i >= 0 {
			byName[i] = append(byName[i], f.ID)
		}
	}
	slices.Sort(sprints)
	slices.Sort(orgs)
	if cfg.StoryPointsField != "" {
		return sprints, orgs, []string{cfg.StoryPointsField}
	}
	for _, ids := range byName {
		slices.Sort(ids)
		points = append(points, ids...)
	}
	return sprints, orgs, points
}
