package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/jiraduck/jiraduck/internal/jsonx"
)

// Endpoint labels of the calls that read the site's objects other than
// issues (the dimension tables).
const (
	// EndpointProjects labels GET /rest/api/3/project/search.
	EndpointProjects = "projects"
	// EndpointVersions labels GET /rest/api/3/project/{id}/version.
	EndpointVersions = "versions"
	// EndpointComponents labels GET /rest/api/3/project/{id}/component.
	EndpointComponents = "components"
	// EndpointUsers labels GET /rest/api/3/users/search.
	EndpointUsers = "users"
	// EndpointUserBulk labels GET /rest/api/3/user/bulk.
	EndpointUserBulk = "user_bulk"
	// EndpointStatuses labels GET /rest/api/3/status.
	EndpointStatuses = "statuses"
	// EndpointPriorities labels GET /rest/api/3/priority/search.
	EndpointPriorities = "priorities"
	// EndpointIssueTypes labels GET /rest/api/3/issuetype.
	EndpointIssueTypes = "issue_types"
	// EndpointResolutions labels GET /rest/api/3/resolution/search.
	EndpointResolutions = "resolutions"
	// EndpointIssueLinkTypes labels GET /rest/api/3/issueLinkType.
	EndpointIssueLinkTypes = "issue_link_types"
)

// maxObjectPages bounds one listing of a site's objects: a server that
// never says it is done (isLast missing, total wrong) stops here with an
// error instead of paging for ever. A variable for tests.
var maxObjectPages = 10000

// ErrTooManyPages means a listing went on past maxObjectPages pages.
var ErrTooManyPages = errors.New("more pages than a listing may have")

// pageBean is Jira's PageBean: a page of values and where it sits.
type pageBean struct {
	StartAt    int               `json:"startAt"`
	MaxResults int               `json:"maxResults"`
	Total      *int              `json:"total"`
	IsLast     *bool             `json:"isLast"`
	NextPage   string            `json:"nextPage"`
	Values     []json.RawMessage `json:"values"`
}

// PagedValues reads every page of an endpoint that answers with a PageBean
// (startAt, maxResults, total, isLast, values) and returns the values as
// Jira sent them. A page ends the listing when it says isLast, when it is
// empty, or when startAt has reached total; an endpoint that sends none of
// these ends on the first page shorter than asked.
func (c *Client) PagedValues(ctx context.Context, endpoint, path string, query url.Values, pageSize int) ([]json.RawMessage, error) {
	var out []json.RawMessage
	start := 0
	for range maxObjectPages {
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		q.Set("startAt", strconv.Itoa(start))
		q.Set("maxResults", strconv.Itoa(pageSize))
		var page pageBean
		if _, err := c.getJSON(ctx, endpoint, c.siteURL(path, q), &page); err != nil {
			return nil, fmt.Errorf("get %s at %d: %w", path, start, err)
		}
		out = append(out, page.Values...)
		start += len(page.Values)
		switch {
		case len(page.Values) == 0:
			return out, nil
		case page.IsLast != nil:
			if *page.IsLast {
				return out, nil
			}
		case page.Total != nil:
			if start >= *page.Total {
				return out, nil
			}
		case len(page.Values) < pageSize:
			return out, nil
		}
	}
	return nil, fmt.Errorf("get %s: %w (%d)", path, ErrTooManyPages, maxObjectPages)
}

// ListValues reads an endpoint that answers with one JSON array, or with an
// object whose field key holds the array (key not empty).
func (c *Client) ListValues(ctx context.Context, endpoint, path string, query url.Values, key string) ([]json.RawMessage, error) {
	raw, err := c.getJSON(ctx, endpoint, c.siteURL(path, query), nil)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", path, err)
	}
	if key != "" {
		var wrapped map[string]json.RawMessage
		if err := jsonx.Unmarshal(raw, &wrapped); err != nil {
			return nil, fmt.Errorf("get %s: decode answer: %w", path, err)
		}
		raw = wrapped[key]
		if len(raw) == 0 {
			return nil, fmt.Errorf("get %s: the answer has no %q list", path, key)
		}
	}
	var out []json.RawMessage
	if err := jsonx.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("get %s: decode answer: %w", path, err)
	}
	return out, nil
}

// ProjectPageSize is the page asked of project/search (Jira's most).
const ProjectPageSize = 100

// Projects lists every project the account can browse, archived ones too,
// with what expand asks for ("description,lead,insight": Jira counts each
// project's issues for insight, so a caller that needs only ids asks for
// none).
func (c *Client) Projects(ctx context.Context, expand string) ([]json.RawMessage, error) {
	q := url.Values{"status": {"live", "archived"}}
	if expand != "" {
		q.Set("expand", expand)
	}
	return c.PagedValues(ctx, EndpointProjects, "/rest/api/3/project/search", q, ProjectPageSize)
}

