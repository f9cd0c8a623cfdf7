package emulator

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"
)

// account is who a REST request authenticated as.
type account uint8

const (
	accountNone account = iota
	accountMain
	accountSLA
)

type reqInfo struct {
	base     string // self links: site URL, plus the gateway prefix
	site     string // site URL without the gateway prefix
	account  account
	endpoint string
}

type ctxKey struct{}

func info(r *http.Request) *reqInfo {
	if ri, ok := r.Context().Value(ctxKey{}).(*reqInfo); ok {
		return ri
	}
	return &reqInfo{}
}

func (s *site) siteURL(r *http.Request) string {
	if s.opts.BaseURL != "" {
		return s.opts.BaseURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// newView returns how to render an answer to r.
func (s *site) newView(r *http.Request) *view {
	ri := info(r)
	return &view{s: s, base: ri.base, sla: s.opts.SLAEmail == "" || ri.account == accountSLA, now: s.now()}
}

// jsonContentType is the Content-Type of Jira Cloud's JSON answers.
const jsonContentType = "application/json;charset=UTF-8"

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", jsonContentType)
	w.WriteHeader(status)
	w.Write(body)
}

// errorBody is Jira's usual error envelope.
func errorBody(msgs ...string) []byte {
	var w enc
	w.open()
	w.kstrs("errorMessages", msgs)
	w.kopen("errors")
	w.close()
	w.close()
	return w.b
}

const issueMissing = "Issue does not exist or you do not have permission to see it."

func (s *site) routes() http.Handler {
	api := mux.NewRouter()
	api.HandleFunc("/rest/api/3/issue/bulkfetch", s.bulkFetch).Methods(http.MethodPost)
	api.HandleFunc("/rest/api/3/issue/{key}", s.getIssue).Methods(http.MethodGet)
	api.HandleFunc("/rest/api/3/issue/{key}/comment", s.getComments).Methods(http.MethodGet)
	api.HandleFunc("/rest/api/3/issue/{key}/changelog", s.getChangelog).Methods(http.MethodGet)
	api.HandleFunc("/rest/api/3/issue/{key}/remotelink", s.getRemoteLinks).Methods(http.MethodGet)
	api.HandleFunc("/rest/api/3/issue/{key}/worklog", s.getWorklogs).Methods(http.MethodGet)
	api.HandleFunc("/rest/api/3/worklog/updated", s.getWorklogsUpdated).Methods(http.MethodGet)
	api.HandleFunc("/rest/api/3/worklog/deleted", s.getWorklogsDeleted).Methods(http.MethodGet)
	api.HandleFunc("/rest/api/3/worklog/list", s.postWorklogList).Methods(http.MethodPost)
	api.HandleFunc("/rest/api/3/field", s.getFields).Methods(http.MethodGet)
	api.HandleFunc("/rest/api/3/search/jql", s.searchJQL).Methods(http.MethodGet, http.MethodPost)
	api.HandleFunc("/rest/api/{v:[23]}/search", s.legacySearch)
	api.HandleFunc("/rest/api/3/attachment/content/{id}", s.attachmentContent).Methods(http.MethodGet, http.MethodHead)
	api.HandleFunc("/rest/api/3/attachment/thumbnail/{id}", s.attachmentContent).Methods(http.MethodGet, http.MethodHead)
	api.HandleFunc("/rest/api/3/attachment/{id}", s.attachmentMeta).Methods(http.MethodGet)
	api.HandleFunc("/rest/api/3/myself", s.myself).Methods(http.MethodGet)
	s.agileRoutes(api)
	s.platformRoutes(api)
	api.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errorBody("No resource found at "+r.URL.Path))
	})
	api.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, errorBody("Method "+r.Method+" is not allowed here"))
	})
	rest := s.restChain(api)

	root := mux.NewRouter()
	root.PathPrefix("/rest/").Handler(rest)
	root.PathPrefix("/ex/jira/{cloudId}/").HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := mux.Vars(r)["cloudId"]
		if id != s.cloudID {
			s.stats.call(EndpointOther)
			writeJSON(w, http.StatusNotFound, []byte(`{"code":404,"message":"Not Found"}`))
			return
		}
		prefix := "/ex/jira/" + id
		r2 := r.Clone(context.WithValue(r.Context(), ctxKey{}, &reqInfo{base: s.siteURL(r) + prefix, site: s.siteURL(r)}))
		r2.URL.Path = strings.TrimPrefix(r.URL.Path, prefix)
		r2.URL.RawPath = ""
		rest.ServeHTTP(w, r2)
	})
	root.HandleFunc("/_edge/tenant_info", s.tenantInfo).Methods(http.MethodGet)
	root.HandleFunc("/_media/file/{id}", s.media).Methods(http.MethodGet, http.MethodHead)
	root.PathPrefix("/_emulator/").Handler(s.adminRoutes())
	root.NotFoundHandler = api.NotFoundHandler
	return root
}

