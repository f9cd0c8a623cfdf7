package normalize

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/jiraduck/jiraduck/internal/jira"
)

// IssueSprint is one row of issue_sprints: a sprint the issue is or was in,
// from its sprint field. An issue carried over from one sprint to the next
// has a row for each.
type IssueSprint struct {
	IssueKey    string
	SprintID    string
	SprintName  *string
	SprintState *string
}

// IssueOrganization is one row of issue_organizations: a customer
// organization the request is shared with, from its Organizations field.
type IssueOrganization struct {
	IssueKey         string
	OrganizationID   string
	OrganizationName *string
}

// sprintRows reads the sprint fields of the issue (there is one per site;
// a site that moved from Server may have kept a second). A value that does
// not decode is left out: it says nothing about the sprints, and the rest of
// the issue is still worth storing (issue_fields keeps the value as sent).
func (r *Rows) sprintRows(raw map[string]json.RawMessage, fields []string) {
	seen := map[string]bool{}
	for _, id := range fields {
		sprints, err := jira.DecodeSprintField(raw[id])
		if err != nil {
			continue
		}
		for _, s := range sprints {
			if seen[string(s.ID)] {
				continue
			}
			seen[string(s.ID)] = true
			r.IssueSprints = append(r.IssueSprints, IssueSprint{IssueKey: r.Issue.IssueKey, SprintID: string(s.ID),
				SprintName: opt(s.Name), SprintState: opt(s.State)})
		}
	}
}

// organizationRows reads the Organizations fields of the issue, like
// sprintRows.
func (r *Rows) organizationRows(raw map[string]json.RawMessage, fields []string) {
	seen := map[string]bool{}
	for _, id := range fields {
		orgs, err := jira.DecodeOrganizationsField(raw[id])
		if err != nil {
			continue
		}
		for _, o := range orgs {
			if seen[string(o.ID)] {
				continue
			}
			seen[string(o.ID)] = true
			r.IssueOrganizations = append(r.IssueOrganizations, IssueOrganization{IssueKey: r.Issue.IssueKey,
				OrganizationID: string(o.ID), OrganizationName: opt(o.Name)})
		}
	}
}

// storyPoints returns the first of the story points fields the issue has a
// number in: Jira's number fields hold a JSON number, and a value set
// through an import may be a numeric string. Anything else is no estimate.
func storyPoints(raw map[string]json.RawMessage, fields []string) *float64 {
	for _, id := range fields {
		v := bytes.TrimSpace(raw[id])
		if len(v) == 0 || bytes.Equal(v, []byte("null")) {
			continue
		}
		s := string(v)
		if v[0] == '"' {
			var text string
			if json.Unmarshal(v, &text) != nil {
				continue
			}
			s = strings.TrimSpace(text)
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		return &f
	}
	return nil
}
