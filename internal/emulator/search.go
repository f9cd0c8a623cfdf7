package emulator

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Search pages are keyset cursors, like Jira's own nextPageToken: the token
// holds the sort values of the last issue of the page, so paging neither skips
// nor repeats issues when others are created meanwhile.

const (
	defaultSearchPage = 50
	maxSearchIDs      = 5000
	maxSearchFields   = 100
	maxReconcile      = 50
	maxBulkFetch      = 100
	// maxBulkHistories is how many histories a bulk fetch embeds with
	// expand=changelog, the newest first: Atlassian's documentation of the
	// endpoint says at most 40, against about 100 in GET issue.
	maxBulkHistories = 40
)

var issueKeyRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,31}-[1-9][0-9]{0,11}$`)

// stringList decodes a JSON array of strings or one comma-separated string.
func stringList(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return strings.Split(s, ","), nil
	}
	var list []string
	err := json.Unmarshal(raw, &list)
	return list, err
}

func jqlFailure(w http.ResponseWriter, msg string) {
	var e enc
	e.open()
	e.kstrs("errorMessages", []string{msg})
	e.kstrs("warningMessages", nil)
	e.close()
	writeJSON(w, http.StatusBadRequest, e.b)
}

func badRequest(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusBadRequest, errorBody(msg))
}

type searchRequest struct {
	jql       string
	fields    []string
	max       int
	token     string
	reconcile []int64
	expand    []string
}

func readSearchRequest(r *http.Request) (*searchRequest, error) {
	req := &searchRequest{}
	if r.Method == http.MethodGet {
		q := r.URL.Query()
		req.jql, req.token = q.Get("jql"), q.Get("nextPageToken")
		req.fields, req.expand = q["fields"], q["expand"]
		if m := q.Get("maxResults"); m != "" {
			n, err := strconv.Atoi(m)
			if err != nil {
				return nil, errors.New("maxResults must be a number")
			}
			req.max = n
		}
		for _, p := range strings.Split(q.Get("reconcileIssues"), ",") {
			if p = strings.TrimSpace(p); p != "" {
				n, err := strconv.ParseInt(p, 10, 64)
				if err != nil {
					return nil, errors.New("reconcileIssues must be issue ids")
				}
				req.reconcile = append(req.reconcile, n)
			}
		}
		return req, nil
	}
	var body struct {
		JQL             string          `json:"jql"`
		Fields          json.RawMessage `json:"fields"`
		MaxResults      *int            `json:"maxResults"`
		NextPageToken   string          `json:"nextPageToken"`
		ReconcileIssues []int64         `json:"reconcileIssues"`
		Expand          json.RawMessage `json:"expand"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
		//lint:ignore ST1005 Jira's own error text, word for word: clients match on it.
		return nil, errors.New("Invalid request payload. Refer to the REST API documentation and try again.")
	}
	var err error
	if req.fields, err = stringList(body.Fields); err != nil {
		return nil, errors.New("fields must be a list of field ids")
	}
	if req.expand, err = stringList(body.Expand); err != nil {
		return nil, errors.New("expand must be a string")
	}
	req.jql, req.token, req.reconcile = body.JQL, body.NextPageToken, body.ReconcileIssues
	if body.MaxResults != nil {
		req.max = *body.MaxResults
	}
	return req, nil
}

// matcher is a query resolved against the site: projects and keys looked up.
type matcher struct {
	q        *query
	projects []map[*project]bool
	keys     []map[int32]bool
	ids      []map[int64]bool
}

// compile resolves the query's values; the caller holds s.mu. Unknown
// projects and keys are errors, as in Jira.
func (s *site) compile(q *query) (*matcher, error) {
	m := &matcher{q: q, projects: make([]map[*project]bool, len(q.clauses)), keys: make([]map[int32]bool, len(q.clauses)), ids: make([]map[int64]bool, len(q.clauses))}
	for i, c := range q.clauses {
		switch c.kind {
		case clauseProject:
			m.projects[i] = map[*project]bool{}
			for _, v := range c.values {
				var found *project
				for _, p := range s.projects {
					if strings.EqualFold(p.key, v) || strings.EqualFold(s.projectName(p), v) || strconv.FormatInt(p.id, 10) == v {
						found = p
					}
				}
				if found == nil {
					return nil, jqlErrorf("The value '%s' does not exist for the field 'project'.", v)
				}
				m.projects[i][found] = true
			}
		case clauseKey:
			m.keys[i] = map[int32]bool{}
			for _, v := range c.values {
				if !issueKeyRe.MatchString(v) {
					return nil, jqlErrorf("The issue key '%s' for field 'key' is invalid.", v)
				}
				idx, ok := s.byKey[strings.ToUpper(v)]
				if !ok || s.recs[idx].deleted {
					return nil, jqlErrorf("An issue with key '%s' does not exist for field 'key'.", v)
				}
				m.keys[i][idx] = true
			}
		case clauseID:
			m.ids[i] = map[int64]bool{}
			for _, v := range c.values {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return nil, jqlErrorf("The value '%s' is not a valid issue id for field 'id'.", v)
				}
				m.ids[i][n] = true
			}
		}
	}
	return m, nil
}

