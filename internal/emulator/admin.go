package emulator

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/jiraduck/jiraduck/internal/errkind"
	"github.com/jiraduck/jiraduck/internal/httpx"
)

// The admin API drives the emulator over HTTP: mutations, faults, the clock,
// storms and stats. It lives under /_emulator/ and asks for no credentials:
// the emulator listens on loopback. docs/emulator.md documents every route.

// State is an issue's complete current state as the REST API writes it: the
// issue as GET issue answers it (every field, SLA fields included, rendered
// fields, the embedded changelog), then every comment and every history
// oldest first, and the remote links.
type State struct {
	Issue       json.RawMessage   `json:"issue"`
	Comments    []json.RawMessage `json:"comments"`
	Changelog   []json.RawMessage `json:"changelog"`
	RemoteLinks json.RawMessage   `json:"remotelinks"`
	Worklogs    []json.RawMessage `json:"worklogs"`
}

// State returns an issue's complete current state as JSON, for comparing
// jiraduck's tables with Jira's view of the issue. Unlike GET issue, its issue
// embeds every worklog, not the first 20.
func (e *Emulator) State(keyOrID string) (*State, error) {
	s := e.s
	iv, err := s.view(keyOrID)
	if err != nil {
		return nil, fmt.Errorf("%w: issue %s", err, keyOrID)
	}
	v := &view{s: s, base: s.hookBase(), sla: true, now: s.now(), zone: iv.zone, allWorklogs: true}
	var w enc
	all := parseFields(nil, "*all")
	v.writeIssue(&w, iv, &all, expandSet{rendered: true, changelog: true})
	st := &State{Issue: w.b, Comments: []json.RawMessage{}, Changelog: []json.RawMessage{}, Worklogs: []json.RawMessage{}}
	for _, wl := range iv.is.Worklogs {
		var ww enc
		v.writeWorklog(&ww, iv.id, wl)
		st.Worklogs = append(st.Worklogs, ww.b)
	}
	v.zone = iv.zone
	for _, c := range iv.is.Comments {
		var cw enc
		v.writeComment(&cw, iv.id, c, false, false)
		st.Comments = append(st.Comments, cw.b)
	}
	for _, h := range iv.is.Histories {
		var hw enc
		v.writeHistory(&hw, h)
		st.Changelog = append(st.Changelog, hw.b)
	}
	var rw enc
	v.writeRemoteLinks(&rw, iv.key, iv.is.RemoteLinks)
	st.RemoteLinks = rw.b
	return st, nil
}

