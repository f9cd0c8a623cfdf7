package jira

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/jiraduck/jiraduck/internal/jsonx"
)

// Comment is an issue comment.
type Comment struct {
	ID   ID     `json:"id"`
	Self string `json:"self,omitempty"`
	// Author is nil for comments by deleted or anonymous accounts.
	Author *User `json:"author,omitempty"`
	// Body is Atlassian Document Format in REST v3.
	Body         json.RawMessage `json:"body,omitempty"`
	Created      Time            `json:"created,omitzero"`
	Updated      Time            `json:"updated,omitzero"`
	UpdateAuthor *User           `json:"updateAuthor,omitempty"`
	// JSDPublic is Jira Service Management's "shared with the customer" flag,
	// kept raw because it is not always a boolean; see Public.
	JSDPublic  json.RawMessage `json:"jsdPublic,omitempty"`
	Visibility *Visibility     `json:"visibility,omitempty"`
}

// Public returns the jsdPublic flag and whether the comment carries it as a
// boolean at all.
func (c Comment) Public() (public, ok bool) {
	switch string(bytes.TrimSpace(c.JSDPublic)) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// Visibility restricts a comment to a group or a project role.
type Visibility struct {
	Type       string `json:"type"`
	Value      string `json:"value,omitempty"`
	Identifier string `json:"identifier,omitempty"`
}

// CommentPage is a page of comments: the embedded fields.comment of an issue
// or a page of GET /rest/api/3/issue/{key}/comment.
type CommentPage struct {
	StartAt    int       `json:"startAt"`
	MaxResults int       `json:"maxResults"`
	Total      int       `json:"total"`
	Comments   []Comment `json:"comments"`
}

type commentPageFields CommentPage

// UnmarshalJSON implements json.Unmarshaler. Besides the paged object it
// accepts a bare array of comments, which is how some documented search
// results embed fields.comment.
func (p *CommentPage) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var list []Comment
		if err := jsonx.Unmarshal(b, &list); err != nil {
			return fmt.Errorf("decode comments: %w", err)
		}
		*p = CommentPage{MaxResults: len(list), Total: len(list), Comments: list}
		return nil
	}
	var page commentPageFields
	if err := jsonx.Unmarshal(b, &page); err != nil {
		return fmt.Errorf("decode comment page: %w", err)
	}
	*p = CommentPage(page)
	return nil
}
