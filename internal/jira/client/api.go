package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/jiraduck/jiraduck/internal/jira"
	"github.com/jiraduck/jiraduck/internal/jsonx"
)

// Endpoint labels, as they appear in jira.APIError.Endpoint and Observer calls.
const (
	// EndpointIssue labels GET /rest/api/3/issue/{key}.
	EndpointIssue = "issue"
	// EndpointComments labels GET /rest/api/3/issue/{key}/comment.
	EndpointComments = "comments"
	// EndpointChangelog labels GET /rest/api/3/issue/{key}/changelog.
	EndpointChangelog = "changelog"
	// EndpointRemoteLink labels GET /rest/api/3/issue/{key}/remotelink.
	EndpointRemoteLink = "remotelink"
	// EndpointFields labels GET /rest/api/3/field.
	EndpointFields = "fields"
	// EndpointSearch labels POST /rest/api/3/search/jql.
	EndpointSearch = "search"
	// EndpointBulkFetch labels POST /rest/api/3/issue/bulkfetch.
	EndpointBulkFetch = "bulkfetch"
	// EndpointSLA labels the SLA field read of one issue.
	EndpointSLA = "sla"
	// EndpointSLABulk labels the SLA field read of many issues.
	EndpointSLABulk = "sla_bulkfetch"
	// EndpointTenantInfo labels GET /_edge/tenant_info.
	EndpointTenantInfo = "tenant_info"
	// EndpointAttachment labels attachment downloads.
	EndpointAttachment = "attachment"
)

// MaxPageSize is the largest page the comment and changelog endpoints serve.
const MaxPageSize = 100

// getJSON sends a GET with the main account and decodes the answer into out.
// It returns the raw answer too.
func (c *Client) getJSON(ctx context.Context, endpoint, rawURL string, out any) (json.RawMessage, error) {
	return c.doJSON(ctx, &request{method: http.MethodGet, endpoint: endpoint, url: rawURL, auth: &c.main}, out)
}

func (c *Client) doJSON(ctx context.Context, r *request, out any) (json.RawMessage, error) {
	body, err := c.call(ctx, r)
	if err != nil {
		return nil, err
	}
	if out != nil {
		if err := jsonx.Unmarshal(body, out); err != nil {
			return nil, fmt.Errorf("decode answer: %w", err)
		}
	}
	return body, nil
}

// GetIssue fetches an issue with every field and the embedded changelog. It
// returns the decoded issue and the payload as Jira sent it.
func (c *Client) GetIssue(ctx context.Context, keyOrID string) (*jira.Issue, json.RawMessage, error) {
	var issue jira.Issue
	raw, err := c.getIssue(ctx, keyOrID, &issue)
	if err != nil {
		return nil, nil, err
	}
	return &issue, raw, nil
}

// issueQuery asks for every field and the embedded changelog. Rendered
// fields (HTML) are not asked for: no table is derived from them, and they
// made an issue about half again as large to send and to parse.
var issueQuery = url.Values{"fields": {"*all"}, "expand": {"changelog"}}

// getIssue is GET issue decoded into out (nil: not decoded).
func (c *Client) getIssue(ctx context.Context, keyOrID string, out any) (json.RawMessage, error) {
	if err := checkKeyOrID(keyOrID); err != nil {
		return nil, fmt.Errorf("get issue: %w", err)
	}
	raw, err := c.getJSON(ctx, EndpointIssue, c.siteURL(issuePath(keyOrID, ""), issueQuery), out)
	if err != nil {
		return nil, fmt.Errorf("get issue %s: %w", keyOrID, err)
	}
	return raw, nil
}

// Comments fetches one page of an issue's comments, oldest first. maxResults
// is capped at MaxPageSize.
func (c *Client) Comments(ctx context.Context, keyOrID string, startAt, maxResults int) (*jira.CommentPage, error) {
	var page jira.CommentPage
	if _, err := c.commentPage(ctx, keyOrID, startAt, maxResults, &page); err != nil {
		return nil, err
	}
	return &page, nil
}

func (c *Client) commentPage(ctx context.Context, keyOrID string, startAt, maxResults int, out any) (json.RawMessage, error) {
	if err := checkKeyOrID(keyOrID); err != nil {
		return nil, fmt.Errorf("get comments: %w", err)
	}
	q := pageQuery(startAt, maxResults)
	q.Set("orderBy", "created")
	raw, err := c.getJSON(ctx, EndpointComments, c.siteURL(issuePath(keyOrID, "/comment"), q), out)
	if err != nil {
		return nil, fmt.Errorf("get comments of %s at %d: %w", keyOrID, startAt, err)
	}
	return raw, nil
}

// Changelog fetches one page of an issue's changelog, oldest first. maxResults
// is capped at MaxPageSize.
func (c *Client) Changelog(ctx context.Context, keyOrID string, startAt, maxResults int) (*jira.ChangelogPage, error) {
	var page jira.ChangelogPage
	if _, err := c.changelogPage(ctx, keyOrID, startAt, maxResults, &page); err != nil {
		return nil, err
	}
	return &page, nil
}

func (c *Client) changelogPage(ctx context.Context, keyOrID string, startAt, maxResults int, out any) (json.RawMessage, error) {
	if err := checkKeyOrID(keyOrID); err != nil {
		return nil, fmt.Errorf("get changelog: %w", err)
	}
	raw, err := c.getJSON(ctx, EndpointChangelog, c.siteURL(issuePath(keyOrID, "/changelog"), pageQuery(startAt, maxResults)), out)
	if err != nil {
		return nil, fmt.Errorf("get changelog of %s at %d: %w", keyOrID, startAt, err)
	}
	return raw, nil
}

func pageQuery(startAt, maxResults int) url.Values {
	if startAt < 0 {
		startAt = 0
	}
	if maxResults <= 0 || maxResults > MaxPageSize {
		maxResults = MaxPageSize
	}
	return url.Values{"startAt": {strconv.Itoa(startAt)}, "maxResults": {strconv.Itoa(maxResults)}}
}

// RemoteLinks fetches every remote link of an issue.
func (c *Client) RemoteLinks(ctx context.Context, keyOrID string) ([]jira.RemoteLink, error) {
	var links []jira.RemoteLink
	if _, err := c.remoteLinks(ctx, keyOrID, &links); err != nil {
		return nil, err
	}
	return links, nil
}

func (c *Client) remoteLinks(ctx context.Context, keyOrID string, out any) (json.RawMessage, error) {
	if err := checkKeyOrID(keyOrID); err != nil {
		return nil, fmt.Errorf("get remote links: %w", err)
	}
	raw, err := c.getJSON(ctx, EndpointRemoteLink, c.siteURL(issuePath(keyOrID, "/remotelink"), nil), out)
	if err != nil {
		return nil, fmt.Errorf("get remote links of %s: %w", keyOrID, err)
	}
	return raw, nil
}

// Fields lists every system and custom field of the site.
func (c *Client) Fields(ctx context.Context) ([]jira.Field, error) {
	var fields []jira.Field
	if _, err := c.getJSON(ctx, EndpointFields, c.siteURL("/rest/api/3/field", nil), &fields); err != nil {
		return nil, fmt.Errorf("get fields: %w", err)
	}
	return fields, nil
}
