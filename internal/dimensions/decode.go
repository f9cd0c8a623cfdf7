package dimensions

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jiraduck/jiraduck/internal/jira"
	"github.com/jiraduck/jiraduck/internal/jsonx"
)

// keyed is what every object Jira lists has: its id (a string, or a number
// in a few payloads).
type keyed struct {
	ID jira.ID `json:"id"`
}

// byID makes objects of payloads, each identified by its "id". A payload
// without one is refused: a table keyed by id cannot hold it, and dropping
// it silently would lose a row.
func byID(table string, raws []json.RawMessage) ([]Object, error) {
	return objectsBy(table, raws, func(raw json.RawMessage) (string, error) {
		var k keyed
		if err := jsonx.Unmarshal(raw, &k); err != nil {
			return "", err
		}
		return string(k.ID), nil
	})
}

// objectsBy makes objects of payloads with the id idOf reads from each;
// an object listed twice (a page boundary moved while paging) is kept once,
// the later copy winning.
func objectsBy(table string, raws []json.RawMessage, idOf func(json.RawMessage) (string, error)) ([]Object, error) {
	out := make([]Object, 0, len(raws))
	at := make(map[string]int, len(raws))
	for i, raw := range raws {
		id, err := idOf(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: object %d: %w", table, i, err)
		}
		if id == "" {
			return nil, fmt.Errorf("%s: object %d has no id: %.120s", table, i, raw)
		}
		o := Object{ID: id, Payload: raw}
		if j, dup := at[id]; dup {
			out[j] = o
			continue
		}
		at[id] = len(out)
		out = append(out, o)
	}
	return out, nil
}

// decode reads an object's payload into v, naming the table and object on
// failure.
func decode(table string, o Object, v any) error {
	if err := jsonx.Unmarshal(o.Payload, v); err != nil {
		return fmt.Errorf("%s %s: %w", table, o.ID, err)
	}
	return nil
}

// text is a string column: NULL when Jira sent none.
func text(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

// textOrNull is a string column whose empty value means none (Jira writes
// "" for a missing description).
func textOrNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func boolean(b *bool) any {
	if b == nil {
		return nil
	}
	return *b
}

func integer(n *int64) any {
	if n == nil {
		return nil
	}
	return *n
}

// idText is an id column: NULL when absent.
func idText(id jira.ID) any {
	if id == "" {
		return nil
	}
	return string(id)
}

// date reads a calendar date ("2024-03-31") for a DATE column; a value Jira
// writes in another form fails the row rather than being guessed at.
func date(table, column string, s *string) (any, error) {
	if s == nil || strings.TrimSpace(*s) == "" {
		return nil, nil
	}
	t, err := time.Parse(time.DateOnly, strings.TrimSpace(*s))
	if err != nil {
		return nil, fmt.Errorf("%s: %s %q is not a date (YYYY-MM-DD)", table, column, *s)
	}
	return t, nil
}

// timestamp reads a Jira timestamp (2024-03-31T12:00:00.000+0200) for a
// TIMESTAMPTZ column.
func timestamp(table, column string, s *string) (any, error) {
	if s == nil || strings.TrimSpace(*s) == "" {
		return nil, nil
	}
	t, err := jira.ParseTime(strings.TrimSpace(*s))
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", table, column, err)
	}
	return t.UTC(), nil
}

// account is the part of a user object other objects embed.
type account struct {
	AccountID string `json:"accountId"`
}

func accountID(a *account) any {
	if a == nil || a.AccountID == "" {
		return nil
	}
	return a.AccountID
}

// scope is the scope of a status or issue type: a team-managed project's
// own, or global (absent).
type scope struct {
	Type    string `json:"type"`
	Project *struct {
		ID jira.ID `json:"id"`
	} `json:"project"`
}

func (s *scope) columns() (typ, project any) {
	if s == nil {
		return "GLOBAL", nil
	}
	typ = textOrNull(s.Type)
	if s.Project != nil {
		project = idText(s.Project.ID)
	}
	return typ, project
}
