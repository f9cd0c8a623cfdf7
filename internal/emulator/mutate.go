package emulator

import (
	"fmt"
	"maps"
	"mime"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Mutations change issues the way Jira does: the issue's updated time moves
// forward, the changelog records what changed, and the webhooks Jira would
// send are queued, unless the handle is Silent. Webhook bodies are built under
// the site lock, from the state right after the change, and queued after it is
// released.

// hookEvent is one webhook ready to be queued.
type hookEvent struct {
	event string
	body  []byte
}

// As returns a handle whose mutations are made by the given account: it is
// the author of comments, attachments and histories and the user of the
// webhooks.
func (e *Emulator) As(accountID string) *Emulator {
	return &Emulator{s: e.s, silent: e.silent, as: accountID}
}

// actor is the account a mutation is attributed to: As's, else the main API
// account, else the first agent.
func (e *Emulator) actor() string {
	if e.as != "" {
		return e.as
	}
	if e.s.mainUser != "" {
		return e.s.mainUser
	}
	return e.s.users[e.s.agents[0]].AccountID
}

// checkActor refuses a handle made with As for an account the site lacks.
func (e *Emulator) checkActor() error {
	if e.as != "" && e.s.user(e.as) == nil {
		return fmt.Errorf("%w: unknown account %q", ErrInvalid, e.as)
	}
	return nil
}

// mut is one mutation of one issue, built under the site's write lock.
type mut struct {
	s     *site
	e     *Emulator
	r     *rec
	cur   *Issue
	next  *Issue
	at    time.Time
	after []func() hookEvent
	// touched says whether the change moves updated and may add a history.
	touched bool
}

// stamp is the time of the change: now, but never before or at the issue's
// last update, so that every change is visible to a comparison of updated.
func (s *site) stamp(rs ...*rec) time.Time {
	at := s.now()
	for _, r := range rs {
		if !at.After(r.updated) {
			at = r.updated.Add(time.Millisecond)
		}
	}
	return at
}

func (m *mut) history(items []Change) string {
	if len(items) == 0 {
		return ""
	}
	id := strconv.FormatInt(m.s.next.history, 10)
	m.s.next.history++
	m.next.Histories = append(m.next.Histories, History{ID: id, Author: m.e.actor(), Created: m.at, Items: items})
	m.touched = true
	return id
}

// hook registers a webhook built after the change is stored.
func (m *mut) hook(fn func() hookEvent) { m.after = append(m.after, fn) }

// mutate runs fn on a copy of one issue under the write lock, stores the copy
// and queues the webhooks fn registered.
func (e *Emulator) mutate(keyOrID string, fn func(m *mut) error) error {
	if err := e.checkActor(); err != nil {
		return err
	}
	s := e.s
	s.mu.Lock()
	r := s.lookup(keyOrID)
	if r == nil {
		s.mu.Unlock()
		return fmt.Errorf("%w: issue %s", ErrNotFound, keyOrID)
	}
	m := &mut{s: s, e: e, r: r, cur: s.issue(r), at: s.stamp(r)}
	m.next = m.cur.clone()
	if err := fn(m); err != nil {
		s.mu.Unlock()
		return err
	}
	if m.touched {
		m.next.Updated = m.at
	}
	r.full = m.next
	s.sync(r, m.next)
	var hooks []hookEvent
	for _, f := range m.after {
		hooks = append(hooks, f())
	}
	s.mu.Unlock()
	e.send(hooks)
	return nil
}

func (e *Emulator) send(hooks []hookEvent) {
	if e.silent {
		return
	}
	for _, h := range hooks {
		e.s.hooks.enqueue(h)
	}
}

// Update changes an issue's fields: fn receives a copy of the issue and
// changes it. Summary, Description, Type, Status, Resolution, Priority,
// Assignee, Reporter, DueDate, Labels, Components, FixVersions, RequestType,
// Custom and SLA are read back; every other field is left as it was (use the
// dedicated methods for comments, attachments, links and the rest).
//
// A status change sets or clears the resolution and resolution date as Jira's
// workflows do and drives the SLA cycles. A change of SLA values alone, like
// an SLA ticking in Jira, moves neither updated nor the changelog and sends no
// webhook. An Update that changes nothing touches the issue: updated moves and
// a jira:issue_updated without changelog is sent.
func (e *Emulator) Update(keyOrID string, fn func(*Issue)) error {
	return e.update(keyOrID, func(is *Issue) error { fn(is); return nil })
}

// update is Update with a function that may refuse the change.
func (e *Emulator) update(keyOrID string, fn func(*Issue) error) error {
	return e.mutate(keyOrID, func(m *mut) error {
		if m.next.Custom == nil {
			m.next.Custom = map[string]any{}
		}
		if err := fn(m.next); err != nil {
			return err
		}
		return m.applyEdit()
	})
}

// Transition moves an issue to a status, as a workflow transition does.
func (e *Emulator) Transition(keyOrID, status string) error {
	return e.Update(keyOrID, func(is *Issue) { is.Status = status })
}

// applyEdit validates the fields fn changed, restores the ones it may not
// change, records the changes and registers the webhook.
func (m *mut) applyEdit() error {
	cur, next, s := m.cur, m.next, m.s
	p := s.projectByKey(cur.Project)
	// Fields Update does not read back.
	next.ID, next.Key, next.Project, next.Parent = cur.ID, cur.Key, cur.Project, cur.Parent
	next.Created, next.Updated, next.Creator = cur.Created, cur.Updated, cur.Creator
	next.Comments, next.Histories, next.Attachments = cur.Comments, slices.Clone(cur.Histories), cur.Attachments
	next.RemoteLinks, next.Worklogs, next.Links, next.Subtasks = cur.RemoteLinks, cur.Worklogs, cur.Links, cur.Subtasks
	wantStatus, wantRes := next.Status, next.Resolution
	next.Status, next.Resolution, next.Resolved, next.StatusChanged = cur.Status, cur.Resolution, cur.Resolved, cur.StatusChanged
	if err := s.validate(next, p); err != nil {
		return err
	}
	if findStatus(wantStatus) == nil {
		return fmt.Errorf("%w: unknown status %q", ErrInvalid, wantStatus)
	}
	if wantRes != "" && findResolution(wantRes) == nil {
		return fmt.Errorf("%w: unknown resolution %q", ErrInvalid, wantRes)
	}
	if (findIssueType(next.Type).subtask) != (findIssueType(cur.Type).subtask) {
		return fmt.Errorf("%w: an issue cannot become or stop being a sub-task", ErrInvalid)
	}
	items := s.diff(cur, next)
	statusChanged := false
	if !strings.EqualFold(wantStatus, cur.Status) {
		items = append(items, s.statusItems(next, findStatus(wantStatus).name, wantRes, m.at)...)
		statusChanged = true
		s.slaOnStatus(next, cur.Status, m.at)
	} else if canon := canonicalResolution(wantRes); canon != next.Resolution {
		c := Change{Field: "resolution", FieldType: "jira", FieldID: "resolution"}
		if r := findResolution(next.Resolution); r != nil {
			c.From, c.FromString = strp(r.id), strp(r.name)
		}
		if r := findResolution(canon); r != nil {
			c.To, c.ToString = strp(r.id), strp(r.name)
			next.Resolved = m.at
		} else {
			next.Resolved = time.Time{}
		}
		next.Resolution = canon
		items = append(items, c)
	}
	histID := m.history(items)
	if histID == "" {
		if !reflect.DeepEqual(cur.SLA, next.SLA) {
			return nil // an SLA ticking is not an edit
		}
		// Nothing changed: the issue is touched, which tests use to move
		// updated without changing a field.
		m.touched = true
		m.hook(func() hookEvent { return m.issueEvent("jira:issue_updated", "issue_updated", "", nil, nil) })
		return nil
	}
	typeName := "issue_updated"
	switch {
	case statusChanged:
		typeName = "issue_generic"
	case allField(items, "assignee"):
		typeName = "issue_assigned"
	}
	m.hook(func() hookEvent { return m.issueEvent("jira:issue_updated", typeName, histID, items, nil) })
	return nil
}

func canonicalResolution(name string) string {
	if r := findResolution(name); r != nil {
		return r.name
	}
	return ""
}

func allField(items []Change, field string) bool {
	for _, it := range items {
		if it.FieldID != field {
			return false
		}
	}
	return len(items) > 0
}

// validate checks the values of an issue's fields and brings them to their
// canonical form: names as the site spells them, custom values typed.
func (s *site) validate(is *Issue, p *project) error {
	if strings.TrimSpace(is.Summary) == "" {
		return fmt.Errorf("%w: summary is required", ErrInvalid)
	}
	if len(is.Summary) > 255 {
		return fmt.Errorf("%w: summary is longer than 255 characters", ErrInvalid)
	}
	t := findIssueType(is.Type)
	if t == nil {
		return fmt.Errorf("%w: unknown issue type %q", ErrInvalid, is.Type)
	}
	is.Type = t.name
	pr := findPriority(is.Priority)
	if pr == nil {
		return fmt.Errorf("%w: unknown priority %q", ErrInvalid, is.Priority)
	}
	is.Priority = pr.name
	for _, u := range []struct{ what, id string }{{"assignee", is.Assignee}, {"reporter", is.Reporter}} {
		if u.id != "" && s.user(u.id) == nil {
			return fmt.Errorf("%w: unknown %s %q", ErrInvalid, u.what, u.id)
		}
	}
	if is.Reporter == "" {
		return fmt.Errorf("%w: reporter is required", ErrInvalid)
	}
	for i, c := range is.Components {
		comp := p.component(c)
		if comp == nil {
			return fmt.Errorf("%w: project %s has no component %q", ErrInvalid, p.key, c)
		}
		is.Components[i] = comp.name
	}
	for i, v := range is.FixVersions {
		ver := p.version(v)
		if ver == nil {
			return fmt.Errorf("%w: project %s has no version %q", ErrInvalid, p.key, v)
		}
		is.FixVersions[i] = ver.name
	}
	if is.DueDate != "" {
		if _, err := time.Parse(time.DateOnly, is.DueDate); err != nil {
			return fmt.Errorf("%w: due date %q is not YYYY-MM-DD", ErrInvalid, is.DueDate)
		}
	}
	if is.RequestType != "" {
		rt := findRequestType(is.RequestType)
		if rt < 0 || !p.service {
			return fmt.Errorf("%w: request type %q does not exist in project %s", ErrInvalid, is.RequestType, p.key)
		}
		is.RequestType = requestTypes[rt].name
	}
	is.Labels = slices.DeleteFunc(is.Labels, func(l string) bool { return strings.TrimSpace(l) == "" })
	for i, l := range is.Labels {
		if strings.ContainsAny(l, " \t\n") {
			return fmt.Errorf("%w: label %q contains a space", ErrInvalid, l)
		}
		is.Labels[i] = l
	}
	if is.Custom == nil {
		is.Custom = map[string]any{}
	}
	for id, v := range is.Custom {
		f := findCustomField(id)
		if f == nil || f.kind == kindSLA || f.kind == kindRequestType {
			return fmt.Errorf("%w: %s is not a custom field that takes a value", ErrInvalid, id)
		}
		nv, err := s.customValue(f, v)
		if err != nil {
			return err
		}
		if nv == nil {
			delete(is.Custom, id)
		} else {
			is.Custom[id] = nv
		}
	}
	for _, sl := range is.SLA {
		if f := findCustomField(sl.Field); f == nil || f.kind != kindSLA {
			return fmt.Errorf("%w: %s is not an SLA field", ErrInvalid, sl.Field)
		}
	}
	return nil
}

// customValue checks a custom field value against the field's kind and
// returns it in canonical form; nil clears the field.
func (s *site) customValue(f *customField, v any) (any, error) {
	bad := func() (any, error) {
		return nil, fmt.Errorf("%w: value %v does not suit %s (%s)", ErrInvalid, v, f.id, f.name)
	}
	if v == nil {
		return nil, nil
	}
	switch f.kind {
	case kindSprint, kindOrganizations:
		return s.agileValue(f, v)
	case kindText, kindURL, kindRank:
		str, ok := v.(string)
		if !ok {
			return bad()
		}
		if str == "" {
			return nil, nil
		}
		return str, nil
	case kindTextArea:
		switch x := v.(type) {
		case Doc:
			if x.IsZero() {
				return nil, nil
			}
			return x, nil
		case string:
			if x == "" {
				return nil, nil
			}
			return Text(x), nil
		}
		return bad()
	case kindNumber:
		switch x := v.(type) {
		case float64:
			return x, nil
		case int:
			return float64(x), nil
		case int64:
			return float64(x), nil
		}
		return bad()
	case kindOption:
		str, ok := v.(string)
		if !ok {
			return bad()
		}
		o := f.option(str)
		if o == nil {
			return bad()
		}
		return o.value, nil
	case kindOptions, kindLabels:
		var list []string
		switch x := v.(type) {
		case []string:
			list = slices.Clone(x)
		case []any:
			for _, e := range x {
				str, ok := e.(string)
				if !ok {
					return bad()
				}
				list = append(list, str)
			}
		default:
			return bad()
		}
		if len(list) == 0 {
			return nil, nil
		}
		if f.kind == kindOptions {
			for i, x := range list {
				o := f.option(x)
				if o == nil {
					return bad()
				}
				list[i] = o.value
			}
		}
		return list, nil
	case kindUser:
		str, ok := v.(string)
		if !ok || (str != "" && s.user(str) == nil) {
			return bad()
		}
		if str == "" {
			return nil, nil
		}
		return str, nil
	case kindDate:
		str, ok := v.(string)
		if !ok {
			return bad()
		}
		if _, err := time.Parse(time.DateOnly, str); err != nil {
			return bad()
		}
		return str, nil
	case kindDateTime:
		switch x := v.(type) {
		case time.Time:
			return ms(x), nil
		case string:
			t, err := parseAnyTime(x)
			if err != nil {
				return bad()
			}
			return t, nil
		}
		return bad()
	}
	return bad()
}

// parseAnyTime reads Jira's format or RFC 3339.
func parseAnyTime(s string) (time.Time, error) {
	if t, err := time.Parse(jiraLayout, s); err == nil {
		return ms(t), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return ms(t), err
}

// diff returns the change items between two states of an issue's plain
// fields, in a fixed order.
func (s *site) diff(cur, next *Issue) []Change {
	var items []Change
	if next.Summary != cur.Summary {
		items = append(items, Change{Field: "summary", FieldType: "jira", FieldID: "summary", FromString: strp(cur.Summary), ToString: strp(next.Summary)})
	}
	if !next.Description.Equal(cur.Description) {
		items = append(items, Change{Field: "description", FieldType: "jira", FieldID: "description", FromString: nullIfEmpty(cur.Description.Wiki()), ToString: nullIfEmpty(next.Description.Wiki())})
	}
	if next.Type != cur.Type {
		a, b := findIssueType(cur.Type), findIssueType(next.Type)
		items = append(items, Change{Field: "issuetype", FieldType: "jira", FieldID: "issuetype", From: strp(a.id), FromString: strp(a.name), To: strp(b.id), ToString: strp(b.name)})
	}
	if next.Priority != cur.Priority {
		a, b := findPriority(cur.Priority), findPriority(next.Priority)
		items = append(items, Change{Field: "priority", FieldType: "jira", FieldID: "priority", From: strp(a.id), FromString: strp(a.name), To: strp(b.id), ToString: strp(b.name)})
	}
	if next.Assignee != cur.Assignee {
		items = append(items, s.userChange("assignee", cur.Assignee, next.Assignee))
	}
	if next.Reporter != cur.Reporter {
		items = append(items, s.userChange("reporter", cur.Reporter, next.Reporter))
	}
	if !slices.Equal(next.Labels, cur.Labels) {
		items = append(items, Change{Field: "labels", FieldType: "jira", FieldID: "labels", FromString: strp(joinSpace(cur.Labels)), ToString: strp(joinSpace(next.Labels))})
	}
	p := s.projectByKey(cur.Project)
	for _, c := range cur.Components {
		if !slices.Contains(next.Components, c) {
			comp := p.component(c)
			items = append(items, Change{Field: "Component", FieldType: "jira", FieldID: "components", From: strp(comp.id), FromString: strp(comp.name)})
		}
	}
	for _, c := range next.Components {
		if !slices.Contains(cur.Components, c) {
			comp := p.component(c)
			items = append(items, Change{Field: "Component", FieldType: "jira", FieldID: "components", To: strp(comp.id), ToString: strp(comp.name)})
		}
	}
	for _, v := range cur.FixVersions {
		if !slices.Contains(next.FixVersions, v) {
			ver := p.version(v)
			items = append(items, Change{Field: "Fix Version", FieldType: "jira", FieldID: "fixVersions", From: strp(ver.id), FromString: strp(ver.name)})
		}
	}
	for _, v := range next.FixVersions {
		if !slices.Contains(cur.FixVersions, v) {
			ver := p.version(v)
			items = append(items, Change{Field: "Fix Version", FieldType: "jira", FieldID: "fixVersions", To: strp(ver.id), ToString: strp(ver.name)})
		}
	}
	if next.DueDate != cur.DueDate {
		c := Change{Field: "duedate", FieldType: "jira", FieldID: "duedate"}
		if cur.DueDate != "" {
			c.From, c.FromString = strp(cur.DueDate), strp(cur.DueDate+" 00:00:00.0")
		}
		if next.DueDate != "" {
			c.To, c.ToString = strp(next.DueDate), strp(next.DueDate+" 00:00:00.0")
		}
		items = append(items, c)
	}
	if next.RequestType != cur.RequestType {
		items = append(items, Change{Field: "Customer Request Type", FieldType: "custom", FieldID: FieldRequestType, FromString: nullIfEmpty(cur.RequestType), ToString: nullIfEmpty(next.RequestType)})
	}
	ids := slices.Sorted(maps.Keys(cur.Custom))
	for id := range next.Custom {
		if _, ok := cur.Custom[id]; !ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		f := findCustomField(id)
		before, after := cur.Custom[id], next.Custom[id]
		if customText(f, before) == customText(f, after) {
			continue
		}
		if f.kind == kindSprint || f.kind == kindOrganizations {
			items = append(items, s.agileChange(f, before, after))
			continue
		}
		items = append(items, customChange(f, before, after))
	}
	return items
}

// slaOnStatus moves the SLA cycles of a service request along with a status
// change, as Jira Service Management's default SLA goals do.
func (s *site) slaOnStatus(is *Issue, from string, at time.Time) {
	to := findStatus(is.Status)
	prio := findPriority(is.Priority)
	for i := range is.SLA {
		sl := &is.SLA[i]
		if sl.Error != "" {
			continue
		}
		switch {
		case to.cat == catDone:
			sl.Complete(at)
		case sl.Field == FieldTimeToResolution && findStatus(from).cat == catDone:
			if rt := findRequestType(is.RequestType); rt >= 0 && requestTypes[rt].ttr {
				sl.Start(at, prio.ttr)
			}
		case sl.Field == FieldTimeToResolution && to.name == StatusWaiting:
			sl.Pause(at)
		case sl.Field == FieldTimeToResolution && from == StatusWaiting:
			sl.Resume(at)
		}
	}
}

// Create adds an issue to a project. fn, if not nil, fills in the new issue
// (Summary at least, unless the default will do); Parent makes it a sub-task.
// Comments, attachments and the other collections are ignored: add them
// afterwards. The issue is returned as stored.
func (e *Emulator) Create(projectKey string, fn func(*Issue)) (*Issue, error) {
	return e.create(projectKey, func(is *Issue) error {
		if fn != nil {
			fn(is)
		}
		return nil
	})
}

// create is Create with a function that may refuse the issue.
func (e *Emulator) create(projectKey string, fn func(*Issue) error) (*Issue, error) {
	if err := e.checkActor(); err != nil {
		return nil, err
	}
	s := e.s
	s.mu.Lock()
	p := s.projectByKey(strings.ToUpper(projectKey))
	if p == nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: project %q does not exist", ErrInvalid, projectKey)
	}
	at := s.now()
	if n := len(s.recs); n > 0 && !at.After(s.recs[n-1].created) {
		// Records stay in creation order, which search relies on.
		at = s.recs[n-1].created.Add(time.Millisecond)
	}
	actor := e.actor()
	is := &Issue{Project: p.key, Type: "Task", Status: StatusToDo, Priority: "Medium", Reporter: actor, Creator: actor,
		Created: at, Updated: at, StatusChanged: at, Summary: "New issue", Custom: map[string]any{}}
	if p.service {
		is.Type, is.RequestType = "Service Request", requestTypes[0].name
	}
	if err := fn(is); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	is.Project, is.Created, is.Updated, is.StatusChanged, is.Creator = p.key, at, at, at, actor
	is.Comments, is.Histories, is.Attachments, is.RemoteLinks, is.Worklogs, is.Links, is.Subtasks = nil, nil, nil, nil, nil, nil, nil
	parent, epicChild := int32(-1), false
	if is.Parent != "" {
		pr := s.lookup(is.Parent)
		if pr != nil && !pr.deleted && s.issue(pr).Type == "Epic" && !isSubtaskType(is.Type) {
			// An epic's issue: in any project, of its own type; Jira shows
			// the epic in its parent field, not the epic's sub-tasks.
			parent, epicChild = pr.idx, true
			is.Parent = pr.key
		} else if pr == nil || pr.proj != p || pr.subtask {
			s.mu.Unlock()
			return nil, fmt.Errorf("%w: parent %s is not an issue of %s that can have sub-tasks", ErrInvalid, is.Parent, p.key)
		} else {
			parent = pr.idx
			is.Type, is.RequestType, is.Parent = "Sub-task", "", pr.key
		}
	} else if isSubtaskType(is.Type) {
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: a sub-task needs a parent", ErrInvalid)
	}
	if err := s.validate(is, p); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	st := findStatus(is.Status)
	if st == nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: unknown status %q", ErrInvalid, is.Status)
	}
	is.Status = st.name
	if st.cat == catDone {
		is.Resolution, is.Resolved = canonicalResolution(is.Resolution), at
		if is.Resolution == "" {
			is.Resolution = "Done"
		}
	} else {
		is.Resolution, is.Resolved = "", time.Time{}
	}
	if is.SLA == nil {
		switch {
		case !p.service:
			is.SLA = []SLA{{Field: FieldTimeToResolution, Name: slaTTRName, Error: slaError}, {Field: FieldTimeToFirstResp, Name: slaTTFRName, Error: slaError}}
		case is.RequestType != "" && is.Type != "Task":
			prio := findPriority(is.Priority)
			ttr := SLA{Field: FieldTimeToResolution, Name: slaTTRName}
			if requestTypes[findRequestType(is.RequestType)].ttr {
				ttr.Start(at, prio.ttr)
			}
			ttfr := SLA{Field: FieldTimeToFirstResp, Name: slaTTFRName}
			ttfr.Start(at, prio.ttfr)
			is.SLA = []SLA{ttr, ttfr}
		}
		if st.cat == catDone {
			for i := range is.SLA {
				is.SLA[i].Complete(at)
			}
		}
	}
	idx := int32(len(s.recs))
	r := &rec{idx: idx, id: s.issueBase + int64(idx-s.generated), proj: p, num: p.next, created: at, parent: parent, subtask: parent >= 0 && !epicChild, full: is}
	p.next++
	r.key = p.key + "-" + strconv.Itoa(r.num)
	r.zone = zone(uint64(r.id) % uint64(numZones))
	is.ID, is.Key = strconv.FormatInt(r.id, 10), r.key
	s.sync(r, is)
	s.recs = append(s.recs, r)
	s.byKey[r.key] = idx
	if parent >= 0 && !epicChild {
		s.recs[parent].subtasks = append(s.recs[parent].subtasks, idx)
	}
	m := &mut{s: s, e: e, r: r, cur: is, next: is, at: at}
	histID := strconv.FormatInt(s.next.history, 10)
	s.next.history++
	items := s.creationItems(is)
	hook := m.issueEvent("jira:issue_created", "issue_created", histID, items, nil)
	out, _ := e.snapshotLocked(r)
	s.mu.Unlock()
	e.send([]hookEvent{hook})
	return out, nil
}

