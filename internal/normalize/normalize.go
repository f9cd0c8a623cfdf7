package normalize

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jiraduck/jiraduck/internal/adf"
	"github.com/jiraduck/jiraduck/internal/jira"
	"github.com/jiraduck/jiraduck/internal/jsonx"
)

// Options say how to name and shape the rows of a site.
type Options struct {
	// BrowseBase is the site URL issue_url is built on: <BrowseBase>/browse/KEY.
	BrowseBase string
	// SLAFields maps the id of each SLA custom field to its metric name.
	SLAFields map[string]string
	// SLANames are the metrics with flat columns on issues, in column order.
	SLANames []string
	// FieldMap lists the custom fields promoted to issues columns, in order.
	FieldMap []FieldColumn
	// FieldNames maps field ids to Jira's current names, for issue_fields.
	FieldNames map[string]string
	// SprintFields are the ids of the sprint fields (schema
	// jira.SprintFieldType): issue_sprints is read from them.
	SprintFields []string
	// OrganizationFields are the ids of the Organizations fields (schema
	// jira.OrganizationsFieldType): issue_organizations is read from them.
	OrganizationFields []string
	// StoryPointsFields are the fields story_points is read from, in order
	// of preference: the first the issue has a number in wins.
	StoryPointsFields []string
	// Stored says the bundle is a payload read back from the store (a
	// rebuild): it is compacted already and is not encoded again, so
	// Raw.Payload stays nil.
	Stored bool
}

// FieldColumn is a custom field promoted to a column of issues.
type FieldColumn struct {
	ID     string
	Column string
}

// ErrNoIssue means the payload does not hold a usable issue.
var ErrNoIssue = errors.New("payload holds no issue")

