package normalize

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jiraduck/jiraduck/internal/jira"
	"github.com/jiraduck/jiraduck/internal/jsonx"
)

// issueDetail fills the issues columns read from fields that are not typed in
// jira.IssueFields: time tracking, votes, watches, security, the project's
// type and the issue type's level. Each is read on its own and leniently: a
// field in a shape Jira does not document leaves its column NULL and costs
// nothing else, where a strict decode would refuse the whole issue.
func issueDetail(i *Issue, f *jira.IssueFields) {
	// GET issue with the default fields carries the flat time fields;
	// timetracking comes only when asked for by name or with *all. They say
	// the same for the issue itself, so the flat field wins and timetracking
	// fills in; the aggregates (issue plus sub-tasks) exist only flat.
	var tt struct {
		Original  json.RawMessage `json:"originalEstimateSeconds"`
		Remaining json.RawMessage `json:"remainingEstimateSeconds"`
		Spent     json.RawMessage `json:"timeSpentSeconds"`
	}
	rawObject(f.Raw["timetracking"], &tt)
	i.OriginalEstimateSeconds = firstInt(rawInt(f.Raw["timeoriginalestimate"]), rawInt(tt.Original))
	i.RemainingEstimateSeconds = firstInt(rawInt(f.Raw["timeestimate"]), rawInt(tt.Remaining))
	i.TimeSpentSeconds = firstInt(rawInt(f.Raw["timespent"]), rawInt(tt.Spent))
	i.AggregateOriginalEstimateSeconds = rawInt(f.Raw["aggregatetimeoriginalestimate"])
	i.AggregateRemainingEstimateSeconds = rawInt(f.Raw["aggregatetimeestimate"])
	i.AggregateTimeSpentSeconds = rawInt(f.Raw["aggregatetimespent"])

	i.StatusCategoryChangedAt = rawTime(f.Raw["statuscategorychangedate"])

	var project struct {
		Type       json.RawMessage `json:"projectTypeKey"`
		Simplified json.RawMessage `json:"simplified"`
	}
	rawObject(f.Raw["project"], &project)
	i.ProjectType = rawString(project.Type)
	i.TeamManaged = rawBool(project.Simplified)

	var issueType struct {
		Level json.RawMessage `json:"hierarchyLevel"`
	}
	rawObject(f.Raw["issuetype"], &issueType)
	i.IssueTypeHierarchyLevel = int32Of(rawInt(issueType.Level))

	i.SubtaskKeys = []string{}
	for _, st := range f.Subtasks {
		if st.Key != "" {
			i.SubtaskKeys = append(i.SubtaskKeys, st.Key)
		}
	}

	var security struct {
		Name json.RawMessage `json:"name"`
	}
	rawObject(f.Raw["security"], &security)
	i.SecurityLevel = rawString(security.Name)

	var votes struct {
		Votes json.RawMessage `json:"votes"`
	}
	rawObject(f.Raw["votes"], &votes)
	i.Votes = int32Of(rawInt(votes.Votes))

	var watches struct {
		Count json.RawMessage `json:"watchCount"`
	}
	rawObject(f.Raw["watches"], &watches)
	i.Watches = int32Of(rawInt(watches.Count))
}

// rawObject decodes raw into v when it is a JSON object; anything else
// leaves v as it is.
func rawObject(raw json.RawMessage, v any) {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 || b[0] != '{' {
		return
	}
	_ = jsonx.Unmarshal(b, v)
}

// rawInt reads a whole JSON number; null, a fraction, text or a number past
// int64 give nil.
func rawInt(raw json.RawMessage) *int64 {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 || (b[0] != '-' && (b[0] < '0' || b[0] > '9')) {
		return nil
	}
	if n, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		return &n
	}
	// 3600.0 or 3.6e3: a whole number written another way.
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return nil
	}
	n := int64(f)
	return &n
}

func firstInt(a, b *int64) *int64 {
	if a != nil {
		return a
	}
	return b
}

// int32Of narrows a count; one beyond int32 is not a count Jira keeps.
func int32Of(n *int64) *int32 {
	if n == nil || *n > math.MaxInt32 || *n < math.MinInt32 {
		return nil
	}
	v := int32(*n)
	return &v
}

func rawString(raw json.RawMessage) *string {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 || b[0] != '"' {
		return nil
	}
	var s string
	if jsonx.Unmarshal(b, &s) != nil {
		return nil
	}
	return opt(s)
}

func rawBool(raw json.RawMessage) *bool {
	switch string(bytes.TrimSpace(raw)) {
	case "true":
		return boolPtr(true)
	case "false":
		return boolPtr(false)
	}
	return nil
}

// rawTime reads a Jira timestamp; one that does not parse gives nil.
func rawTime(raw json.RawMessage) *time.Time {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 || jsonx.IsNull(b) {
		return nil
	}
	var t jira.Time
	if jsonx.Unmarshal(b, &t) != nil {
		return nil
	}
	return optTime(t)
}

// historyActivity reads the type and description of a history's metadata.
func historyActivity(raw json.RawMessage) (typ, description *string) {
	var m struct {
		Type                json.RawMessage `json:"type"`
		ActivityDescription json.RawMessage `json:"activityDescription"`
		Description         json.RawMessage `json:"description"`
	}
	rawObject(raw, &m)
	typ = rawString(m.Type)
	description = rawString(m.ActivityDescription)
	if description == nil {
		description = rawString(m.Description)
	}
	return typ, description
}

// userFieldIDs are the fields whose changes name accounts in from and to:
// since Jira Cloud moved to account ids, those values are account ids, and
// tmpFromAccountId/tmpToAccountId repeat them where Jira adds them.
var userFieldIDs = map[string]bool{"assignee": true, "reporter": true, "creator": true}

// changeAccounts returns the accounts a change of a user field moved between.
func changeAccounts(it jira.ChangeItem) (from, to *string) {
	from, to = nonEmpty(it.TmpFromAccountID), nonEmpty(it.TmpToAccountID)
	id := it.FieldID
	if id == "" {
		// Histories written before Jira added fieldId name the field only.
		id = strings.ToLower(it.Field)
	}
	if userFieldIDs[id] && it.FieldType != "custom" {
		if from == nil {
			from = nonEmpty(it.From)
		}
		if to == nil {
			to = nonEmpty(it.To)
		}
	}
	return from, to
}

func nonEmpty(s *string) *string {
	if s == nil || *s == "" {
		return nil
	}
	return s
}