// creationItems are the changelog items of an issue_created webhook: the
// initial values, each from null.
func (s *site) creationItems(is *Issue) []Change {
	var items []Change
	if u := s.user(is.Assignee); u != nil {
		items = append(items, Change{Field: "assignee", FieldType: "jira", FieldID: "assignee", To: strp(u.AccountID), ToString: strp(u.DisplayName)})
	}
	if !is.Description.IsZero() {
		items = append(items, Change{Field: "description", FieldType: "jira", FieldID: "description", ToString: strp(is.Description.Wiki())})
	}
	pr := findPriority(is.Priority)
	items = append(items, Change{Field: "priority", FieldType: "jira", FieldID: "priority", To: strp(pr.id), ToString: strp(pr.name)})
	if u := s.user(is.Reporter); u != nil {
		items = append(items, Change{Field: "reporter", FieldType: "jira", FieldID: "reporter", To: strp(u.AccountID), ToString: strp(u.DisplayName)})
	}
	st := findStatus(is.Status)
	items = append(items, Change{Field: "Status", FieldType: "jira", FieldID: "status", To: strp(st.id), ToString: strp(st.name)})
	items = append(items, Change{Field: "summary", FieldType: "jira", FieldID: "summary", ToString: strp(is.Summary)})
	return items
}