func compareMillis(have int64, op string, want int64) bool {
	switch op {
	case ">":
		return have > want
	case ">=":
		return have >= want
	case "<":
		return have < want
	case "<=":
		return have <= want
	}
	return have == want
}

func (m *matcher) match(r *rec) bool {
	for i, c := range m.q.clauses {
		var ok bool
		switch c.kind {
		case clauseProject:
			ok = m.projects[i][r.proj]
		case clauseKey:
			ok = m.keys[i][r.idx]
		case clauseID:
			ok = m.ids[i][r.id]
		case clauseCreated:
			ok = compareMillis(r.created.UnixMilli(), c.op, c.millis)
		case clauseUpdated:
			ok = compareMillis(r.updated.UnixMilli(), c.op, c.millis)
		}
		if ok == c.negate {
			return false
		}
	}
	return true
}

// sortKey is one sort value: a number, or a project key and number.
type sortKey struct {
	S string `json:"s,omitempty"`
	N int64  `json:"n"`
}

func keyOf(r *rec, k orderKind) sortKey {
	switch k {
	case orderCreated:
		return sortKey{N: r.created.UnixMilli()}
	case orderUpdated:
		return sortKey{N: r.updated.UnixMilli()}
	case orderKey:
		return sortKey{S: r.proj.key, N: int64(r.num)}
	}
	return sortKey{N: r.id}
}

func compareKey(a, b sortKey, desc bool) int {
	c := strings.Compare(a.S, b.S)
	if c == 0 {
		c = cmp.Compare(a.N, b.N)
	}
	if desc {
		c = -c
	}
	return c
}

// cursor is the decoded nextPageToken.
type cursor struct {
	V    int       `json:"v"`
	Hash string    `json:"h"`
	Keys []sortKey `json:"k"`
	ID   int64     `json:"i"`
}

func queryHash(q *query) string {
	sum := sha256.Sum256([]byte(q.text))
	return base64.RawURLEncoding.EncodeToString(sum[:6])
}

