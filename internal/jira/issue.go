package jira

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/jiraduck/jiraduck/internal/jsonx"
)

// Issue is an issue as GET /rest/api/3/issue/{key} returns it with
// fields=*all and expand=changelog (RenderedFields is filled only when
// renderedFields is asked for too).
type Issue struct {
	ID     ID          `json:"id"`
	Key    string      `json:"key"`
	Self   string      `json:"self,omitempty"`
	Fields IssueFields `json:"fields"`
	// RenderedFields holds Jira's HTML renderings, kept as they came.
	RenderedFields json.RawMessage `json:"renderedFields,omitempty"`
	// Changelog is the embedded changelog: about the newest 100 histories.
	// Jira may omit it even when it was asked for.
	Changelog *Changelog `json:"changelog,omitempty"`
}

// Changelog is the changelog embedded in an issue by expand=changelog.
type Changelog struct {
	StartAt    int       `json:"startAt"`
	MaxResults int       `json:"maxResults"`
	Total      int       `json:"total"`
	Histories  []History `json:"histories"`
}

// IssueFields holds the fields of an issue. The fields jiraduck promotes to
// columns are typed; every field, typed or not, is also kept verbatim in Raw,
// so custom fields (customfield_*) stay reachable.
type IssueFields struct {
	Summary string `json:"summary,omitempty"`
	// Description is Atlassian Document Format in REST v3 and a wiki-markup
	// string in v2; JSON null when empty.
	Description    json.RawMessage `json:"description,omitempty"`
	IssueType      *IssueType      `json:"issuetype,omitempty"`
	Project        *Project        `json:"project,omitempty"`
	Parent         *IssueRef       `json:"parent,omitempty"`
	Status         *Status         `json:"status,omitempty"`
	Priority       *Priority       `json:"priority,omitempty"`
	Resolution     *Resolution     `json:"resolution,omitempty"`
	Creator        *User           `json:"creator,omitempty"`
	Reporter       *User           `json:"reporter,omitempty"`
	Assignee       *User           `json:"assignee,omitempty"`
	Created        Time            `json:"created,omitzero"`
	Updated        Time            `json:"updated,omitzero"`
	ResolutionDate Time            `json:"resolutiondate,omitzero"`
	// DueDate is a calendar date, "2006-01-02", or "" when unset.
	DueDate     string       `json:"duedate,omitempty"`
	Labels      []string     `json:"labels,omitempty"`
	Components  []Component  `json:"components,omitempty"`
	FixVersions []Version    `json:"fixVersions,omitempty"`
	Attachment  []Attachment `json:"attachment,omitempty"`
	// Comment is the embedded comment page: the newest 100 comments at most.
	Comment    *CommentPage  `json:"comment,omitempty"`
	IssueLinks []IssueLink   `json:"issuelinks,omitempty"`
	Subtasks   []LinkedIssue `json:"subtasks,omitempty"`

	// Raw holds every field exactly as Jira sent it, keyed by field id.
	Raw map[string]json.RawMessage `json:"-"`
}

// issueFieldsTyped has the fields of IssueFields without its methods, so that
// decoding and encoding it does not recurse.
type issueFieldsTyped IssueFields

// UnmarshalJSON implements json.Unmarshaler: it fills the typed fields and Raw.
func (f *IssueFields) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		*f = IssueFields{}
		return nil
	}
	var raw map[string]json.RawMessage
	if err := jsonx.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("decode issue fields: %w", err)
	}
	// The typed fields are decoded from an object of only their keys:
	// custom fields, often most of the bytes, are then read once, not twice.
	known := typedFieldKeys()
	typedOnly := make(map[string]json.RawMessage, len(known))
	for k, v := range raw {
		if known[k] {
			typedOnly[k] = v
		}
	}
	var typed issueFieldsTyped
	if err := jsonx.Unmarshal(encodeObject(typedOnly), &typed); err != nil {
		return fmt.Errorf("decode issue fields: %w", err)
	}
	*f = IssueFields(typed)
	f.Raw = raw
	return nil
}

// typedFieldKeys are the JSON names of the typed fields of IssueFields.
var typedFieldKeys = sync.OnceValue(func() map[string]bool {
	keys := map[string]bool{}
	t := reflect.TypeFor[issueFieldsTyped]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			keys[name] = true
		}
	}
	return keys
})

// MarshalJSON implements json.Marshaler. Raw wins for every field it holds; the
// typed fields fill in the ones Raw lacks. A decoded IssueFields therefore
// encodes back to what Jira sent, and one built by hand (the emulator) can mix
// typed fields with raw custom fields.
func (f IssueFields) MarshalJSON() ([]byte, error) {
	typed, err := json.Marshal(issueFieldsTyped(f))
	if err != nil {
		return nil, err
	}
	if len(f.Raw) == 0 {
		return typed, nil
	}
	merged := make(map[string]json.RawMessage, len(f.Raw)+8)
	if err := jsonx.Unmarshal(typed, &merged); err != nil {
		return nil, err
	}
	for k, v := range f.Raw {
		merged[k] = v
	}
	return json.Marshal(merged)
}