// FromBundle derives every row of one fetched issue. observed is when the
// data was seen (the fetch time); it becomes synced_at and the SLA rows'
// observed_at. The bundle is stored as the raw payload.
func FromBundle(b *jira.Bundle, opts Options) (*Rows, error) {
	// Compacted first: the embedded lists it empties are not read here
	// (the bundle's own lists hold every item; their totals are kept), so
	// the issue decodes faster, and the stored payload is this one.
	//
	// A bundle stored before worklogs were fetched takes those its issue
	// embeds.
	b = b.WithWorklogs()
	if !opts.Stored {
		b = b.Compacted()
	}
	issue, comments, histories, links, err := b.Decode()
	if err != nil {
		return nil, err
	}
	worklogs, err := b.DecodeWorklogs()
	if err != nil {
		return nil, fmt.Errorf("normalize %s: %w", issue.Key, err)
	}
	if issue.Key == "" || issue.ID == "" {
		return nil, ErrNoIssue
	}
	if !jira.ValidKey(issue.Key) {
		return nil, fmt.Errorf("normalize: invalid issue key %q", issue.Key)
	}
	if issue.Fields.Created.IsZero() {
		return nil, fmt.Errorf("normalize %s: issue has no created time", issue.Key)
	}
	if y := issue.Fields.Created.UTC().Year(); y < 1 || y > 9999 {
		// The partition month is YYYY-MM: an issue created outside four-digit
		// years would have no partition the exporter accepts, and its month
		// would stay dirty for ever.
		return nil, fmt.Errorf("normalize %s: created time %s is out of range", issue.Key, issue.Fields.Created.UTC().Format(time.RFC3339))
	}
	var payload []byte
	if !opts.Stored {
		if payload, err = b.Encode(); err != nil {
			return nil, fmt.Errorf("normalize %s: %w", issue.Key, err)
		}
	}
	observed := b.FetchedAt.UTC()
	if observed.IsZero() {
		observed = time.Unix(0, 0).UTC()
	}
	f := &issue.Fields
	key := issue.Key
	r := &Rows{}
	r.Raw = Raw{
		IssueID:          string(issue.ID),
		IssueKey:         key,
		CreatedAt:        f.Created.UTC(),
		UpdatedAt:        optTime(f.Updated),
		Payload:          payload,
		CommentsState:    state(b.State.Comments),
		ChangelogState:   state(b.State.Changelog),
		RemoteLinksState: state(b.State.RemoteLinks),
		SLAState:         state(b.State.SLA),
		WorklogsState:    state(b.State.Worklogs),
		AttachmentsState: Complete,
		FetchedAt:        observed,
	}
	if f.Status != nil && f.Status.StatusCategory != nil {
		r.Raw.StatusCategoryKey = opt(f.Status.StatusCategory.Key)
	}

	i := &r.Issue
	i.IssueKey, i.IssueID = key, string(issue.ID)
	if opts.BrowseBase != "" {
		i.IssueURL = opt(strings.TrimRight(opts.BrowseBase, "/") + "/browse/" + key)
	}
	if f.Project != nil {
		i.ProjectKey, i.ProjectName = opt(f.Project.Key), opt(f.Project.Name)
	}
	i.Summary = opt(f.Summary)
	description, descriptionMedia := adf.TextAndMedia(f.Description)
	i.Description = opt(description)
	if f.IssueType != nil {
		i.IssueType = opt(f.IssueType.Name)
	}
	if f.Parent != nil {
		i.ParentKey = opt(f.Parent.Key)
	}
	if f.Status != nil {
		i.Status = opt(f.Status.Name)
		if f.Status.StatusCategory != nil {
			i.StatusCategory = opt(f.Status.StatusCategory.Name)
		}
	}
	if f.Priority != nil {
		i.Priority = opt(f.Priority.Name)
	}
	if f.Resolution != nil {
		i.Resolution = opt(f.Resolution.Name)
	}
	i.CreatorEmail, i.CreatorName, i.CreatorAccountID = user(f.Creator)
	i.ReporterEmail, i.ReporterName, i.ReporterAccountID = user(f.Reporter)
	i.AssigneeEmail, i.AssigneeName, i.AssigneeAccountID = user(f.Assignee)
	i.CreatedAt = f.Created.UTC()
	i.UpdatedAt = optTime(f.Updated)
	i.ResolvedAt = optTime(f.ResolutionDate)
	if d, err := time.Parse("2006-01-02", f.DueDate); err == nil {
		i.DueDate = &d
	}
	i.Labels = sortedCopy(f.Labels)
	for _, c := range f.Components {
		i.Components = append(i.Components, c.Name)
	}
	for _, v := range f.FixVersions {
		i.FixVersions = append(i.FixVersions, v.Name)
	}
	i.Labels, i.Components, i.FixVersions = nonNil(i.Labels), nonNil(i.Components), nonNil(i.FixVersions)
	i.AttachmentCount = int32(len(f.Attachment))
	i.CommentCount = int32(len(comments))
	if f.Comment != nil && f.Comment.Total > len(comments) {
		i.CommentCount = int32(f.Comment.Total)
	}
	i.IssuelinkCount = int32(len(f.IssueLinks))
	i.RequestType, i.RequestStatus = requestType(f.Raw)
	issueDetail(i, f)
	i.SyncedAt = observed

	// Ids are primary keys: a list holding one twice (a broker's merged
	// pages, an import) would fail the whole transaction and the issue would
	// never be stored. The first occurrence is kept, as for links.
	seenComment := map[string]bool{}
	var commentMedia [][]adf.Media
	for _, c := range comments {
		if c.ID == "" || seenComment[string(c.ID)] {
			continue
		}
		seenComment[string(c.ID)] = true
		body, media := adf.TextAndMedia(c.Body)
		commentMedia = append(commentMedia, media)
		row := Comment{CommentID: string(c.ID), IssueKey: key, Body: opt(body),
			CreatedAt: optTime(c.Created), UpdatedAt: optTime(c.Updated)}
		row.AuthorEmail, row.AuthorName, row.AuthorAccountID = user(c.Author)
		row.UpdateAuthorEmail, row.UpdateAuthorName, row.UpdateAuthorAccountID = user(c.UpdateAuthor)
		if pub, ok := c.Public(); ok {
			row.PublicVisibility = &pub
		}
		if c.Visibility != nil {
			row.VisibilityType, row.VisibilityValue = opt(c.Visibility.Type), opt(c.Visibility.Value)
		}
		r.Comments = append(r.Comments, row)
	}

	seenAttachment := map[string]bool{}
	for _, a := range f.Attachment {
		if a.ID == "" || seenAttachment[string(a.ID)] {
			continue
		}
		seenAttachment[string(a.ID)] = true
		row := Attachment{AttachmentID: string(a.ID), IssueKey: key, Filename: opt(a.Filename),
			MimeType: opt(a.MimeType), CreatedAt: optTime(a.Created), ContentURL: opt(a.Content), ThumbnailURL: opt(a.Thumbnail)}
		size := a.Size
		row.SizeBytes = &size
		row.AuthorEmail, row.AuthorName, row.AuthorAccountID = user(a.Author)
		r.Attachments = append(r.Attachments, row)
	}

	r.inlineMedia(descriptionMedia, commentMedia)

	seenHistory := map[string]bool{}
	for _, h := range histories {
		if h.ID == "" || seenHistory[string(h.ID)] {
			continue
		}
		seenHistory[string(h.ID)] = true
		email, name, account := user(h.Author)
		activityType, activity := historyActivity(h.HistoryMetadata)
		for idx, it := range h.Items {
			fromAccount, toAccount := changeAccounts(it)
			r.Changelog = append(r.Changelog, ChangeItem{ChangeID: string(h.ID), ItemIndex: int32(idx), IssueKey: key,
				AuthorEmail: email, AuthorName: name, AuthorAccountID: account,
				Field: opt(it.Field), FieldID: opt(it.FieldID), FieldType: opt(it.FieldType),
				FromValue: it.From, FromString: redactText(it.FromString), ToValue: it.To, ToString: redactText(it.ToString),
				ChangedAt: optTime(h.Created), FromAccountID: fromAccount, ToAccountID: toAccount,
				ActivityType: activityType, ActivityDescription: activity})
		}
	}

	seenLink := map[string]bool{}
	for _, l := range f.IssueLinks {
		if l.ID == "" || seenLink[string(l.ID)] {
			continue
		}
		seenLink[string(l.ID)] = true
		row := IssueLink{IssueKey: key, LinkID: string(l.ID), LinkType: opt(l.Type.Name)}
		other := l.OutwardIssue
		row.Direction = opt("outward")
		if other == nil {
			other = l.InwardIssue
			row.Direction = opt("inward")
		}
		if other != nil {
			row.LinkedIssueKey, row.LinkedIssueSummary = opt(other.Key), opt(other.Fields.Summary)
			row.LinkedIssueID = opt(string(other.ID))
			if other.Fields.Status != nil {
				row.LinkedIssueStatus = opt(other.Fields.Status.Name)
			}
			if other.Fields.Priority != nil {
				row.LinkedIssuePriority = opt(other.Fields.Priority.Name)
			}
		}
		r.IssueLinks = append(r.IssueLinks, row)
	}

	seenRemote := map[string]bool{}
	for _, l := range links {
		if l.ID == "" || seenRemote[string(l.ID)] {
			continue
		}
		seenRemote[string(l.ID)] = true
		row := RemoteLink{IssueKey: key, RemoteLinkID: string(l.ID), GlobalID: opt(l.GlobalID),
			URL: opt(adf.RedactURL(l.Object.URL)), Title: opt(l.Object.Title), Relationship: opt(l.Relationship)}
		if l.Application != nil {
			row.ApplicationName, row.ApplicationType = opt(l.Application.Name), opt(l.Application.Type)
		}
		r.RemoteLinks = append(r.RemoteLinks, row)
	}

	r.Worklogs = worklogRows(string(issue.ID), key, worklogs)

	r.sprintRows(f.Raw, opts.SprintFields)
	r.organizationRows(f.Raw, opts.OrganizationFields)
	i.StoryPoints = storyPoints(f.Raw, opts.StoryPointsFields)

	// An SLA field answered with {"errorMessage": ...} (outside service
	// projects, or for an account without an agent licence) is Jira's final
	// word for that field: it has no cycles to store.
	r.slaRows(f, opts, observed)

	custom := f.Custom()
	ids := make([]string, 0, len(custom))
	for id := range custom {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		raw := custom[id]
		if emptyValue(raw) || errorOnly(raw) {
			continue
		}
		text, js := fieldValue(raw)
		row := IssueField{IssueKey: key, FieldID: id, ValueText: opt(text), ValueJSON: opt(js)}
		if name, ok := opts.FieldNames[id]; ok {
			row.FieldName = opt(name)
		}
		r.Fields = append(r.Fields, row)
	}
	for _, fc := range opts.FieldMap {
		p := Promoted{Column: fc.Column}
		if raw, ok := custom[fc.ID]; ok && !emptyValue(raw) {
			p.Value = opt(ValueText(raw))
		}
		i.Promoted = append(i.Promoted, p)
	}
	return r, nil
}

