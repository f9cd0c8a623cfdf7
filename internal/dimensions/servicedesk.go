package dimensions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jiraduck/jiraduck/internal/jira"
	"github.com/jiraduck/jiraduck/internal/jira/client"
)

// serviceDeskSources lists Jira Service Management's service desks, request types and organizations.
func serviceDeskSources() []Source {
	return []Source{serviceDesksSource(), requestTypesSource(), organizationsSource()}
}

// projectEvents are the events of projects: a service project made, renamed
// or removed is a service desk made, renamed or removed, with its request
// types.
var projectEvents = []string{"project_created", "project_updated", "project_deleted"}

func serviceDesksSource() Source {
	return Source{
		Table: "service_desks",
		Columns: []Column{
			{"id", "VARCHAR"}, {"project_id", "VARCHAR"}, {"project_key", "VARCHAR"}, {"project_name", "VARCHAR"},
		},
		Key:     []string{"id"},
		Product: ServiceDesk,
		Events:  projectEvents,
		Fetch: func(ctx context.Context, c *client.Client) ([]Object, error) {
			raw, err := c.ServiceDesks(ctx)
			if err != nil {
				return nil, err
			}
			return productObjects("service desk", raw, func(d jira.ServiceDesk) jira.ID { return d.ID })
		},
		Row: func(o Object) ([]any, error) {
			var d jira.ServiceDesk
			if err := decodeProductObject("service desk", o, &d); err != nil {
				return nil, err
			}
			return []any{string(d.ID), productText(string(d.ProjectID)), productText(d.ProjectKey), productText(d.ProjectName)}, nil
		},
	}
}

func requestTypesSource() Source {
	return Source{
		Table: "request_types",
		Columns: []Column{
			{"id", "VARCHAR"}, {"service_desk_id", "VARCHAR"}, {"name", "VARCHAR"}, {"description", "VARCHAR"},
			{"issue_type_id", "VARCHAR"}, {"group_ids", "VARCHAR[]"},
		},
		Key:     []string{"id"},
		Product: ServiceDesk,
		Events:  projectEvents,
		Fetch:   fetchRequestTypes,
		Row: func(o Object) ([]any, error) {
			var t jira.RequestType
			if err := decodeProductObject("request type", o, &t); err != nil {
				return nil, err
			}
			groups := make([]string, 0, len(t.GroupIDs))
			for _, g := range t.GroupIDs {
				groups = append(groups, string(g))
			}
			return []any{string(t.ID), productText(string(t.ServiceDeskID)), productText(t.Name), productText(t.Description),
				productText(string(t.IssueTypeID)), groups}, nil
		},
	}
}

// fetchRequestTypes lists the request types of every service desk. A desk
// the account may not see the request types of (403, 404: no agent or
// customer access to that project) is left out, as Jira leaves it out of
// what the account sees.
func fetchRequestTypes(ctx context.Context, c *client.Client) ([]Object, error) {
	raw, err := c.ServiceDesks(ctx)
	if err != nil {
		return nil, err
	}
	desks, err := productObjects("service desk", raw, func(d jira.ServiceDesk) jira.ID { return d.ID })
	if err != nil {
		return nil, err
	}
	var out []Object
	seen := map[string]bool{}
	for _, d := range desks {
		list, err := c.RequestTypes(ctx, d.ID)
		switch {
		case errors.Is(err, jira.ErrForbidden), errors.Is(err, jira.ErrNotFound):
			continue
		case err != nil:
			return nil, err
		}
		types, err := productObjects("request type", list, func(t jira.RequestType) jira.ID { return t.ID })
		if err != nil {
			return nil, err
		}
		for _, t := range types {
			if seen[t.ID] {
				continue
			}
			seen[t.ID] = true
			if t.Payload, err = withServiceDesk(t.Payload, d.ID); err != nil {
				return nil, fmt.Errorf("request type %s of service desk %s: %w", t.ID, d.ID, err)
			}
			out = append(out, t)
		}
	}
	return out, nil
}

// withServiceDesk adds serviceDeskId to a request type that lacks it: the
// stored payload must say which desk it was listed under, for rebuild.
// Jira's own payload is kept byte for byte when it says so already.
func withServiceDesk(p json.RawMessage, desk string) (json.RawMessage, error) {
	var t jira.RequestType
	if err := json.Unmarshal(p, &t); err != nil {
		return nil, err
	}
	if t.ServiceDeskID != "" {
		return p, nil
	}
	return withMember(p, "serviceDeskId", desk)
}

// withMember puts a member first in a JSON object that lacks it.
func withMember(p json.RawMessage, key, value string) (json.RawMessage, error) {
	body := bytes.TrimSpace(p)
	if len(body) < 2 || body[0] != '{' {
		return nil, errors.New("not a json object")
	}
	k, _ := json.Marshal(key)
	v, _ := json.Marshal(value)
	rest := strings.TrimSpace(string(body[1:]))
	sep := ","
	if rest == "}" {
		sep = ""
	}
	return json.RawMessage("{" + string(k) + ":" + string(v) + sep + rest), nil
}

func organizationsSource() Source {
	return Source{
		Table:   "organizations",
		Columns: []Column{{"id", "VARCHAR"}, {"name", "VARCHAR"}, {"created_at", "TIMESTAMPTZ"}},
		Key:     []string{"id"},
		Product: ServiceDesk,
		// Jira sends no webhook for organizations: the scheduled refresh
		// keeps them.
		Fetch: func(ctx context.Context, c *client.Client) ([]Object, error) {
			raw, err := c.Organizations(ctx)
			if err != nil {
				return nil, err
			}
			return productObjects("organization", raw, func(o jira.Organization) jira.ID { return o.ID })
		},
		Row: func(o Object) ([]any, error) {
			var org jira.Organization
			if err := decodeProductObject("organization", o, &org); err != nil {
				return nil, err
			}
			created, err := organizationCreated(org.Created)
			if err != nil {
				return nil, fmt.Errorf("organization %s: %w", o.ID, err)
			}
			return []any{string(org.ID), productText(org.Name), created}, nil
		},
	}
}

// organizationCreated reads the created date object of an organization:
// its iso8601 member (the service desk API writes "+0700", without a colon,
// and no milliseconds), else epochMillis. Organizations older than the date
// have none: NULL.
func organizationCreated(d *jira.SDDate) (any, error) {
	switch {
	case d == nil:
		return nil, nil
	case d.ISO8601 != "":
		t, err := jira.ParseTime(d.ISO8601)
		if err != nil {
			return nil, fmt.Errorf("created: %w", err)
		}
		return t, nil
	case d.EpochMillis != nil:
		return time.UnixMilli(*d.EpochMillis).UTC(), nil
	}
	return nil, nil
}
