package config

import (
	"fmt"
	"regexp"
	"strings"
)

// FieldAlias names a Jira field by the column name jiraduck gives it.
type FieldAlias struct {
	ID   string // e.g. customfield_10328
	Name string // e.g. first_response
}

// FieldAliases is a list parsed from "customfield_10328:first_response,...".
type FieldAliases []FieldAlias

// FieldAliasError is a malformed alias list.
type FieldAliasError struct{ Problem string }

func (e *FieldAliasError) Error() string { return e.Problem }

var (
	fieldIDPattern = regexp.MustCompile(`^customfield_[0-9]{1,12}$`)
	columnPattern  = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
)

// UnmarshalText parses "id:name,id:name"; blanks around items are ignored.
func (a *FieldAliases) UnmarshalText(text []byte) error {
	*a = nil
	s := strings.TrimSpace(string(text))
	if s == "" {
		return nil
	}
	seenID := map[string]bool{}
	seenName := map[string]bool{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		id, name, ok := strings.Cut(item, ":")
		id, name = strings.TrimSpace(id), strings.TrimSpace(name)
		if !ok || id == "" || name == "" {
			return &FieldAliasError{fmt.Sprintf("%q is not of the form customfield_NNNNN:name", item)}
		}
		if !fieldIDPattern.MatchString(id) {
			return &FieldAliasError{fmt.Sprintf("%q is not a custom field id (customfield_NNNNN)", id)}
		}
		if !columnPattern.MatchString(name) {
			return &FieldAliasError{fmt.Sprintf("%q is not a column name (lower case letters, digits and _, starting with a letter)", name)}
		}
		if seenID[id] {
			return &FieldAliasError{fmt.Sprintf("field %s is listed twice", id)}
		}
		if seenName[name] {
			return &FieldAliasError{fmt.Sprintf("name %s is used twice", name)}
		}
		seenID[id], seenName[name] = true, true
		*a = append(*a, FieldAlias{ID: id, Name: name})
	}
	return nil
}

// String renders the list back in its variable's format.
func (a FieldAliases) String() string {
	parts := make([]string, len(a))
	for i, f := range a {
		parts[i] = f.ID + ":" + f.Name
	}
	return strings.Join(parts, ",")
}

// Names returns the column names in order.
func (a FieldAliases) Names() []string {
	out := make([]string, len(a))
	for i, f := range a {
		out[i] = f.Name
	}
	return out
}

// reservedColumns are the fixed columns of the issues table, which a promoted
// custom field must not shadow.
var reservedColumns = map[string]bool{
	"issue_key": true, "issue_id": true, "issue_url": true, "project_key": true, "project_name": true,
	"summary": true, "description": true, "issue_type": true, "parent_key": true, "status": true,
	"status_category": true, "priority": true, "resolution": true,
	"creator_email": true, "creator_name": true, "creator_account_id": true,
	"reporter_email": true, "reporter_name": true, "reporter_account_id": true,
	"assignee_email": true, "assignee_name": true, "assignee_account_id": true,
	"created_at": true, "updated_at": true, "resolved_at": true, "due_date": true,
	"labels": true, "components": true, "fix_versions": true,
	"attachment_count": true, "comment_count": true, "issuelink_count": true,
	"request_type": true, "request_status": true, "synced_at": true, "month": true,
	"original_estimate_seconds": true, "remaining_estimate_seconds": true, "time_spent_seconds": true,
	"aggregate_original_estimate_seconds": true, "aggregate_remaining_estimate_seconds": true,
	"aggregate_time_spent_seconds": true, "status_category_changed_at": true, "project_type": true,
	"team_managed": true, "issue_type_hierarchy_level": true, "subtask_keys": true, "security_level": true,
	"votes": true, "watches": true, "story_points": true,
}

// checkColumns verifies that promoted field columns clash neither with the fixed
// columns nor with the SLA columns.
func (a FieldAliases) checkColumns(sla FieldAliases) error {
	slaCols := map[string]bool{}
	names := append([]string(nil), DefaultSLAFields...)
	names = append(names, sla.Names()...)
	for _, n := range names {
		for _, suffix := range []string{"_breached", "_goal_millis", "_elapsed_millis", "_remaining_millis"} {
			slaCols[n+suffix] = true
		}
	}
	for _, f := range a {
		if f.Name == "story_points" {
			return fmt.Errorf("name story_points is the built-in story points column of issues: set JIRA_STORY_POINTS_FIELD=%s instead", f.ID)
		}
		if reservedColumns[f.Name] || slaCols[f.Name] {
			return fmt.Errorf("name %s clashes with a built-in column of issues", f.Name)
		}
	}
	return nil
}
