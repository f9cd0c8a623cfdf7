package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"
)

// The site's objects other than issues, as the platform REST API lists
// them: projects, their versions and components, users, statuses,
// priorities, issue types, resolutions and link types. They are the ones
// the generated issues name, so every account, status or version an issue
// carries is found here. The admin API changes a few of them (a version
// added or released, a project renamed, an account or a link type added),
// with the webhook Jira sends for each.

// platformState holds what the admin API changed of the site's objects.
// Its lock is never held while s.mu is taken, and the reverse.
type platformState struct {
	mu sync.RWMutex
	// names are projects renamed, by project id.
	names map[int64]string
	// versions are those added, by project id; released overrides the
	// release state of any version, by id.
	versions map[int64][]*version
	released map[string]bool
	nextID   int64
	// users and linkTypes are accounts and link types added.
	users     []User
	userIdx   map[string]int
	linkTypes []*linkTypeDef
}

func (p *platformState) init() {
	if p.names == nil {
		p.names, p.versions, p.released, p.userIdx = map[int64]string{}, map[int64][]*version{}, map[string]bool{}, map[string]int{}
		p.nextID = 50000
	}
}

// projectName is the project's current name.
func (s *site) projectName(p *project) string {
	s.plat.mu.RLock()
	defer s.plat.mu.RUnlock()
	if n, ok := s.plat.names[p.id]; ok {
		return n
	}
	return p.name
}

// versionReleased is whether a version is released now.
func (s *site) versionReleased(v *version) bool {
	s.plat.mu.RLock()
	defer s.plat.mu.RUnlock()
	if r, ok := s.plat.released[v.id]; ok {
		return r
	}
	return v.released
}

// addedUser finds an account the admin API added.
func (s *site) addedUser(accountID string) *User {
	s.plat.mu.RLock()
	defer s.plat.mu.RUnlock()
	if i, ok := s.plat.userIdx[accountID]; ok {
		u := s.plat.users[i]
		return &u
	}
	return nil
}

// linkType finds a link type by name, outward description or id, the
// added ones included.
func (s *site) linkType(name string) *linkTypeDef {
	if t := findLinkType(name); t != nil {
		return t
	}
	s.plat.mu.RLock()
	defer s.plat.mu.RUnlock()
	for _, t := range s.plat.linkTypes {
		if strings.EqualFold(t.name, name) || strings.EqualFold(t.outward, name) || t.id == name {
			return t
		}
	}
	return nil
}

func (s *site) platformRoutes(api *mux.Router) {
	api.HandleFunc("/rest/api/3/project/search", s.getProjects).Methods(http.MethodGet)
	api.HandleFunc("/rest/api/3/project/{id}/version", s.getVersions).Methods(http.MethodGet)
	api.HandleFunc("/rest/api/3/project/{id}/component", s.getComponents).Methods(http.MethodGet)
	api.HandleFunc("/rest/api/3/users/search", s.getUsers).Methods(http.MethodGet)
	api.HandleFunc("/rest/api/3/user/bulk", s.getUserBulk).Methods(http.MethodGet)
	api.HandleFunc("/rest/api/3/status", s.getStatuses).Methods(http.MethodGet)
	api.HandleFunc("/rest/api/3/priority/search", s.getPriorities).Methods(http.MethodGet)
	api.HandleFunc("/rest/api/3/issuetype", s.getIssueTypes).Methods(http.MethodGet)
	api.HandleFunc("/rest/api/3/resolution/search", s.getResolutions).Methods(http.MethodGet)
	api.HandleFunc("/rest/api/3/issueLinkType", s.getLinkTypes).Methods(http.MethodGet)
}

