package emulator

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
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
}

// State returns an issue's complete current state as JSON, for comparing
// jiraduck's tables with Jira's view of the issue.
func (e *Emulator) State(keyOrID string) (*State, error) {
	s := e.s
	iv, err := s.view(keyOrID)
	if err != nil {
		return nil, fmt.Errorf("%w: issue %s", err, keyOrID)
	}
	v := &view{s: s, base: s.hookBase(), sla: true, now: s.now(), zone: iv.zone}
	var w enc
	all := parseFields(nil, "*all")
	v.writeIssue(&w, iv, &all, expandSet{rendered: true, changelog: true})
	st := &State{Issue: w.b, Comments: []json.RawMessage{}, Changelog: []json.RawMessage{}}
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
	r := mux.NewRouter()
	a := r.PathPrefix("/_emulator").Subrouter()
	a.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) { adminJSON(w, http.StatusOK, e.Stats()) }).Methods(http.MethodGet)
	a.HandleFunc("/stats/reset", func(w http.ResponseWriter, r *http.Request) {
		e.ResetStats()
		w.WriteHeader(http.StatusNoContent)
	}).Methods(http.MethodPost)
	a.HandleFunc("/faults", func(w http.ResponseWriter, r *http.Request) { adminJSON(w, http.StatusOK, faultsOut(e.Faults())) }).Methods(http.MethodGet)
	a.HandleFunc("/faults", e.adminSetFaults).Methods(http.MethodPost, http.MethodPut)
	a.HandleFunc("/faults/off", func(w http.ResponseWriter, r *http.Request) {
		e.SetFaults(Faults{})
		adminJSON(w, http.StatusOK, faultsOut(e.Faults()))
	}).Methods(http.MethodPost)
	a.HandleFunc("/clock", func(w http.ResponseWriter, r *http.Request) { adminJSON(w, http.StatusOK, clockOut(e)) }).Methods(http.MethodGet)
	a.HandleFunc("/clock", e.adminClock).Methods(http.MethodPost)
	a.HandleFunc("/users", e.adminUsers).Methods(http.MethodGet)
	a.HandleFunc("/issues", func(w http.ResponseWriter, r *http.Request) {
		adminJSON(w, http.StatusOK, map[string][]string{"keys": e.Keys()})
	}).Methods(http.MethodGet)
	a.HandleFunc("/issues", e.adminCreate).Methods(http.MethodPost)
	a.HandleFunc("/issues/{key}", e.adminState).Methods(http.MethodGet)
	a.HandleFunc("/issues/{key}", e.adminUpdate).Methods(http.MethodPut, http.MethodPost)
	a.HandleFunc("/issues/{key}", e.adminDelete).Methods(http.MethodDelete)
	a.HandleFunc("/issues/{key}/transition", e.adminTransition).Methods(http.MethodPost)
	a.HandleFunc("/issues/{key}/move", e.adminMove).Methods(http.MethodPost)
	a.HandleFunc("/issues/{key}/comments", e.adminAddComment).Methods(http.MethodPost)
	a.HandleFunc("/issues/{key}/comments/{id}", e.adminEditComment).Methods(http.MethodPut, http.MethodPost)
	a.HandleFunc("/issues/{key}/comments/{id}", e.adminDeleteComment).Methods(http.MethodDelete)
	a.HandleFunc("/issues/{key}/attachments", e.adminAddAttachment).Methods(http.MethodPost)
	a.HandleFunc("/issues/{key}/attachments/{id}", e.adminDeleteAttachment).Methods(http.MethodDelete)
	a.HandleFunc("/issues/{key}/remotelinks", e.adminAddRemoteLink).Methods(http.MethodPost)
	a.HandleFunc("/issues/{key}/remotelinks/{id}", e.adminDeleteRemoteLink).Methods(http.MethodDelete)
	a.HandleFunc("/issues/{key}/worklogs", e.adminAddWorklog).Methods(http.MethodPost)
	a.HandleFunc("/issues/{key}/worklogs/{id}", e.adminDeleteWorklog).Methods(http.MethodDelete)
	a.HandleFunc("/links", e.adminAddLink).Methods(http.MethodPost)
	a.HandleFunc("/links/{id}", e.adminDeleteLink).Methods(http.MethodDelete)
	a.HandleFunc("/storm", e.adminStorm).Methods(http.MethodPost)
	a.HandleFunc("/webhooks/wait", e.adminWaitWebhooks).Methods(http.MethodPost)
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		adminError(w, fmt.Errorf("%w: no admin route %s %s", ErrNotFound, r.Method, r.URL.Path))
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		adminError(w, fmt.Errorf("%w: method %s not allowed on %s", ErrInvalid, r.Method, r.URL.Path))
	})
	return r
}

func adminJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		adminError(w, err)
		return
	}
	writeJSON(w, status, b)
}

func adminError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, ErrInvalid):
		status = http.StatusBadRequest
	}
	writeJSON(w, status, errorBody(err.Error()))
}

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

func (e *Emulator) adminCreate(w http.ResponseWriter, r *http.Request) {
	var in issueInput
	if err := decode(r, &in); err != nil {
		adminError(w, err)
		return
	}
	h := e.handle(r, in.common)
	is, err := h.create(in.Project, func(is *Issue) error {
		is.Parent = in.Parent
		return in.apply(is, e.Now())
	})
	if err != nil {
		adminError(w, err)
		return
	}
	adminJSON(w, http.StatusCreated, issueRef{ID: is.ID, Key: is.Key, Updated: jiraTime(is.Updated, zoneUTC)})
}

func (e *Emulator) adminState(w http.ResponseWriter, r *http.Request) {
	st, err := e.State(mux.Vars(r)["key"])
	if err != nil {
		adminError(w, err)
		return
	}
	adminJSON(w, http.StatusOK, st)
}

func (e *Emulator) adminUpdate(w http.ResponseWriter, r *http.Request) {
	var in issueInput
	if err := decode(r, &in); err != nil {
		adminError(w, err)
		return
	}
	key := mux.Vars(r)["key"]
	err := e.handle(r, in.common).update(key, func(is *Issue) error { return in.apply(is, e.Now()) })
	if err != nil {
		adminError(w, err)
		return
	}
	adminJSON(w, http.StatusOK, e.ref(key))
}

func (e *Emulator) adminTransition(w http.ResponseWriter, r *http.Request) {
	var in struct {
		common
		Status     string `json:"status"`
		Resolution string `json:"resolution"`
	}
	if err := decode(r, &in); err != nil {
		adminError(w, err)
		return
	}
	key := mux.Vars(r)["key"]
	err := e.handle(r, in.common).Update(key, func(is *Issue) {
		is.Status = in.Status
		if in.Resolution != "" {
			is.Resolution = in.Resolution
		}
	})
	if err != nil {
		adminError(w, err)
		return
	}
	adminJSON(w, http.StatusOK, e.ref(key))
}

func (e *Emulator) adminMove(w http.ResponseWriter, r *http.Request) {
	var in struct {
		common
		Project string `json:"project"`
	}
	if err := decode(r, &in); err != nil {
		adminError(w, err)
		return
	}
	key := mux.Vars(r)["key"]
	newKey, err := e.handle(r, in.common).Move(key, in.Project)
	if err != nil {
		adminError(w, err)
		return
	}
	ref := e.ref(newKey)
	ref.OldKey = key
	adminJSON(w, http.StatusOK, ref)
}

