package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// Endpoint labels of the Jira Service Management calls.
const (
	// EndpointServiceDesks labels GET /rest/servicedeskapi/servicedesk.
	EndpointServiceDesks = "servicedesks"
	// EndpointRequestTypes labels GET
	// /rest/servicedeskapi/servicedesk/{id}/requesttype.
	EndpointRequestTypes = "requesttypes"
	// EndpointOrganizations labels GET /rest/servicedeskapi/organization.
	EndpointOrganizations = "organizations"
)

// ServiceDeskPageSize is the page asked of the service desk API.
const ServiceDeskPageSize = 50

// experimental opts into the service desk API's experimental methods.
// Atlassian has marked parts of the organization and request type
// resources experimental over the years; a method that has left that phase
// ignores the header, so every call carries it.
var experimental = http.Header{"X-Experimentalapi": {"opt-in"}}

// ServiceDesks lists every service desk of the site, as Jira sent each one.
// A site without Jira Service Management answers 403 or 404.
func (c *Client) ServiceDesks(ctx context.Context) ([]json.RawMessage, error) {
	out, err := c.serviceDeskList(ctx, EndpointServiceDesks, "/rest/servicedeskapi/servicedesk")
	if err != nil {
		return out, fmt.Errorf("list service desks: %w", err)
	}
	return out, nil
}

// RequestTypes lists the request types of a service desk.
func (c *Client) RequestTypes(ctx context.Context, serviceDeskID string) ([]json.RawMessage, error) {
	if !validNumericID(serviceDeskID) {
		return nil, fmt.Errorf("list request types: service desk id %q is not a number", truncate(serviceDeskID, 32))
	}
	out, err := c.serviceDeskList(ctx, EndpointRequestTypes, "/rest/servicedeskapi/servicedesk/"+serviceDeskID+"/requesttype")
	if err != nil {
		return out, fmt.Errorf("list request types of service desk %s: %w", serviceDeskID, err)
	}
	return out, nil
}

// Organizations lists every customer organization of the site.
func (c *Client) Organizations(ctx context.Context) ([]json.RawMessage, error) {
	out, err := c.serviceDeskList(ctx, EndpointOrganizations, "/rest/servicedeskapi/organization")
	if err != nil {
		return out, fmt.Errorf("list organizations: %w", err)
	}
	return out, nil
}

// serviceDeskPage is one page of a list of the service desk API.
type serviceDeskPage struct {
	Start      *int              `json:"start"`
	IsLastPage bool              `json:"isLastPage"`
	Values     []json.RawMessage `json:"values"`
}

// serviceDeskList reads every page of a list of the service desk API, paged
// with start and limit, until isLastPage.
func (c *Client) serviceDeskList(ctx context.Context, endpoint, path string) ([]json.RawMessage, error) {
	var out []json.RawMessage
	start := 0
	for pages := 0; ; pages++ {
		if pages >= maxListPages {
			return out, fmt.Errorf("more than %d pages at %d a page", maxListPages, ServiceDeskPageSize)
		}
		q := url.Values{"start": {strconv.Itoa(start)}, "limit": {strconv.Itoa(ServiceDeskPageSize)}}
		var p serviceDeskPage
		r := &request{method: http.MethodGet, endpoint: endpoint, url: c.siteURL(path, q), auth: &c.main, header: experimental}
		if _, err := c.doJSON(ctx, r, &p); err != nil {
			return out, fmt.Errorf("page at %d: %w", start, err)
		}
		if p.Start != nil && *p.Start != start {
			return out, fmt.Errorf("page at %d: %w: the answer starts at %d", start, ErrPagingIgnored, *p.Start)
		}
		out = append(out, p.Values...)
		start += len(p.Values)
		if p.IsLastPage || len(p.Values) == 0 {
			return out, nil
		}
	}
}
