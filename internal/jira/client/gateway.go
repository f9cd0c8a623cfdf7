package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/jiraduck/jiraduck/internal/jira"
)

// CloudID returns the site id used on the cloud gateway: the configured one,
// else the one {BaseURL}/_edge/tenant_info answers, looked up once.
func (c *Client) CloudID(ctx context.Context) (string, error) {
	c.cloudMu.Lock()
	defer c.cloudMu.Unlock()
	if c.cloudID != "" {
		return c.cloudID, nil
	}
	var info struct {
		CloudID string `json:"cloudId"`
	}
	// tenant_info is public: no credentials are sent.
	r := &request{method: http.MethodGet, endpoint: EndpointTenantInfo, url: c.siteURL("/_edge/tenant_info", nil)}
	if _, err := c.doJSON(ctx, r, &info); err != nil {
		return "", fmt.Errorf("look up cloud id: %w", err)
	}
	if !validCloudID(info.CloudID) {
		return "", fmt.Errorf("look up cloud id: tenant info gave %q", truncate(info.CloudID, 64))
	}
	c.cloudID = info.CloudID
	return c.cloudID, nil
}

// gatewayURL builds {CloudAPIURL}/ex/jira/{cloudId}{path}.
func (c *Client) gatewayURL(ctx context.Context, path string, q url.Values) (string, error) {
	id, err := c.CloudID(ctx)
	if err != nil {
		return "", err
	}
	// validCloudID admits no character that needs escaping.
	return buildURL(c.gateway, "/ex/jira/"+id+path, q), nil
}

// SLAFields fetches the given fields of one issue, meant for SLA fields: through
// the SLA account on the cloud gateway when one is configured, else through the
// main account on the site. It returns each field Jira sent, null values
// included, keyed by field id.
func (c *Client) SLAFields(ctx context.Context, keyOrID string, fieldIDs []string) (map[string]json.RawMessage, error) {
	if err := checkKeyOrID(keyOrID); err != nil {
		return nil, fmt.Errorf("get sla fields: %w", err)
	}
	if len(fieldIDs) == 0 {
		return map[string]json.RawMessage{}, nil
	}
	q := url.Values{"fields": {strings.Join(fieldIDs, ",")}}
	r := &request{method: http.MethodGet, endpoint: EndpointSLA, auth: &c.main}
	if c.sla != nil {
		u, err := c.gatewayURL(ctx, issuePath(keyOrID, ""), q)
		if err != nil {
			return nil, fmt.Errorf("get sla fields of %s: %w", keyOrID, err)
		}
		r.url, r.auth = u, c.sla
	} else {
		r.url = c.siteURL(issuePath(keyOrID, ""), q)
	}
	var issue struct {
		Fields map[string]json.RawMessage `json:"fields"`
	}
	if _, err := c.doJSON(ctx, r, &issue); err != nil {
		return nil, fmt.Errorf("get sla fields of %s: %w", keyOrID, err)
	}
	out := make(map[string]json.RawMessage, len(fieldIDs))
	for _, id := range fieldIDs {
		if v, ok := issue.Fields[id]; ok {
			out[id] = v
		}
	}
	return out, nil
}

// BulkFetchSLA fetches the given fields of up to jira.MaxBulkFetch issues in one
// call, through the SLA account on the cloud gateway when one is configured,
// else like BulkFetch.
func (c *Client) BulkFetchSLA(ctx context.Context, idsOrKeys, fieldIDs []string) (*jira.BulkFetchResult, error) {
	rawURL, auth := c.siteURL("/rest/api/3/issue/bulkfetch", nil), &c.main
	if c.sla != nil {
		u, err := c.gatewayURL(ctx, "/rest/api/3/issue/bulkfetch", nil)
		if err != nil {
			return nil, fmt.Errorf("bulk fetch sla fields: %w", err)
		}
		rawURL, auth = u, c.sla
	}
	r, err := c.bulkRequest(rawURL, EndpointSLABulk, auth, idsOrKeys, fieldIDs, nil)
	if err != nil {
		return nil, fmt.Errorf("bulk fetch sla fields: %w", err)
	}
	var res jira.BulkFetchResult
	if _, err := c.doJSON(ctx, r, &res); err != nil {
		return nil, fmt.Errorf("bulk fetch sla fields of %d issues: %w", len(idsOrKeys), err)
	}
	return &res, nil
}