// slaRows fills the sla rows and the flat SLA columns.
func (r *Rows) slaRows(f *jira.IssueFields, opts Options, observed time.Time) {
	flat := map[string]*SLAColumns{}
	for _, name := range opts.SLANames {
		r.Issue.SLA = append(r.Issue.SLA, SLAColumns{Name: name})
	}
	for k := range r.Issue.SLA {
		flat[r.Issue.SLA[k].Name] = &r.Issue.SLA[k]
	}
	ids := make([]string, 0, len(opts.SLAFields))
	for id := range opts.SLAFields {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		raw, ok := f.Field(id)
		if !ok {
			continue
		}
		v, err := jira.DecodeSLA(raw)
		if err != nil || v == nil || v.ErrorMessage != "" {
			continue
		}
		name := opt(v.Name)
		add := func(kind string, idx int, c *jira.SLACycle) {
			row := SLA{IssueKey: r.Issue.IssueKey, FieldID: id, SLAName: name, Cycle: kind, CycleIndex: int32(idx),
				StartTime: slaTime(c.StartTime), StopTime: slaTime(c.StopTime), BreachTime: slaTime(c.BreachTime),
				Breached: boolPtr(c.Breached), WithinCalendarHours: c.WithinCalendarHours,
				GoalMillis: millis(c.GoalDuration), ElapsedMillis: millis(c.ElapsedTime), RemainingMillis: millis(c.RemainingTime),
				ObservedAt: observed}
			if kind == "ongoing" {
				row.Paused = boolPtr(c.Paused)
			}
			r.SLA = append(r.SLA, row)
		}
		for idx := range v.CompletedCycles {
			add("completed", idx, &v.CompletedCycles[idx])
		}
		if v.OngoingCycle != nil {
			add("ongoing", 0, v.OngoingCycle)
		}
		if col, ok := flat[opts.SLAFields[id]]; ok {
			if c := v.Current(); c != nil {
				col.Breached = boolPtr(c.Breached)
				col.GoalMillis, col.ElapsedMillis, col.RemainingMillis = millis(c.GoalDuration), millis(c.ElapsedTime), millis(c.RemainingTime)
			}
		}
	}
}