// snapshotLocked is Issue for a caller that holds the lock.
func (e *Emulator) snapshotLocked(r *rec) (*Issue, error) {
	iv, in, full := e.s.viewOf(r)
	iv.is = full
	if full == nil {
		iv.is = e.s.genIssue(in)
	}
	return e.snapshot(iv), nil
}

// AddComment adds a comment. Body is required; Author defaults to the
// handle's account; Public (jsdPublic) is always true outside the service
// project. The stored comment is returned.
func (e *Emulator) AddComment(keyOrID string, c Comment) (Comment, error) {
	var out Comment
	err := e.mutate(keyOrID, func(m *mut) error {
		if c.Body.IsZero() {
			return fmt.Errorf("%w: comment body is required", ErrInvalid)
		}
		if c.Author == "" {
			c.Author = e.actor()
		}
		if m.s.user(c.Author) == nil {
			return fmt.Errorf("%w: unknown author %q", ErrInvalid, c.Author)
		}
		p := m.s.projectByKey(m.cur.Project)
		c.ID = strconv.FormatInt(m.s.next.comment, 10)
		m.s.next.comment++
		c.Created, c.Updated, c.UpdateAuthor = m.at, m.at, c.Author
		if !p.service {
			c.Public = true
		}
		m.next.Comments = append(m.next.Comments, c)
		m.touched = true
		if c.Public && m.s.isAgent(c.Author) {
			if sl := m.next.sla(FieldTimeToFirstResp); sl != nil && sl.Error == "" {
				sl.Complete(m.at)
			}
		}
		out = c
		m.hook(func() hookEvent { return m.commentEvent("comment_created", c) })
		m.hook(func() hookEvent { return m.issueEvent("jira:issue_updated", "issue_commented", "", nil, &c) })
		return nil
	})
	return out, err
}