func encodeCursor(q *query, r *rec) string {
	c := cursor{V: 1, Hash: queryHash(q), ID: r.id}
	for _, o := range q.orders {
		c.Keys = append(c.Keys, keyOf(r, o.kind))
	}
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(q *query, token string) (*cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	var c cursor
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.V != 1 || c.Hash != queryHash(q) || len(c.Keys) != len(q.orders) {
		//lint:ignore ST1005 Jira's own error text, word for word: clients match on it.
		return nil, errors.New("The provided next page token is invalid or expired.")
	}
	return &c, nil
}

// compareRec orders two issues by the query's ORDER BY, ties broken by id in
// the direction of the first sort key.
func compareRec(q *query, a, b *rec) int {
	for _, o := range q.orders {
		if c := compareKey(keyOf(a, o.kind), keyOf(b, o.kind), o.desc); c != 0 {
			return c
		}
	}
	return compareKey(sortKey{N: a.id}, sortKey{N: b.id}, q.orders[0].desc)
}

// afterCursor reports whether r sorts after the cursor.
func afterCursor(q *query, c *cursor, r *rec) bool {
	if c == nil {
		return true
	}
	for i, o := range q.orders {
		if v := compareKey(keyOf(r, o.kind), c.Keys[i], o.desc); v != 0 {
			return v > 0
		}
	}
	return compareKey(sortKey{N: r.id}, sortKey{N: c.ID}, q.orders[0].desc) > 0
}

// page selects the first limit issues after the cursor that match; more says
// whether another page follows. The caller holds s.mu.
func (s *site) page(q *query, m *matcher, c *cursor, limit int, visible func(*rec) bool) ([]*rec, bool) {
	want := limit + 1
	ok := func(r *rec) bool { return !r.deleted && m.match(r) && visible(r) }
	var out []*rec
	// Records are stored in (created, id) order, so sorting by created
	// alone is a walk.
	if len(q.orders) == 1 && q.orders[0].kind == orderCreated {
		desc := q.orders[0].desc
		n := len(s.recs)
		start := 0
		if c != nil {
			start = sort.Search(n, func(i int) bool {
				r := s.recs[i]
				if desc {
					r = s.recs[n-1-i]
				}
				return afterCursor(q, c, r)
			})
		}
		for i := start; i < n && len(out) < want; i++ {
			r := s.recs[i]
			if desc {
				r = s.recs[n-1-i]
			}
			if ok(r) {
				out = append(out, r)
			}
		}
	} else {
		// A bounded max-heap keeps the want smallest issues.
		h := make([]*rec, 0, want)
		less := func(i, j int) bool { return compareRec(q, h[i], h[j]) > 0 }
		down := func(i int) {
			for {
				l := 2*i + 1
				if l >= len(h) {
					return
				}
				big := l
				if r := l + 1; r < len(h) && less(r, l) {
					big = r
				}
				if !less(big, i) {
					return
				}
				h[i], h[big] = h[big], h[i]
				i = big
			}
		}
		up := func(i int) {
			for i > 0 {
				p := (i - 1) / 2
				if !less(i, p) {
					return
				}
				h[i], h[p] = h[p], h[i]
				i = p
			}
		}
		for _, r := range s.recs {
			if !afterCursor(q, c, r) || !ok(r) {
				continue
			}
			if len(h) < want {
				h = append(h, r)
				up(len(h) - 1)
			} else if compareRec(q, r, h[0]) < 0 {
				h[0] = r
				down(0)
			}
		}
		out = h
		slices.SortFunc(out, func(a, b *rec) int { return compareRec(q, a, b) })
	}
	if len(out) > limit {
		return out[:limit], true
	}
	return out, false
}

func (s *site) searchJQL(w http.ResponseWriter, r *http.Request) {
	req, err := readSearchRequest(r)
	if err != nil {
		badRequest(w, err.Error())
		return
	}
	if len(req.reconcile) > maxReconcile {
		badRequest(w, "reconcileIssues: at most 50 issue ids may be given")
		return
	}
	now := s.now()
	q, err := parseJQL(req.jql, now)
	if err != nil {
		jqlFailure(w, err.Error())
		return
	}
	sel := parseFields(req.fields, "id")
	ex := parseExpand(req.expand)
	limit := req.max
	if limit <= 0 {
		limit = defaultSearchPage
	}
	if sel.onlyIDs() {
		limit = min(limit, maxSearchIDs)
	} else {
		limit = min(limit, maxSearchFields)
	}
	var cur *cursor
	if req.token != "" {
		if cur, err = decodeCursor(q, req.token); err != nil {
			badRequest(w, err.Error())
			return
		}
	}
	reconcile := map[int64]bool{}
	for _, id := range req.reconcile {
		reconcile[id] = true
	}
	lag := s.faults.get().SearchLag
	visible := func(r *rec) bool {
		// Generated issues are old; only issues created since start lag.
		return lag <= 0 || r.idx < s.generated || now.Sub(r.created) >= lag || reconcile[r.id]
	}

	s.mu.RLock()
	m, err := s.compile(q)
	if err != nil {
		s.mu.RUnlock()
		jqlFailure(w, err.Error())
		return
	}
	hits, more := s.page(q, m, cur, limit, visible)
	type hit struct {
		iv   *issueView
		in   genInput
		full *Issue
	}
	var views []hit
	var token string
	if more {
		token = encodeCursor(q, hits[len(hits)-1])
	}
	ids := make([]int64, len(hits))
	keys := make([]string, len(hits))
	light := map[*rec]*Issue{}
	for i, rc := range hits {
		ids[i], keys[i] = rc.id, rc.key
		if !sel.onlyIDs() {
			iv, in, full := s.viewOf(rc)
			views = append(views, hit{iv, in, full})
			if full == nil && recFieldsOnly(&sel, ex) {
				light[rc] = lightIssue(rc)
			}
		}
	}
	s.mu.RUnlock()

	v := s.newView(r)
	var e enc
	e.open()
	e.karr("issues")
	for i := range hits {
		if sel.onlyIDs() {
			e.open()
			e.kstr("id", strconv.FormatInt(ids[i], 10))
			if sel.ids["key"] {
				e.kstr("key", keys[i])
			}
			e.close()
			continue
		}
		h := views[i]
		h.iv.is = h.full
		if h.full == nil {
			h.iv.is = light[hits[i]]
			if h.iv.is == nil {
				h.iv.is = s.genIssue(h.in)
			}
		}
		v.writeIssue(&e, h.iv, &sel, ex)
	}
	e.closeArr()
	if more {
		e.kstr("nextPageToken", token)
	}
	e.kbool("isLast", !more)
	e.close()
	writeJSON(w, http.StatusOK, e.b)
}

// recFields are the fields every issue record holds, so that a search for
// them needs no generation (backfill and reconcile ask for key and updated).
var recFields = map[string]bool{"key": true, "id": true, "summary": true, "status": true, "priority": true,
	"issuetype": true, "project": true, "created": true, "updated": true}

func recFieldsOnly(sel *fieldSel, ex expandSet) bool {
	if sel.all || ex != (expandSet{}) {
		return false
	}
	for id := range sel.ids {
		if !recFields[id] {
			return false
		}
	}
	return true
}

// lightIssue is the part of an issue its record holds; the caller holds s.mu.
func lightIssue(r *rec) *Issue {
	return &Issue{ID: strconv.FormatInt(r.id, 10), Key: r.key, Project: r.proj.key, Summary: r.summary, Status: r.status.name,
		Priority: r.priority.name, Type: r.itype.name, Created: r.created, Updated: r.updated}
}

func (s *site) bulkFetch(w http.ResponseWriter, r *http.Request) {
	var body struct {
		IssueIDsOrKeys []string        `json:"issueIdsOrKeys"`
		Fields         json.RawMessage `json:"fields"`
		Expand         json.RawMessage `json:"expand"`
		// FieldsByKeys and Properties are read as Jira reads them; the
		// emulator's fields have no keys apart from their ids, and its
		// issues no properties.
		FieldsByKeys bool     `json:"fieldsByKeys"`
		Properties   []string `json:"properties"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
		badRequest(w, "Invalid request payload. Refer to the REST API documentation and try again.")
		return
	}
	if len(body.IssueIDsOrKeys) == 0 || len(body.IssueIDsOrKeys) > maxBulkFetch {
		badRequest(w, "issueIdsOrKeys: the number of issues must be between 1 and 100.")
		return
	}
	fields, err := stringList(body.Fields)
	if err != nil {
		badRequest(w, "fields must be a list of field ids")
		return
	}
	expand, err := stringList(body.Expand)
	if err != nil {
		badRequest(w, "expand must be a list")
		return
	}
	sel := parseFields(fields, "*all")
	ex := parseExpand(expand)
	ex.histories = maxBulkHistories
	rate := s.faults.get().BulkErrorRate
	v := s.newView(r)
	seen := map[int64]bool{}
	var (
		found  []*issueView
		failed []int64
	)
	for _, k := range body.IssueIDsOrKeys {
		// Like Jira, issues that do not exist or may not be seen are
		// simply left out, in neither list.
		iv, rc, err := s.viewRec(strings.TrimSpace(k))
		if err != nil || seen[iv.id] {
			continue
		}
		seen[iv.id] = true
		if rate > 0 && s.faults.float() < rate {
			s.stats.bulkErrors.Add(1)
			failed = append(failed, iv.id)
			continue
		}
		rc.fetches.Add(1)
		found = append(found, iv)
	}
	// Jira answers in ascending id order, whatever the order asked.
	slices.SortFunc(found, func(a, b *issueView) int { return cmp.Compare(a.id, b.id) })
	slices.Sort(failed)
	var e enc
	e.open()
	e.kstr("expand", "schema,names")
	e.karr("issues")
	for _, iv := range found {
		v.writeIssue(&e, iv, &sel, ex)
	}
	e.closeArr()
	e.karr("issueErrors")
	for _, id := range failed {
		e.open()
		e.kstr("id", strconv.FormatInt(id, 10))
		e.kstr("errorMessage", "The issue could not be retrieved in time. Try again later.")
		e.close()
	}
	e.closeArr()
	e.close()
	writeJSON(w, http.StatusOK, e.b)
}
