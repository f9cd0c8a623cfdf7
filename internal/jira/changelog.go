package jira

// History is one change of an issue: who changed what, and when.
type History struct {
	ID      ID           `json:"id"`
	Author  *User        `json:"author,omitempty"`
	Created Time         `json:"created,omitzero"`
	Items   []ChangeItem `json:"items"`
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
