package jira

import "encoding/json"

// History is one change of an issue: who changed what, and when.
type History struct {
	ID      ID           `json:"id"`
	Author  *User        `json:"author,omitempty"`
	Created Time         `json:"created,omitzero"`
	Items   []ChangeItem `json:"items"`
	// HistoryMetadata says what made the change (a workflow transition, an
	// app, automation) when Jira recorded it. It is kept raw: apps write
	// their own shapes into it, and one of them must not fail the issue.
	HistoryMetadata json.RawMessage `json:"historyMetadata,omitempty"`
}

// ChangeItem is one field changed by a History. From and To hold ids (or raw
// values), FromString and ToString what a person saw; each may be null.
type ChangeItem struct {
	Field      string  `json:"field"`
	FieldType  string  `json:"fieldtype,omitempty"`
	FieldID    string  `json:"fieldId,omitempty"`
	From       *string `json:"from"`
	FromString *string `json:"fromString"`
	To         *string `json:"to"`
	ToString   *string `json:"toString"`
	// TmpFromAccountID and TmpToAccountID are the account ids Jira Cloud
	// adds to changes of user fields (assignee, reporter).
	TmpFromAccountID *string `json:"tmpFromAccountId,omitempty"`
	TmpToAccountID   *string `json:"tmpToAccountId,omitempty"`
}

// ChangelogPage is a page of GET /rest/api/3/issue/{key}/changelog. Unlike the
// changelog embedded in an issue, it calls its list "values".
type ChangelogPage struct {
	StartAt    int       `json:"startAt"`
	MaxResults int       `json:"maxResults"`
	Total      int       `json:"total"`
	IsLast     bool      `json:"isLast"`
	Values     []History `json:"values"`
}
