package jira

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/jiraduck/jiraduck/internal/jsonx"
)

// OrganizationsFieldType is the schema.custom of Jira Service Management's
// Organizations field: the customer organizations a request is shared with.
const OrganizationsFieldType = "com.atlassian.servicedesk:sd-customer-organizations"

// ServiceDesk is a Jira Service Management service project, as GET
// /rest/servicedeskapi/servicedesk lists it.
type ServiceDesk struct {
	ID          ID     `json:"id"`
	ProjectID   ID     `json:"projectId"`
	ProjectKey  string `json:"projectKey"`
	ProjectName string `json:"projectName"`
}

// RequestType is a request type of a service desk, as GET
// /rest/servicedeskapi/servicedesk/{id}/requesttype lists it.
type RequestType struct {
	ID            ID     `json:"id"`
	Name          string `json:"name"`
	Description   string `json:"description"`
	IssueTypeID   ID     `json:"issueTypeId"`
	ServiceDeskID ID     `json:"serviceDeskId"`
	GroupIDs      []ID   `json:"groupIds"`
}

// Organization is a customer organization, as GET
// /rest/servicedeskapi/organization lists it and the Organizations field
// holds it. Created is absent on organizations older than the field.
type Organization struct {
	ID      ID      `json:"id"`
	Name    string  `json:"name"`
	Created *SDDate `json:"created,omitempty"`
}

// SDDate is the date object of the service desk API: iso8601, jira,
// friendly and epochMillis renderings of one instant.
type SDDate struct {
	ISO8601     string `json:"iso8601"`
	EpochMillis *int64 `json:"epochMillis"`
}

// DecodeOrganizationsField reads the value of an issue's Organizations
// field: a list of organizations, or null. Entries without an id are left
// out.
func DecodeOrganizationsField(raw json.RawMessage) ([]Organization, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	var orgs []Organization
	if err := jsonx.Unmarshal(raw, &orgs); err != nil {
		return nil, fmt.Errorf("decode organizations field: %w", err)
	}
	out := orgs[:0]
	for _, o := range orgs {
		if o.ID != "" {
			out = append(out, o)
		}
	}
	return out, nil
}
