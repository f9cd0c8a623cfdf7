package emulator

import (
	"maps"
	"slices"
	"time"
)

// Issue is the emulator's complete state of one issue, in Go terms. The REST
// API renders it as Jira's JSON; Update hands a copy to the caller to change.
//
// Users are named by account id, statuses, priorities, resolutions, issue
// types, components and versions by name. Custom field values live in Custom
// keyed by field id, typed by the field's kind: string (text, URL, select
// option value, user account id, date as "2006-01-02"), float64 (number),
// []string (multi-select values, labels), time.Time (date-time) and Doc
// (paragraph text).
type Issue struct {
	ID      string
	Key     string
	Project string
	Type    string
	// Parent is the key of the parent of a sub-task, or of the epic an
	// issue belongs to (Create with the key of an Epic and a type that is
	// not a sub-task). It is filled in snapshots and read at Create; Update
	// ignores it.
	Parent string

	Summary     string
	Description Doc
	Status      string
	// Resolution is empty while the issue is unresolved.
	Resolution string
	Priority   string
	Reporter   string
	Creator    string
	// Assignee is empty for an unassigned issue.
	Assignee string

	Created       time.Time
	Updated       time.Time
	Resolved      time.Time
	StatusChanged time.Time
	// DueDate is a calendar date, "2006-01-02", or empty.
	DueDate string

	Labels      []string
	Components  []string
	FixVersions []string
	// RequestType is the Jira Service Management request type, empty
	// outside the service project.
	RequestType string
	// OriginalEstimate is the time tracking estimate, zero for none. The
	// remaining estimate follows it down as work is logged, as Jira's
	// default "adjust automatically" does; the aggregate_ fields add the
	// sub-tasks'.
	OriginalEstimate time.Duration
	// Votes counts the accounts that voted for the issue.
	Votes int
	// SecurityLevel names the issue security level, empty for none.
	SecurityLevel string
	Custom        map[string]any
	// SLA holds the SLA fields of the issue. A field missing here is
	// answered as JSON null.
	SLA []SLA

	Comments    []Comment
	Histories   []History
	Attachments []Attachment
	RemoteLinks []RemoteLink
	Worklogs    []Worklog

	// Links and Subtasks are filled in snapshots; use AddLink, DeleteLink
	// and Create with a Parent to change them.
	Links    []Link
	Subtasks []string
}

// Comment is an issue comment.
type Comment struct {
	ID           string
	Author       string
	UpdateAuthor string
	Body         Doc
	Created      time.Time
	Updated      time.Time
	// Public is Jira Service Management's jsdPublic: whether the customer
	// sees the comment.
	Public bool
	// Visibility restricts the comment to a project role; empty for none.
	Visibility string
}

// History is one entry of an issue's changelog.
type History struct {
	ID      string
	Author  string
	Created time.Time
	Items   []Change
	// Metadata is Jira's historyMetadata: what made the change, when it
	// was not a person editing the issue. Nil for none.
	Metadata *HistoryMetadata
}

// HistoryMetadata is the historyMetadata of a history, in the shape
// Atlassian documents (type, description, activityDescription and the
// actor).
type HistoryMetadata struct {
	Type                string
	Description         string
	ActivityDescription string
	ActorID             string
	ActorType           string
	ActorName           string
}

// Change is one field changed by a History. Nil pointers are JSON nulls, as
// Jira writes them.
type Change struct {
	Field      string
	FieldType  string
	FieldID    string
	From       *string
	FromString *string
	To         *string
	ToString   *string
}

// Attachment is a file attached to an issue. Its bytes are generated from
// the seed unless they were uploaded.
type Attachment struct {
	ID       string
	Filename string
	MimeType string
	Size     int64
	Author   string
	Created  time.Time
}

// RemoteLink links an issue to something outside Jira. Its id is a number in
// the REST API, as Jira writes it.
type RemoteLink struct {
	ID           int64
	GlobalID     string
	URL          string
	Title        string
	Summary      string
	Relationship string
	AppType      string
	AppName      string
	Resolved     bool
}

// Worklog is time logged on an issue.
type Worklog struct {
	ID     string
	Author string
	// UpdateAuthor is who changed the worklog last; empty means Author.
	UpdateAuthor string
	Started      time.Time
	Spent        time.Duration
	// Comment is the worklog's comment; the zero Doc for none.
	Comment Doc
	Created time.Time
	// Updated is when the worklog last changed; zero means Created.
	Updated time.Time
	// Visibility restricts the worklog to a project role; empty for none.
	Visibility string
}

// updated is when the worklog last changed.
func (w Worklog) updated() time.Time {
	if w.Updated.IsZero() {
		return w.Created
	}
	return w.Updated
}