func (s *site) adminRoutes() http.Handler {
	e := &Emulator{s: s}
	reply := adminFormat
	reply.Log = s.log
	handle := reply.Handle
	r := mux.NewRouter()
	a := r.PathPrefix("/_emulator").Subrouter()
	a.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) { adminJSON(w, http.StatusOK, e.Stats()) }).Methods(http.MethodGet)
	a.HandleFunc("/stats/reset", func(w http.ResponseWriter, r *http.Request) {
		e.ResetStats()
		w.WriteHeader(http.StatusNoContent)
	}).Methods(http.MethodPost)
	a.HandleFunc("/faults", func(w http.ResponseWriter, r *http.Request) { adminJSON(w, http.StatusOK, faultsOut(e.Faults())) }).Methods(http.MethodGet)
	a.HandleFunc("/faults", handle(e.adminSetFaults)).Methods(http.MethodPost, http.MethodPut)
	a.HandleFunc("/faults/off", func(w http.ResponseWriter, r *http.Request) {
		e.SetFaults(Faults{})
		adminJSON(w, http.StatusOK, faultsOut(e.Faults()))
	}).Methods(http.MethodPost)
	a.HandleFunc("/clock", func(w http.ResponseWriter, r *http.Request) { adminJSON(w, http.StatusOK, clockOut(e)) }).Methods(http.MethodGet)
	a.HandleFunc("/clock", handle(e.adminClock)).Methods(http.MethodPost)
	a.HandleFunc("/users", handle(e.adminUsers)).Methods(http.MethodGet)
	a.HandleFunc("/issues", func(w http.ResponseWriter, r *http.Request) {
		adminJSON(w, http.StatusOK, map[string][]string{"keys": e.Keys()})
	}).Methods(http.MethodGet)
	a.HandleFunc("/issues", handle(e.adminCreate)).Methods(http.MethodPost)
	a.HandleFunc("/issues/{key}", handle(e.adminState)).Methods(http.MethodGet)
	a.HandleFunc("/issues/{key}", handle(e.adminUpdate)).Methods(http.MethodPut, http.MethodPost)
	a.HandleFunc("/issues/{key}", handle(e.adminDelete)).Methods(http.MethodDelete)
	a.HandleFunc("/issues/{key}/transition", handle(e.adminTransition)).Methods(http.MethodPost)
	a.HandleFunc("/issues/{key}/move", handle(e.adminMove)).Methods(http.MethodPost)
	a.HandleFunc("/issues/{key}/comments", handle(e.adminAddComment)).Methods(http.MethodPost)
	a.HandleFunc("/issues/{key}/comments/{id}", handle(e.adminEditComment)).Methods(http.MethodPut, http.MethodPost)
	a.HandleFunc("/issues/{key}/comments/{id}", handle(e.adminDeleteComment)).Methods(http.MethodDelete)
	a.HandleFunc("/issues/{key}/attachments", handle(e.adminAddAttachment)).Methods(http.MethodPost)
	a.HandleFunc("/issues/{key}/attachments/{id}", handle(e.adminDeleteAttachment)).Methods(http.MethodDelete)
	a.HandleFunc("/issues/{key}/remotelinks", handle(e.adminAddRemoteLink)).Methods(http.MethodPost)
	a.HandleFunc("/issues/{key}/remotelinks/{id}", handle(e.adminDeleteRemoteLink)).Methods(http.MethodDelete)
	a.HandleFunc("/issues/{key}/worklogs", handle(e.adminAddWorklog)).Methods(http.MethodPost)
	a.HandleFunc("/issues/{key}/worklogs/{id}", handle(e.adminEditWorklog)).Methods(http.MethodPut, http.MethodPost)
	a.HandleFunc("/issues/{key}/worklogs/{id}", handle(e.adminDeleteWorklog)).Methods(http.MethodDelete)
	a.HandleFunc("/links", handle(e.adminAddLink)).Methods(http.MethodPost)
	a.HandleFunc("/links/{id}", handle(e.adminDeleteLink)).Methods(http.MethodDelete)
	a.HandleFunc("/storm", handle(e.adminStorm)).Methods(http.MethodPost)
	a.HandleFunc("/webhooks/wait", handle(e.adminWaitWebhooks)).Methods(http.MethodPost)
	e.agileAdminRoutes(a, handle)
	s.platformAdminRoutes(a, handle)
	r.NotFoundHandler = handle(func(_ http.ResponseWriter, r *http.Request) error {
		return fmt.Errorf("%w: no admin route %s %s", ErrNotFound, r.Method, r.URL.Path)
	})
	r.MethodNotAllowedHandler = handle(func(_ http.ResponseWriter, r *http.Request) error {
		return fmt.Errorf("%w: method %s not allowed on %s", ErrInvalid, r.Method, r.URL.Path)
	})
	return r
}

// adminFormat is how the admin API replies: JSON as the REST API writes it
// (its content type, no newline after the body) and errors in Jira's
// envelope, with the status of their kind: 404 for ErrNotFound, 400 for
// ErrInvalid, 500 for any other.
var adminFormat = httpx.Format{
	ContentType: jsonContentType,
	ErrorBody:   func(msg string) any { return json.RawMessage(errorBody(msg)) },
	NoNewline:   true,
}

func adminJSON(w http.ResponseWriter, status int, v any) { adminFormat.JSON(w, status, v) }

// common are the fields every admin mutation accepts.
type common struct {
	Silent bool   `json:"silent"`
	Author string `json:"author"`
}

// decode reads a JSON body into v; an empty body leaves v as it is.
func decode(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%w: read body: %v", ErrInvalid, err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: body: %v", ErrInvalid, err)
	}
	return nil
}

