package store

import (
	"slices"
	"time"

	"github.com/jiraduck/jiraduck/internal/normalize"
)

// issueBaseColumns are the fixed leading columns of issues, in table order;
// SLA columns, promoted custom fields and synced_at follow.
var issueBaseColumns = []string{
	"issue_key", "issue_id", "issue_url", "project_key", "project_name", "summary", "description", "issue_type",
	"parent_key", "status", "status_category", "priority", "resolution",
	"creator_email", "creator_name", "creator_account_id",
	"reporter_email", "reporter_name", "reporter_account_id",
	"assignee_email", "assignee_name", "assignee_account_id",
	"created_at", "updated_at", "resolved_at", "due_date", "labels", "components", "fix_versions",
	"attachment_count", "comment_count", "issuelink_count", "request_type", "request_status",
	"original_estimate_seconds", "remaining_estimate_seconds", "time_spent_seconds",
	"aggregate_original_estimate_seconds", "aggregate_remaining_estimate_seconds", "aggregate_time_spent_seconds",
	"status_category_changed_at", "project_type", "team_managed", "issue_type_hierarchy_level", "subtask_keys",
	"security_level", "votes", "watches", "story_points",
}

// IssueColumns is the column order of issues for the given SLA metric names and
// promoted columns: the order of the Parquet files and of the design.
func IssueColumns(slaNames, promoted []string) []string {
	cols := append([]string(nil), issueBaseColumns...)
	for _, n := range slaNames {
		cols = append(cols, n+"_breached", n+"_goal_millis", n+"_elapsed_millis", n+"_remaining_millis")
	}
	cols = append(cols, promoted...)
	return append(cols, "synced_at")
}

// childColumns are the columns of the other analyst tables, in table order.
var childColumns = map[string][]string{
	"comments": {"comment_id", "issue_key", "author_email", "author_name", "author_account_id", "body", "created_at",
		"updated_at", "update_author_email", "public_visibility", "visibility_type", "visibility_value",
		"update_author_name", "update_author_account_id"},
	"attachments": {"attachment_id", "issue_key", "filename", "local_path", "size_bytes", "mime_type", "author_email",
		"created_at", "content_url", "thumbnail_url", "sha256", "skipped_reason", "author_name", "author_account_id"},
	"changelog": {"change_id", "item_index", "issue_key", "author_email", "author_name", "author_account_id", "field",
		"field_id", "field_type", "from_value", "from_string", "to_value", "to_string", "changed_at",
		"from_account_id", "to_account_id", "activity_type", "activity_description"},
	"issuelinks": {"issue_key", "link_id", "link_type", "direction", "linked_issue_key", "linked_issue_summary",
		"linked_issue_status", "linked_issue_priority"},
	"remote_links": {"issue_key", "remote_link_id", "global_id", "url", "title", "application_name", "application_type",
		"relationship"},
	"sla": {"issue_key", "field_id", "sla_name", "cycle", "cycle_index", "start_time", "stop_time", "breach_time",
		"breached", "paused", "within_calendar_hours", "goal_millis", "elapsed_millis", "remaining_millis", "observed_at"},
	"issue_fields": {"issue_key", "field_id", "field_name", "value_text", "value_json"},
	"worklogs": {"worklog_id", "issue_id", "issue_key", "author_account_id", "author_name", "update_author_account_id",
		"started_at", "time_spent_seconds", "comment", "created_at", "updated_at", "visibility_type", "visibility_value"},
	"inline_media": {"issue_key", "comment_id", "media_index", "node_type", "media_type", "media_id", "collection", "url",
		"alt", "attachment_id", "filename", "linked_by"},

	"issue_sprints":       {"issue_key", "sprint_id", "sprint_name", "sprint_state"},
	"issue_organizations": {"issue_key", "organization_id", "organization_name"},
}

// TableColumns is the column order of an analyst table other than issues, as
// exported.
func TableColumns(table string) []string { return childColumns[table] }

// storedColumns are the columns a write gives each child table: the exported
// ones, then those that stay in the store: issuelinks.linked_issue_id (see
// links.go) and every table's issue_month, the first day of the UTC month of
// its issue's created_at, on which the exporter selects a partition's rows
// (migration 0009).
var storedColumns = func() map[string][]string {
	out := make(map[string][]string, len(childColumns))
	for table, cols := range childColumns {
		cols = slices.Clone(cols)
		if table == "issuelinks" {
			cols = append(cols, "linked_issue_id")
		}
		out[table] = append(cols, "issue_month")
	}
	return out
}()

// issueMonth is the value of a child row's issue_month for an issue created
// at created: midnight UTC of the first day of its month.
func issueMonth(created time.Time) time.Time {
	y, m, _ := created.UTC().Date()
	return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
}