func (s *site) platformAdminRoutes(a *mux.Router, handle func(h func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc) {
	e := &Emulator{s: s}
	a.HandleFunc("/projects/{key}", handle(e.adminRenameProject)).Methods(http.MethodPut, http.MethodPost)
	a.HandleFunc("/projects/{key}/versions", handle(e.adminAddVersion)).Methods(http.MethodPost)
	a.HandleFunc("/versions/{id}/release", handle(e.adminReleaseVersion)).Methods(http.MethodPost)
	a.HandleFunc("/users", handle(e.adminAddUser)).Methods(http.MethodPost)
	a.HandleFunc("/linktypes", handle(e.adminAddLinkType)).Methods(http.MethodPost)
}

// restPage is Jira's PageBean.
type restPage struct {
	Self       string `json:"self"`
	NextPage   string `json:"nextPage,omitempty"`
	MaxResults int    `json:"maxResults"`
	StartAt    int    `json:"startAt"`
	Total      int    `json:"total"`
	IsLast     bool   `json:"isLast"`
	Values     []any  `json:"values"`
}

// pageOf cuts one page of all as r asks (startAt, maxResults up to max,
// def when absent) and writes it.
func pageOf(w http.ResponseWriter, r *http.Request, all []any, def, max int) {
	q := r.URL.Query()
	start, err := strconv.Atoi(q.Get("startAt"))
	if err != nil || start < 0 {
		start = 0
	}
	size, err := strconv.Atoi(q.Get("maxResults"))
	if err != nil || size <= 0 {
		size = def
	}
	size = min(size, max)
	end := min(start+size, len(all))
	values := []any{}
	if start < len(all) {
		values = all[start:end]
	}
	self := func(at int) string {
		u := *r.URL
		qq := u.Query()
		qq.Set("startAt", strconv.Itoa(at))
		qq.Set("maxResults", strconv.Itoa(size))
		u.RawQuery = qq.Encode()
		return info(r).base + u.RequestURI()
	}
	p := restPage{Self: self(start), MaxResults: size, StartAt: start, Total: len(all), IsLast: end >= len(all), Values: values}
	if !p.IsLast {
		p.NextPage = self(end)
	}
	writeValue(w, p)
}

func writeValue(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, errorBody(err.Error()))
		return
	}
	writeJSON(w, http.StatusOK, b)
}

func avatars(u string) map[string]string {
	return map[string]string{"48x48": u, "24x24": u, "16x16": u, "32x32": u}
}

// userJSON is an account as Jira's user endpoints write it.
func userJSON(api string, u *User) map[string]any {
	m := map[string]any{
		"self":        api + "/user?accountId=" + url.QueryEscape(u.AccountID),
		"accountId":   u.AccountID,
		"accountType": u.AccountType,
		"avatarUrls":  avatars(avatarURL(u.DisplayName)),
		"displayName": u.DisplayName,
		"active":      u.Active,
		"timeZone":    u.TimeZone,
		"locale":      "en_US",
	}
	if u.Email != "" {
		m["emailAddress"] = u.Email
	}
	return m
}

// lead is a project's lead: an agent, the same for a project every time.
func (s *site) lead(p *project) *User {
	return &s.users[s.agents[int(p.id)%len(s.agents)]]
}

func (s *site) projectJSON(api string, p *project, counts map[*project]int) map[string]any {
	id := strconv.FormatInt(p.id, 10)
	typ, category := "software", map[string]any{"id": "10000", "name": "Product", "description": "Software we build"}
	if p.service {
		typ, category = "service_desk", map[string]any{"id": "10001", "name": "Customer service", "description": "Where customers ask"}
	}
	category["self"] = api + "/projectCategory/" + category["id"].(string)
	name := s.projectName(p)
	m := map[string]any{
		"self": api + "/project/" + id, "id": id, "key": p.key, "name": name, "description": name + " at the emulated site",
		"projectTypeKey": typ, "simplified": false, "style": "classic", "isPrivate": false, "archived": false,
		"avatarUrls":      avatars(api + "/universal_avatar/view/type/project/avatar/" + strconv.FormatInt(10400+p.id%10, 10)),
		"projectCategory": category,
		"lead":            userJSON(api, s.lead(p)),
		"assigneeType":    "UNASSIGNED",
		"properties":      map[string]any{},
	}
	if counts != nil {
		m["insight"] = map[string]any{"totalIssueCount": counts[p]}
	}
	return m
}

