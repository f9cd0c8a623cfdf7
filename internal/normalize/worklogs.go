package normalize

import (
	"time"

	"github.com/jiraduck/jiraduck/internal/adf"
	"github.com/jiraduck/jiraduck/internal/jira"
)

// Worklog is one row of worklogs: time logged on the issue.
type Worklog struct {
	WorklogID             string
	IssueID               string
	IssueKey              string
	AuthorAccountID       *string
	AuthorName            *string
	UpdateAuthorAccountID *string
	StartedAt             *time.Time
	TimeSpentSeconds      *int64
	Comment               *string
	CreatedAt             *time.Time
	UpdatedAt             *time.Time
	VisibilityType        *string
	VisibilityValue       *string
}

// worklogRows derives the worklogs rows of an issue. The issue's id, not the
// worklog's issueId, names the parent: a worklog page carries the id it was
// asked under, and a moved issue keeps its id anyway.
func worklogRows(issueID, key string, worklogs []jira.Worklog) []Worklog {
	var out []Worklog
	seen := map[string]bool{}
	for _, w := range worklogs {
		if w.ID == "" || seen[string(w.ID)] {
			continue
		}
		seen[string(w.ID)] = true
		row := Worklog{WorklogID: string(w.ID), IssueID: issueID, IssueKey: key,
			StartedAt: optTime(w.Started), TimeSpentSeconds: w.TimeSpentSeconds,
			Comment: opt(adf.Text(w.Comment)), CreatedAt: optTime(w.Created), UpdatedAt: optTime(w.Updated)}
		_, row.AuthorName, row.AuthorAccountID = user(w.Author)
		_, _, row.UpdateAuthorAccountID = user(w.UpdateAuthor)
		if w.Visibility != nil {
			row.VisibilityType, row.VisibilityValue = opt(w.Visibility.Type), opt(w.Visibility.Value)
		}
		out = append(out, row)
	}
	return out
}
