package emulator

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gorilla/mux"
)

// Worklog paging as Jira serves it: the issue worklog endpoint up to 5000 a
// page, the updated and deleted lists 1000 a page, worklog/list 1000 ids a
// call.
const (
	maxWorklogPage     = 5000
	worklogChangesPage = 1000
	maxWorklogList     = 1000
)

// worklogEntry is where a worklog lives and when it last changed: the index
// behind GET /worklog/updated and POST /worklog/list, kept for every issue so
// that they need not generate the site again.
type worklogEntry struct {
	idx     int32
	updated time.Time
}

// worklogChange is a deleted worklog and when it went.
type worklogChange struct {
	id int64
	at time.Time
}

// syncWorklogs brings the worklog index in step with an issue's worklogs,
// recording those it no longer has as deleted; the caller holds s.mu.
func (s *site) syncWorklogs(r *rec, is *Issue) {
	if len(r.worklogs) == 0 && len(is.Worklogs) == 0 {
		return
	}
	ids := make([]int64, 0, len(is.Worklogs))
	for _, w := range is.Worklogs {
		id, err := strconv.ParseInt(w.ID, 10, 64)
		if err != nil {
			continue
		}
		ids = append(ids, id)
		s.worklogIdx[id] = worklogEntry{idx: r.idx, updated: w.updated()}
	}
	for _, id := range r.worklogs {
		if !slices.Contains(ids, id) {
			delete(s.worklogIdx, id)
			at := is.Updated
			if at.IsZero() || r.deleted {
				at = s.now()
			}
			s.worklogGone = append(s.worklogGone, worklogChange{id: id, at: ms(at)})
		}
	}
	r.worklogs = ids
}

// getWorklogs serves GET /rest/api/3/issue/{key}/worklog: oldest first.
func (s *site) getWorklogs(w http.ResponseWriter, r *http.Request) {
	iv, err := s.view(mux.Vars(r)["key"])
	if err != nil {
		writeJSON(w, http.StatusNotFound, errorBody(issueMissing))
		return
	}
	q := r.URL.Query()
	start, err := strconv.Atoi(q.Get("startAt"))
	if err != nil || start < 0 {
		start = 0
	}
	size, err := strconv.Atoi(q.Get("maxResults"))
	if err != nil || size <= 0 || size > maxWorklogPage {
		size = maxWorklogPage
	}
	ws := iv.is.Worklogs
	v := s.newView(r)
	v.zone = iv.zone
	var e enc
	e.open()
	e.kint("startAt", int64(start))
	e.kint("maxResults", int64(size))
	e.kint("total", int64(len(ws)))
	e.karr("worklogs")
	for i := start; i < len(ws) && i < start+size; i++ {
		v.writeWorklog(&e, iv.id, ws[i])
	}
	e.closeArr()
	e.close()
	writeJSON(w, http.StatusOK, e.b)
}

// getWorklogsUpdated serves GET /rest/api/3/worklog/updated?since=: the
// worklogs changed at or after since, oldest change first.
func (s *site) getWorklogsUpdated(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	changes := make([]worklogChange, 0, len(s.worklogIdx))
	for id, e := range s.worklogIdx {
		changes = append(changes, worklogChange{id: id, at: e.updated})
	}
	s.mu.RUnlock()
	s.writeChanges(w, r, "updated", changes)
}

// getWorklogsDeleted serves GET /rest/api/3/worklog/deleted?since=.
func (s *site) getWorklogsDeleted(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	changes := slices.Clone(s.worklogGone)
	s.mu.RUnlock()
	s.writeChanges(w, r, "deleted", changes)
}

// writeChanges answers one page of a change list. A page ends with its last
// change: until is that change's time, and the next page starts there, as
// Jira's nextPage says (a change at until may come again on it).
func (s *site) writeChanges(w http.ResponseWriter, r *http.Request, list string, changes []worklogChange) {
	since, err := strconv.ParseInt(r.URL.Query().Get("since"), 10, 64)
	if err != nil || since < 0 {
		since = 0
	}
	changes = slices.DeleteFunc(changes, func(c worklogChange) bool { return c.at.UnixMilli() < since })
	slices.SortFunc(changes, func(a, b worklogChange) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return int(a.id - b.id)
	})
	last := len(changes) <= worklogChangesPage
	changes = changes[:min(len(changes), worklogChangesPage)]
	until := since
	if len(changes) > 0 {
		until = changes[len(changes)-1].at.UnixMilli()
	}
	page := s.newView(r).api() + "/worklog/" + list
	var e enc
	e.open()
	e.karr("values")
	for _, c := range changes {
		e.open()
		e.kint("worklogId", c.id)
		e.kint("updatedTime", c.at.UnixMilli())
		e.karr("properties")
		e.closeArr()
		e.close()
	}
	e.closeArr()
	e.kint("since", since)
	e.kint("until", until)
	e.kstr("self", page+"?since="+strconv.FormatInt(since, 10))
	if !last {
		e.kstr("nextPage", page+"?since="+strconv.FormatInt(until, 10))
	}
	e.kbool("lastPage", last)
	e.close()
	writeJSON(w, http.StatusOK, e.b)
}

// postWorklogList serves POST /rest/api/3/worklog/list {"ids": [...]}: the
// worklogs that still exist, each with its issueId.
func (s *site) postWorklogList(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var in struct {
		IDs []int64 `json:"ids"`
	}
	if err != nil || json.Unmarshal(body, &in) != nil {
		writeJSON(w, http.StatusBadRequest, errorBody("The request body is not a list of worklog ids."))
		return
	}
	if len(in.IDs) > maxWorklogList {
		writeJSON(w, http.StatusBadRequest, errorBody("The number of worklog ids must not exceed 1000."))
		return
	}
	byIssue := map[int32][]string{}
	var order []int32
	s.mu.RLock()
	for _, id := range in.IDs {
		e, ok := s.worklogIdx[id]
		if !ok || s.recs[e.idx].deleted {
			continue
		}
		if _, seen := byIssue[e.idx]; !seen {
			order = append(order, e.idx)
		}
		byIssue[e.idx] = append(byIssue[e.idx], strconv.FormatInt(id, 10))
	}
	keys := make([]string, len(order))
	for i, idx := range order {
		keys[i] = s.recs[idx].key
	}
	s.mu.RUnlock()
	v := s.newView(r)
	var e enc
	e.openArr()
	for i, idx := range order {
		iv, err := s.view(keys[i])
		if err != nil {
			continue
		}
		v.zone = iv.zone
		for _, wl := range iv.is.Worklogs {
			if slices.Contains(byIssue[idx], wl.ID) {
				v.writeWorklog(&e, iv.id, wl)
			}
		}
	}
	e.closeArr()
	writeJSON(w, http.StatusOK, e.b)
}