// requestType finds the Jira Service Management request type field (the one
// whose value names a requestType) and returns its name and current status.
func requestType(raw map[string]json.RawMessage) (*string, *string) {
	ids := make([]string, 0, len(raw))
	for id := range raw {
		if strings.HasPrefix(id, "customfield_") {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		v := bytes.TrimSpace(raw[id])
		if len(v) == 0 || v[0] != '{' || !bytes.Contains(v, []byte(`"requestType"`)) {
			continue
		}
		var rt struct {
			RequestType *struct {
				Name string `json:"name"`
			} `json:"requestType"`
			CurrentStatus *struct {
				Status string `json:"status"`
			} `json:"currentStatus"`
		}
		if jsonx.Unmarshal(v, &rt) != nil || rt.RequestType == nil {
			continue
		}
		var status *string
		if rt.CurrentStatus != nil {
			status = opt(rt.CurrentStatus.Status)
		}
		return opt(rt.RequestType.Name), status
	}
	return nil, nil
}

// ValueText renders a custom field value as text a person can read: strings
// as they are (credentials in URLs redacted), numbers and booleans in JSON form, options by their value,
// users by their display name, ADF documents as text, lists joined with ", ".
func ValueText(raw json.RawMessage) string {
	v, ok := decodeValue(raw)
	if !ok {
		return ""
	}
	// Credentials in URLs are hidden as in the issue's other text: a URL
	// field or an option may hold a pre-signed link.
	return adf.RedactText(valueText(v, 0))
}

// fieldValue is a custom field's value both as ValueText renders it and as
// redactOf writes it, from one decode: decoding a generic value took
// as long as the rest of the field's work, and a rebuild did it twice for
// nearly every field (their values hold "self" URLs).
func fieldValue(raw json.RawMessage) (text, js string) {
	v, ok := decodeValue(raw)
	if !ok {
		return "", compactJSON(raw)
	}
	// valueText only reads v; redactOf may rewrite its strings in place.
	text = adf.RedactText(valueText(v, 0))
	return text, redactOf(raw, v)
}

// decodeValue decodes a custom field's value, keeping its numbers as
// written; ok is false when raw is not JSON.
func decodeValue(raw json.RawMessage) (v any, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	return v, true
}

func valueText(v any, depth int) string {
	if depth > 8 {
		return ""
	}
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			if s := valueText(e, depth+1); s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, ", ")
	case map[string]any:
		if t, _ := x["type"].(string); t == "doc" {
			return adf.Render(x)
		}
		for _, k := range []string{"value", "displayName", "name", "title", "key", "status"} {
			if s, ok := x[k].(string); ok && s != "" {
				if k == "value" {
					if child, ok := x["child"].(map[string]any); ok {
						if cs := valueText(child, depth+1); cs != "" {
							return s + " - " + cs
						}
					}
				}
				return s
			}
		}
		if rt, ok := x["requestType"].(map[string]any); ok {
			return valueText(rt, depth+1)
		}
		if id, ok := x["id"].(string); ok {
			return id
		}
	}
	return ""
}