// handle returns the handle a request acts with: silent by body or query,
// as the author given.
func (e *Emulator) handle(r *http.Request, c common) *Emulator {
	h := e
	if c.Silent || r.URL.Query().Get("silent") == "true" {
		h = h.Silent()
	}
	author := c.Author
	if author == "" {
		author = r.URL.Query().Get("author")
	}
	if author != "" {
		h = h.As(author)
	}
	return h
}

// issueInput is the body of create and update: every field is optional.
type issueInput struct {
	common
	Project     string                     `json:"project"`
	Parent      string                     `json:"parent"`
	Summary     *string                    `json:"summary"`
	Description json.RawMessage            `json:"description"`
	Type        *string                    `json:"type"`
	Status      *string                    `json:"status"`
	Resolution  *string                    `json:"resolution"`
	Priority    *string                    `json:"priority"`
	Assignee    json.RawMessage            `json:"assignee"`
	Reporter    *string                    `json:"reporter"`
	DueDate     json.RawMessage            `json:"duedate"`
	Labels      *[]string                  `json:"labels"`
	Components  *[]string                  `json:"components"`
	FixVersions *[]string                  `json:"fixVersions"`
	RequestType *string                    `json:"requestType"`
	Custom      map[string]json.RawMessage `json:"custom"`
	SLA         map[string]string          `json:"sla"`
}

// docValue reads rich text given as plain text, an ADF document or null.
func docValue(raw json.RawMessage) (Doc, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return Doc{}, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		return Text(s), nil
	}
	d, err := ParseADF(raw)
	if err != nil {
		return Doc{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return d, nil
}

// nullableString reads a string or null ("" for null).
func nullableString(raw json.RawMessage) (string, error) {
	var s *string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%w: want a string or null: %v", ErrInvalid, err)
	}
	if s == nil {
		return "", nil
	}
	return *s, nil
}

// customJSON turns a JSON custom field value into the Go value Issue.Custom
// holds for the field's kind.
func customJSON(f *customField, raw json.RawMessage) (any, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, f.id, err)
	}
	if m, ok := v.(map[string]any); ok {
		if f.kind == kindTextArea {
			return docValue(raw)
		}
		if val, ok := m["value"]; ok {
			v = val
		} else if id, ok := m["accountId"]; ok {
			v = id
		}
	}
	if list, ok := v.([]any); ok {
		for i, x := range list {
			if m, ok := x.(map[string]any); ok {
				list[i] = m["value"]
			}
		}
	}
	return v, nil
}

// apply writes the given fields into is; now drives SLA actions.
func (in *issueInput) apply(is *Issue, now time.Time) error {
	if in.Summary != nil {
		is.Summary = *in.Summary
	}
	if in.Description != nil {
		d, err := docValue(in.Description)
		if err != nil {
			return err
		}
		is.Description = d
	}
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&is.Type, in.Type)
	set(&is.Status, in.Status)
	set(&is.Resolution, in.Resolution)
	set(&is.Priority, in.Priority)
	set(&is.Reporter, in.Reporter)
	set(&is.RequestType, in.RequestType)
	var err error
	if in.Assignee != nil {
		if is.Assignee, err = nullableString(in.Assignee); err != nil {
			return err
		}
	}
	if in.DueDate != nil {
		if is.DueDate, err = nullableString(in.DueDate); err != nil {
			return err
		}
	}
	if in.Labels != nil {
		is.Labels = *in.Labels
	}
	if in.Components != nil {
		is.Components = *in.Components
	}
	if in.FixVersions != nil {
		is.FixVersions = *in.FixVersions
	}
	if is.Custom == nil {
		is.Custom = map[string]any{}
	}
	for id, raw := range in.Custom {
		f := findCustomField(id)
		if f == nil {
			return fmt.Errorf("%w: unknown custom field %s", ErrInvalid, id)
		}
		v, err := customJSON(f, raw)
		if err != nil {
			return err
		}
		is.Custom[id] = v
	}
	for field, action := range in.SLA {
		if err := applySLAAction(is, field, action, now); err != nil {
			return err
		}
	}
	return nil
}