// tableRows returns the column names and the rows (as argument lists) of one
// table of an issue.
func tableRows(table string, r *normalize.Rows) ([]string, [][]any) {
	var out [][]any
	switch table {
	case "issues":
		i := &r.Issue
		var sla, promoted []string
		for _, s := range i.SLA {
			sla = append(sla, s.Name)
		}
		for _, p := range i.Promoted {
			promoted = append(promoted, p.Column)
		}
		row := []any{i.IssueKey, i.IssueID, i.IssueURL, i.ProjectKey, i.ProjectName, i.Summary, i.Description, i.IssueType,
			i.ParentKey, i.Status, i.StatusCategory, i.Priority, i.Resolution,
			i.CreatorEmail, i.CreatorName, i.CreatorAccountID,
			i.ReporterEmail, i.ReporterName, i.ReporterAccountID,
			i.AssigneeEmail, i.AssigneeName, i.AssigneeAccountID,
			i.CreatedAt, i.UpdatedAt, i.ResolvedAt, i.DueDate, list(i.Labels), list(i.Components), list(i.FixVersions),
			i.AttachmentCount, i.CommentCount, i.IssuelinkCount, i.RequestType, i.RequestStatus,
			i.OriginalEstimateSeconds, i.RemainingEstimateSeconds, i.TimeSpentSeconds,
			i.AggregateOriginalEstimateSeconds, i.AggregateRemainingEstimateSeconds, i.AggregateTimeSpentSeconds,
			i.StatusCategoryChangedAt, i.ProjectType, i.TeamManaged, i.IssueTypeHierarchyLevel, list(i.SubtaskKeys),
			i.SecurityLevel, i.Votes, i.Watches, i.StoryPoints}
		for _, s := range i.SLA {
			row = append(row, s.Breached, s.GoalMillis, s.ElapsedMillis, s.RemainingMillis)
		}
		for _, p := range i.Promoted {
			row = append(row, p.Value)
		}
		row = append(row, i.SyncedAt)
		return IssueColumns(sla, promoted), [][]any{row}
	case "comments":
		for _, c := range r.Comments {
			out = append(out, []any{c.CommentID, c.IssueKey, c.AuthorEmail, c.AuthorName, c.AuthorAccountID, c.Body,
				c.CreatedAt, c.UpdatedAt, c.UpdateAuthorEmail, c.PublicVisibility, c.VisibilityType, c.VisibilityValue,
				c.UpdateAuthorName, c.UpdateAuthorAccountID})
		}
	case "attachments":
		for _, a := range r.Attachments {
			out = append(out, []any{a.AttachmentID, a.IssueKey, a.Filename, a.LocalPath, a.SizeBytes, a.MimeType,
				a.AuthorEmail, a.CreatedAt, a.ContentURL, a.ThumbnailURL, a.SHA256, a.SkippedReason, a.AuthorName, a.AuthorAccountID})
		}
	case "changelog":
		for _, c := range r.Changelog {
			out = append(out, []any{c.ChangeID, c.ItemIndex, c.IssueKey, c.AuthorEmail, c.AuthorName, c.AuthorAccountID,
				c.Field, c.FieldID, c.FieldType, c.FromValue, c.FromString, c.ToValue, c.ToString, c.ChangedAt,
				c.FromAccountID, c.ToAccountID, c.ActivityType, c.ActivityDescription})
		}
	case "issuelinks":
		for _, l := range r.IssueLinks {
			out = append(out, []any{l.IssueKey, l.LinkID, l.LinkType, l.Direction, l.LinkedIssueKey, l.LinkedIssueSummary,
				l.LinkedIssueStatus, l.LinkedIssuePriority, l.LinkedIssueID})
		}
	case "remote_links":
		for _, l := range r.RemoteLinks {
			out = append(out, []any{l.IssueKey, l.RemoteLinkID, l.GlobalID, l.URL, l.Title, l.ApplicationName,
				l.ApplicationType, l.Relationship})
		}
	case "sla":
		for _, s := range r.SLA {
			out = append(out, []any{s.IssueKey, s.FieldID, s.SLAName, s.Cycle, s.CycleIndex, s.StartTime, s.StopTime,
				s.BreachTime, s.Breached, s.Paused, s.WithinCalendarHours, s.GoalMillis, s.ElapsedMillis,
				s.RemainingMillis, s.ObservedAt})
		}
	case "issue_fields":
		for _, f := range r.Fields {
			out = append(out, []any{f.IssueKey, f.FieldID, f.FieldName, f.ValueText, jsonValue(f.ValueJSON)})
		}
	case "worklogs":
		for _, w := range r.Worklogs {
			out = append(out, []any{w.WorklogID, w.IssueID, w.IssueKey, w.AuthorAccountID, w.AuthorName,
				w.UpdateAuthorAccountID, w.StartedAt, w.TimeSpentSeconds, w.Comment, w.CreatedAt, w.UpdatedAt,
				w.VisibilityType, w.VisibilityValue})
		}
	case "inline_media":
		for _, m := range r.InlineMedia {
			out = append(out, []any{m.IssueKey, m.CommentID, m.MediaIndex, m.NodeType, m.MediaType, m.MediaID, m.Collection,
				m.URL, m.Alt, m.AttachmentID, m.Filename, m.LinkedBy})
		}
	case "issue_sprints":
		for _, sp := range r.IssueSprints {
			out = append(out, []any{sp.IssueKey, sp.SprintID, sp.SprintName, sp.SprintState})
		}
	case "issue_organizations":
		for _, o := range r.IssueOrganizations {
			out = append(out, []any{o.IssueKey, o.OrganizationID, o.OrganizationName})
		}
	}
	month := issueMonth(r.Issue.CreatedAt)
	for i := range out {
		out[i] = append(out[i], month)
	}
	return storedColumns[table], out
}

// list binds a nil list as an empty one: the driver panics on some nil
// composites, and "no labels" is an empty list, not unknown.
func list(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

// rowsPerInsert bounds one multi-row INSERT.
const rowsPerInsert = 200