// EditComment replaces a comment's body.
func (e *Emulator) EditComment(keyOrID, commentID string, body Doc) error {
	return e.mutate(keyOrID, func(m *mut) error {
		i := m.next.comment(commentID)
		if i < 0 {
			return fmt.Errorf("%w: comment %s of %s", ErrNotFound, commentID, m.cur.Key)
		}
		if body.IsZero() {
			return fmt.Errorf("%w: comment body is required", ErrInvalid)
		}
		m.next.Comments = slices.Clone(m.next.Comments)
		c := &m.next.Comments[i]
		c.Body, c.Updated, c.UpdateAuthor = body, m.at, e.actor()
		m.touched = true
		done := *c
		m.hook(func() hookEvent { return m.commentEvent("comment_updated", done) })
		m.hook(func() hookEvent { return m.issueEvent("jira:issue_updated", "issue_comment_edited", "", nil, &done) })
		return nil
	})
}

// DeleteComment removes a comment.
func (e *Emulator) DeleteComment(keyOrID, commentID string) error {
	return e.mutate(keyOrID, func(m *mut) error {
		i := m.next.comment(commentID)
		if i < 0 {
			return fmt.Errorf("%w: comment %s of %s", ErrNotFound, commentID, m.cur.Key)
		}
		gone := m.next.Comments[i]
		m.next.Comments = slices.Delete(slices.Clone(m.next.Comments), i, i+1)
		m.touched = true
		m.hook(func() hookEvent { return m.commentEvent("comment_deleted", gone) })
		m.hook(func() hookEvent { return m.issueEvent("jira:issue_updated", "issue_comment_deleted", "", nil, &gone) })
		return nil
	})
}