func (s *site) getProjects(w http.ResponseWriter, r *http.Request) {
	v := s.newView(r)
	counts := map[*project]int{}
	s.mu.RLock()
	projects := slices.Clone(s.projects)
	if strings.Contains(r.URL.Query().Get("expand"), "insight") {
		for _, rc := range s.recs {
			if !rc.deleted {
				counts[rc.proj]++
			}
		}
	} else {
		counts = nil
	}
	s.mu.RUnlock()
	all := make([]any, 0, len(projects))
	for _, p := range projects {
		all = append(all, s.projectJSON(v.api(), p, counts))
	}
	pageOf(w, r, all, 50, 100)
}

// projectOf finds a project by id or key.
func (s *site) projectOf(idOrKey string) *project {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, p := range s.projects {
		if strconv.FormatInt(p.id, 10) == idOrKey || strings.EqualFold(p.key, idOrKey) {
			return p
		}
	}
	return nil
}

const projectMissing = "No project could be found with key or id '%s'."

// projectVersions lists a project's versions, the added ones last.
func (s *site) projectVersions(p *project) []*version {
	out := make([]*version, 0, len(p.versions))
	for i := range p.versions {
		out = append(out, &p.versions[i])
	}
	s.plat.mu.RLock()
	out = append(out, s.plat.versions[p.id]...)
	s.plat.mu.RUnlock()
	return out
}

func (s *site) versionJSON(api string, p *project, ver *version) map[string]any {
	released := s.versionReleased(ver)
	m := map[string]any{"self": api + "/version/" + ver.id, "id": ver.id, "description": "", "name": ver.name,
		"archived": false, "released": released, "projectId": p.id}
	if ver.date != "" {
		m["releaseDate"] = ver.date
		if day, err := time.Parse(time.DateOnly, ver.date); err == nil {
			m["userReleaseDate"] = day.Format("02/Jan/06")
			m["overdue"] = !released && day.Before(s.now())
		}
	}
	return m
}

func (s *site) getVersions(w http.ResponseWriter, r *http.Request) {
	p := s.projectOf(mux.Vars(r)["id"])
	if p == nil {
		writeJSON(w, http.StatusNotFound, errorBody(fmt.Sprintf(projectMissing, mux.Vars(r)["id"])))
		return
	}
	api := s.newView(r).api()
	var all []any
	for _, ver := range s.projectVersions(p) {
		all = append(all, s.versionJSON(api, p, ver))
	}
	pageOf(w, r, all, 50, 50)
}

func (s *site) getComponents(w http.ResponseWriter, r *http.Request) {
	p := s.projectOf(mux.Vars(r)["id"])
	if p == nil {
		writeJSON(w, http.StatusNotFound, errorBody(fmt.Sprintf(projectMissing, mux.Vars(r)["id"])))
		return
	}
	api := s.newView(r).api()
	var all []any
	for i, c := range p.components {
		m := map[string]any{"self": api + "/component/" + c.id, "id": c.id, "name": c.name, "description": c.desc,
			"assigneeType": "PROJECT_DEFAULT", "realAssigneeType": "PROJECT_DEFAULT", "isAssigneeTypeValid": false,
			"project": p.key, "projectId": p.id, "issueCount": 0}
		if i%2 == 0 {
			// Every other component has a lead of its own.
			m["lead"] = userJSON(api, &s.users[s.agents[(int(p.id)+i)%len(s.agents)]])
			m["assigneeType"], m["realAssigneeType"], m["isAssigneeTypeValid"] = "COMPONENT_LEAD", "COMPONENT_LEAD", true
		}
		all = append(all, m)
	}
	pageOf(w, r, all, 50, 50)
}