// applySLAAction changes one SLA field: start, pause, resume, complete,
// never (an SLA that never started), null (no SLA applies) or error.
func applySLAAction(is *Issue, field, action string, now time.Time) error {
	f := findCustomField(field)
	if f == nil || f.kind != kindSLA {
		return fmt.Errorf("%w: %s is not an SLA field", ErrInvalid, field)
	}
	goal := findPriority(is.Priority)
	if goal == nil {
		goal = priorities[2]
	}
	g := goal.ttr
	if field == FieldTimeToFirstResp {
		g = goal.ttfr
	}
	sl := is.sla(field)
	if sl == nil && action != "null" {
		is.SLA = append(is.SLA, SLA{Field: field, Name: f.name})
		sl = &is.SLA[len(is.SLA)-1]
	}
	switch action {
	case "start":
		sl.Start(now, g)
	case "pause":
		sl.Pause(now)
	case "resume":
		sl.Resume(now)
	case "complete":
		sl.Complete(now)
	case "never":
		*sl = SLA{Field: field, Name: f.name}
	case "error":
		*sl = SLA{Field: field, Name: f.name, Error: slaError}
	case "null":
		for i := range is.SLA {
			if is.SLA[i].Field == field {
				is.SLA = append(is.SLA[:i], is.SLA[i+1:]...)
				break
			}
		}
	default:
		return fmt.Errorf("%w: SLA action %q (use start, pause, resume, complete, never, null or error)", ErrInvalid, action)
	}
	return nil
}

type issueRef struct {
	ID      string `json:"id"`
	Key     string `json:"key"`
	Updated string `json:"updated,omitempty"`
	OldKey  string `json:"oldKey,omitempty"`
}

func (e *Emulator) ref(key string) issueRef {
	is, err := e.Issue(key)
	if err != nil {
		return issueRef{Key: key}
	}
	return issueRef{ID: is.ID, Key: is.Key, Updated: jiraTime(is.Updated, zoneUTC)}
}

func (e *Emulator) adminCreate(w http.ResponseWriter, r *http.Request) error {
	var in issueInput
	if err := decode(r, &in); err != nil {
		return err
	}
	h := e.handle(r, in.common)
	is, err := h.create(in.Project, func(is *Issue) error {
		is.Parent = in.Parent
		return in.apply(is, e.Now())
	})
	if err != nil {
		return err
	}
	adminJSON(w, http.StatusCreated, issueRef{ID: is.ID, Key: is.Key, Updated: jiraTime(is.Updated, zoneUTC)})
	return nil
}

func (e *Emulator) adminState(w http.ResponseWriter, r *http.Request) error {
	st, err := e.State(mux.Vars(r)["key"])
	if err != nil {
		return err
	}
	adminJSON(w, http.StatusOK, st)
	return nil
}

func (e *Emulator) adminUpdate(w http.ResponseWriter, r *http.Request) error {
	var in issueInput
	if err := decode(r, &in); err != nil {
		return err
	}
	key := mux.Vars(r)["key"]
	err := e.handle(r, in.common).update(key, func(is *Issue) error { return in.apply(is, e.Now()) })
	if err != nil {
		return err
	}
	adminJSON(w, http.StatusOK, e.ref(key))
	return nil
}

func (e *Emulator) adminTransition(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		common
		Status     string `json:"status"`
		Resolution string `json:"resolution"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	key := mux.Vars(r)["key"]
	err := e.handle(r, in.common).Update(key, func(is *Issue) {
		is.Status = in.Status
		if in.Resolution != "" {
			is.Resolution = in.Resolution
		}
	})
	if err != nil {
		return err
	}
	adminJSON(w, http.StatusOK, e.ref(key))
	return nil
}

func (e *Emulator) adminMove(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		common
		Project string `json:"project"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	key := mux.Vars(r)["key"]
	newKey, err := e.handle(r, in.common).Move(key, in.Project)
	if err != nil {
		return err
	}
	ref := e.ref(newKey)
	ref.OldKey = key
	adminJSON(w, http.StatusOK, ref)
	return nil
}