// AddAttachment attaches a file. With data nil, a.Size bytes are generated
// from the seed when the file is downloaded, which is how to declare a file
// too large to fetch. MimeType defaults from the file name. The stored
// attachment is returned.
func (e *Emulator) AddAttachment(keyOrID string, a Attachment, data []byte) (Attachment, error) {
	var out Attachment
	err := e.mutate(keyOrID, func(m *mut) error {
		a.Filename = path.Base(strings.ReplaceAll(a.Filename, "\\", "/"))
		if a.Filename == "" || a.Filename == "." || a.Filename == "/" {
			return fmt.Errorf("%w: attachment file name is required", ErrInvalid)
		}
		if a.MimeType == "" {
			a.MimeType = mime.TypeByExtension(path.Ext(a.Filename))
			if a.MimeType == "" {
				a.MimeType = "application/octet-stream"
			}
			a.MimeType, _, _ = strings.Cut(a.MimeType, ";")
		}
		if data != nil {
			a.Size = int64(len(data))
		}
		if a.Size <= 0 {
			return fmt.Errorf("%w: attachment size must be positive", ErrInvalid)
		}
		if a.Author == "" {
			a.Author = e.actor()
		}
		if m.s.user(a.Author) == nil {
			return fmt.Errorf("%w: unknown author %q", ErrInvalid, a.Author)
		}
		id := m.s.next.attachment
		m.s.next.attachment++
		a.ID, a.Created = strconv.FormatInt(id, 10), m.at
		m.s.attIndex[id] = m.r.idx
		if data != nil {
			m.s.attData[id] = slices.Clone(data)
		}
		m.next.Attachments = append(m.next.Attachments, a)
		items := []Change{attachmentChange(a, true)}
		histID := m.history(items)
		out = a
		m.hook(func() hookEvent { return m.attachmentEvent("attachment_created", a) })
		m.hook(func() hookEvent { return m.issueEvent("jira:issue_updated", "issue_updated", histID, items, nil) })
		return nil
	})
	return out, err
}

