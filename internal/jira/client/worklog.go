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

// Endpoint labels of the worklog calls.
const (
	// EndpointWorklogs labels GET /rest/api/3/issue/{id}/worklog.
	EndpointWorklogs = "worklogs"
	// EndpointWorklogUpdated labels GET /rest/api/3/worklog/updated.
	EndpointWorklogUpdated = "worklog_updated"
	// EndpointWorklogDeleted labels GET /rest/api/3/worklog/deleted.
	EndpointWorklogDeleted = "worklog_deleted"
	// EndpointWorklogList labels POST /rest/api/3/worklog/list.
	EndpointWorklogList = "worklog_list"
)

// WorklogPageSize is the page asked of the issue worklog endpoint. Jira
// serves up to 5000 a page there; an issue past the 20 it embeds then costs
// one more call in nearly every case.
const WorklogPageSize = 1000

// maxChangePages bounds one pass over the worklog updated or deleted list
// (a million changes at 1000 a page).
const maxChangePages = 1000

// Worklogs fetches one page of an issue's worklogs, oldest first. maxResults
// is capped at WorklogPageSize.
func (c *Client) Worklogs(ctx context.Context, keyOrID string, startAt, maxResults int) (*jira.WorklogPage, error) {
	var page jira.WorklogPage
	if _, err := c.worklogPage(ctx, keyOrID, startAt, maxResults, &page); err != nil {
		return nil, err
	}
	return &page, nil
}

func (c *Client) worklogPage(ctx context.Context, keyOrID string, startAt, maxResults int, out any) (json.RawMessage, error) {
	if err := checkKeyOrID(keyOrID); err != nil {
		return nil, fmt.Errorf("get worklogs: %w", err)
	}
	if maxResults <= 0 || maxResults > WorklogPageSize {
		maxResults = WorklogPageSize
	}
	q := url.Values{"startAt": {strconv.Itoa(max(startAt, 0))}, "maxResults": {strconv.Itoa(maxResults)}}
	raw, err := c.getJSON(ctx, EndpointWorklogs, c.siteURL(issuePath(keyOrID, "/worklog"), q), out)
	if err != nil {
		return nil, fmt.Errorf("get worklogs of %s at %d: %w", keyOrID, startAt, err)
	}
	return raw, nil
}

// AllWorklogs returns every worklog of an issue, oldest first, with how
// complete the list is and why not. embedded is the issue's fields.worklog as
// Jira sent it (GET issue, or a bulk fetch that asked for the worklog
// field): when it holds every worklog no request is made; else the worklog
// endpoint is paged from the start. A failure is never an error: it leaves
// the list partial (some pages read) or unknown (none), which the store
// reads as "add" and "keep".
func (c *Client) AllWorklogs(ctx context.Context, keyOrID string, embedded json.RawMessage) ([]json.RawMessage, jira.State, string) {
	return c.collect(ctx, embedded, "worklogs", func(ctx context.Context, startAt int) (collectPage, error) {
		var p struct {
			Total    int               `json:"total"`
			Worklogs []json.RawMessage `json:"worklogs"`
		}
		_, err := c.worklogPage(ctx, keyOrID, startAt, WorklogPageSize, &p)
		return collectPage{items: p.Worklogs, total: p.Total}, err
	})
}

// WorklogsUpdated lists the worklogs created or changed since the given time
// (epoch milliseconds), calling fn with each page, oldest first. It returns
// where the next pass starts: the until of the last page. Jira leaves out
// the changes of the last minute, which the next pass reads.
func (c *Client) WorklogsUpdated(ctx context.Context, since int64, fn func(*jira.WorklogChangePage) error) (int64, error) {
	return c.worklogChanges(ctx, "/rest/api/3/worklog/updated", EndpointWorklogUpdated, since, fn)
}

// WorklogsDeleted lists the worklogs deleted since the given time, like
// WorklogsUpdated.
func (c *Client) WorklogsDeleted(ctx context.Context, since int64, fn func(*jira.WorklogChangePage) error) (int64, error) {
	return c.worklogChanges(ctx, "/rest/api/3/worklog/deleted", EndpointWorklogDeleted, since, fn)
}

// ErrChangeLoop means a worklog change list did not move forward.
var ErrChangeLoop = errors.New("the change list does not move forward")

// worklogChanges pages one of the change lists. Each next page is asked with
// since set to the previous page's until (what Jira's nextPage URL says), so
// the client never follows a URL the server wrote.
func (c *Client) worklogChanges(ctx context.Context, path, endpoint string, since int64, fn func(*jira.WorklogChangePage) error) (int64, error) {
	if since < 0 {
		since = 0
	}
	for pages := 0; ; pages++ {
		if pages >= maxChangePages {
			return since, fmt.Errorf("get %s since %d: more than %d pages", endpoint, since, maxChangePages)
		}
		var p jira.WorklogChangePage
		if _, err := c.getJSON(ctx, endpoint, c.siteURL(path, url.Values{"since": {strconv.FormatInt(since, 10)}}), &p); err != nil {
			return since, fmt.Errorf("get %s since %d: %w", endpoint, since, err)
		}
		if !p.LastPage && len(p.Values) > 0 && p.Until <= since {
			// A server that ignores since would be asked the same page for ever.
			return since, fmt.Errorf("get %s since %d: %w: the page ends at %d", endpoint, since, ErrChangeLoop, p.Until)
		}
		if err := fn(&p); err != nil {
			return since, err
		}
		since = max(since, p.Until)
		if p.LastPage || len(p.Values) == 0 {
			return since, nil
		}
	}
}

// WorklogList fetches worklogs by id, up to jira.MaxWorklogList a call; a
// worklog Jira no longer has, or the account may not see, is left out.
func (c *Client) WorklogList(ctx context.Context, ids []string) ([]jira.Worklog, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if len(ids) > jira.MaxWorklogList {
		return nil, fmt.Errorf("list worklogs: %d ids, at most %d per call", len(ids), jira.MaxWorklogList)
	}
	nums := make([]int64, 0, len(ids))
	for _, id := range ids {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("list worklogs: worklog id %q is not a positive number", id)
		}
		nums = append(nums, n)
	}
	body, err := json.Marshal(struct {
		IDs []int64 `json:"ids"`
	}{nums})
	if err != nil {
		return nil, err
	}
	var out []jira.Worklog
	r := &request{method: http.MethodPost, endpoint: EndpointWorklogList, url: c.siteURL("/rest/api/3/worklog/list", nil), body: body, auth: &c.main}
	if _, err := c.doJSON(ctx, r, &out); err != nil {
		return nil, fmt.Errorf("list %d worklogs: %w", len(ids), err)
	}
	return out, nil
}