// classify names the endpoint of a REST path for the call counters.
func classify(path string) string {
	p := strings.TrimPrefix(path, "/rest/api/3/")
	switch {
	case p == "field":
		return EndpointField
	case strings.HasPrefix(p, "search"), strings.HasPrefix(path, "/rest/api/2/search"):
		return EndpointSearch
	case p == "issue/bulkfetch":
		return EndpointBulkFetch
	case strings.HasPrefix(p, "attachment/"):
		return EndpointAttachment
	case strings.HasPrefix(p, "worklog/"):
		return EndpointWorklogChanges
	case strings.HasPrefix(p, "issue/"):
		switch {
		case strings.HasSuffix(p, "/comment"):
			return EndpointComment
		case strings.HasSuffix(p, "/changelog"):
			return EndpointChangelog
		case strings.HasSuffix(p, "/remotelink"):
			return EndpointRemoteLink
		case strings.HasSuffix(p, "/worklog"):
			return EndpointWorklog
		case strings.Count(p, "/") == 1:
			return EndpointIssue
		}
	}
	return EndpointOther
}

// restChain counts, injects faults and authenticates before the REST API.
func (s *site) restChain(api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := info(r)
		if ri.base == "" {
			ri = &reqInfo{base: s.siteURL(r), site: s.siteURL(r)}
		}
		ri.endpoint = classify(r.URL.Path)
		s.stats.call(ri.endpoint)
		w, finish, ok := s.injectFaults(w, r)
		if !ok {
			return
		}
		acct, ok := s.authenticate(r)
		if !ok {
			w.Header().Set("X-Seraph-LoginReason", "AUTHENTICATED_FAILED")
			w.Header().Set("WWW-Authenticate", `Basic realm="protected-area"`)
			writeJSON(w, http.StatusUnauthorized, []byte(`{"message":"Client must be authenticated to access this resource.","status-code":401}`))
		} else {
			ri.account = acct
			api.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, ri)))
		}
		if finish != nil {
			finish()
		}
	})
}

// authenticate checks basic auth against the configured accounts. Tokens are
// compared in constant time; e-mail addresses, like Jira's, ignore case.
func (s *site) authenticate(r *http.Request) (account, bool) {
	if s.opts.Email == "" {
		return accountMain, true
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return accountNone, false
	}
	tokenOK := func(want string) bool { return subtle.ConstantTimeCompare([]byte(pass), []byte(want)) == 1 }
	if strings.EqualFold(user, s.opts.Email) && tokenOK(s.opts.APIToken) {
		return accountMain, true
	}
	if s.opts.SLAEmail != "" && strings.EqualFold(user, s.opts.SLAEmail) && tokenOK(s.opts.SLAAPIToken) {
		return accountSLA, true
	}
	return accountNone, false
}

func (s *site) tenantInfo(w http.ResponseWriter, r *http.Request) {
	s.stats.call(EndpointTenantInfo)
	var e enc
	e.open()
	e.kstr("cloudId", s.cloudID)
	e.close()
	writeJSON(w, http.StatusOK, e.b)
}

func (s *site) myself(w http.ResponseWriter, r *http.Request) {
	id := s.mainUser
	if info(r).account == accountSLA {
		id = s.slaUser
	}
	if id == "" {
		id = s.users[s.agents[0]].AccountID
	}
	v := s.newView(r)
	var e enc
	v.writeUser(&e, id)
	writeJSON(w, http.StatusOK, e.b)
}

func (s *site) getIssue(w http.ResponseWriter, r *http.Request) {
	iv, rc, err := s.viewRec(mux.Vars(r)["key"])
	if err != nil {
		writeJSON(w, http.StatusNotFound, errorBody(issueMissing))
		return
	}
	rc.fetches.Add(1)
	q := r.URL.Query()
	sel := parseFields(q["fields"], "*all")
	v := s.newView(r)
	var e enc
	v.writeIssue(&e, iv, &sel, parseExpand(q["expand"]))
	writeJSON(w, http.StatusOK, e.b)
}

