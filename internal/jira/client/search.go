package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/jiraduck/jiraduck/internal/jira"
)

// ErrSearchLoop ends SearchAll when Jira's paging stops making progress.
var ErrSearchLoop = errors.New("search paging does not progress")

// SearchJQL fetches one page of a JQL search.
func (c *Client) SearchJQL(ctx context.Context, req jira.SearchRequest) (*jira.SearchPage, error) {
	if len(req.ReconcileIssues) > jira.MaxReconcileIssues {
		return nil, fmt.Errorf("search: %d reconcile issues, at most %d", len(req.ReconcileIssues), jira.MaxReconcileIssues)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	var page jira.SearchPage
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
func (c *Client) SearchAll(ctx context.Context, req jira.SearchRequest, fn func(jira.SearchIssue) error) error {
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

// BulkFetch fetches up to jira.MaxBulkFetch issues with the given fields in one
// call.
func (c *Client) BulkFetch(ctx context.Context, idsOrKeys, fields []string) (*jira.BulkFetchResult, error) {
	r, err := c.bulkRequest(c.siteURL("/rest/api/3/issue/bulkfetch", nil), EndpointBulkFetch, &c.main, idsOrKeys, fields, nil)
	if err != nil {
		return nil, fmt.Errorf("bulk fetch: %w", err)
	}
	var res jira.BulkFetchResult
	if _, err := c.doJSON(ctx, r, &res); err != nil {
		return nil, fmt.Errorf("bulk fetch of %d issues: %w", len(idsOrKeys), err)
	}
	return &res, nil
}

func (c *Client) bulkRequest(rawURL, endpoint string, auth *credential, idsOrKeys, fields, expand []string) (*request, error) {
	if len(idsOrKeys) == 0 {
		return nil, errors.New("no issues given")
	}
	if len(idsOrKeys) > jira.MaxBulkFetch {
		return nil, fmt.Errorf("%d issues, at most %d per call", len(idsOrKeys), jira.MaxBulkFetch)
	}
	for _, k := range idsOrKeys {
		if err := checkKeyOrID(k); err != nil {
			return nil, err
		}
	}
	body, err := json.Marshal(jira.BulkFetchRequest{IssueIDsOrKeys: idsOrKeys, Fields: fields, Expand: expand})
	if err != nil {
		return nil, err
	}
	return &request{method: http.MethodPost, endpoint: endpoint, url: rawURL, body: body, auth: auth}, nil
}
