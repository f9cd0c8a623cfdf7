// Package normalize turns one fetched issue into the rows of every analyst
// table. It is pure: no I/O, no clock (the caller says when the data was seen),
// so the live pipeline, rebuild and import all derive identical rows from the
// same stored payload.
package normalize

import (
	"time"
)

// Tables are the analyst tables, in export order. Each is exported to
// parquet/jira/<table>/month=YYYY-MM/data.parquet.
var Tables = []string{"issues", "comments", "attachments", "changelog", "issuelinks", "remote_links", "sla", "issue_fields",
	"worklogs", "inline_media", "issue_sprints", "issue_organizations"}

// State says how much of a collection a fetch obtained.
type State string

// The three states of a collection: complete replaces what is stored (an empty
// complete list wipes it), partial adds and updates without deleting, unknown
// keeps what is stored untouched.
const (
	Complete State = "complete"
	Partial  State = "partial"
	Unknown  State = "unknown"
)

// Issue is one row of the issues table. Pointers are NULL when nil.
type Issue struct {
	IssueKey          string
	IssueID           string
	IssueURL          *string
	ProjectKey        *string
	ProjectName       *string
	Summary           *string
	Description       *string
	IssueType         *string
	ParentKey         *string
	Status            *string
	StatusCategory    *string
	Priority          *string
	Resolution        *string
	CreatorEmail      *string
	CreatorName       *string
	CreatorAccountID  *string
	ReporterEmail     *string
	ReporterName      *string
	ReporterAccountID *string
	AssigneeEmail     *string
	AssigneeName      *string
	AssigneeAccountID *string
	CreatedAt         time.Time
	UpdatedAt         *time.Time
	ResolvedAt        *time.Time
	DueDate           *time.Time
	Labels            []string
	Components        []string
	FixVersions       []string
	AttachmentCount   int32
	CommentCount      int32
	IssuelinkCount    int32
	RequestType       *string
	RequestStatus     *string
	// The time tracking fields, in seconds: the issue's own and, under
	// Aggregate, summed over the issue and its sub-tasks as Jira does.
	OriginalEstimateSeconds           *int64
	RemainingEstimateSeconds          *int64
	TimeSpentSeconds                  *int64
	AggregateOriginalEstimateSeconds  *int64
	AggregateRemainingEstimateSeconds *int64
	AggregateTimeSpentSeconds         *int64
	StatusCategoryChangedAt           *time.Time
	// ProjectType is the project's projectTypeKey: software,
	// service_desk, business.
	ProjectType *string
	// TeamManaged is the project's "simplified" flag: a team-managed
	// (next-gen) project rather than a company-managed one.
	TeamManaged             *bool
	IssueTypeHierarchyLevel *int32
	SubtaskKeys             []string
	SecurityLevel           *string
	Votes                   *int32
	Watches                 *int32
	// StoryPoints is the issue's estimate in story points
	// (JIRA_STORY_POINTS_FIELD, else the field named Story Points).
	StoryPoints *float64
	// SLA holds the flat SLA columns per metric name, in the order of the
	// configured names; a metric the issue lacks has all four NULL.
	SLA []SLAColumns
	// Promoted holds the JIRA_FIELD_MAP columns in the configured order.
	Promoted []Promoted
	SyncedAt time.Time
}

// SLAColumns are the four flat columns of one SLA metric on issues.
type SLAColumns struct {
	Name            string
	Breached        *bool
	GoalMillis      *int64
	ElapsedMillis   *int64
	RemainingMillis *int64
}

// Promoted is one JIRA_FIELD_MAP column and its text value.
type Promoted struct {
	Column string
	Value  *string
}

// Comment is one row of comments.
type Comment struct {
	CommentID         string
	IssueKey          string
	AuthorEmail       *string
	AuthorName        *string
	AuthorAccountID   *string
	Body              *string
	CreatedAt         *time.Time
	UpdatedAt         *time.Time
	UpdateAuthorEmail *string
	PublicVisibility  *bool
	VisibilityType    *string
	VisibilityValue   *string
	// UpdateAuthorName and UpdateAuthorAccountID name who last edited the
	// comment even when the account hides its e-mail address.
	UpdateAuthorName      *string
	UpdateAuthorAccountID *string
}

// Attachment is one row of attachments. LocalPath and SHA256 are filled by the
// downloader; SkippedReason says why the bytes are not stored.
type Attachment struct {
	AttachmentID    string
	IssueKey        string
	Filename        *string
	LocalPath       *string
	SizeBytes       *int64
	MimeType        *string
	AuthorEmail     *string
	CreatedAt       *time.Time
	ContentURL      *string
	ThumbnailURL    *string
	SHA256          *string
	SkippedReason   *string
	AuthorName      *string
	AuthorAccountID *string
}