// updateAuthor is who changed the worklog last.
func (w Worklog) updateAuthor() string {
	if w.UpdateAuthor == "" {
		return w.Author
	}
	return w.UpdateAuthor
}

// Link is an issue link as seen from one of its ends.
type Link struct {
	ID   string
	Type string
	// Outward is true on the source of the link ("this issue blocks
	// Other").
	Outward bool
	Other   string
}

// SLA is the value of one Jira Service Management SLA field of an issue.
type SLA struct {
	Field string
	Name  string
	// Error makes the field answer {"errorMessage": Error}, as Jira does
	// outside service projects.
	Error     string
	Completed []SLACycle
	// Ongoing is nil for an SLA that is not running; with no completed
	// cycle either, the SLA never started.
	Ongoing *SLACycle
}

// SLACycle is one cycle of an SLA. While an ongoing cycle runs (not paused),
// its elapsed time is Elapsed plus the time since Since, so it grows with the
// emulator's clock between two fetches.
type SLACycle struct {
	Start time.Time
	// Stop is set on completed cycles.
	Stop    time.Time
	Goal    time.Duration
	Elapsed time.Duration
	Since   time.Time
	Paused  bool
}

// ElapsedAt returns the elapsed time of the cycle at now.
func (c SLACycle) ElapsedAt(now time.Time) time.Duration {
	if c.Stop.IsZero() && !c.Paused && !c.Since.IsZero() && now.After(c.Since) {
		return c.Elapsed + now.Sub(c.Since)
	}
	return c.Elapsed
}

// Pause stops the clock of the ongoing cycle at now.
func (s *SLA) Pause(now time.Time) {
	if c := s.Ongoing; c != nil && !c.Paused {
		c.Elapsed = c.ElapsedAt(now)
		c.Paused, c.Since = true, time.Time{}
	}
}

// Resume restarts the clock of a paused ongoing cycle at now.
func (s *SLA) Resume(now time.Time) {
	if c := s.Ongoing; c != nil && c.Paused {
		c.Paused, c.Since = false, now
	}
}

// Complete ends the ongoing cycle at now and moves it to Completed.
func (s *SLA) Complete(now time.Time) {
	c := s.Ongoing
	if c == nil {
		return
	}
	done := *c
	done.Elapsed = c.ElapsedAt(now)
	done.Stop, done.Since, done.Paused = now, time.Time{}, false
	s.Completed = append(s.Completed, done)
	s.Ongoing = nil
}

// Start begins a new ongoing cycle at now with the given goal, unless one is
// running.
func (s *SLA) Start(now time.Time, goal time.Duration) {
	if s.Ongoing != nil {
		return
	}
	s.Error = ""
	s.Ongoing = &SLACycle{Start: now, Goal: goal, Since: now}
}

// sla returns the SLA of the given field, or nil.
func (is *Issue) sla(field string) *SLA {
	for i := range is.SLA {
		if is.SLA[i].Field == field {
			return &is.SLA[i]
		}
	}
	return nil
}

func (is *Issue) comment(id string) int {
	for i := range is.Comments {
		if is.Comments[i].ID == id {
			return i
		}
	}
	return -1
}

func (is *Issue) attachment(id string) int {
	for i := range is.Attachments {
		if is.Attachments[i].ID == id {
			return i
		}
	}
	return -1
}

// clone returns a deep copy, so that a stored issue is never changed in
// place: readers render the copy they hold while a mutation builds the next.
func (is *Issue) clone() *Issue {
	c := *is
	c.Labels = slices.Clone(is.Labels)
	c.Components = slices.Clone(is.Components)
	c.FixVersions = slices.Clone(is.FixVersions)
	c.Custom = maps.Clone(is.Custom)
	for k, v := range c.Custom {
		if list, ok := v.([]string); ok {
			c.Custom[k] = slices.Clone(list)
		}
	}
	if is.SLA != nil {
		c.SLA = make([]SLA, len(is.SLA))
	}
	for i, s := range is.SLA {
		s.Completed = slices.Clone(s.Completed)
		if s.Ongoing != nil {
			o := *s.Ongoing
			s.Ongoing = &o
		}
		c.SLA[i] = s
	}
	c.Comments = slices.Clone(is.Comments)
	c.Histories = slices.Clone(is.Histories)
	c.Attachments = slices.Clone(is.Attachments)
	c.RemoteLinks = slices.Clone(is.RemoteLinks)
	c.Worklogs = slices.Clone(is.Worklogs)
	c.Links = slices.Clone(is.Links)
	c.Subtasks = slices.Clone(is.Subtasks)
	return &c
}

// strp returns a pointer to s, for Change values.
func strp(s string) *string { return &s }
