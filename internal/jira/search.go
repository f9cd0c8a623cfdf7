package jira

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/jiraduck/jiraduck/internal/jsonx"
)

// MaxReconcileIssues is how many ids SearchRequest.ReconcileIssues may hold.
const MaxReconcileIssues = 50

// MaxBulkFetch is how many issues one bulk fetch may ask for.
const MaxBulkFetch = 100

// ErrSearchLoop ends SearchAll when Jira's paging stops making progress.
var ErrSearchLoop = errors.New("search paging does not progress")

// SearchRequest is the body of POST /rest/api/3/search/jql. Jira reads date
// literals in JQL in the API user's time zone: use epoch milliseconds.
type SearchRequest struct {
	JQL string `json:"jql"`
	// Fields defaults to "id" only on Jira's side.
	Fields        []string `json:"fields,omitempty"`
	MaxResults    int      `json:"maxResults,omitempty"`
	NextPageToken string   `json:"nextPageToken,omitempty"`
	Expand        string   `json:"expand,omitempty"`
	// ReconcileIssues lists up to 50 issue ids that must be read consistently
	// (search is eventually consistent otherwise).
	ReconcileIssues []int64 `json:"reconcileIssues,omitempty"`
}

// SearchPage is a page of search results. There is no total; NextPageToken is
// absent on the last page.
type SearchPage struct {
	Issues        []SearchIssue `json:"issues"`
	NextPageToken string        `json:"nextPageToken,omitempty"`
	IsLast        bool          `json:"isLast"`
}

// SearchIssue is one search hit: its fields raw, with updated and created
// decoded when they were asked for.
type SearchIssue struct {
	ID      ID              `json:"id"`
	Key     string          `json:"key"`
	Self    string          `json:"self,omitempty"`
	Fields  json.RawMessage `json:"fields,omitempty"`
	Updated Time            `json:"-"`
	Created Time            `json:"-"`
}

type searchIssueFields SearchIssue

// UnmarshalJSON implements json.Unmarshaler.
func (s *SearchIssue) UnmarshalJSON(b []byte) error {
	var v searchIssueFields
	if err := jsonx.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("decode search issue: %w", err)
	}
	*s = SearchIssue(v)
	if !isNull(s.Fields) {
		var times struct {
			Updated Time `json:"updated"`
			Created Time `json:"created"`
		}
		if err := jsonx.Unmarshal(s.Fields, &times); err != nil {
			return fmt.Errorf("decode search issue %s: %w", s.Key, err)
		}
		s.Updated, s.Created = times.Updated, times.Created
	}
	return nil
}

// SearchJQL fetches one page of a JQL search.
func (c *Client) SearchJQL(ctx context.Context, req SearchRequest) (*SearchPage, error) {
	if len(req.ReconcileIssues) > MaxReconcileIssues {
		return nil, fmt.Errorf("search: %d reconcile issues, at most %d", len(req.ReconcileIssues), MaxReconcileIssues)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	var page SearchPage
	r := &request{method: http.MethodPost, endpoint: EndpointSearch, url: c.siteURL("/rest/api/3/search/jql", nil), body: body, auth: &c.main}
	if _, err := c.doJSON(ctx, r, &page); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	return &page, nil
}

// SearchAll runs a JQL search to its end, calling fn for every hit in order,
// and stops at fn's first error. A token Jira repeats, an empty page that still
// offers a next page, or more than MaxSearchPages pages end it with
// ErrSearchLoop: paging never loops forever.
func (c *Client) SearchAll(ctx context.Context, req SearchRequest, fn func(SearchIssue) error) error {
	seen := make(map[string]bool)
	if req.NextPageToken != "" {
		seen[req.NextPageToken] = true
	}
	for pages := 1; ; pages++ {
		if pages > c.maxSearchPages {
			return fmt.Errorf("search: %w: more than %d pages", ErrSearchLoop, c.maxSearchPages)
		}
		page, err := c.SearchJQL(ctx, req)
		if err != nil {
			return err
		}
		for _, issue := range page.Issues {
			if err := fn(issue); err != nil {
				return err
			}
		}
		next := page.NextPageToken
		if next == "" || page.IsLast {
			return nil
		}
		if len(page.Issues) == 0 {
			return fmt.Errorf("search: %w: empty page %d with a next page token", ErrSearchLoop, pages)
		}
		if seen[next] {
			return fmt.Errorf("search: %w: page token repeated after page %d", ErrSearchLoop, pages)
		}
		seen[next] = true
		req.NextPageToken = next
	}
}

// BulkFetchRequest is the body of POST /rest/api/3/issue/bulkfetch.
type BulkFetchRequest struct {
	IssueIDsOrKeys []string `json:"issueIdsOrKeys"`
	Fields         []string `json:"fields,omitempty"`
	Expand         []string `json:"expand,omitempty"`
}

// BulkFetchResult is the answer of a bulk fetch. Issues that do not exist or
// may not be seen are simply missing; IssueErrors lists the ones Jira could not
// return for another reason.
type BulkFetchResult struct {
	Issues      []Issue          `json:"issues"`
	IssueErrors []BulkIssueError `json:"issueErrors,omitempty"`
}

// BulkIssueError is an issue a bulk fetch could not return.
type BulkIssueError struct {
	ID           ID     `json:"id"`
	ErrorMessage string `json:"errorMessage"`
}

// BulkFetch fetches up to MaxBulkFetch issues with the given fields in one call.
func (c *Client) BulkFetch(ctx context.Context, idsOrKeys, fields []string) (*BulkFetchResult, error) {
	r, err := c.bulkRequest(c.siteURL("/rest/api/3/issue/bulkfetch", nil), EndpointBulkFetch, &c.main, idsOrKeys, fields)
	if err != nil {
		return nil, fmt.Errorf("bulk fetch: %w", err)
	}
	var res BulkFetchResult
	if _, err := c.doJSON(ctx, r, &res); err != nil {
		return nil, fmt.Errorf("bulk fetch of %d issues: %w", len(idsOrKeys), err)
	}
	return &res, nil
}

func (c *Client) bulkRequest(rawURL, endpoint string, auth *credential, idsOrKeys, fields []string) (*request, error) {
	if len(idsOrKeys) == 0 {
		return nil, errors.New("no issues given")
	}
	if len(idsOrKeys) > MaxBulkFetch {
		return nil, fmt.Errorf("%d issues, at most %d per call", len(idsOrKeys), MaxBulkFetch)
	}
	for _, k := range idsOrKeys {
		if err := checkKeyOrID(k); err != nil {
			return nil, err
		}
	}
	body, err := json.Marshal(BulkFetchRequest{IssueIDsOrKeys: idsOrKeys, Fields: fields})
	if err != nil {
		return nil, err
	}
	return &request{method: http.MethodPost, endpoint: endpoint, url: rawURL, body: body, auth: auth}, nil
}