// ProjectVersions lists every version of a project, archived ones too.
func (c *Client) ProjectVersions(ctx context.Context, projectID string) ([]json.RawMessage, error) {
	if !numericID(projectID) {
		return nil, fmt.Errorf("get versions: project id %q is not a numeric id", truncate(projectID, 32))
	}
	return c.PagedValues(ctx, EndpointVersions, "/rest/api/3/project/"+projectID+"/version", nil, 50)
}

// ProjectComponents lists every component of a project.
func (c *Client) ProjectComponents(ctx context.Context, projectID string) ([]json.RawMessage, error) {
	if !numericID(projectID) {
		return nil, fmt.Errorf("get components: project id %q is not a numeric id", truncate(projectID, 32))
	}
	return c.PagedValues(ctx, EndpointComponents, "/rest/api/3/project/"+projectID+"/component", nil, 50)
}

// UserPageSize is the page asked of users/search.
const UserPageSize = 1000

// Users lists every account of the site: active, inactive and deleted
// ones, people, apps and service desk customers. users/search answers with
// a bare array and may return fewer than asked while more follow (it drops
// the accounts the caller may not see from each page), so only an empty
// page ends the listing.
func (c *Client) Users(ctx context.Context) ([]json.RawMessage, error) {
	var out []json.RawMessage
	start := 0
	for range maxObjectPages {
		q := url.Values{"startAt": {strconv.Itoa(start)}, "maxResults": {strconv.Itoa(UserPageSize)}}
		var page []json.RawMessage
		if _, err := c.getJSON(ctx, EndpointUsers, c.siteURL("/rest/api/3/users/search", q), &page); err != nil {
			return nil, fmt.Errorf("get users at %d: %w", start, err)
		}
		if len(page) == 0 {
			return out, nil
		}
		out = append(out, page...)
		// startAt counts the accounts Jira ranged over, seen or not.
		start += UserPageSize
	}
	return nil, fmt.Errorf("get users: %w (%d)", ErrTooManyPages, maxObjectPages)
}

// UserBulkSize is how many account ids one user/bulk call asks for: the
// ids go in the query string, which stays well under URL limits at 100.
const UserBulkSize = 100

// UsersByID looks accounts up by id, UserBulkSize a call. Ids Jira does not
// know are left out of the answer.
func (c *Client) UsersByID(ctx context.Context, accountIDs []string) ([]json.RawMessage, error) {
	var out []json.RawMessage
	for i := 0; i < len(accountIDs); i += UserBulkSize {
		batch := accountIDs[i:min(i+UserBulkSize, len(accountIDs))]
		q := url.Values{"accountId": batch}
		values, err := c.PagedValues(ctx, EndpointUserBulk, "/rest/api/3/user/bulk", q, UserBulkSize)
		if err != nil {
			return nil, fmt.Errorf("look up %d accounts (%s...): %w", len(batch), truncate(strings.Join(batch[:min(3, len(batch))], ","), 120), err)
		}
		out = append(out, values...)
	}
	return out, nil
}

// Statuses lists every workflow status, with its category and, for a
// team-managed project's status, its scope.
func (c *Client) Statuses(ctx context.Context) ([]json.RawMessage, error) {
	return c.ListValues(ctx, EndpointStatuses, "/rest/api/3/status", nil, "")
}

// Priorities lists every priority.
func (c *Client) Priorities(ctx context.Context) ([]json.RawMessage, error) {
	return c.PagedValues(ctx, EndpointPriorities, "/rest/api/3/priority/search", nil, 100)
}

// IssueTypes lists every issue type, with its scope for a team-managed
// project's type.
func (c *Client) IssueTypes(ctx context.Context) ([]json.RawMessage, error) {
	return c.ListValues(ctx, EndpointIssueTypes, "/rest/api/3/issuetype", nil, "")
}

// Resolutions lists every resolution.
func (c *Client) Resolutions(ctx context.Context) ([]json.RawMessage, error) {
	return c.PagedValues(ctx, EndpointResolutions, "/rest/api/3/resolution/search", nil, 100)
}

// IssueLinkTypes lists every issue link type.
func (c *Client) IssueLinkTypes(ctx context.Context) ([]json.RawMessage, error) {
	return c.ListValues(ctx, EndpointIssueLinkTypes, "/rest/api/3/issueLinkType", nil, "issueLinkTypes")
}

// FieldList lists every system and custom field as Jira sent them.
func (c *Client) FieldList(ctx context.Context) ([]json.RawMessage, error) {
	return c.ListValues(ctx, EndpointFields, "/rest/api/3/field", nil, "")
}

// numericID reports whether s is a Jira numeric id (digits, no leading
// zero, at most 19): what goes into a path is checked first.
func numericID(s string) bool {
	if s == "" || len(s) > 19 || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