// listedUsers are the accounts users/search lists: every account but the
// portal-only customers of Jira Service Management, which only a lookup by
// id (user/bulk) finds.
func (s *site) listedUsers() []*User {
	var out []*User
	for i := range s.users {
		if s.users[i].AccountType != "customer" {
			out = append(out, &s.users[i])
		}
	}
	s.plat.mu.RLock()
	for i := range s.plat.users {
		u := s.plat.users[i]
		if u.AccountType != "customer" {
			out = append(out, &u)
		}
	}
	s.plat.mu.RUnlock()
	return out
}

func (s *site) getUsers(w http.ResponseWriter, r *http.Request) {
	api := s.newView(r).api()
	users := s.listedUsers()
	q := r.URL.Query()
	start, err := strconv.Atoi(q.Get("startAt"))
	if err != nil || start < 0 {
		start = 0
	}
	size, err := strconv.Atoi(q.Get("maxResults"))
	if err != nil || size <= 0 {
		size = 50
	}
	size = min(size, 1000)
	out := []any{}
	for i := start; i < min(start+size, len(users)); i++ {
		out = append(out, userJSON(api, users[i]))
	}
	writeValue(w, out)
}

func (s *site) getUserBulk(w http.ResponseWriter, r *http.Request) {
	ids := r.URL.Query()["accountId"]
	if len(ids) == 0 {
		writeJSON(w, http.StatusBadRequest, errorBody("You must specify at least one account ID."))
		return
	}
	if len(ids) > 200 {
		writeJSON(w, http.StatusBadRequest, errorBody("You can specify at most 200 account IDs."))
		return
	}
	api := s.newView(r).api()
	var all []any
	for _, id := range ids {
		if u := s.user(id); u != nil {
			all = append(all, userJSON(api, u))
		}
	}
	pageOf(w, r, all, 10, 200)
}

func (s *site) getStatuses(w http.ResponseWriter, r *http.Request) {
	v := s.newView(r)
	var e enc
	e.openArr()
	for _, st := range statuses {
		v.writeStatus(&e, st)
	}
	e.closeArr()
	writeJSON(w, http.StatusOK, e.b)
}

func (s *site) getPriorities(w http.ResponseWriter, r *http.Request) {
	api := s.newView(r).api()
	base := s.newView(r).base
	colors := map[string]string{"1": "#d04437", "2": "#f15C75", "3": "#f79232", "4": "#707070", "5": "#999999"}
	var all []any
	for _, p := range priorities {
		all = append(all, map[string]any{"self": api + "/priority/" + p.id, "id": p.id, "name": p.name,
			"description": p.name + " priority", "iconUrl": base + "/images/icons/priorities/" + p.icon,
			"statusColor": colors[p.id], "isDefault": p.name == "Medium"})
	}
	pageOf(w, r, all, 50, 50)
}

func (s *site) getIssueTypes(w http.ResponseWriter, r *http.Request) {
	v := s.newView(r)
	var e enc
	e.openArr()
	for _, t := range issueTypes {
		v.writeIssueType(&e, t)
	}
	e.closeArr()
	writeJSON(w, http.StatusOK, e.b)
}

func (s *site) getResolutions(w http.ResponseWriter, r *http.Request) {
	api := s.newView(r).api()
	var all []any
	for _, res := range resolutions {
		all = append(all, map[string]any{"self": api + "/resolution/" + res.id, "id": res.id, "name": res.name,
			"description": res.desc, "isDefault": false})
	}
	pageOf(w, r, all, 50, 50)
}

func (s *site) allLinkTypes() []*linkTypeDef {
	s.plat.mu.RLock()
	defer s.plat.mu.RUnlock()
	return append(slices.Clone(linkTypes), s.plat.linkTypes...)
}

func (s *site) getLinkTypes(w http.ResponseWriter, r *http.Request) {
	api := s.newView(r).api()
	var list []any
	for _, t := range s.allLinkTypes() {
		list = append(list, map[string]any{"id": t.id, "name": t.name, "inward": t.inward, "outward": t.outward,
			"self": api + "/issueLinkType/" + t.id})
	}
	writeValue(w, map[string]any{"issueLinkTypes": list})
}

