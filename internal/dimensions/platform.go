package dimensions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jiraduck/jiraduck/internal/jira"
	"github.com/jiraduck/jiraduck/internal/jira/client"
)

// platformSources lists the tables every Jira Cloud site serves.
func platformSources() []Source {
	return []Source{projects(), users(), versions(), components(), statuses(), priorities(), issueTypes(),
		resolutions(), issueLinkTypes(), fields()}
}

// projectLifecycle are the webhook events of a project appearing, going
// or coming back: its versions and components appear or go with it.
var projectLifecycle = []string{"project_created", "project_deleted", "project_soft_deleted", "project_restored_deleted",
	"project_archived", "project_restored_archived"}

func projects() Source {
	return Source{
		Table: "projects",
		Columns: []Column{{"id", "VARCHAR"}, {"key", "VARCHAR"}, {"name", "VARCHAR"}, {"description", "VARCHAR"},
			{"project_type", "VARCHAR"}, {"team_managed", "BOOLEAN"}, {"category", "VARCHAR"}, {"lead_account_id", "VARCHAR"},
			{"archived", "BOOLEAN"}, {"url", "VARCHAR"}, {"issue_count", "BIGINT"}, {"last_issue_update_at", "TIMESTAMPTZ"}},
		Key:     []string{"id"},
		Product: Platform,
		Events:  append([]string{"project_updated"}, projectLifecycle...),
		Fetch: func(ctx context.Context, c *client.Client) ([]Object, error) {
			raws, err := c.Projects(ctx, "description,lead,insight")
			if err != nil {
				return nil, err
			}
			return byID("projects", raws)
		},
		Row: projectRow,
	}
}

type projectJSON struct {
	ID             jira.ID  `json:"id"`
	Key            string   `json:"key"`
	Name           string   `json:"name"`
	Description    string   `json:"description"`
	ProjectTypeKey *string  `json:"projectTypeKey"`
	Style          *string  `json:"style"`
	Simplified     *bool    `json:"simplified"`
	Archived       *bool    `json:"archived"`
	URL            *string  `json:"url"`
	Lead           *account `json:"lead"`
	Category       *struct {
		Name string `json:"name"`
	} `json:"projectCategory"`
	Insight *struct {
		TotalIssueCount     *int64  `json:"totalIssueCount"`
		LastIssueUpdateTime *string `json:"lastIssueUpdateTime"`
	} `json:"insight"`
}

func projectRow(o Object) ([]any, error) {
	var p projectJSON
	if err := decode("projects", o, &p); err != nil {
		return nil, err
	}
	// Jira calls team-managed projects "next-gen" in style and simplified
	// in the flag; the style wins when both are there.
	var teamManaged any
	switch {
	case p.Style != nil && *p.Style != "":
		teamManaged = *p.Style == "next-gen"
	case p.Simplified != nil:
		teamManaged = *p.Simplified
	}
	var category, issueCount, lastUpdate any
	if p.Category != nil {
		category = textOrNull(p.Category.Name)
	}
	if p.Insight != nil {
		issueCount = integer(p.Insight.TotalIssueCount)
		var err error
		if lastUpdate, err = timestamp("projects", "lastIssueUpdateTime", p.Insight.LastIssueUpdateTime); err != nil {
			return nil, err
		}
	}
	archived := any(false)
	if p.Archived != nil {
		archived = *p.Archived
	}
	return []any{string(p.ID), p.Key, p.Name, textOrNull(p.Description), text(p.ProjectTypeKey), teamManaged, category,
		accountID(p.Lead), archived, text(p.URL), issueCount, lastUpdate}, nil
}

// userReferences are the issue-level columns that hold account ids.
var userReferences = []string{
	"issues.creator_account_id", "issues.reporter_account_id", "issues.assignee_account_id",
	"comments.author_account_id", "comments.update_author_account_id",
	"worklogs.author_account_id", "worklogs.update_author_account_id",
	"changelog.author_account_id", "changelog.from_account_id", "changelog.to_account_id",
	"attachments.author_account_id",
}