// ChangeItem is one row of changelog: one item of one history.
type ChangeItem struct {
	ChangeID        string
	ItemIndex       int32
	IssueKey        string
	AuthorEmail     *string
	AuthorName      *string
	AuthorAccountID *string
	Field           *string
	FieldID         *string
	FieldType       *string
	FromValue       *string
	FromString      *string
	ToValue         *string
	ToString        *string
	ChangedAt       *time.Time
	// FromAccountID and ToAccountID are the accounts a change of a user
	// field (assignee, reporter) moved between.
	FromAccountID *string
	ToAccountID   *string
	// ActivityType and ActivityDescription come from the history's
	// metadata: what made the change, when Jira recorded it.
	ActivityType        *string
	ActivityDescription *string
}

// IssueLink is one row of issuelinks, seen from IssueKey.
type IssueLink struct {
	IssueKey            string
	LinkID              string
	LinkType            *string
	Direction           *string
	LinkedIssueKey      *string
	LinkedIssueSummary  *string
	LinkedIssueStatus   *string
	LinkedIssuePriority *string
	// LinkedIssueID is the other end's id: it survives a move, so the store
	// finds by it the rows that describe an issue it applies or deletes. It
	// is kept in the store only; the Parquet files have no such column.
	LinkedIssueID *string
}

// RemoteLink is one row of remote_links.
type RemoteLink struct {
	IssueKey        string
	RemoteLinkID    string
	GlobalID        *string
	URL             *string
	Title           *string
	ApplicationName *string
	ApplicationType *string
	Relationship    *string
}

// SLA is one row of sla: one cycle of one SLA metric.
type SLA struct {
	IssueKey            string
	FieldID             string
	SLAName             *string
	Cycle               string // ongoing or completed
	CycleIndex          int32
	StartTime           *time.Time
	StopTime            *time.Time
	BreachTime          *time.Time
	Breached            *bool
	Paused              *bool
	WithinCalendarHours *bool
	GoalMillis          *int64
	ElapsedMillis       *int64
	RemainingMillis     *int64
	ObservedAt          time.Time
}

// IssueField is one row of issue_fields: a non-empty custom field.
type IssueField struct {
	IssueKey  string
	FieldID   string
	FieldName *string
	ValueText *string
	ValueJSON *string
}

// InlineMedia is one row of inline_media: a media node of the description
// (CommentID nil) or of a comment, and the attachment it shows when one of
// the issue's attachments matches (LinkedBy says how).
type InlineMedia struct {
	IssueKey     string
	CommentID    *string
	MediaIndex   int32
	NodeType     *string
	MediaType    *string
	MediaID      *string
	Collection   *string
	URL          *string
	Alt          *string
	AttachmentID *string
	// Filename is the linked attachment's file name, else the name the
	// node gives.
	Filename *string
	LinkedBy *string
}

// Raw is the store-only raw_issues row: the payload rebuild starts from.
type Raw struct {
	IssueID           string
	IssueKey          string
	CreatedAt         time.Time
	UpdatedAt         *time.Time
	StatusCategoryKey *string
	Payload           []byte
	CommentsState     State
	ChangelogState    State
	RemoteLinksState  State
	SLAState          State
	AttachmentsState  State
	WorklogsState     State
	FetchedAt         time.Time
}

// Incomplete reports whether any collection fell short.
func (r *Raw) Incomplete() bool {
	for _, s := range []State{r.CommentsState, r.ChangelogState, r.RemoteLinksState, r.SLAState, r.AttachmentsState, r.WorklogsState} {
		if s != Complete {
			return true
		}
	}
	return false
}

// Rows is everything one issue contributes to the store.
type Rows struct {
	Raw         Raw
	Issue       Issue
	Comments    []Comment
	Attachments []Attachment
	Changelog   []ChangeItem
	IssueLinks  []IssueLink
	RemoteLinks []RemoteLink
	SLA         []SLA
	Fields      []IssueField
	Worklogs    []Worklog
	InlineMedia []InlineMedia
	// IssueSprints and IssueOrganizations come with the issue's fields and
	// are always complete.
	IssueSprints       []IssueSprint
	IssueOrganizations []IssueOrganization
}

// Month is the partition of an issue's rows: the UTC month of its created time.
func Month(created time.Time) string { return created.UTC().Format("2006-01") }

// Month is the partition of every row of the issue.
func (r *Rows) Month() string { return Month(r.Issue.CreatedAt) }

// State of a table's collection: issues, attachments, issuelinks and
// issue_fields come with the issue itself and are always complete;
// inline_media follows the comments.
func (r *Rows) State(table string) State {
	switch table {
	case "comments":
		return r.Raw.CommentsState
	case "changelog":
		return r.Raw.ChangelogState
	case "remote_links":
		return r.Raw.RemoteLinksState
	case "sla":
		return r.Raw.SLAState
	case "worklogs":
		return r.Raw.WorklogsState
	case "inline_media":
		// Its comment rows are known only as far as the comments are. A
		// partial list has no key to add rows by (the description's have
		// no comment id), so anything short of complete keeps what is
		// stored until the issue is healed.
		if r.Raw.CommentsState != Complete {
			return Unknown
		}
	}
	return Complete
}