// Mutations of the site's objects.

// platformEvent is a webhook body about one of the site's objects: the
// envelope and the object under its key, in the REST v2 shape.
func (s *site) platformEvent(event, key string, object map[string]any) hookEvent {
	b, _ := json.Marshal(map[string]any{"timestamp": s.now().UnixMilli(), "webhookEvent": event, key: object})
	return hookEvent{event: event, body: b}
}

func (s *site) hookAPI() string { return s.hookBase() + "/rest/api/2" }

// RenameProject renames a project (Jira sends project_updated).
func (e *Emulator) RenameProject(key, name string) error {
	s := e.s
	name = strings.TrimSpace(name)
	if name == "" {
		return fmt.Errorf("%w: a project needs a name", ErrInvalid)
	}
	p := s.projectOf(key)
	if p == nil {
		return fmt.Errorf("%w: project %s", ErrNotFound, key)
	}
	s.plat.mu.Lock()
	s.plat.init()
	s.plat.names[p.id] = name
	s.plat.mu.Unlock()
	e.send([]hookEvent{s.platformEvent("project_updated", "project", s.projectJSON(s.hookAPI(), p, nil))})
	return nil
}

// AddVersion adds an unreleased version to a project, due on releaseDate
// ("2006-01-02", or empty), and returns its id (Jira sends
// jira:version_created).
func (e *Emulator) AddVersion(key, name, releaseDate string) (string, error) {
	s := e.s
	name = strings.TrimSpace(name)
	if name == "" {
		return "", fmt.Errorf("%w: a version needs a name", ErrInvalid)
	}
	if releaseDate != "" {
		if _, err := time.Parse(time.DateOnly, releaseDate); err != nil {
			return "", fmt.Errorf("%w: release date %q is not YYYY-MM-DD", ErrInvalid, releaseDate)
		}
	}
	p := s.projectOf(key)
	if p == nil {
		return "", fmt.Errorf("%w: project %s", ErrNotFound, key)
	}
	for _, v := range s.projectVersions(p) {
		if strings.EqualFold(v.name, name) {
			return "", fmt.Errorf("%w: project %s has a version named %s", ErrInvalid, p.key, name)
		}
	}
	s.plat.mu.Lock()
	s.plat.init()
	ver := &version{id: strconv.FormatInt(s.plat.nextID, 10), name: name, date: releaseDate}
	s.plat.nextID++
	s.plat.versions[p.id] = append(s.plat.versions[p.id], ver)
	s.plat.mu.Unlock()
	e.send([]hookEvent{s.platformEvent("jira:version_created", "version", s.versionJSON(s.hookAPI(), p, ver))})
	return ver.id, nil
}

// ReleaseVersion releases a version, or takes its release back (Jira sends
// jira:version_released or jira:version_unreleased).
func (e *Emulator) ReleaseVersion(id string, released bool) error {
	s := e.s
	var p *project
	var ver *version
	s.mu.RLock()
	projects := slices.Clone(s.projects)
	s.mu.RUnlock()
	for _, pp := range projects {
		for _, v := range s.projectVersions(pp) {
			if v.id == id {
				p, ver = pp, v
			}
		}
	}
	if ver == nil {
		return fmt.Errorf("%w: version %s", ErrNotFound, id)
	}
	s.plat.mu.Lock()
	s.plat.init()
	s.plat.released[id] = released
	s.plat.mu.Unlock()
	event := "jira:version_released"
	if !released {
		event = "jira:version_unreleased"
	}
	e.send([]hookEvent{s.platformEvent(event, "version", s.versionJSON(s.hookAPI(), p, ver))})
	return nil
}