// DeleteAttachment removes an attachment.
func (e *Emulator) DeleteAttachment(keyOrID, attachmentID string) error {
	return e.mutate(keyOrID, func(m *mut) error {
		i := m.next.attachment(attachmentID)
		if i < 0 {
			return fmt.Errorf("%w: attachment %s of %s", ErrNotFound, attachmentID, m.cur.Key)
		}
		a := m.next.Attachments[i]
		m.next.Attachments = slices.Delete(slices.Clone(m.next.Attachments), i, i+1)
		id, _ := strconv.ParseInt(a.ID, 10, 64)
		delete(m.s.attIndex, id)
		delete(m.s.attData, id)
		items := []Change{attachmentChange(a, false)}
		histID := m.history(items)
		m.hook(func() hookEvent { return m.attachmentEvent("attachment_deleted", a) })
		m.hook(func() hookEvent { return m.issueEvent("jira:issue_updated", "issue_updated", histID, items, nil) })
		return nil
	})
}

// AddRemoteLink links an issue to a URL. URL is required; Title defaults to
// it. The stored link is returned.
func (e *Emulator) AddRemoteLink(keyOrID string, l RemoteLink) (RemoteLink, error) {
	var out RemoteLink
	err := e.mutate(keyOrID, func(m *mut) error {
		if l.URL == "" {
			return fmt.Errorf("%w: remote link url is required", ErrInvalid)
		}
		if l.Title == "" {
			l.Title = l.URL
		}
		l.ID = m.s.next.remote
		m.s.next.remote++
		if l.GlobalID == "" {
			l.GlobalID = "system=" + l.URL
		}
		m.next.RemoteLinks = append(m.next.RemoteLinks, l)
		items := []Change{remoteLinkChange(l)}
		histID := m.history(items)
		out = l
		m.hook(func() hookEvent { return m.issueEvent("jira:issue_updated", "issue_updated", histID, items, nil) })
		return nil
	})
	return out, err
}

// DeleteRemoteLink removes a remote link.
func (e *Emulator) DeleteRemoteLink(keyOrID string, id int64) error {
	return e.mutate(keyOrID, func(m *mut) error {
		i := slices.IndexFunc(m.next.RemoteLinks, func(l RemoteLink) bool { return l.ID == id })
		if i < 0 {
			return fmt.Errorf("%w: remote link %d of %s", ErrNotFound, id, m.cur.Key)
		}
		l := m.next.RemoteLinks[i]
		m.next.RemoteLinks = slices.Delete(slices.Clone(m.next.RemoteLinks), i, i+1)
		items := []Change{{Field: "RemoteIssueLink", FieldType: "jira", From: strp(strconv.FormatInt(l.ID, 10)), FromString: strp(`This issue links to "` + l.Title + `"`)}}
		histID := m.history(items)
		m.hook(func() hookEvent { return m.issueEvent("jira:issue_updated", "issue_updated", histID, items, nil) })
		return nil
	})
}

// AddWorklog logs time on an issue. Spent is required; Author defaults to
// the handle's account and Started to now.
func (e *Emulator) AddWorklog(keyOrID string, w Worklog) (Worklog, error) {
	var out Worklog
	err := e.mutate(keyOrID, func(m *mut) error {
		if w.Spent < time.Minute {
			return fmt.Errorf("%w: time spent must be at least a minute", ErrInvalid)
		}
		if w.Author == "" {
			w.Author = e.actor()
		}
		if m.s.user(w.Author) == nil {
			return fmt.Errorf("%w: unknown author %q", ErrInvalid, w.Author)
		}
		if w.Started.IsZero() {
			w.Started = m.at
		}
		w.Started, w.Created = ms(w.Started), m.at
		w.ID = strconv.FormatInt(m.s.next.worklog, 10)
		m.s.next.worklog++
		before := totalSpent(m.next.Worklogs)
		m.next.Worklogs = append(m.next.Worklogs, w)
		items := worklogChanges(w, before, before+w.Spent)
		histID := m.history(items)
		out = w
		id := m.r.id
		m.hook(func() hookEvent { return m.worklogEvent("worklog_created", w, id) })
		m.hook(func() hookEvent { return m.issueEvent("jira:issue_updated", "issue_work_logged", histID, items, nil) })
		return nil
	})
	return out, err
}