func users() Source {
	return Source{
		Table: "users",
		Columns: []Column{{"account_id", "VARCHAR"}, {"display_name", "VARCHAR"}, {"email", "VARCHAR"}, {"active", "BOOLEAN"},
			{"account_type", "VARCHAR"}, {"time_zone", "VARCHAR"}, {"locale", "VARCHAR"}},
		Key:     []string{"account_id"},
		Product: Platform,
		Events:  []string{"user_created", "user_updated", "user_deleted"},
		Fetch: func(ctx context.Context, c *client.Client) ([]Object, error) {
			raws, err := c.Users(ctx)
			if err != nil {
				return nil, err
			}
			return userObjects(raws)
		},
		Row:        userRow,
		References: userReferences,
		Resolve: func(ctx context.Context, c *client.Client, ids []string) ([]Object, error) {
			raws, err := c.UsersByID(ctx, ids)
			if err != nil {
				return nil, err
			}
			return userObjects(raws)
		},
	}
}

func userObjects(raws []json.RawMessage) ([]Object, error) {
	return objectsBy("users", raws, func(raw json.RawMessage) (string, error) {
		var a account
		if err := json.Unmarshal(raw, &a); err != nil {
			return "", err
		}
		return a.AccountID, nil
	})
}

type userJSON struct {
	AccountID    string  `json:"accountId"`
	DisplayName  *string `json:"displayName"`
	EmailAddress string  `json:"emailAddress"`
	Active       *bool   `json:"active"`
	AccountType  *string `json:"accountType"`
	TimeZone     *string `json:"timeZone"`
	Locale       *string `json:"locale"`
}

func userRow(o Object) ([]any, error) {
	var u userJSON
	if err := decode("users", o, &u); err != nil {
		return nil, err
	}
	// Jira leaves emailAddress out, or sends it empty, for accounts whose
	// owner hides it.
	return []any{u.AccountID, text(u.DisplayName), textOrNull(u.EmailAddress), boolean(u.Active), text(u.AccountType),
		text(u.TimeZone), text(u.Locale)}, nil
}

// perProject lists, for every project, the objects list returns for it. A
// project that answers 404 went (deleted, archived past reach, or no longer
// visible) between the project listing and this call: it has none.
func perProject(ctx context.Context, c *client.Client, table string,
	list func(ctx context.Context, projectID string) ([]json.RawMessage, error)) ([]Object, error) {
	raws, err := c.Projects(ctx, "")
	if err != nil {
		return nil, err
	}
	ps, err := byID("projects", raws)
	if err != nil {
		return nil, err
	}
	var all []json.RawMessage
	for _, p := range ps {
		got, err := list(ctx, p.ID)
		if errors.Is(err, jira.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s of project %s: %w", table, p.ID, err)
		}
		all = append(all, got...)
	}
	return byID(table, all)
}

func versions() Source {
	return Source{
		Table: "versions",
		Columns: []Column{{"id", "VARCHAR"}, {"project_id", "VARCHAR"}, {"name", "VARCHAR"}, {"description", "VARCHAR"},
			{"released", "BOOLEAN"}, {"archived", "BOOLEAN"}, {"start_date", "DATE"}, {"release_date", "DATE"}, {"overdue", "BOOLEAN"}},
		Key:     []string{"id"},
		Product: Platform,
		Events: append([]string{"jira:version_created", "jira:version_updated", "jira:version_released", "jira:version_unreleased",
			"jira:version_deleted", "jira:version_moved", "jira:version_merged"}, projectLifecycle...),
		Fetch: func(ctx context.Context, c *client.Client) ([]Object, error) {
			return perProject(ctx, c, "versions", c.ProjectVersions)
		},
		Row: versionRow,
	}
}

type versionJSON struct {
	ID          jira.ID `json:"id"`
	ProjectID   jira.ID `json:"projectId"`
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Released    *bool   `json:"released"`
	Archived    *bool   `json:"archived"`
	StartDate   *string `json:"startDate"`
	ReleaseDate *string `json:"releaseDate"`
	Overdue     *bool   `json:"overdue"`
}

func versionRow(o Object) ([]any, error) {
	var v versionJSON
	if err := decode("versions", o, &v); err != nil {
		return nil, err
	}
	start, err := date("versions", "startDate", v.StartDate)
	if err != nil {
		return nil, err
	}
	release, err := date("versions", "releaseDate", v.ReleaseDate)
	if err != nil {
		return nil, err
	}
	return []any{string(v.ID), idText(v.ProjectID), v.Name, textOrNull(v.Description), boolean(v.Released), boolean(v.Archived),
		start, release, boolean(v.Overdue)}, nil
}