// AddUser adds an account to the site and returns its id (Jira sends
// user_created). accountType is atlassian (the default), app or customer.
func (e *Emulator) AddUser(displayName, email, accountType string) (string, error) {
	s := e.s
	displayName = strings.TrimSpace(displayName)
	if displayName == "" {
		return "", fmt.Errorf("%w: an account needs a display name", ErrInvalid)
	}
	if accountType == "" {
		accountType = "atlassian"
	}
	if !slices.Contains([]string{"atlassian", "app", "customer"}, accountType) {
		return "", fmt.Errorf("%w: account type %q is not atlassian, app or customer", ErrInvalid, accountType)
	}
	s.plat.mu.Lock()
	s.plat.init()
	u := User{AccountID: fmt.Sprintf("712020:%08x-0000-4000-8000-%012x", s.plat.nextID, s.plat.nextID), Email: email,
		DisplayName: displayName, TimeZone: "Etc/UTC", Active: true, AccountType: accountType}
	s.plat.nextID++
	s.plat.users = append(s.plat.users, u)
	s.plat.userIdx[u.AccountID] = len(s.plat.users) - 1
	s.plat.mu.Unlock()
	e.send([]hookEvent{s.platformEvent("user_created", "user", userJSON(s.hookAPI(), &u))})
	return u.AccountID, nil
}

// AddLinkType adds an issue link type and returns its id. Jira sends no
// webhook for it: links made with it (AddLink) name it in theirs.
func (e *Emulator) AddLinkType(name, inward, outward string) (string, error) {
	s := e.s
	name, inward, outward = strings.TrimSpace(name), strings.TrimSpace(inward), strings.TrimSpace(outward)
	if name == "" || inward == "" || outward == "" {
		return "", fmt.Errorf("%w: a link type needs a name, an inward and an outward description", ErrInvalid)
	}
	if s.linkType(name) != nil {
		return "", fmt.Errorf("%w: a link type named %s exists", ErrInvalid, name)
	}
	s.plat.mu.Lock()
	defer s.plat.mu.Unlock()
	s.plat.init()
	t := &linkTypeDef{id: strconv.FormatInt(s.plat.nextID, 10), name: name, inward: inward, outward: outward}
	s.plat.nextID++
	s.plat.linkTypes = append(s.plat.linkTypes, t)
	return t.id, nil
}

func (e *Emulator) adminRenameProject(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		common
		Name string `json:"name"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := e.handle(r, in.common).RenameProject(mux.Vars(r)["key"], in.Name); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (e *Emulator) adminAddVersion(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		common
		Name        string `json:"name"`
		ReleaseDate string `json:"releaseDate"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	id, err := e.handle(r, in.common).AddVersion(mux.Vars(r)["key"], in.Name, in.ReleaseDate)
	if err != nil {
		return err
	}
	adminJSON(w, http.StatusCreated, map[string]string{"id": id})
	return nil
}

func (e *Emulator) adminReleaseVersion(w http.ResponseWriter, r *http.Request) error {
	in := struct {
		common
		Released *bool `json:"released"`
	}{}
	if err := decode(r, &in); err != nil {
		return err
	}
	released := in.Released == nil || *in.Released
	if err := e.handle(r, in.common).ReleaseVersion(mux.Vars(r)["id"], released); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (e *Emulator) adminAddUser(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		common
		DisplayName string `json:"displayName"`
		Email       string `json:"email"`
		AccountType string `json:"accountType"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	id, err := e.handle(r, in.common).AddUser(in.DisplayName, in.Email, in.AccountType)
	if err != nil {
		return err
	}
	adminJSON(w, http.StatusCreated, map[string]string{"accountId": id})
	return nil
}

func (e *Emulator) adminAddLinkType(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name    string `json:"name"`
		Inward  string `json:"inward"`
		Outward string `json:"outward"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	id, err := e.AddLinkType(in.Name, in.Inward, in.Outward)
	if err != nil {
		return err
	}
	adminJSON(w, http.StatusCreated, map[string]string{"id": id})
	return nil
}
