package jira

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidWebhook is returned by DecodeWebhook for a body that is not a
// usable Jira webhook.
var ErrInvalidWebhook = errors.New("invalid webhook body")

// WebhookEvent is a Jira webhook delivery. Jira Cloud sends the REST v2
// representation (wiki markup, /rest/api/2/ links) even when the REST API in use
// is v3, so only the fields that say which issue changed are decoded; the issue
// itself is always fetched again.
type WebhookEvent struct {
	// Timestamp is when Jira emitted the event, in epoch milliseconds.
	Timestamp int64 `json:"timestamp"`
	// WebhookEvent is the event type, such as "jira:issue_updated" or
	// "comment_created".
	WebhookEvent string `json:"webhookEvent"`
	// IssueEventTypeName refines jira:issue_* events ("issue_assigned",
	// "issue_moved", ...).
	IssueEventTypeName string             `json:"issue_event_type_name,omitempty"`
	Issue              *WebhookIssue      `json:"issue,omitempty"`
	Comment            *WebhookComment    `json:"comment,omitempty"`
	Attachment         *WebhookAttachment `json:"attachment,omitempty"`
	IssueLink          *WebhookIssueLink  `json:"issueLink,omitempty"`
	Worklog            *WebhookWorklog    `json:"worklog,omitempty"`
	// Changelog is kept raw: webhook changelogs are informational only.
	Changelog json.RawMessage `json:"changelog,omitempty"`
	// User is the account that caused the event, kept raw.
	User              json.RawMessage `json:"user,omitempty"`
	MatchedWebhookIDs []ID            `json:"matchedWebhookIds,omitempty"`
}

// WebhookIssue is the issue a webhook is about. Comment events carry only a
// handful of its fields, so Fields is kept raw and never parsed for content.
type WebhookIssue struct {
	ID     ID              `json:"id"`
	Key    string          `json:"key"`
	Self   string          `json:"self,omitempty"`
	Fields json.RawMessage `json:"fields,omitempty"`
}

// WebhookComment is the comment of a comment_* event.
type WebhookComment struct {
	ID   ID     `json:"id"`
	Self string `json:"self,omitempty"`
}

// WebhookAttachment is the attachment of an attachment_* event.
type WebhookAttachment struct {
	ID       ID     `json:"id"`
	Self     string `json:"self,omitempty"`
	Filename string `json:"filename,omitempty"`
	MimeType string `json:"mimeType,omitempty"`
	Content  string `json:"content,omitempty"`
}

// WebhookIssueLink is the link of an issuelink_* event. It names both ends by
// id only (as JSON numbers); there are no keys.
type WebhookIssueLink struct {
	ID                 ID                    `json:"id"`
	SourceIssueID      ID                    `json:"sourceIssueId"`
	DestinationIssueID ID                    `json:"destinationIssueId"`
	IssueLinkType      *WebhookIssueLinkType `json:"issueLinkType,omitempty"`
}

// WebhookIssueLinkType is the type of a link in an issuelink_* event.
type WebhookIssueLinkType struct {
	ID   ID     `json:"id"`
	Name string `json:"name,omitempty"`
}

// WebhookWorklog is the worklog of a worklog_* event: only its issue id says
// which issue it belongs to.
type WebhookWorklog struct {
	ID      ID `json:"id"`
	IssueID ID `json:"issueId"`
}

// webhookEnvelope decodes the timestamp leniently; the rest is WebhookEvent's.
type webhookEnvelope struct {
	Timestamp ID `json:"timestamp"`
	webhookFields
}

type webhookFields WebhookEvent

// DecodeWebhook decodes a webhook body. It rejects malformed JSON, a body that
// is not an object, a missing event type, and issue keys or ids that do not have
// Jira's shape. Events that are not about issues (boards, sprints, projects,
// users) decode too; their Targets is empty.
func DecodeWebhook(body []byte) (*WebhookEvent, error) {
	// Only JSON's own white space: bytes.TrimSpace would also accept Unicode
	// spaces around the object, which no JSON parser downstream does.
	trimmed := bytes.Trim(body, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("%w: empty body", ErrInvalidWebhook)
	}
	if trimmed[0] != '{' {
		return nil, fmt.Errorf("%w: not a json object", ErrInvalidWebhook)
	}
	var env webhookEnvelope
	if err := json.Unmarshal(trimmed, &env); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidWebhook, err)
	}
	ev := WebhookEvent(env.webhookFields)
	if env.Timestamp != "" {
		ts, err := strconv.ParseInt(string(env.Timestamp), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: timestamp %q is not epoch milliseconds", ErrInvalidWebhook, truncate(string(env.Timestamp), 32))
		}
		ev.Timestamp = ts
	}
	if ev.WebhookEvent == "" {
		return nil, fmt.Errorf("%w: no webhookEvent", ErrInvalidWebhook)
	}
	if err := ev.check(); err != nil {
		return nil, err
	}
	return &ev, nil
}