func components() Source {
	return Source{
		Table: "components",
		Columns: []Column{{"id", "VARCHAR"}, {"project_id", "VARCHAR"}, {"name", "VARCHAR"}, {"description", "VARCHAR"},
			{"lead_account_id", "VARCHAR"}, {"assignee_type", "VARCHAR"}},
		Key:     []string{"id"},
		Product: Platform,
		// Jira Cloud sends no component events: a project's lifecycle is
		// all that says its components changed at once.
		Events: projectLifecycle,
		Fetch: func(ctx context.Context, c *client.Client) ([]Object, error) {
			return perProject(ctx, c, "components", c.ProjectComponents)
		},
		Row: componentRow,
	}
}

type componentJSON struct {
	ID           jira.ID  `json:"id"`
	ProjectID    jira.ID  `json:"projectId"`
	Name         string   `json:"name"`
	Description  string   `json:"description"`
	Lead         *account `json:"lead"`
	AssigneeType *string  `json:"assigneeType"`
}

func componentRow(o Object) ([]any, error) {
	var c componentJSON
	if err := decode("components", o, &c); err != nil {
		return nil, err
	}
	return []any{string(c.ID), idText(c.ProjectID), c.Name, textOrNull(c.Description), accountID(c.Lead), text(c.AssigneeType)}, nil
}

func statuses() Source {
	return Source{
		Table: "statuses",
		Columns: []Column{{"id", "VARCHAR"}, {"name", "VARCHAR"}, {"description", "VARCHAR"}, {"category_key", "VARCHAR"},
			{"category_name", "VARCHAR"}, {"scope_type", "VARCHAR"}, {"scope_project_id", "VARCHAR"}},
		Key:     []string{"id"},
		Product: Platform,
		Fetch: func(ctx context.Context, c *client.Client) ([]Object, error) {
			raws, err := c.Statuses(ctx)
			if err != nil {
				return nil, err
			}
			return byID("statuses", raws)
		},
		Row: statusRow,
	}
}

type statusJSON struct {
	ID          jira.ID `json:"id"`
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Category    *struct {
		Key  *string `json:"key"`
		Name *string `json:"name"`
	} `json:"statusCategory"`
	Scope *scope `json:"scope"`
}

func statusRow(o Object) ([]any, error) {
	var s statusJSON
	if err := decode("statuses", o, &s); err != nil {
		return nil, err
	}
	var catKey, catName any
	if s.Category != nil {
		catKey, catName = text(s.Category.Key), text(s.Category.Name)
	}
	scopeType, scopeProject := s.Scope.columns()
	return []any{string(s.ID), s.Name, textOrNull(s.Description), catKey, catName, scopeType, scopeProject}, nil
}

func priorities() Source {
	return Source{
		Table: "priorities",
		Columns: []Column{{"id", "VARCHAR"}, {"name", "VARCHAR"}, {"description", "VARCHAR"}, {"status_color", "VARCHAR"},
			{"is_default", "BOOLEAN"}},
		Key:     []string{"id"},
		Product: Platform,
		Fetch: func(ctx context.Context, c *client.Client) ([]Object, error) {
			raws, err := c.Priorities(ctx)
			if err != nil {
				return nil, err
			}
			return byID("priorities", raws)
		},
		Row: func(o Object) ([]any, error) {
			var p struct {
				ID          jira.ID `json:"id"`
				Name        string  `json:"name"`
				Description string  `json:"description"`
				StatusColor *string `json:"statusColor"`
				IsDefault   *bool   `json:"isDefault"`
			}
			if err := decode("priorities", o, &p); err != nil {
				return nil, err
			}
			return []any{string(p.ID), p.Name, textOrNull(p.Description), text(p.StatusColor), boolean(p.IsDefault)}, nil
		},
	}
}

func issueTypes() Source {
	return Source{
		Table: "issue_types",
		Columns: []Column{{"id", "VARCHAR"}, {"name", "VARCHAR"}, {"description", "VARCHAR"}, {"subtask", "BOOLEAN"},
			{"hierarchy_level", "INTEGER"}, {"scope_type", "VARCHAR"}, {"scope_project_id", "VARCHAR"}},
		Key:     []string{"id"},
		Product: Platform,
		Events:  []string{"issuetype_created", "issuetype_updated", "issuetype_deleted"},
		Fetch: func(ctx context.Context, c *client.Client) ([]Object, error) {
			raws, err := c.IssueTypes(ctx)
			if err != nil {
				return nil, err
			}
			return byID("issue_types", raws)
		},
		Row: func(o Object) ([]any, error) {
			var t struct {
				ID             jira.ID `json:"id"`
				Name           string  `json:"name"`
				Description    string  `json:"description"`
				Subtask        *bool   `json:"subtask"`
				HierarchyLevel *int64  `json:"hierarchyLevel"`
				Scope          *scope  `json:"scope"`
			}
			if err := decode("issue_types", o, &t); err != nil {
				return nil, err
			}
			scopeType, scopeProject := t.Scope.columns()
			return []any{string(t.ID), t.Name, textOrNull(t.Description), boolean(t.Subtask), integer(t.HierarchyLevel),
				scopeType, scopeProject}, nil
		},
	}
}

