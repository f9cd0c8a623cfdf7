package jira

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/jiraduck/jiraduck/internal/jsonx"
)

// Worklog is time logged on an issue, as GET /rest/api/3/issue/{id}/worklog
// and the issue's embedded fields.worklog give it.
type Worklog struct {
	ID      ID     `json:"id"`
	IssueID ID     `json:"issueId,omitempty"`
	Self    string `json:"self,omitempty"`
	// Author and UpdateAuthor are nil for deleted or anonymous accounts.
	Author       *User `json:"author,omitempty"`
	UpdateAuthor *User `json:"updateAuthor,omitempty"`
	// Comment is Atlassian Document Format in REST v3 and a plain string in
	// v2 (and in some documented search results).
	Comment          json.RawMessage `json:"comment,omitempty"`
	Started          Time            `json:"started,omitzero"`
	Created          Time            `json:"created,omitzero"`
	Updated          Time            `json:"updated,omitzero"`
	TimeSpent        string          `json:"timeSpent,omitempty"`
	TimeSpentSeconds *int64          `json:"timeSpentSeconds,omitempty"`
	Visibility       *Visibility     `json:"visibility,omitempty"`
}

// WorklogPage is a page of worklogs: the embedded fields.worklog of an issue
// (at most 20 of them) or a page of GET /rest/api/3/issue/{id}/worklog.
type WorklogPage struct {
	StartAt    int       `json:"startAt"`
	MaxResults int       `json:"maxResults"`
	Total      int       `json:"total"`
	Worklogs   []Worklog `json:"worklogs"`
}

type worklogPageFields WorklogPage

// UnmarshalJSON implements json.Unmarshaler. Besides the paged object it
// accepts a bare array of worklogs, which is how Jira's documented examples
// embed fields.worklog.
func (p *WorklogPage) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var list []Worklog
		if err := jsonx.Unmarshal(b, &list); err != nil {
			return fmt.Errorf("decode worklogs: %w", err)
		}
		*p = WorklogPage{MaxResults: len(list), Total: len(list), Worklogs: list}
		return nil
	}
	var page worklogPageFields
	if err := jsonx.Unmarshal(b, &page); err != nil {
		return fmt.Errorf("decode worklog page: %w", err)
	}
	*p = WorklogPage(page)
	return nil
}

// WorklogChange is one entry of GET /rest/api/3/worklog/updated or
// /worklog/deleted: a worklog id and when it changed, in epoch milliseconds.
type WorklogChange struct {
	WorklogID   ID    `json:"worklogId"`
	UpdatedTime int64 `json:"updatedTime"`
}

// WorklogChangePage is a page of worklog changes. Jira pages these lists by
// time, not by offset: NextPage is the URL of the next page (its since is
// Until), and LastPage says there is none. Until is where the next pass
// starts.
type WorklogChangePage struct {
	Since    int64           `json:"since"`
	Until    int64           `json:"until"`
	LastPage bool            `json:"lastPage"`
	NextPage string          `json:"nextPage,omitempty"`
	Values   []WorklogChange `json:"values"`
}

// MaxWorklogList is how many worklog ids POST /rest/api/3/worklog/list takes
// at once.
const MaxWorklogList = 1000

// WithWorklogs returns the bundle with its worklogs set: b itself when its
// worklog state is known, else (a bundle stored before worklogs were
// fetched, or one built from a payload alone) a copy holding the worklogs
// the issue embeds. Their state follows the embedded total: complete when the
// issue embeds them all, partial when it holds fewer (Jira embeds at most
// 20), unknown when the issue embeds no worklog field at all.
func (b *Bundle) WithWorklogs() *Bundle {
	if b.State.Worklogs != "" {
		return b
	}
	c := *b
	c.Worklogs, c.State.Worklogs, c.Errors.Worklogs = embeddedWorklogs(b.Issue)
	return &c
}

// embeddedWorklogs reads fields.worklog of an issue payload.
func embeddedWorklogs(issue json.RawMessage) ([]json.RawMessage, State, string) {
	// Only fields.worklog is kept: a rebuild of payloads stored before
	// worklogs reads every issue once more here.
	var top struct {
		Fields struct {
			Worklog json.RawMessage `json:"worklog"`
		} `json:"fields"`
	}
	if jsonx.Unmarshal(issue, &top) != nil {
		return nil, StateUnknown, "the issue payload is not readable"
	}
	raw := bytes.TrimSpace(top.Fields.Worklog)
	if jsonx.IsNull(raw) {
		return nil, StateUnknown, "the issue embeds no worklog field"
	}
	var page struct {
		Total    *int              `json:"total"`
		Worklogs []json.RawMessage `json:"worklogs"`
	}
	if len(raw) > 0 && raw[0] == '[' {
		if jsonx.Unmarshal(raw, &page.Worklogs) != nil {
			return nil, StateUnknown, "the embedded worklogs are not a list"
		}
	} else if jsonx.Unmarshal(raw, &page) != nil {
		return nil, StateUnknown, "the embedded worklog field is not a page of worklogs"
	}
	list := page.Worklogs
	if list == nil {
		list = []json.RawMessage{}
	}
	if page.Total != nil && *page.Total > len(list) {
		return list, StatePartial, fmt.Sprintf("the issue embeds %d worklogs of %d", len(list), *page.Total)
	}
	return list, StateComplete, ""
}

// DecodeWorklogs decodes the bundle's worklogs.
func (b *Bundle) DecodeWorklogs() ([]Worklog, error) {
	out, err := decodeAll[Worklog]("worklog", b.Worklogs)
	if err != nil {
		return nil, fmt.Errorf("decode bundle worklogs: %w", err)
	}
	return out, nil
}