// Custom returns the custom fields (customfield_*) whose value is not null,
// keyed by field id.
func (f IssueFields) Custom() map[string]json.RawMessage {
	out := make(map[string]json.RawMessage)
	for k, v := range f.Raw {
		if strings.HasPrefix(k, "customfield_") && !jsonx.IsNull(v) {
			out[k] = v
		}
	}
	return out
}

// Field returns the raw value of the field with the given id and whether the
// issue carries it (a JSON null counts as carried).
func (f IssueFields) Field(id string) (json.RawMessage, bool) {
	v, ok := f.Raw[id]
	return v, ok
}

// User is a Jira account as it appears in issues, comments and histories.
// EmailAddress is empty when the account hides it.
type User struct {
	AccountID    string `json:"accountId,omitempty"`
	EmailAddress string `json:"emailAddress,omitempty"`
	DisplayName  string `json:"displayName,omitempty"`
	Active       bool   `json:"active,omitempty"`
}

// IssueType is the type of an issue (Task, Bug, Sub-task, ...).
type IssueType struct {
	ID      ID     `json:"id,omitempty"`
	Name    string `json:"name"`
	Subtask bool   `json:"subtask,omitempty"`
}

// Project is the project an issue belongs to.
type Project struct {
	ID   ID     `json:"id"`
	Key  string `json:"key"`
	Name string `json:"name,omitempty"`
}

// IssueRef names another issue by id and key, as the parent field does.
type IssueRef struct {
	ID  ID     `json:"id"`
	Key string `json:"key"`
}

// Status is the workflow status of an issue.
type Status struct {
	ID             ID              `json:"id,omitempty"`
	Name           string          `json:"name"`
	StatusCategory *StatusCategory `json:"statusCategory,omitempty"`
}

// StatusCategory groups statuses: key "new", "indeterminate" or "done".
type StatusCategory struct {
	ID   ID     `json:"id,omitempty"`
	Key  string `json:"key"`
	Name string `json:"name,omitempty"`
}

// Priority is the priority of an issue.
type Priority struct {
	ID   ID     `json:"id,omitempty"`
	Name string `json:"name"`
}

// Resolution is how an issue was resolved; it is null while unresolved.
type Resolution struct {
	ID   ID     `json:"id,omitempty"`
	Name string `json:"name"`
}

// Component is a project component set on an issue.
type Component struct {
	ID   ID     `json:"id,omitempty"`
	Name string `json:"name"`
}

// Version is a project version, as used by fixVersions.
type Version struct {
	ID   ID     `json:"id,omitempty"`
	Name string `json:"name"`
}

// Attachment is a file attached to an issue. Content is the URL of the bytes
// (on the Jira site or the cloud gateway); Jira answers it with a redirect to
// its media service.
type Attachment struct {
	ID        ID     `json:"id"`
	Self      string `json:"self,omitempty"`
	Filename  string `json:"filename"`
	Author    *User  `json:"author,omitempty"`
	Created   Time   `json:"created,omitzero"`
	Size      int64  `json:"size"`
	MimeType  string `json:"mimeType,omitempty"`
	Content   string `json:"content,omitempty"`
	Thumbnail string `json:"thumbnail,omitempty"`
}

// IssueLink links the issue to another one. Exactly one of InwardIssue and
// OutwardIssue is set: the other end of the link, seen from this issue.
type IssueLink struct {
	ID           ID            `json:"id"`
	Self         string        `json:"self,omitempty"`
	Type         IssueLinkType `json:"type"`
	InwardIssue  *LinkedIssue  `json:"inwardIssue,omitempty"`
	OutwardIssue *LinkedIssue  `json:"outwardIssue,omitempty"`
}

// IssueLinkType names a kind of link and its two directions.
type IssueLinkType struct {
	ID      ID     `json:"id,omitempty"`
	Name    string `json:"name"`
	Inward  string `json:"inward,omitempty"`
	Outward string `json:"outward,omitempty"`
}

// LinkedIssue is the short form of an issue used in links and subtasks.
type LinkedIssue struct {
	ID     ID           `json:"id"`
	Key    string       `json:"key"`
	Self   string       `json:"self,omitempty"`
	Fields LinkedFields `json:"fields"`
}

// LinkedFields are the few fields Jira embeds for a linked issue.
type LinkedFields struct {
	Summary   string     `json:"summary,omitempty"`
	Status    *Status    `json:"status,omitempty"`
	Priority  *Priority  `json:"priority,omitempty"`
	IssueType *IssueType `json:"issuetype,omitempty"`
}