func resolutions() Source {
	return Source{
		Table:   "resolutions",
		Columns: []Column{{"id", "VARCHAR"}, {"name", "VARCHAR"}, {"description", "VARCHAR"}, {"is_default", "BOOLEAN"}},
		Key:     []string{"id"},
		Product: Platform,
		Fetch: func(ctx context.Context, c *client.Client) ([]Object, error) {
			raws, err := c.Resolutions(ctx)
			if err != nil {
				return nil, err
			}
			return byID("resolutions", raws)
		},
		Row: func(o Object) ([]any, error) {
			var r struct {
				ID          jira.ID `json:"id"`
				Name        string  `json:"name"`
				Description string  `json:"description"`
				IsDefault   *bool   `json:"isDefault"`
			}
			if err := decode("resolutions", o, &r); err != nil {
				return nil, err
			}
			return []any{string(r.ID), r.Name, textOrNull(r.Description), boolean(r.IsDefault)}, nil
		},
	}
}

func issueLinkTypes() Source {
	return Source{
		Table:   "issue_link_types",
		Columns: []Column{{"id", "VARCHAR"}, {"name", "VARCHAR"}, {"inward", "VARCHAR"}, {"outward", "VARCHAR"}},
		Key:     []string{"id"},
		Product: Platform,
		// Jira Cloud sends no event when a link type is made, renamed or
		// removed; a link made or unmade names its type, so these refresh
		// the table as soon as a new type is used.
		Events: []string{"issuelink_created", "issuelink_deleted"},
		Fetch: func(ctx context.Context, c *client.Client) ([]Object, error) {
			raws, err := c.IssueLinkTypes(ctx)
			if err != nil {
				return nil, err
			}
			return byID("issue_link_types", raws)
		},
		Row: func(o Object) ([]any, error) {
			var t struct {
				ID      jira.ID `json:"id"`
				Name    string  `json:"name"`
				Inward  *string `json:"inward"`
				Outward *string `json:"outward"`
			}
			if err := decode("issue_link_types", o, &t); err != nil {
				return nil, err
			}
			return []any{string(t.ID), t.Name, text(t.Inward), text(t.Outward)}, nil
		},
	}
}

func fields() Source {
	return Source{
		Table: "fields",
		Columns: []Column{{"field_id", "VARCHAR"}, {"name", "VARCHAR"}, {"custom", "BOOLEAN"}, {"schema_type", "VARCHAR"},
			{"schema_items", "VARCHAR"}, {"schema_custom", "VARCHAR"}, {"clause_names", "VARCHAR[]"}, {"searchable", "BOOLEAN"},
			{"navigable", "BOOLEAN"}, {"orderable", "BOOLEAN"}},
		Key:     []string{"field_id"},
		Product: Platform,
		Fetch: func(ctx context.Context, c *client.Client) ([]Object, error) {
			raws, err := c.FieldList(ctx)
			if err != nil {
				return nil, err
			}
			return byID("fields", raws)
		},
		Row: func(o Object) ([]any, error) {
			var f struct {
				ID         string   `json:"id"`
				Name       string   `json:"name"`
				Custom     *bool    `json:"custom"`
				Searchable *bool    `json:"searchable"`
				Navigable  *bool    `json:"navigable"`
				Orderable  *bool    `json:"orderable"`
				Clauses    []string `json:"clauseNames"`
				Schema     *struct {
					Type   *string `json:"type"`
					Items  *string `json:"items"`
					Custom *string `json:"custom"`
				} `json:"schema"`
			}
			if err := decode("fields", o, &f); err != nil {
				return nil, err
			}
			var typ, items, custom any
			if f.Schema != nil {
				typ, items, custom = text(f.Schema.Type), text(f.Schema.Items), text(f.Schema.Custom)
			}
			clauses := f.Clauses
			if clauses == nil {
				clauses = []string{}
			}
			return []any{f.ID, f.Name, boolean(f.Custom), typ, items, custom, clauses, boolean(f.Searchable),
				boolean(f.Navigable), boolean(f.Orderable)}, nil
		},
	}
}