func emptyValue(raw json.RawMessage) bool {
	s := string(bytes.TrimSpace(raw))
	return s == "" || s == "null" || s == `""` || s == "[]" || s == "{}"
}

// redactOf is a custom field's value as compact JSON, with credentials in
// the URLs of its strings redacted as in its text (adf.RedactText): a URL
// field or a text field holding a pre-signed link must not publish the token
// through value_json when value_text hides it. v is raw decoded by
// decodeValue; the strings it redacts are rewritten in place.
func redactOf(raw json.RawMessage, v any) string {
	if !bytes.Contains(raw, []byte("://")) {
		return compactJSON(raw)
	}
	v, changed := redactStrings(v, 0)
	if !changed {
		return compactJSON(raw)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return compactJSON(raw)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// redactStrings applies adf.RedactText to every string of a decoded JSON
// value, and says whether one changed.
func redactStrings(v any, depth int) (any, bool) {
	if depth > 64 {
		return v, false
	}
	changed := false
	switch x := v.(type) {
	case string:
		r := adf.RedactText(x)
		return r, r != x
	case []any:
		for i, e := range x {
			var c bool
			x[i], c = redactStrings(e, depth+1)
			changed = changed || c
		}
	case map[string]any:
		for k, e := range x {
			var c bool
			x[k], c = redactStrings(e, depth+1)
			changed = changed || c
		}
	}
	return v, changed
}

func compactJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

func state(s jira.State) State {
	switch s {
	case jira.StateComplete:
		return Complete
	case jira.StatePartial:
		return Partial
	}
	return Unknown
}

func user(u *jira.User) (email, name, account *string) {
	if u == nil {
		return nil, nil, nil
	}
	return opt(u.EmailAddress), opt(u.DisplayName), opt(u.AccountID)
}

func opt(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optTime(t jira.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func slaTime(t *jira.SLATime) *time.Time {
	if t == nil {
		return nil
	}
	v := t.Time()
	if v.IsZero() {
		return nil
	}
	return &v
}

func millis(d *jira.Duration) *int64 {
	if d == nil {
		return nil
	}
	m := d.Millis
	return &m
}

func boolPtr(b bool) *bool { return &b }

func sortedCopy(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// redactText hides credentials in URLs of free text (changelog entries keep
// the description's wiki markup as it was).
func redactText(s *string) *string {
	if s == nil {
		return nil
	}
	r := adf.RedactText(*s)
	return &r
}

// errorOnly reports a value that is only Jira's refusal to compute it, such as
// an SLA field outside a service project: {"errorMessage": ...}.
func errorOnly(raw json.RawMessage) bool {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 || b[0] != '{' || !bytes.Contains(b, []byte(`"errorMessage"`)) {
		return false
	}
	var m map[string]json.RawMessage
	if jsonx.Unmarshal(b, &m) != nil {
		return false
	}
	for k := range m {
		if k != "errorMessage" && k != "i18nErrorMessage" {
			return false
		}
	}
	return true
}