// viewRec is view plus the issue's record, for the fetch counter.
func (s *site) viewRec(keyOrID string) (*issueView, *rec, error) {
	s.mu.RLock()
	r := s.lookup(keyOrID)
	if r == nil {
		s.mu.RUnlock()
		return nil, nil, ErrNotFound
	}
	iv, in, full := s.viewOf(r)
	s.mu.RUnlock()
	iv.is = full
	if full == nil {
		iv.is = s.genIssue(in)
	}
	return iv, r, nil
}

// pageParams reads startAt and maxResults; maxResults is clamped to 100, the
// most Jira serves in one page.
func pageParams(r *http.Request) (int, int) {
	q := r.URL.Query()
	start, err := strconv.Atoi(q.Get("startAt"))
	if err != nil || start < 0 {
		start = 0
	}
	max, err := strconv.Atoi(q.Get("maxResults"))
	if err != nil || max <= 0 || max > maxEmbedded {
		max = maxEmbedded
	}
	return start, max
}

func (s *site) getComments(w http.ResponseWriter, r *http.Request) {
	iv, err := s.view(mux.Vars(r)["key"])
	if err != nil {
		writeJSON(w, http.StatusNotFound, errorBody(issueMissing))
		return
	}
	start, max := pageParams(r)
	cs := iv.is.Comments
	desc := strings.HasPrefix(r.URL.Query().Get("orderBy"), "-")
	ex := parseExpand(r.URL.Query()["expand"])
	v := s.newView(r)
	v.zone = iv.zone
	var e enc
	e.open()
	e.kint("startAt", int64(start))
	e.kint("maxResults", int64(max))
	e.kint("total", int64(len(cs)))
	e.karr("comments")
	for i := start; i < len(cs) && i < start+max; i++ {
		c := cs[i]
		if desc {
			c = cs[len(cs)-1-i]
		}
		v.writeComment(&e, iv.id, c, false, ex.renderedBody)
	}
	e.closeArr()
	e.close()
	writeJSON(w, http.StatusOK, e.b)
}

func (s *site) getChangelog(w http.ResponseWriter, r *http.Request) {
	key := mux.Vars(r)["key"]
	iv, err := s.view(key)
	if err != nil {
		writeJSON(w, http.StatusNotFound, errorBody(issueMissing))
		return
	}
	start, max := pageParams(r)
	hs := iv.is.Histories
	v := s.newView(r)
	v.zone = iv.zone
	page := v.api() + "/issue/" + key + "/changelog"
	last := start+max >= len(hs)
	var e enc
	e.open()
	e.kstr("self", page+"?maxResults="+strconv.Itoa(max)+"&startAt="+strconv.Itoa(start))
	if !last {
		e.kstr("nextPage", page+"?&startAt="+strconv.Itoa(start+max)+"&maxResults="+strconv.Itoa(max))
	}
	e.kint("maxResults", int64(max))
	e.kint("startAt", int64(start))
	e.kint("total", int64(len(hs)))
	e.kbool("isLast", last)
	e.karr("values")
	for i := start; i < len(hs) && i < start+max; i++ {
		v.writeHistory(&e, hs[i])
	}
	e.closeArr()
	e.close()
	writeJSON(w, http.StatusOK, e.b)
}

func (s *site) getRemoteLinks(w http.ResponseWriter, r *http.Request) {
	iv, err := s.view(mux.Vars(r)["key"])
	if err != nil {
		writeJSON(w, http.StatusNotFound, errorBody(issueMissing))
		return
	}
	v := s.newView(r)
	var e enc
	v.writeRemoteLinks(&e, iv.key, iv.is.RemoteLinks)
	writeJSON(w, http.StatusOK, e.b)
}

func (s *site) getFields(w http.ResponseWriter, r *http.Request) {
	v := s.newView(r)
	var e enc
	v.writeFieldList(&e)
	writeJSON(w, http.StatusOK, e.b)
}

// legacySearch answers the search endpoint Atlassian removed in 2025.
func (s *site) legacySearch(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusGone, errorBody("The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"))
}
