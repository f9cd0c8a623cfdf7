package jira

import (
	"encoding/json"
	"fmt"

	"github.com/jiraduck/jiraduck/internal/jsonx"
)

// MaxReconcileIssues is how many ids SearchRequest.ReconcileIssues may hold.
const MaxReconcileIssues = 50

// MaxBulkFetch is how many issues one bulk fetch may ask for.
const MaxBulkFetch = 100

// SearchRequest is the body of POST /rest/api/3/search/jql. Jira reads date
// literals in JQL in the API user's time zone: use epoch milliseconds.
type SearchRequest struct {
	JQL string `json:"jql"`
	// Fields defaults to "id" only on Jira's side.
	Fields        []string `json:"fields,omitempty"`
	MaxResults    int      `json:"maxResults,omitempty"`
	NextPageToken string   `json:"nextPageToken,omitempty"`
	Expand        string   `json:"expand,omitempty"`
	// ReconcileIssues lists up to 50 issue ids that must be read consistently
	// (search is eventually consistent otherwise).
	ReconcileIssues []int64 `json:"reconcileIssues,omitempty"`
}

// SearchPage is a page of search results. There is no total; NextPageToken is
// absent on the last page.
type SearchPage struct {
	Issues        []SearchIssue `json:"issues"`
	NextPageToken string        `json:"nextPageToken,omitempty"`
	IsLast        bool          `json:"isLast"`
}

// SearchIssue is one search hit: its fields raw, with updated and created
// decoded when they were asked for.
type SearchIssue struct {
	ID      ID              `json:"id"`
	Key     string          `json:"key"`
	Self    string          `json:"self,omitempty"`
	Fields  json.RawMessage `json:"fields,omitempty"`
	Updated Time            `json:"-"`
	Created Time            `json:"-"`
}

type searchIssueFields SearchIssue

// UnmarshalJSON implements json.Unmarshaler.
func (s *SearchIssue) UnmarshalJSON(b []byte) error {
	var v searchIssueFields
	if err := jsonx.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("decode search issue: %w", err)
	}
	*s = SearchIssue(v)
	if !jsonx.IsNull(s.Fields) {
		var times struct {
			Updated Time `json:"updated"`
			Created Time `json:"created"`
		}
		if err := jsonx.Unmarshal(s.Fields, &times); err != nil {
			return fmt.Errorf("decode search issue %s: %w", s.Key, err)
		}
		s.Updated, s.Created = times.Updated, times.Created
	}
	return nil
}

// BulkFetchRequest is the body of POST /rest/api/3/issue/bulkfetch.
type BulkFetchRequest struct {
	IssueIDsOrKeys []string `json:"issueIdsOrKeys"`
	Fields         []string `json:"fields,omitempty"`
	Expand         []string `json:"expand,omitempty"`
}

// BulkFetchResult is the answer of a bulk fetch. Issues that do not exist or
// may not be seen are simply missing; IssueErrors lists the ones Jira could not
// return for another reason.
type BulkFetchResult struct {
	Issues      []Issue          `json:"issues"`
	IssueErrors []BulkIssueError `json:"issueErrors,omitempty"`
}

// BulkIssueError is an issue a bulk fetch could not return.
type BulkIssueError struct {
	ID           ID     `json:"id"`
	ErrorMessage string `json:"errorMessage"`
}