// check validates every key and id that routing may put into a URL.
func (e *WebhookEvent) check() error {
	checkID := func(what string, id ID) error {
		if id != "" && !isNumericID(string(id)) {
			return fmt.Errorf("%w: %s %q is not a numeric id", ErrInvalidWebhook, what, truncate(string(id), 32))
		}
		return nil
	}
	if e.Issue != nil {
		if e.Issue.Key != "" && !ValidKey(e.Issue.Key) {
			return fmt.Errorf("%w: %w: %q", ErrInvalidWebhook, ErrInvalidKey, truncate(e.Issue.Key, 64))
		}
		if err := checkID("issue id", e.Issue.ID); err != nil {
			return err
		}
	}
	if e.IssueLink != nil {
		if err := checkID("issue link source", e.IssueLink.SourceIssueID); err != nil {
			return err
		}
		if err := checkID("issue link destination", e.IssueLink.DestinationIssueID); err != nil {
			return err
		}
	}
	if e.Worklog != nil {
		if err := checkID("worklog issue id", e.Worklog.IssueID); err != nil {
			return err
		}
	}
	return nil
}

// Time returns the event's timestamp in UTC.
func (e *WebhookEvent) Time() time.Time {
	return time.UnixMilli(e.Timestamp).UTC()
}

// Target is an issue a webhook event concerns, by key, by id, or both. Delete
// is set only for jira:issue_deleted: every other event, *_deleted ones
// included, means "fetch the issue again".
type Target struct {
	Key    string
	ID     string
	Delete bool
}

// Targets returns the issues the event concerns, without duplicates: the issue
// of issue, comment and attachment events; both ends of an issuelink_* event
// (by id); the issue id of a worklog_* event. Events about boards, sprints,
// projects or users concern no issue and return nil.
func (e *WebhookEvent) Targets() []Target {
	var out []Target
	add := func(t Target) {
		if t.Key == "" && t.ID == "" {
			return
		}
		for _, have := range out {
			if (t.ID != "" && have.ID == t.ID) || (t.Key != "" && have.Key == t.Key) {
				return
			}
		}
		out = append(out, t)
	}
	issue := func() Target {
		if e.Issue == nil {
			return Target{}
		}
		return Target{Key: e.Issue.Key, ID: string(e.Issue.ID)}
	}
	switch kind := e.WebhookEvent; {
	case kind == "jira:issue_deleted":
		t := issue()
		t.Delete = true
		add(t)
	case strings.HasPrefix(kind, "issuelink_"):
		if e.IssueLink != nil {
			add(Target{ID: string(e.IssueLink.SourceIssueID)})
			add(Target{ID: string(e.IssueLink.DestinationIssueID)})
		}
	case strings.HasPrefix(kind, "worklog_"):
		if e.Worklog != nil {
			add(Target{ID: string(e.Worklog.IssueID)})
		}
		add(issue())
	case strings.HasPrefix(kind, "comment_"):
		add(issue())
		if len(out) == 0 && e.Comment != nil {
			// Jira Server and Data Center send comment events without the
			// issue; its id is in the comment's self link.
			add(Target{ID: issueIDFromSelf(e.Comment.Self)})
		}
	default:
		// jira:issue_*, attachment_* and any other event that names an issue.
		add(issue())
	}
	return out
}

// issueIDFromSelf extracts the issue id from a link of the form
// .../rest/api/<v>/issue/<id>/comment/<id>, or returns "".
func issueIDFromSelf(self string) string {
	const marker = "/issue/"
	i := strings.LastIndex(self, marker)
	if i < 0 {
		return ""
	}
	rest := self[i+len(marker):]
	id, tail, ok := strings.Cut(rest, "/")
	if !ok || !strings.HasPrefix(tail, "comment/") || !isNumericID(id) {
		return ""
	}
	return id
}