// EditWorklog changes a worklog: fn receives a copy and may change Started,
// Spent, Comment and Visibility, or refuse with an error; the rest is kept.
// The worklog's updated time and update author move; a changed time spent is
// recorded in the changelog and moves the issue's updated; worklog_updated is
// sent.
func (e *Emulator) EditWorklog(keyOrID, worklogID string, fn func(*Worklog) error) error {
	return e.mutate(keyOrID, func(m *mut) error {
		i := slices.IndexFunc(m.next.Worklogs, func(w Worklog) bool { return w.ID == worklogID })
		if i < 0 {
			return fmt.Errorf("%w: worklog %s of %s", ErrNotFound, worklogID, m.cur.Key)
		}
		old := m.next.Worklogs[i]
		w := old
		if err := fn(&w); err != nil {
			return err
		}
		if w.Spent < time.Minute {
			return fmt.Errorf("%w: time spent must be at least a minute", ErrInvalid)
		}
		w.ID, w.Author, w.Created = old.ID, old.Author, old.Created
		w.Started, w.Updated, w.UpdateAuthor = ms(w.Started), m.at, e.actor()
		before := totalSpent(m.next.Worklogs)
		m.next.Worklogs = slices.Clone(m.next.Worklogs)
		m.next.Worklogs[i] = w
		histID := ""
		var items []Change
		if w.Spent != old.Spent {
			after := before - old.Spent + w.Spent
			items = []Change{{Field: "timespent", FieldType: "jira", FieldID: "timespent",
				From: strp(secs(before)), FromString: strp(secs(before)), To: strp(secs(after)), ToString: strp(secs(after))}}
			histID = m.history(items)
		}
		// Only a change of the time spent reaches the changelog and moves
		// the issue's updated; a comment or start time edited alone leaves
		// the issue as it was, which only the worklog itself tells.
		id := m.r.id
		m.hook(func() hookEvent { return m.worklogEvent("worklog_updated", w, id) })
		m.hook(func() hookEvent {
			return m.issueEvent("jira:issue_updated", "issue_worklog_updated", histID, items, nil)
		})
		return nil
	})
}

// DeleteWorklog removes a worklog.
func (e *Emulator) DeleteWorklog(keyOrID, worklogID string) error {
	return e.mutate(keyOrID, func(m *mut) error {
		i := slices.IndexFunc(m.next.Worklogs, func(w Worklog) bool { return w.ID == worklogID })
		if i < 0 {
			return fmt.Errorf("%w: worklog %s of %s", ErrNotFound, worklogID, m.cur.Key)
		}
		w := m.next.Worklogs[i]
		before := totalSpent(m.next.Worklogs)
		m.next.Worklogs = slices.Delete(slices.Clone(m.next.Worklogs), i, i+1)
		c := Change{Field: "timespent", FieldType: "jira", FieldID: "timespent", From: strp(secs(before)), FromString: strp(secs(before))}
		if after := before - w.Spent; after > 0 {
			c.To, c.ToString = strp(secs(after)), strp(secs(after))
		}
		items := []Change{c, {Field: "WorklogId", FieldType: "jira", FieldID: "worklogId", From: strp(w.ID), FromString: strp(w.ID)}}
		histID := m.history(items)
		id := m.r.id
		m.hook(func() hookEvent { return m.worklogEvent("worklog_deleted", w, id) })
		m.hook(func() hookEvent {
			return m.issueEvent("jira:issue_updated", "issue_worklog_deleted", histID, items, nil)
		})
		return nil
	})
}

// isSubtaskType reports whether the issue type name is a sub-task type.
func isSubtaskType(name string) bool {
	t := findIssueType(name)
	return t != nil && t.subtask
}

// hasEpicIssues reports whether r is the parent of an issue that is not its
// sub-task (the issues of an epic), which the emulator does not track in a
// list: they are found by a scan.
func (s *site) hasEpicIssues(r *rec) bool {
	for _, c := range s.recs {
		if c.parent == r.idx && !c.subtask && !c.deleted {
			return true
		}
	}
	return false
}

// Move moves an issue to another project. It gets the next key of that
// project and keeps its id; its former key keeps resolving to it. Components
// and fix versions, which belong to the old project, are dropped. The new
// key is returned. An epic's issues keep their keys and show its new one as
// their parent, without a webhook of their own, as in Jira; sub-tasks and
// their parents are not moved.
func (e *Emulator) Move(keyOrID, projectKey string) (string, error) {
	var newKey string
	err := e.mutate(keyOrID, func(m *mut) error {
		to := m.s.projectByKey(strings.ToUpper(projectKey))
		if to == nil {
			return fmt.Errorf("%w: project %q does not exist", ErrInvalid, projectKey)
		}
		from := m.r.proj
		if to == from {
			return fmt.Errorf("%w: %s is already in %s", ErrInvalid, m.cur.Key, to.key)
		}
		if m.r.subtask || len(m.r.subtasks) > 0 {
			return fmt.Errorf("%w: sub-tasks and their parents are not moved by the emulator", ErrInvalid)
		}
		num := to.next
		to.next++
		newKey = to.key + "-" + strconv.Itoa(num)
		items := []Change{
			{Field: "project", FieldType: "jira", FieldID: "project", From: strp(strconv.FormatInt(from.id, 10)), FromString: strp(from.name), To: strp(strconv.FormatInt(to.id, 10)), ToString: strp(to.name)},
			{Field: "Key", FieldType: "jira", FromString: strp(m.cur.Key), ToString: strp(newKey)},
		}
		n := m.next
		n.Key, n.Project, n.Components, n.FixVersions = newKey, to.key, nil, nil
		typ := findIssueType(n.Type).name
		if to.service {
			if typ == "Story" || typ == "Bug" {
				n.Type = "Service Request"
			}
			if !from.service {
				n.SLA = nil // no request type yet: no SLA applies
			}
		} else {
			if typ == "Service Request" || typ == "Incident" {
				n.Type = "Task"
			}
			n.RequestType = ""
			n.SLA = []SLA{{Field: FieldTimeToResolution, Name: slaTTRName, Error: slaError}, {Field: FieldTimeToFirstResp, Name: slaTTFRName, Error: slaError}}
		}
		histID := m.history(items)
		m.r.key, m.r.proj, m.r.num = newKey, to, num
		m.s.byKey[newKey] = m.r.idx
		m.hook(func() hookEvent { return m.issueEvent("jira:issue_updated", "issue_moved", histID, items, nil) })
		return nil
	})
	return newKey, err
}