func (e *Emulator) adminDelete(w http.ResponseWriter, r *http.Request) {
	var in common
	if err := decode(r, &in); err != nil {
		adminError(w, err)
		return
	}
	if err := e.handle(r, in).Delete(mux.Vars(r)["key"]); err != nil {
		adminError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (e *Emulator) adminAddComment(w http.ResponseWriter, r *http.Request) {
	var in struct {
		common
		Body       json.RawMessage `json:"body"`
		Public     *bool           `json:"public"`
		Visibility string          `json:"visibility"`
	}
	if err := decode(r, &in); err != nil {
		adminError(w, err)
		return
	}
	body, err := docValue(in.Body)
	if err != nil {
		adminError(w, err)
		return
	}
	h := e.handle(r, in.common)
	c := Comment{Body: body, Public: in.Public == nil || *in.Public, Visibility: in.Visibility, Author: h.as}
	out, err := h.AddComment(mux.Vars(r)["key"], c)
	if err != nil {
		adminError(w, err)
		return
	}
	adminJSON(w, http.StatusCreated, map[string]string{"id": out.ID})
}

func (e *Emulator) adminEditComment(w http.ResponseWriter, r *http.Request) {
	var in struct {
		common
		Body json.RawMessage `json:"body"`
	}
	if err := decode(r, &in); err != nil {
		adminError(w, err)
		return
	}
	body, err := docValue(in.Body)
	if err != nil {
		adminError(w, err)
		return
	}
	v := mux.Vars(r)
	if err := e.handle(r, in.common).EditComment(v["key"], v["id"], body); err != nil {
		adminError(w, err)
		return
	}
	adminJSON(w, http.StatusOK, map[string]string{"id": v["id"]})
}

func (e *Emulator) adminDeleteComment(w http.ResponseWriter, r *http.Request) {
	var in common
	if err := decode(r, &in); err != nil {
		adminError(w, err)
		return
	}
	v := mux.Vars(r)
	if err := e.handle(r, in).DeleteComment(v["key"], v["id"]); err != nil {
		adminError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (e *Emulator) adminAddAttachment(w http.ResponseWriter, r *http.Request) {
	var in struct {
		common
		Filename string `json:"filename"`
		MimeType string `json:"mimeType"`
		Size     int64  `json:"size"`
		Content  string `json:"content"`
	}
	if err := decode(r, &in); err != nil {
		adminError(w, err)
		return
	}
	var data []byte
	if in.Content != "" {
		var err error
		if data, err = base64.StdEncoding.DecodeString(in.Content); err != nil {
			adminError(w, fmt.Errorf("%w: content is not base64: %v", ErrInvalid, err))
			return
		}
	}
	h := e.handle(r, in.common)
	a, err := h.AddAttachment(mux.Vars(r)["key"], Attachment{Filename: in.Filename, MimeType: in.MimeType, Size: in.Size, Author: h.as}, data)
	if err != nil {
		adminError(w, err)
		return
	}
	adminJSON(w, http.StatusCreated, map[string]any{"id": a.ID, "size": a.Size})
}

func (e *Emulator) adminDeleteAttachment(w http.ResponseWriter, r *http.Request) {
	var in common
	if err := decode(r, &in); err != nil {
		adminError(w, err)
		return
	}
	v := mux.Vars(r)
	if err := e.handle(r, in).DeleteAttachment(v["key"], v["id"]); err != nil {
		adminError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (e *Emulator) adminAddRemoteLink(w http.ResponseWriter, r *http.Request) {
	var in struct {
		common
		URL          string `json:"url"`
		Title        string `json:"title"`
		Summary      string `json:"summary"`
		Relationship string `json:"relationship"`
		GlobalID     string `json:"globalId"`
	}
	if err := decode(r, &in); err != nil {
		adminError(w, err)
		return
	}
	l, err := e.handle(r, in.common).AddRemoteLink(mux.Vars(r)["key"], RemoteLink{URL: in.URL, Title: in.Title, Summary: in.Summary, Relationship: in.Relationship, GlobalID: in.GlobalID})
	if err != nil {
		adminError(w, err)
		return
	}
	adminJSON(w, http.StatusCreated, map[string]int64{"id": l.ID})
}

func (e *Emulator) adminDeleteRemoteLink(w http.ResponseWriter, r *http.Request) {
	var in common
	if err := decode(r, &in); err != nil {
		adminError(w, err)
		return
	}
	v := mux.Vars(r)
	id, err := strconv.ParseInt(v["id"], 10, 64)
	if err != nil {
		adminError(w, fmt.Errorf("%w: remote link id %q", ErrInvalid, v["id"]))
		return
	}
	if err := e.handle(r, in).DeleteRemoteLink(v["key"], id); err != nil {
		adminError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (e *Emulator) adminAddWorklog(w http.ResponseWriter, r *http.Request) {
	var in struct {
		common
		TimeSpentSeconds int64 `json:"timeSpentSeconds"`
	}
	if err := decode(r, &in); err != nil {
		adminError(w, err)
		return
	}
	h := e.handle(r, in.common)
	wl, err := h.AddWorklog(mux.Vars(r)["key"], Worklog{Spent: time.Duration(in.TimeSpentSeconds) * time.Second, Author: h.as})
	if err != nil {
		adminError(w, err)
		return
	}
	adminJSON(w, http.StatusCreated, map[string]string{"id": wl.ID})
}

func (e *Emulator) adminDeleteWorklog(w http.ResponseWriter, r *http.Request) {
	var in common
	if err := decode(r, &in); err != nil {
		adminError(w, err)
		return
	}
	v := mux.Vars(r)
	if err := e.handle(r, in).DeleteWorklog(v["key"], v["id"]); err != nil {
		adminError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (e *Emulator) adminAddLink(w http.ResponseWriter, r *http.Request) {
	var in struct {
		common
		From string `json:"from"`
		To   string `json:"to"`
		Type string `json:"type"`
	}
	if err := decode(r, &in); err != nil {
		adminError(w, err)
		return
	}
	if in.Type == "" {
		in.Type = "Relates"
	}
	id, err := e.handle(r, in.common).AddLink(in.From, in.To, in.Type)
	if err != nil {
		adminError(w, err)
		return
	}
	adminJSON(w, http.StatusCreated, map[string]string{"id": id})
}

func (e *Emulator) adminDeleteLink(w http.ResponseWriter, r *http.Request) {
	var in common
	if err := decode(r, &in); err != nil {
		adminError(w, err)
		return
	}
	if err := e.handle(r, in).DeleteLink(mux.Vars(r)["id"]); err != nil {
		adminError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (e *Emulator) adminStorm(w http.ResponseWriter, r *http.Request) {
	var in struct {
		common
		Events int     `json:"events"`
		Issues int     `json:"issues"`
		Month  string  `json:"month"`
		Rate   float64 `json:"rate"`
	}
	if err := decode(r, &in); err != nil {
		adminError(w, err)
		return
	}
	res, err := e.handle(r, in.common).Storm(r.Context(), StormOptions{Events: in.Events, Issues: in.Issues, Month: in.Month, Rate: in.Rate})
	if err != nil {
		adminError(w, err)
		return
	}
	adminJSON(w, http.StatusOK, map[string]any{"events": res.Events, "keys": res.Keys, "durationMs": res.Duration.Milliseconds()})
}

func (e *Emulator) adminWaitWebhooks(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Timeout string `json:"timeout"`
	}
	if err := decode(r, &in); err != nil {
		adminError(w, err)
		return
	}
	timeout := 30 * time.Second
	if in.Timeout != "" {
		d, err := time.ParseDuration(in.Timeout)
		if err != nil {
			adminError(w, fmt.Errorf("%w: timeout: %v", ErrInvalid, err))
			return
		}
		timeout = d
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	if err := e.WaitWebhooks(ctx); err != nil {
		writeJSON(w, http.StatusGatewayTimeout, errorBody("webhooks still pending: "+err.Error()))
		return
	}
	adminJSON(w, http.StatusOK, e.Stats().Webhooks)
}

func (e *Emulator) adminUsers(w http.ResponseWriter, r *http.Request) {
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
}

func clockOut(e *Emulator) map[string]any {
	now := e.Now()
	return map[string]any{"now": now.Format(jiraLayout), "epochMillis": now.UnixMilli()}
}

func (e *Emulator) adminClock(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Advance string `json:"advance"`
	}
	if err := decode(r, &in); err != nil {
		adminError(w, err)
		return
	}
	d, err := time.ParseDuration(in.Advance)
	if err != nil || d < 0 {
		adminError(w, fmt.Errorf("%w: advance %q is not a positive duration", ErrInvalid, in.Advance))
		return
	}
	e.Advance(d)
	adminJSON(w, http.StatusOK, clockOut(e))
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

func (e *Emulator) adminSetFaults(w http.ResponseWriter, r *http.Request) {
	var in faultsJSON
	if err := decode(r, &in); err != nil {
		adminError(w, err)
		return
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
		adminError(w, fmt.Errorf("%w: %s", ErrInvalid, strings.Join(errs, "; ")))
		return
	}
	if err := e.SetFaults(f); err != nil {
		adminError(w, err)
		return
	}
	adminJSON(w, http.StatusOK, faultsOut(f))
}
