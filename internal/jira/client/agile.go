package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/jiraduck/jiraduck/internal/jira"
)

// Endpoint labels of the Jira Software calls.
const (
	// EndpointBoards labels GET /rest/agile/1.0/board.
	EndpointBoards = "boards"
	// EndpointSprints labels GET /rest/agile/1.0/board/{id}/sprint.
	EndpointSprints = "sprints"
	// EndpointSprint labels GET /rest/agile/1.0/sprint/{id}.
	EndpointSprint = "sprint"
)

// AgilePageSize is the page asked of the agile API, the most it serves.
const AgilePageSize = 50

// maxListPages bounds the pages one list of the agile or service desk API
// is read in: 500,000 objects at 50 a page. A server that never says the
// list ended fails the call rather than looping.
const maxListPages = 10000

// ErrPagingIgnored means a list answered a page other than the one asked
// for: reading on would repeat its items, or never end.
var ErrPagingIgnored = errors.New("the server does not page the list")

// ErrNoSprints means a board has no sprints to list: Jira answers 400 "The
// board does not support sprints" for kanban boards, and for boards of
// team-managed projects whose sprints are turned off.
var ErrNoSprints = errors.New("the board does not support sprints")

// Boards lists every board of the site, as Jira sent each one. A site
// without Jira Software answers 403 or 404 (jira.ErrForbidden,
// jira.ErrNotFound).
func (c *Client) Boards(ctx context.Context) ([]json.RawMessage, error) {
	out, err := c.agileList(ctx, EndpointBoards, "/rest/agile/1.0/board")
	if err != nil {
		return out, fmt.Errorf("list boards: %w", err)
	}
	return out, nil
}

// Sprints lists every sprint of a board, as Jira sent each one: closed
// ones first, then the active one, then future ones. ErrNoSprints for a
// board without sprints.
func (c *Client) Sprints(ctx context.Context, boardID string) ([]json.RawMessage, error) {
	if !validNumericID(boardID) {
		return nil, fmt.Errorf("list sprints: board id %q is not a number", truncate(boardID, 32))
	}
	out, err := c.agileList(ctx, EndpointSprints, "/rest/agile/1.0/board/"+boardID+"/sprint")
	var api *jira.APIError
	if errors.As(err, &api) && api.Status == http.StatusBadRequest {
		return nil, fmt.Errorf("list sprints of board %s: %w: %w", boardID, ErrNoSprints, err)
	}
	if err != nil {
		return out, fmt.Errorf("list sprints of board %s: %w", boardID, err)
	}
	return out, nil
}

// Sprint fetches one sprint by id, as Jira sends it: also a sprint no
// board lists any more (its board was deleted). jira.ErrNotFound when Jira
// does not know it or the account may not see it.
func (c *Client) Sprint(ctx context.Context, id string) (json.RawMessage, error) {
	if !validNumericID(id) {
		return nil, fmt.Errorf("get sprint: id %q is not a number", truncate(id, 32))
	}
	body, err := c.getJSON(ctx, EndpointSprint, c.siteURL("/rest/agile/1.0/sprint/"+id, nil), nil)
	if err != nil {
		return nil, fmt.Errorf("get sprint %s: %w", id, err)
	}
	return body, nil
}

// agilePage is one page of a list of the agile API. total is absent from
// some lists (sprints).
type agilePage struct {
	StartAt *int              `json:"startAt"`
	Total   *int              `json:"total"`
	IsLast  bool              `json:"isLast"`
	Values  []json.RawMessage `json:"values"`
}

// agileList reads every page of a list of the agile API, paged with startAt
// and maxResults, until isLast.
func (c *Client) agileList(ctx context.Context, endpoint, path string) ([]json.RawMessage, error) {
	var out []json.RawMessage
	start := 0
	for pages := 0; ; pages++ {
		if pages >= maxListPages {
			return out, fmt.Errorf("more than %d pages at %d a page", maxListPages, AgilePageSize)
		}
		pq := url.Values{"startAt": {strconv.Itoa(start)}, "maxResults": {strconv.Itoa(AgilePageSize)}}
		var p agilePage
		if _, err := c.getJSON(ctx, endpoint, c.siteURL(path, pq), &p); err != nil {
			return out, fmt.Errorf("page at %d: %w", start, err)
		}
		if p.StartAt != nil && *p.StartAt != start {
			return out, fmt.Errorf("page at %d: %w: the answer starts at %d", start, ErrPagingIgnored, *p.StartAt)
		}
		out = append(out, p.Values...)
		start += len(p.Values)
		if p.IsLast || len(p.Values) == 0 || (p.Total != nil && start >= *p.Total) {
			return out, nil
		}
	}
}

// validNumericID accepts the numeric ids of boards, service desks and
// organizations: nothing that could change the shape of a URL path.
func validNumericID(s string) bool {
	if s == "" || len(s) > 19 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