// Delete deletes an issue, its sub-tasks and its links. Jira sends
// jira:issue_deleted for each deleted issue.
func (e *Emulator) Delete(keyOrID string) error {
	if err := e.checkActor(); err != nil {
		return err
	}
	s := e.s
	s.mu.Lock()
	r := s.lookup(keyOrID)
	if r == nil {
		s.mu.Unlock()
		return fmt.Errorf("%w: issue %s", ErrNotFound, keyOrID)
	}
	if s.hasEpicIssues(r) {
		s.mu.Unlock()
		return fmt.Errorf("%w: %s is an epic with issues; the emulator does not delete those", ErrInvalid, r.key)
	}
	victims := []*rec{r}
	for i := 0; i < len(victims); i++ {
		for _, c := range victims[i].subtasks {
			if cr := s.recs[c]; !cr.deleted {
				victims = append(victims, cr)
			}
		}
	}
	var hooks []hookEvent
	at := s.stamp(victims...)
	for _, v := range victims {
		m := &mut{s: s, e: e, r: v, cur: s.issue(v), at: at}
		m.next = m.cur
		hooks = append(hooks, m.deletedEvent())
	}
	for _, v := range victims {
		v.deleted = true
		for _, lid := range v.links {
			l := s.links[lid]
			if l == nil {
				continue
			}
			delete(s.links, lid)
			other := s.recs[l.src]
			if l.src == v.idx {
				other = s.recs[l.dst]
			}
			other.links = slices.DeleteFunc(other.links, func(x int64) bool { return x == lid })
		}
		v.links = nil
		is := s.issue(v)
		for _, a := range is.Attachments {
			id, _ := strconv.ParseInt(a.ID, 10, 64)
			delete(s.attIndex, id)
			delete(s.attData, id)
		}
		v.full = nil
	}
	s.mu.Unlock()
	e.send(hooks)
	return nil
}

// AddLink links two issues; linkType is a link type name (Blocks, Cloners,
// Duplicate, Relates) or its outward description ("blocks"). from is the
// source: for Blocks, from blocks to. Both issues record the link in their
// changelog. The link id is returned.
func (e *Emulator) AddLink(from, to, linkType string) (string, error) {
	if err := e.checkActor(); err != nil {
		return "", err
	}
	s := e.s
	lt := s.linkType(linkType)
	if lt == nil {
		return "", fmt.Errorf("%w: unknown link type %q", ErrInvalid, linkType)
	}
	s.mu.Lock()
	src, dst := s.lookup(from), s.lookup(to)
	if src == nil || dst == nil {
		s.mu.Unlock()
		return "", fmt.Errorf("%w: issue %s or %s", ErrNotFound, from, to)
	}
	if src == dst {
		s.mu.Unlock()
		return "", fmt.Errorf("%w: an issue cannot link to itself", ErrInvalid)
	}
	at := s.stamp(src, dst)
	l := &link{id: s.next.link, typ: lt, src: src.idx, dst: dst.idx, made: at}
	s.next.link++
	s.links[l.id] = l
	src.links = append(src.links, l.id)
	dst.links = append(dst.links, l.id)
	s.linkHistory(e, src, at, Change{Field: "Link", FieldType: "jira", FieldID: "issuelinks", To: strp(dst.key), ToString: strp("This issue " + lt.outward + " " + dst.key)})
	s.linkHistory(e, dst, at, Change{Field: "Link", FieldType: "jira", FieldID: "issuelinks", To: strp(src.key), ToString: strp("This issue " + lt.inward + " " + src.key)})
	hook := s.linkEvent("issuelink_created", l, at)
	s.mu.Unlock()
	e.send([]hookEvent{hook})
	return strconv.FormatInt(l.id, 10), nil
}

// DeleteLink removes an issue link.
func (e *Emulator) DeleteLink(linkID string) error {
	if err := e.checkActor(); err != nil {
		return err
	}
	s := e.s
	id, err := strconv.ParseInt(linkID, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: link id %q", ErrInvalid, linkID)
	}
	s.mu.Lock()
	l := s.links[id]
	if l == nil {
		s.mu.Unlock()
		return fmt.Errorf("%w: link %s", ErrNotFound, linkID)
	}
	src, dst := s.recs[l.src], s.recs[l.dst]
	at := s.stamp(src, dst)
	delete(s.links, id)
	src.links = slices.DeleteFunc(src.links, func(x int64) bool { return x == id })
	dst.links = slices.DeleteFunc(dst.links, func(x int64) bool { return x == id })
	s.linkHistory(e, src, at, Change{Field: "Link", FieldType: "jira", FieldID: "issuelinks", From: strp(dst.key), FromString: strp("This issue " + l.typ.outward + " " + dst.key)})
	s.linkHistory(e, dst, at, Change{Field: "Link", FieldType: "jira", FieldID: "issuelinks", From: strp(src.key), FromString: strp("This issue " + l.typ.inward + " " + src.key)})
	hook := s.linkEvent("issuelink_deleted", l, at)
	s.mu.Unlock()
	e.send([]hookEvent{hook})
	return nil
}

// linkHistory records a link change on one end; the caller holds the lock.
func (s *site) linkHistory(e *Emulator, r *rec, at time.Time, item Change) {
	m := &mut{s: s, e: e, r: r, cur: s.issue(r), at: at}
	m.next = m.cur.clone()
	m.history([]Change{item})
	m.next.Updated = at
	r.full = m.next
	s.sync(r, m.next)
}