func (e *Emulator) adminDelete(w http.ResponseWriter, r *http.Request) error {
	var in common
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := e.handle(r, in).Delete(mux.Vars(r)["key"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (e *Emulator) adminAddComment(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		common
		Body       json.RawMessage `json:"body"`
		Public     *bool           `json:"public"`
		Visibility string          `json:"visibility"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	body, err := docValue(in.Body)
	if err != nil {
		return err
	}
	h := e.handle(r, in.common)
	c := Comment{Body: body, Public: in.Public == nil || *in.Public, Visibility: in.Visibility, Author: h.as}
	out, err := h.AddComment(mux.Vars(r)["key"], c)
	if err != nil {
		return err
	}
	adminJSON(w, http.StatusCreated, map[string]string{"id": out.ID})
	return nil
}

func (e *Emulator) adminEditComment(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		common
		Body json.RawMessage `json:"body"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	body, err := docValue(in.Body)
	if err != nil {
		return err
	}
	v := mux.Vars(r)
	if err := e.handle(r, in.common).EditComment(v["key"], v["id"], body); err != nil {
		return err
	}
	adminJSON(w, http.StatusOK, map[string]string{"id": v["id"]})
	return nil
}

func (e *Emulator) adminDeleteComment(w http.ResponseWriter, r *http.Request) error {
	var in common
	if err := decode(r, &in); err != nil {
		return err
	}
	v := mux.Vars(r)
	if err := e.handle(r, in).DeleteComment(v["key"], v["id"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (e *Emulator) adminAddAttachment(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		common
		Filename string `json:"filename"`
		MimeType string `json:"mimeType"`
		Size     int64  `json:"size"`
		Content  string `json:"content"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	var data []byte
	if in.Content != "" {
		var err error
		if data, err = base64.StdEncoding.DecodeString(in.Content); err != nil {
			return fmt.Errorf("%w: content is not base64: %v", ErrInvalid, err)
		}
	}
	h := e.handle(r, in.common)
	a, err := h.AddAttachment(mux.Vars(r)["key"], Attachment{Filename: in.Filename, MimeType: in.MimeType, Size: in.Size, Author: h.as}, data)
	if err != nil {
		return err
	}
	adminJSON(w, http.StatusCreated, map[string]any{"id": a.ID, "size": a.Size})
	return nil
}

func (e *Emulator) adminDeleteAttachment(w http.ResponseWriter, r *http.Request) error {
	var in common
	if err := decode(r, &in); err != nil {
		return err
	}
	v := mux.Vars(r)
	if err := e.handle(r, in).DeleteAttachment(v["key"], v["id"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (e *Emulator) adminAddRemoteLink(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		common
		URL          string `json:"url"`
		Title        string `json:"title"`
		Summary      string `json:"summary"`
		Relationship string `json:"relationship"`
		GlobalID     string `json:"globalId"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	l, err := e.handle(r, in.common).AddRemoteLink(mux.Vars(r)["key"], RemoteLink{URL: in.URL, Title: in.Title, Summary: in.Summary, Relationship: in.Relationship, GlobalID: in.GlobalID})
	if err != nil {
		return err
	}
	adminJSON(w, http.StatusCreated, map[string]int64{"id": l.ID})
	return nil
}

func (e *Emulator) adminDeleteRemoteLink(w http.ResponseWriter, r *http.Request) error {
	var in common
	if err := decode(r, &in); err != nil {
		return err
	}
	v := mux.Vars(r)
	id, err := strconv.ParseInt(v["id"], 10, 64)
	if err != nil {
		return fmt.Errorf("%w: remote link id %q", ErrInvalid, v["id"])
	}
	if err := e.handle(r, in).DeleteRemoteLink(v["key"], id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// worklogInput is the body of the admin worklog endpoints: what Jira's own
// worklog endpoints take, comment as ADF or as plain text, visibility as a
// project role name.
type worklogInput struct {
	common
	TimeSpentSeconds *int64          `json:"timeSpentSeconds"`
	Comment          json.RawMessage `json:"comment"`
	Started          string          `json:"started"`
	Visibility       *string         `json:"visibility"`
}

// apply sets on wl what the input gives.
func (in *worklogInput) apply(wl *Worklog) error {
	if in.TimeSpentSeconds != nil {
		wl.Spent = time.Duration(*in.TimeSpentSeconds) * time.Second
	}
	if len(in.Comment) > 0 {
		doc, err := docValue(in.Comment)
		if err != nil {
			return err
		}
		wl.Comment = doc
	}
	if in.Started != "" {
		// Jira's own layout, as its worklog endpoints take it, or RFC 3339.
		t, err := time.Parse(jiraLayout, in.Started)
		if err != nil {
			t, err = time.Parse(time.RFC3339Nano, in.Started)
		}
		if err != nil {
			return fmt.Errorf("%w: started %q: %v", ErrInvalid, in.Started, err)
		}
		wl.Started = t
	}
	if in.Visibility != nil {
		wl.Visibility = *in.Visibility
	}
	return nil
}

func (e *Emulator) adminAddWorklog(w http.ResponseWriter, r *http.Request) error {
	var in worklogInput
	if err := decode(r, &in); err != nil {
		return err
	}
	h := e.handle(r, in.common)
	wl := Worklog{Author: h.as}
	if err := in.apply(&wl); err != nil {
		return err
	}
	wl, err := h.AddWorklog(mux.Vars(r)["key"], wl)
	if err != nil {
		return err
	}
	adminJSON(w, http.StatusCreated, map[string]string{"id": wl.ID})
	return nil
}

func (e *Emulator) adminEditWorklog(w http.ResponseWriter, r *http.Request) error {
	var in worklogInput
	if err := decode(r, &in); err != nil {
		return err
	}
	v := mux.Vars(r)
	if err := e.handle(r, in.common).EditWorklog(v["key"], v["id"], in.apply); err != nil {
		return err
	}
	adminJSON(w, http.StatusOK, map[string]string{"id": v["id"]})
	return nil
}

func (e *Emulator) adminDeleteWorklog(w http.ResponseWriter, r *http.Request) error {
	var in common
	if err := decode(r, &in); err != nil {
		return err
	}
	v := mux.Vars(r)
	if err := e.handle(r, in).DeleteWorklog(v["key"], v["id"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (e *Emulator) adminAddLink(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		common
		From string `json:"from"`
		To   string `json:"to"`
		Type string `json:"type"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.Type == "" {
		in.Type = "Relates"
	}
	id, err := e.handle(r, in.common).AddLink(in.From, in.To, in.Type)
	if err != nil {
		return err
	}
	adminJSON(w, http.StatusCreated, map[string]string{"id": id})
	return nil
}

func (e *Emulator) adminDeleteLink(w http.ResponseWriter, r *http.Request) error {
	var in common
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := e.handle(r, in).DeleteLink(mux.Vars(r)["id"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (e *Emulator) adminStorm(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		common
		Events int     `json:"events"`
		Issues int     `json:"issues"`
		Month  string  `json:"month"`
		Rate   float64 `json:"rate"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	res, err := e.handle(r, in.common).Storm(r.Context(), StormOptions{Events: in.Events, Issues: in.Issues, Month: in.Month, Rate: in.Rate})
	if err != nil {
		return err
	}
	adminJSON(w, http.StatusOK, map[string]any{"events": res.Events, "keys": res.Keys, "durationMs": res.Duration.Milliseconds()})
	return nil
}

func (e *Emulator) adminWaitWebhooks(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Timeout string `json:"timeout"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	timeout := 30 * time.Second
	if in.Timeout != "" {
		d, err := time.ParseDuration(in.Timeout)
		if err != nil {
			return fmt.Errorf("%w: timeout: %v", ErrInvalid, err)
		}
		timeout = d
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	if err := e.WaitWebhooks(ctx); err != nil {
		return errkind.Errorf(errkind.Timeout, "webhooks still pending: %w", err)
	}
	adminJSON(w, http.StatusOK, e.Stats().Webhooks)
	return nil
}

func (e *Emulator) adminUsers(w http.ResponseWriter, r *http.Request) error {
	type user struct {
		AccountID   string `json:"accountId"`
		Email       string `json:"emailAddress,omitempty"`
		DisplayName string `json:"displayName"`
		Active      bool   `json:"active"`
		AccountType string `json:"accountType"`
	}
	var out []user
	for _, u := range e.Users() {
		out = append(out, user{u.AccountID, u.Email, u.DisplayName, u.Active, u.AccountType})
	}
	adminJSON(w, http.StatusOK, out)
	return nil
}

func clockOut(e *Emulator) map[string]any {
	now := e.Now()
	return map[string]any{"now": now.Format(jiraLayout), "epochMillis": now.UnixMilli()}
}

func (e *Emulator) adminClock(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Advance string `json:"advance"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	d, err := time.ParseDuration(in.Advance)
	if err != nil || d < 0 {
		return fmt.Errorf("%w: advance %q is not a positive duration", ErrInvalid, in.Advance)
	}
	e.Advance(d)
	adminJSON(w, http.StatusOK, clockOut(e))
	return nil
}

// faultsJSON is Faults over the admin API: durations as Go duration strings,
// every field optional so that a POST changes only what it names.
type faultsJSON struct {
	Latency              *string  `json:"latency,omitempty"`
	ErrorRate            *float64 `json:"errorRate,omitempty"`
	ThrottleRate         *float64 `json:"throttleRate,omitempty"`
	RetryAfter           *string  `json:"retryAfter,omitempty"`
	StallRate            *float64 `json:"stallRate,omitempty"`
	Stall                *string  `json:"stall,omitempty"`
	DropRate             *float64 `json:"dropRate,omitempty"`
	BulkErrorRate        *float64 `json:"bulkErrorRate,omitempty"`
	WebhookDuplicateRate *float64 `json:"webhookDuplicateRate,omitempty"`
	WebhookShuffle       *int     `json:"webhookShuffle,omitempty"`
	SearchLag            *string  `json:"searchLag,omitempty"`
}

func faultsOut(f Faults) faultsJSON {
	d := func(x time.Duration) *string { s := x.String(); return &s }
	return faultsJSON{d(f.Latency), &f.ErrorRate, &f.ThrottleRate, d(f.RetryAfter), &f.StallRate, d(f.Stall), &f.DropRate,
		&f.BulkErrorRate, &f.WebhookDuplicateRate, &f.WebhookShuffle, d(f.SearchLag)}
}

func (e *Emulator) adminSetFaults(w http.ResponseWriter, r *http.Request) error {
	var in faultsJSON
	if err := decode(r, &in); err != nil {
		return err
	}
	f := e.Faults()
	var errs []string
	dur := func(dst *time.Duration, src *string, name string) {
		if src == nil {
			return
		}
		d, err := time.ParseDuration(*src)
		if err != nil {
			errs = append(errs, name+": "+err.Error())
			return
		}
		*dst = d
	}
	num := func(dst *float64, src *float64) {
		if src != nil {
			*dst = *src
		}
	}
	dur(&f.Latency, in.Latency, "latency")
	dur(&f.RetryAfter, in.RetryAfter, "retryAfter")
	dur(&f.Stall, in.Stall, "stall")
	dur(&f.SearchLag, in.SearchLag, "searchLag")
	num(&f.ErrorRate, in.ErrorRate)
	num(&f.ThrottleRate, in.ThrottleRate)
	num(&f.StallRate, in.StallRate)
	num(&f.DropRate, in.DropRate)
	num(&f.BulkErrorRate, in.BulkErrorRate)
	num(&f.WebhookDuplicateRate, in.WebhookDuplicateRate)
	if in.WebhookShuffle != nil {
		f.WebhookShuffle = *in.WebhookShuffle
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(errs, "; "))
	}
	if err := e.SetFaults(f); err != nil {
		return err
	}
	adminJSON(w, http.StatusOK, faultsOut(f))
	return nil
}
