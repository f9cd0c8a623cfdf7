package dimensions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jiraduck/jiraduck/internal/jira"
	"github.com/jiraduck/jiraduck/internal/jira/client"
	"github.com/jiraduck/jiraduck/internal/jsonx"
)

// softwareSources lists Jira Software's boards and sprints.
func softwareSources() []Source {
	return []Source{boardsSource(), sprintsSource()}
}

func boardsSource() Source {
	return Source{
		Table: "boards",
		Columns: []Column{
			{"id", "VARCHAR"}, {"name", "VARCHAR"}, {"type", "VARCHAR"},
			{"project_id", "VARCHAR"}, {"project_key", "VARCHAR"},
		},
		Key:     []string{"id"},
		Product: Software,
		Events:  []string{"board_created", "board_updated", "board_deleted", "board_configuration_changed"},
		Fetch: func(ctx context.Context, c *client.Client) ([]Object, error) {
			raw, err := c.Boards(ctx)
			if err != nil {
				return nil, err
			}
			return productObjects("board", raw, func(b jira.Board) jira.ID { return b.ID })
		},
		Row: func(o Object) ([]any, error) {
			var b jira.Board
			if err := decodeProductObject("board", o, &b); err != nil {
				return nil, err
			}
			row := []any{string(b.ID), productText(b.Name), productText(b.Type), nil, nil}
			if l := b.Location; l != nil {
				row[3], row[4] = productText(string(l.ProjectID)), productText(l.ProjectKey)
			}
			return row, nil
		},
	}
}

func sprintsSource() Source {
	return Source{
		Table: "sprints",
		Columns: []Column{
			{"id", "VARCHAR"}, {"board_id", "VARCHAR"}, {"name", "VARCHAR"}, {"state", "VARCHAR"},
			{"start_at", "TIMESTAMPTZ"}, {"end_at", "TIMESTAMPTZ"}, {"complete_at", "TIMESTAMPTZ"}, {"goal", "VARCHAR"},
		},
		Key:     []string{"id"},
		Product: Software,
		Events:  []string{"sprint_created", "sprint_updated", "sprint_started", "sprint_closed", "sprint_deleted"},
		Fetch:   fetchSprints,
		// Jira lists sprints only through their board: the sprints of a
		// deleted board stay on their issues, and are looked up by id, so
		// that every sprint of issue_sprints is in sprints.
		References: []string{"issue_sprints.sprint_id"},
		Resolve:    resolveSprints,
		Row: func(o Object) ([]any, error) {
			var s jira.Sprint
			if err := decodeProductObject("sprint", o, &s); err != nil {
				return nil, err
			}
			return []any{string(s.ID), productText(string(s.Board())), productText(s.Name), productText(s.State),
				productTime(s.StartDate), productTime(s.EndDate), productTime(s.CompleteDate), productText(s.Goal)}, nil
		},
	}
}

// fetchSprints lists the sprints of every board that can have them. Kanban
// boards have none and are not asked; a board that answers that it
// supports no sprints (a team-managed board with sprints off) or that the
// account may not see its sprints (403, 404: the board's filter reaches a
// project the account cannot browse) is left out, as Jira leaves those
// sprints out of what the account sees. A sprint shared by several boards
// is one row, as Jira gives it.
func fetchSprints(ctx context.Context, c *client.Client) ([]Object, error) {
	raw, err := c.Boards(ctx)
	if err != nil {
		return nil, err
	}
	boards, err := productObjects("board", raw, func(b jira.Board) jira.ID { return b.ID })
	if err != nil {
		return nil, err
	}
	var out []Object
	seen := map[string]bool{}
	for _, bo := range boards {
		var b jira.Board
		if err := jsonx.Unmarshal(bo.Payload, &b); err != nil {
			return nil, fmt.Errorf("decode board %s: %w", bo.ID, err)
		}
		if b.Type == "kanban" {
			continue
		}
		list, err := c.Sprints(ctx, bo.ID)
		switch {
		case errors.Is(err, client.ErrNoSprints), errors.Is(err, jira.ErrForbidden), errors.Is(err, jira.ErrNotFound):
			continue
		case err != nil:
			return nil, err
		}
		sprints, err := productObjects("sprint", list, func(s jira.Sprint) jira.ID { return s.ID })
		if err != nil {
			return nil, err
		}
		for _, s := range sprints {
			if seen[s.ID] {
				continue
			}
			seen[s.ID] = true
			if s.Payload, err = withBoard(s.Payload, bo.ID); err != nil {
				return nil, fmt.Errorf("sprint %s of board %s: %w", s.ID, bo.ID, err)
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// resolveSprints fetches the sprints of the given ids one by one; those
// Jira does not know, or the account may not see, are left out.
func resolveSprints(ctx context.Context, c *client.Client, ids []string) ([]Object, error) {
	var out []Object
	for _, id := range ids {
		// A sprint field read from text (Jira Server's form) can hold
		// what is no sprint id: nothing to look up.
		if _, err := strconv.ParseUint(id, 10, 63); err != nil {
			continue
		}
		raw, err := c.Sprint(ctx, id)
		switch {
		case errors.Is(err, jira.ErrNotFound), errors.Is(err, jira.ErrForbidden):
			continue
		case err != nil:
			return nil, err
		}
		objs, err := productObjects("sprint", []json.RawMessage{raw}, func(s jira.Sprint) jira.ID { return s.ID })
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

// withBoard adds originBoardId to a sprint that lacks it (Jira's documented
// example of a future sprint has none): the stored payload then says which
// board listed it.
func withBoard(p json.RawMessage, board string) (json.RawMessage, error) {
	var s jira.Sprint
	if err := jsonx.Unmarshal(p, &s); err != nil {
		return nil, err
	}
	if s.Board() != "" {
		return p, nil
	}
	return withMember(p, "originBoardId", board)
}

// productObjects pairs each payload of a list with its id. A payload without an id
// cannot be stored under one: the list is refused, naming it, rather than a
// row quietly lost.
func productObjects[T any](what string, raw []json.RawMessage, id func(T) jira.ID) ([]Object, error) {
	out := make([]Object, 0, len(raw))
	for i, p := range raw {
		var v T
		if err := jsonx.Unmarshal(p, &v); err != nil {
			return nil, fmt.Errorf("decode %s %d of the list: %w", what, i, err)
		}
		key := string(id(v))
		if key == "" {
			return nil, fmt.Errorf("%s %d of the list has no id: %.200s", what, i, p)
		}
		out = append(out, Object{ID: key, Payload: p})
	}
	return out, nil
}

// decodeProductObject decodes a stored object, naming it in the error.
func decodeProductObject(what string, o Object, v any) error {
	if err := jsonx.Unmarshal(o.Payload, v); err != nil {
		return fmt.Errorf("decode %s %s: %w", what, o.ID, err)
	}
	return nil
}

// productText is a string column: NULL when Jira sent nothing.
func productText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// productTime is a TIMESTAMPTZ column in UTC: NULL when Jira sent none.
func productTime(t jira.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Truncate(time.Microsecond)
}
