package emulator

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/gorilla/mux"
)

// The Jira Service Management API of the site: the service desk of the
// service project, its request types and the customer organizations, paged
// with start and limit as /rest/servicedeskapi pages everything.

// serviceDeskID is the id of the service project's service desk, which the
// request type field of its issues names too.
const serviceDeskID = "1"

// maxServiceDeskPage is the most the service desk API serves in one page.
const maxServiceDeskPage = 100

// requestTypeIssueType is the issue type a request type creates: incidents
// for "Report an incident", service requests for the others.
func requestTypeIssueType(rt int) string {
	if requestTypes[rt].name == "Report an incident" {
		return findIssueType("Incident").id
	}
	return findIssueType("Service Request").id
}

// requestTypeGroups are the portal groups a request type is shown in.
func requestTypeGroups(rt int) []string {
	if requestTypes[rt].name == "Report an incident" {
		return []string{"1", "2"}
	}
	return []string{"1"}
}

// writeRequestTypeObject writes a request type as the request type field of
// an issue and the request type list both write it.
func (v *view) writeRequestTypeObject(w *enc, rt int) {
	t := requestTypes[rt]
	w.open()
	w.karr("_expands")
	w.str("field")
	w.closeArr()
	w.kstr("id", t.id)
	w.kopen("_links")
	w.kstr("self", v.base+"/rest/servicedeskapi/servicedesk/"+serviceDeskID+"/requesttype/"+t.id)
	w.close()
	w.kstr("name", t.name)
	w.kstr("description", t.desc)
	w.kstr("helpText", "")
	w.kstr("defaultName", t.name)
	w.kstr("issueTypeId", requestTypeIssueType(rt))
	w.kstr("serviceDeskId", serviceDeskID)
	w.kstr("portalId", requestPortal)
	w.kstrs("groupIds", requestTypeGroups(rt))
	w.kopen("icon")
	w.kstr("id", "1100"+t.id)
	w.kopen("_links")
	w.kopen("iconUrls")
	for _, size := range [][2]string{{"48x48", "large"}, {"24x24", "small"}, {"16x16", "xsmall"}, {"32x32", "medium"}} {
		w.kstr(size[0], v.base+"/rest/api/3/universal_avatar/view/type/SD_REQTYPE/avatar/1100"+t.id+"?size="+size[1])
	}
	w.close()
	w.close()
	w.close()
	w.close()
}

// writeOrganizationsField writes the Organizations field of a request.
func (v *view) writeOrganizationsField(w *enc, val any) {
	ids, _ := val.([]string)
	if len(ids) == 0 {
		w.null()
		return
	}
	a := v.s.agile
	a.mu.RLock()
	defer a.mu.RUnlock()
	w.openArr()
	for _, id := range ids {
		n, _ := strconv.ParseInt(id, 10, 64)
		if o := a.org(n); o != nil {
			v.writeOrganization(w, o)
		}
	}
	w.closeArr()
}

// writeOrganization writes an organization as the service desk API does.
func (v *view) writeOrganization(w *enc, o *Organization) {
	id := strconv.FormatInt(o.ID, 10)
	w.open()
	w.kstr("id", id)
	w.kbool("scimManaged", false)
	w.kstr("name", o.Name)
	if !o.Created.IsZero() {
		w.key("created")
		v.writeSLATime(w, o.Created)
	}
	w.kopen("_links")
	w.kstr("self", v.base+"/rest/servicedeskapi/organization/"+id)
	w.close()
	w.close()
}

// sdPage reads start and limit of the service desk API; limit is clamped.
func sdPage(r *http.Request) (int, int) {
	q := r.URL.Query()
	start, err := strconv.Atoi(q.Get("start"))
	if err != nil || start < 0 {
		start = 0
	}
	n, err := strconv.Atoi(q.Get("limit"))
	if err != nil || n <= 0 || n > maxServiceDeskPage {
		n = 50
	}
	return start, n
}

// writeSDPage writes the paged envelope of the service desk API around the
// items from start, at most limit of them, each written by item.
func (v *view) writeSDPage(w *enc, path string, start, limit, total int, item func(i int)) {
	end := min(start+limit, total)
	w.open()
	w.karr("_expands")
	w.closeArr()
	w.kint("size", int64(max(end-start, 0)))
	w.kint("start", int64(start))
	w.kint("limit", int64(limit))
	w.kbool("isLastPage", end >= total)
	w.kopen("_links")
	w.kstr("base", v.base)
	w.kstr("context", "")
	self := v.base + path
	if end < total {
		w.kstr("next", self+"?start="+strconv.Itoa(end)+"&limit="+strconv.Itoa(limit))
	}
	if start > 0 {
		w.kstr("prev", self+"?start="+strconv.Itoa(max(start-limit, 0))+"&limit="+strconv.Itoa(limit))
	}
	w.kstr("self", self)
	w.close()
	w.karr("values")
	for i := start; i < end; i++ {
		item(i)
	}
	w.closeArr()
	w.close()
}

func (s *site) getServiceDesks(w http.ResponseWriter, r *http.Request) {
	if !s.agile.service {
		noProduct(w, r)
		return
	}
	var desks []*project
	for _, p := range s.projects {
		if p.service {
			desks = append(desks, p)
		}
	}
	// One service project: its desk has the id its requests name.
	desks = desks[:min(len(desks), 1)]
	start, limit := sdPage(r)
	v := s.newView(r)
	var e enc
	v.writeSDPage(&e, "/rest/servicedeskapi/servicedesk", start, limit, len(desks), func(i int) {
		p := desks[i]
		e.open()
		e.kstr("id", serviceDeskID)
		e.kstr("projectId", strconv.FormatInt(p.id, 10))
		e.kstr("projectName", s.projectName(p))
		e.kstr("projectKey", p.key)
		e.kopen("_links")
		e.kstr("self", v.base+"/rest/servicedeskapi/servicedesk/"+serviceDeskID)
		e.close()
		e.close()
	})
	writeJSON(w, http.StatusOK, e.b)
}

func (s *site) getRequestTypes(w http.ResponseWriter, r *http.Request) {
	if !s.agile.service {
		noProduct(w, r)
		return
	}
	id := mux.Vars(r)["id"]
	if id != serviceDeskID || !slices.ContainsFunc(s.projects, func(p *project) bool { return p.service }) {
		writeJSON(w, http.StatusNotFound, errorBody("The service desk does not exist or you do not have permission to see it."))
		return
	}
	start, limit := sdPage(r)
	v := s.newView(r)
	var e enc
	v.writeSDPage(&e, "/rest/servicedeskapi/servicedesk/"+id+"/requesttype", start, limit, len(requestTypes), func(i int) {
		v.writeRequestTypeObject(&e, i)
	})
	writeJSON(w, http.StatusOK, e.b)
}

func (s *site) getOrganizations(w http.ResponseWriter, r *http.Request) {
	a := s.agile
	if !a.service {
		noProduct(w, r)
		return
	}
	a.mu.RLock()
	orgs := slices.Clone(a.orgs)
	a.mu.RUnlock()
	start, limit := sdPage(r)
	v := s.newView(r)
	var e enc
	v.writeSDPage(&e, "/rest/servicedeskapi/organization", start, limit, len(orgs), func(i int) {
		v.writeOrganization(&e, &orgs[i])
	})
	writeJSON(w, http.StatusOK, e.b)
}
