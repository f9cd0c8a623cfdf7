package jira

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/jiraduck/jiraduck/internal/jsonx"
)

// SprintFieldType is the schema.custom of Jira Software's sprint field: a
// list of the sprints the issue is or was in.
const SprintFieldType = "com.pyxis.greenhopper.jira:gh-sprint"

// StoryPointsFieldType is the schema.custom of the "Story point estimate"
// field of team-managed projects; company-managed projects use a number
// field named "Story Points".
const StoryPointsFieldType = "com.pyxis.greenhopper.jira:jsw-story-points"

// Board is a Jira Software board, as GET /rest/agile/1.0/board lists it.
type Board struct {
	ID   ID     `json:"id"`
	Name string `json:"name"`
	// Type is scrum, kanban or simple (a team-managed project's board).
	Type string `json:"type"`
	// Location is the project the board belongs to; a board on a user's
	// or a saved filter's location has none.
	Location *BoardLocation `json:"location,omitempty"`
}

// BoardLocation is where a board lives.
type BoardLocation struct {
	ProjectID   ID     `json:"projectId"`
	ProjectKey  string `json:"projectKey"`
	ProjectName string `json:"projectName"`
}

// Sprint is a sprint as a board's sprint list (GET
// /rest/agile/1.0/board/{id}/sprint) or an issue's sprint field gives it.
// The list names the board the sprint was made on originBoardId, the field
// boardId. Dates are RFC 3339 in UTC ("2025-03-12T01:36:46.600Z"); a future
// sprint may have none, completeDate is set once it is closed.
type Sprint struct {
	ID            ID     `json:"id"`
	Name          string `json:"name"`
	State         string `json:"state"`
	StartDate     Time   `json:"startDate"`
	EndDate       Time   `json:"endDate"`
	CompleteDate  Time   `json:"completeDate"`
	OriginBoardID ID     `json:"originBoardId"`
	BoardID       ID     `json:"boardId"`
	Goal          string `json:"goal"`
}

// Board returns the id of the board the sprint was made on.
func (s Sprint) Board() ID {
	if s.OriginBoardID != "" {
		return s.OriginBoardID
	}
	return s.BoardID
}

// legacySprint is the text form of a sprint that Jira Server and old REST
// v2 payloads carry in the sprint field:
// com.atlassian.greenhopper.service.sprint.Sprint@1a2b[id=24,rapidViewId=7,state=CLOSED,name=Sprint 24,...].
var legacySprint = regexp.MustCompile(`\[(.*)\]\s*$`)

// DecodeSprintField reads the value of an issue's sprint field: a list of
// sprint objects (Jira Cloud), of legacy sprint strings, or null. Entries
// without an id are left out.
func DecodeSprintField(raw json.RawMessage) ([]Sprint, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	var items []json.RawMessage
	if err := jsonx.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("decode sprint field: %w", err)
	}
	var out []Sprint
	for _, it := range items {
		it = bytes.TrimSpace(it)
		var s Sprint
		switch {
		case len(it) == 0 || bytes.Equal(it, []byte("null")):
			continue
		case it[0] == '"':
			var text string
			if err := jsonx.Unmarshal(it, &text); err != nil {
				return nil, fmt.Errorf("decode sprint field: %w", err)
			}
			s = parseLegacySprint(text)
		default:
			if err := jsonx.Unmarshal(it, &s); err != nil {
				return nil, fmt.Errorf("decode sprint field: %w", err)
			}
		}
		if s.ID != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

// parseLegacySprint reads id, rapidViewId, state, name and goal of the text
// form. The name may hold commas, so the attributes are split at the
// known keys only.
func parseLegacySprint(text string) Sprint {
	m := legacySprint.FindStringSubmatch(text)
	if m == nil {
		return Sprint{}
	}
	attrs := map[string]string{}
	body := m[1]
	keys := []string{"id", "rapidViewId", "state", "name", "goal", "startDate", "endDate", "completeDate", "activatedDate", "sequence", "synced", "autoStartStop", "incompleteIssuesDestinationId"}
	// Walk "k=v,k=v": a comma starts a new attribute only when a known key
	// and "=" follow it.
	start := 0
	for start < len(body) {
		eq := strings.IndexByte(body[start:], '=')
		if eq < 0 {
			break
		}
		key := body[start : start+eq]
		rest := body[start+eq+1:]
		end := len(rest)
		for i := 0; i < len(rest); i++ {
			if rest[i] != ',' {
				continue
			}
			for _, k := range keys {
				if strings.HasPrefix(rest[i+1:], k+"=") {
					end = i
					break
				}
			}
			if end == i {
				break
			}
		}
		attrs[key] = rest[:end]
		start += eq + 1 + end + 1
	}
	s := Sprint{ID: ID(attrs["id"]), Name: attrs["name"], State: strings.ToLower(attrs["state"]), BoardID: ID(attrs["rapidViewId"])}
	if g := attrs["goal"]; g != "<null>" {
		s.Goal = g
	}
	if !isNumericID(string(s.ID)) {
		s.ID = ""
	}
	return s
}
