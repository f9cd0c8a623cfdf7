package emulator

import (
	"hash/fnv"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// issueView is everything needed to render one issue, copied out of the site
// under its lock so that rendering runs without it.
type issueView struct {
	is       *Issue
	id       int64
	key      string
	proj     *project
	zone     zone
	parent   *shortIssue
	subtasks []shortIssue
	links    []linkView
	// subs are the sub-tasks as rendering needs them for the aggregate
	// time fields; sums holds those once computed.
	subs []subtaskSource
	sums *timeSums
}

// subtaskSource is a sub-task's time tracking: its state once changed, else
// what its generation gave.
type subtaskSource struct {
	full            *Issue
	estimate, spent time.Duration
}

// timeSums are an issue's time tracking totals in seconds' precision.
type timeSums struct {
	estimate, remaining, spent time.Duration
}

// timeOf is the time tracking of one issue: its estimate, what remains of
// it after the work logged, and the work logged.
func timeOf(is *Issue) timeSums { return timeFrom(is.OriginalEstimate, totalSpent(is.Worklogs)) }

// timeFrom is the time tracking of an estimate and the work logged against
// it: the remaining estimate follows the work down to zero.
func timeFrom(estimate, spent time.Duration) timeSums {
	t := timeSums{estimate: estimate, spent: spent}
	if estimate > 0 {
		t.remaining = max(estimate-spent, 0)
	}
	return t
}

// aggregate sums the time tracking of the issue and its sub-tasks, as
// Jira's aggregate fields do.
func (v *view) aggregate(iv *issueView) timeSums {
	if iv.sums != nil {
		return *iv.sums
	}
	sum := timeOf(iv.is)
	for _, st := range iv.subs {
		t := timeFrom(st.estimate, st.spent)
		if st.full != nil {
			t = timeOf(st.full)
		}
		sum.estimate += t.estimate
		sum.remaining += t.remaining
		sum.spent += t.spent
	}
	iv.sums = &sum
	return sum
}

// writeSeconds writes a duration in whole seconds, null when zero and
// unset is true.
func writeSeconds(w *enc, k string, d time.Duration, set bool) {
	if !set {
		w.knull(k)
		return
	}
	w.kint(k, int64(d/time.Second))
}

// estimateText writes a duration as Jira's time tracking does, on its
// default calendar of 5-day weeks and 8-hour days: "15w 2d 6m".
func estimateText(d time.Duration) string {
	mins := int64(d / time.Minute)
	if mins <= 0 {
		return "0m"
	}
	var parts []string
	for _, u := range []struct {
		suffix string
		mins   int64
	}{{"w", 5 * 8 * 60}, {"d", 8 * 60}, {"h", 60}, {"m", 1}} {
		if n := mins / u.mins; n > 0 {
			parts = append(parts, strconv.FormatInt(n, 10)+u.suffix)
			mins -= n * u.mins
		}
	}
	return strings.Join(parts, " ")
}

// shortIssue is the form of an issue embedded in another: links, sub-tasks,
// the parent.
type shortIssue struct {
	id       int64
	key      string
	summary  string
	status   *statusDef
	priority *priorityDef
	itype    *issueTypeDef
}

type linkView struct {
	id      int64
	typ     *linkTypeDef
	outward bool
	other   shortIssue
}

func short(r *rec) shortIssue {
	return shortIssue{id: r.id, key: r.key, summary: r.summary, status: r.status, priority: r.priority, itype: r.itype}
}

// view collects an issue for rendering; ErrNotFound for an unknown or deleted
// key or id.
func (s *site) view(keyOrID string) (*issueView, error) {
	iv, _, err := s.viewRec(keyOrID)
	return iv, err
}

// viewOf copies what rendering r needs; the caller holds s.mu.
func (s *site) viewOf(r *rec) (*issueView, genInput, *Issue) {
	iv := &issueView{id: r.id, key: r.key, proj: r.proj, zone: r.zone}
	if r.parent >= 0 {
		p := short(s.recs[r.parent])
		iv.parent = &p
	}
	for _, c := range r.subtasks {
		if cr := s.recs[c]; !cr.deleted {
			iv.subtasks = append(iv.subtasks, short(cr))
			iv.subs = append(iv.subs, subtaskSource{full: cr.full, estimate: cr.genEstimate, spent: cr.genSpent})
		}
	}
	for _, id := range r.links {
		l := s.links[id]
		if l == nil {
			continue
		}
		lv := linkView{id: l.id, typ: l.typ, outward: l.src == r.idx}
		other := l.dst
		if !lv.outward {
			other = l.src
		}
		lv.other = short(s.recs[other])
		iv.links = append(iv.links, lv)
	}
	var in genInput
	if r.full == nil {
		in = s.genInput(r)
	}
	return iv, in, r.full
}

// view is how one answer is rendered: which URL self links start with, which
// API version, and whether the caller may see SLA fields.
type view struct {
	s    *site
	base string // https://host or https://host/ex/jira/{cloudId}
	v2   bool
	sla  bool
	now  time.Time
	zone zone
	// allWorklogs embeds every worklog of an issue, for State; GET issue
	// embeds the first 20.
	allWorklogs bool
}

func (v *view) api() string {
	if v.v2 {
		return v.base + "/rest/api/2"
	}
	return v.base + "/rest/api/3"
}

// fieldSel is the answer to a fields parameter.
type fieldSel struct {
	all  bool
	ids  map[string]bool
	excl map[string]bool
	// order keeps the requested ids for names and renderedFields.
	order []string
}

func (f *fieldSel) has(id string) bool {
	if f.excl[id] {
		return false
	}
	return f.all || f.ids[id]
}

// parseFields reads a fields parameter: ids, *all, *navigable, and -id to
// leave one out. An empty list gives def.
func parseFields(list []string, def string) fieldSel {
	var items []string
	for _, x := range list {
		for _, p := range strings.Split(x, ",") {
			if p = strings.TrimSpace(p); p != "" {
				items = append(items, p)
			}
		}
	}
	if len(items) == 0 {
		items = []string{def}
	}
	sel := fieldSel{ids: map[string]bool{}, excl: map[string]bool{}}
	for _, it := range items {
		switch {
		case it == "*all" || it == "*navigable":
			sel.all = true
		case strings.HasPrefix(it, "-"):
			sel.excl[it[1:]] = true
		default:
			if !sel.ids[it] {
				sel.ids[it] = true
				sel.order = append(sel.order, it)
			}
		}
	}
	return sel
}

// onlyIDs reports whether nothing beyond id and key was asked for.
func (f *fieldSel) onlyIDs() bool {
	if f.all {
		return false
	}
	for id := range f.ids {
		if id != "id" && id != "key" {
			return false
		}
	}
	return true
}

type expandSet struct {
	rendered, changelog, names, schema, renderedBody bool
	// histories is how many histories an expanded changelog embeds:
	// maxEmbedded when 0 (GET issue), maxBulkHistories in a bulk fetch.
	histories int
}

func parseExpand(list []string) expandSet {
	var e expandSet
	for _, x := range list {
		for _, p := range strings.Split(x, ",") {
			switch strings.TrimSpace(p) {
			case "renderedFields":
				e.rendered = true
			case "changelog":
				e.changelog = true
			case "names":
				e.names = true
			case "schema":
				e.schema = true
			case "renderedBody":
				e.renderedBody = true
			}
		}
	}
	return e
}

const issueExpand = "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations"

// maxEmbedded is how many comments and histories GET issue embeds.
const maxEmbedded = 100

// writeIssue renders an issue as GET /rest/api/3/issue/{key} answers it.
func (v *view) writeIssue(w *enc, iv *issueView, sel *fieldSel, ex expandSet) {
	v.zone = iv.zone
	w.open()
	exp := issueExpand
	if iv.proj.service {
		exp += "," + FieldRequestType + ".requestTypePractice"
	}
	w.kstr("expand", exp)
	w.kstr("id", strconv.FormatInt(iv.id, 10))
	w.kstr("self", v.api()+"/issue/"+strconv.FormatInt(iv.id, 10))
	w.kstr("key", iv.key)
	if ex.rendered {
		v.writeRendered(w, iv, sel)
	}
	if ex.names {
		w.kopen("names")
		v.eachField(iv, sel, func(id string) { w.kstr(id, fieldName(id)) })
		w.close()
	}
	if ex.schema {
		w.kopen("schema")
		v.eachField(iv, sel, func(id string) { v.writeSchema(w, id) })
		w.close()
	}
	v.writeFields(w, iv, sel, false)
	if ex.changelog {
		hs := iv.is.Histories
		w.kopen("changelog")
		w.kint("startAt", 0)
		limit := ex.histories
		if limit <= 0 {
			limit = maxEmbedded
		}
		n := min(len(hs), limit)
		w.kint("maxResults", int64(n))
		w.kint("total", int64(len(hs)))
		// The newest histories, newest first, as Jira Cloud embeds them.
		w.karr("histories")
		for i := len(hs) - 1; i >= len(hs)-n; i-- {
			v.writeHistory(w, hs[i])
		}
		w.closeArr()
		w.close()
	}
	w.close()
}

// eachField calls fn with the id of every field writeFields would write.
func (v *view) eachField(iv *issueView, sel *fieldSel, fn func(id string)) {
	for _, f := range systemFields {
		if f.id == "issuekey" || f.id == "thumbnail" || !sel.has(f.id) {
			continue
		}
		if f.id == "parent" && iv.parent == nil {
			continue
		}
		fn(f.id)
	}
	for _, cf := range customFields {
		if sel.has(cf.id) && (cf.kind != kindSLA || v.sla) && v.s.fieldOn(cf) {
			fn(cf.id)
		}
	}
}

func (v *view) writeSchema(w *enc, id string) {
	w.kopen(id)
	if cf := findCustomField(id); cf != nil {
		w.kstr("type", cf.typ)
		if cf.items != "" {
			w.kstr("items", cf.items)
		}
		w.kstr("custom", cf.custom)
		w.kint("customId", cf.num)
	} else {
		for _, f := range systemFields {
			if f.id == id {
				w.kstr("type", f.typ)
				if f.items != "" {
					w.kstr("items", f.items)
				}
				w.kstr("system", f.id)
			}
		}
	}
	w.close()
}

// writeFields writes the fields object. webhook leaves out comment and
// worklog, which webhook bodies do not carry.
func (v *view) writeFields(w *enc, iv *issueView, sel *fieldSel, webhook bool) {
	is := iv.is
	z := iv.zone
	spent := totalSpent(is.Worklogs)
	w.kopen("fields")
	for _, f := range systemFields {
		id := f.id
		if id == "issuekey" || id == "thumbnail" || !sel.has(id) {
			continue
		}
		switch id {
		case "statuscategorychangedate":
			w.ktime(id, is.StatusChanged, z)
		case "issuetype":
			w.key(id)
			v.writeIssueType(w, findIssueType(is.Type))
		case "parent":
			if iv.parent != nil {
				w.key(id)
				v.writeShort(w, *iv.parent)
			}
		case "timespent":
			writeSeconds(w, id, spent, spent > 0)
		case "aggregatetimespent":
			agg := v.aggregate(iv)
			writeSeconds(w, id, agg.spent, agg.spent > 0)
		case "timeoriginalestimate":
			writeSeconds(w, id, is.OriginalEstimate, is.OriginalEstimate > 0)
		case "timeestimate":
			writeSeconds(w, id, timeOf(is).remaining, is.OriginalEstimate > 0)
		case "aggregatetimeoriginalestimate":
			agg := v.aggregate(iv)
			writeSeconds(w, id, agg.estimate, agg.estimate > 0)
		case "aggregatetimeestimate":
			agg := v.aggregate(iv)
			writeSeconds(w, id, agg.remaining, agg.estimate > 0)
		case "security":
			if is.SecurityLevel == "" {
				w.knull(id)
				break
			}
			w.kopen(id)
			w.kstr("self", v.api()+"/securitylevel/10100")
			w.kstr("id", "10100")
			w.kstr("description", "Visible to staff only")
			w.kstr("name", is.SecurityLevel)
			w.close()
		case "project":
			w.key(id)
			v.writeProject(w, iv.proj)
		case "fixVersions":
			w.karr(id)
			for _, name := range is.FixVersions {
				if ver := iv.proj.version(name); ver != nil {
					v.writeVersion(w, ver)
				}
			}
			w.closeArr()
		case "resolution":
			w.key(id)
			if r := findResolution(is.Resolution); r != nil {
				w.open()
				w.kstr("self", v.api()+"/resolution/"+r.id)
				w.kstr("id", r.id)
				w.kstr("description", r.desc)
				w.kstr("name", r.name)
				w.close()
			} else {
				w.null()
			}
		case "resolutiondate":
			w.ktime(id, is.Resolved, z)
		case "workratio":
			w.kint(id, -1)
		case "lastViewed", "environment":
			w.knull(id)
		case "watches":
			w.kopen(id)
			w.kstr("self", v.api()+"/issue/"+iv.key+"/watchers")
			w.kint("watchCount", int64(1+len(is.Comments)%4))
			w.kbool("isWatching", false)
			w.close()
		case "created":
			w.ktime(id, is.Created, z)
		case "updated":
			w.ktime(id, is.Updated, z)
		case "priority":
			w.key(id)
			v.writePriority(w, findPriority(is.Priority))
		case "labels":
			w.kstrs(id, is.Labels)
		case "versions":
			w.karr(id)
			w.closeArr()
		case "issuelinks":
			w.karr(id)
			for _, l := range iv.links {
				v.writeLink(w, l)
			}
			w.closeArr()
		case "assignee", "creator", "reporter":
			w.key(id)
			v.writeUser(w, map[string]string{"assignee": is.Assignee, "creator": is.Creator, "reporter": is.Reporter}[id])
		case "status":
			w.key(id)
			v.writeStatus(w, findStatus(is.Status))
		case "statusCategory":
			w.key(id)
			v.writeCategory(w, findStatus(is.Status).cat)
		case "components":
			w.karr(id)
			for _, name := range is.Components {
				if c := iv.proj.component(name); c != nil {
					w.open()
					w.kstr("self", v.api()+"/component/"+c.id)
					w.kstr("id", c.id)
					w.kstr("name", c.name)
					w.kstr("description", c.desc)
					w.close()
				}
			}
			w.closeArr()
		case "description":
			w.key(id)
			v.writeDoc(w, is.Description)
		case "timetracking":
			w.kopen(id)
			if t := timeOf(is); t.estimate > 0 {
				w.kstr("originalEstimate", estimateText(t.estimate))
				w.kstr("remainingEstimate", estimateText(t.remaining))
			}
			if spent > 0 {
				w.kstr("timeSpent", estimateText(spent))
			}
			if t := timeOf(is); t.estimate > 0 {
				w.kint("originalEstimateSeconds", int64(t.estimate/time.Second))
				w.kint("remainingEstimateSeconds", int64(t.remaining/time.Second))
			}
			if spent > 0 {
				w.kint("timeSpentSeconds", int64(spent/time.Second))
			}
			w.close()
		case "attachment":
			w.karr(id)
			for _, a := range is.Attachments {
				v.writeAttachment(w, a, false)
			}
			w.closeArr()
		case "summary":
			w.kstr(id, is.Summary)
		case "subtasks":
			w.karr(id)
			for _, st := range iv.subtasks {
				v.writeShort(w, st)
			}
			w.closeArr()
		case "aggregateprogress", "progress":
			w.kopen(id)
			w.kint("progress", int64(spent/time.Second))
			w.kint("total", int64(spent/time.Second))
			if spent > 0 {
				w.kint("percent", 100)
			}
			w.close()
		case "duedate":
			w.kstrOrNull(id, is.DueDate)
		case "votes":
			w.kopen(id)
			w.kstr("self", v.api()+"/issue/"+iv.key+"/votes")
			w.kint("votes", int64(is.Votes))
			w.kbool("hasVoted", false)
			w.close()
		case "comment":
			if !webhook {
				w.key(id)
				v.writeEmbeddedComments(w, iv, false)
			}
		case "worklog":
			if !webhook {
				// Jira embeds the first 20 worklogs, oldest first, and
				// says how many there are.
				embed := maxEmbeddedWorklogs
				if v.allWorklogs {
					embed = len(is.Worklogs)
				}
				w.kopen(id)
				w.kint("startAt", 0)
				w.kint("maxResults", int64(max(embed, maxEmbeddedWorklogs)))
				w.kint("total", int64(len(is.Worklogs)))
				w.karr("worklogs")
				for _, wl := range is.Worklogs[:min(len(is.Worklogs), embed)] {
					v.writeWorklog(w, iv.id, wl)
				}
				w.closeArr()
				w.close()
			}
		case "issuerestriction":
			w.kopen(id)
			w.kopen("issuerestrictions")
			w.close()
			w.kbool("shouldDisplay", false)
			w.close()
		}
	}
	for _, cf := range customFields {
		if !sel.has(cf.id) || (cf.kind == kindSLA && !v.sla) || !v.s.fieldOn(cf) {
			continue
		}
		w.key(cf.id)
		v.writeCustom(w, iv, cf)
	}
	w.close()
}

func (v *view) writeDoc(w *enc, d Doc) {
	switch {
	case d.IsZero():
		w.null()
	case v.v2:
		w.str(d.Wiki())
	default:
		w.raw(d.JSON())
	}
}

func (v *view) writeCustom(w *enc, iv *issueView, cf *customField) {
	is := iv.is
	val := is.Custom[cf.id]
	switch cf.kind {
	case kindSLA:
		v.writeSLA(w, iv, is.sla(cf.id))
		return
	case kindRequestType:
		v.writeRequestType(w, iv)
		return
	case kindSprint:
		v.writeSprintField(w, val)
		return
	case kindOrganizations:
		v.writeOrganizationsField(w, val)
		return
	}
	if val == nil {
		w.null()
		return
	}
	switch x := val.(type) {
	case string:
		switch cf.kind {
		case kindOption:
			v.writeOption(w, cf, x)
		case kindUser:
			v.writeUser(w, x)
		case kindOptions, kindLabels:
			w.openArr()
			w.str(x)
			w.closeArr()
		default:
			w.str(x)
		}
	case float64:
		w.float(x)
	case int:
		w.int(int64(x))
	case []string:
		w.openArr()
		for _, s := range x {
			if cf.kind == kindOptions {
				v.writeOption(w, cf, s)
			} else {
				w.str(s)
			}
		}
		w.closeArr()
	case time.Time:
		w.str(jiraTime(x, iv.zone))
	case Doc:
		v.writeDoc(w, x)
	default:
		w.null()
	}
}

func (v *view) writeOption(w *enc, cf *customField, value string) {
	o := cf.option(value)
	if o == nil {
		w.null()
		return
	}
	w.open()
	w.kstr("self", v.api()+"/customFieldOption/"+o.id)
	w.kstr("value", o.value)
	w.kstr("id", o.id)
	w.close()
}

func statusCategoryJSM(c *category) string {
	switch c {
	case catNew:
		return "NEW"
	case catDone:
		return "DONE"
	}
	return "INDETERMINATE"
}

// writeRequestType writes the JSM request type field, shaped on the capture
// of a real service project.
func (v *view) writeRequestType(w *enc, iv *issueView) {
	is := iv.is
	rt := findRequestType(is.RequestType)
	if rt < 0 || !iv.proj.service {
		w.null()
		return
	}
	id := strconv.FormatInt(iv.id, 10)
	w.open()
	w.kopen("_links")
	w.kstr("jiraRest", v.base+"/rest/api/2/issue/"+id)
	w.kstr("web", v.base+"/servicedesk/customer/portal/"+requestPortal+"/"+iv.key)
	w.kstr("agent", v.base+"/browse/"+iv.key)
	w.kstr("self", v.base+"/rest/servicedeskapi/request/"+id)
	w.close()
	w.key("requestType")
	v.writeRequestTypeObject(w, rt)
	st := findStatus(is.Status)
	w.kopen("currentStatus")
	w.kstr("status", st.name)
	w.kstr("statusCategory", statusCategoryJSM(st.cat))
	w.key("statusDate")
	v.writeSLATime(w, is.StatusChanged)
	w.close()
	w.close()
}

func slaMetricID(field string) string {
	if field == FieldTimeToResolution {
		return "2"
	}
	return "1"
}

func (v *view) writeSLATime(w *enc, t time.Time) {
	w.open()
	w.kstr("iso8601", isoTime(t, v.zone))
	w.kstr("jira", jiraTime(t, v.zone))
	w.kstr("friendly", friendlyTime(t, v.zone))
	w.kint("epochMillis", t.UnixMilli())
	w.close()
}

func writeSLADuration(w *enc, k string, d time.Duration) {
	w.kopen(k)
	w.kint("millis", d.Milliseconds())
	w.kstr("friendly", friendlyDuration(d))
	w.close()
}

// writeSLA writes an SLA field value in one of Jira's shapes: null, an
// errorMessage, or the cycles.
func (v *view) writeSLA(w *enc, iv *issueView, s *SLA) {
	if s == nil {
		w.null()
		return
	}
	if s.Error != "" {
		w.open()
		w.kstr("errorMessage", s.Error)
		w.kopen("i18nErrorMessage")
		w.kstr("i18nKey", "sd.jsm.agent.servicedesk.error.servicedesk.missing")
		w.karr("parameters")
		w.closeArr()
		w.close()
		w.close()
		return
	}
	metric := slaMetricID(s.Field)
	w.open()
	w.kstr("id", metric)
	w.kstr("name", s.Name)
	w.kopen("_links")
	w.kstr("self", v.base+"/rest/servicedeskapi/request/"+strconv.FormatInt(iv.id, 10)+"/sla/"+metric)
	w.close()
	w.karr("completedCycles")
	for _, c := range s.Completed {
		w.open()
		w.key("startTime")
		v.writeSLATime(w, c.Start)
		w.key("stopTime")
		v.writeSLATime(w, c.Stop)
		w.key("breachTime")
		v.writeSLATime(w, c.Start.Add(c.Goal+c.Stop.Sub(c.Start)-c.Elapsed))
		w.kbool("breached", c.Elapsed > c.Goal)
		writeSLADuration(w, "goalDuration", c.Goal)
		writeSLADuration(w, "elapsedTime", c.Elapsed)
		writeSLADuration(w, "remainingTime", c.Goal-c.Elapsed)
		w.close()
	}
	w.closeArr()
	if c := s.Ongoing; c != nil {
		elapsed := c.ElapsedAt(v.now)
		w.kopen("ongoingCycle")
		w.key("startTime")
		v.writeSLATime(w, c.Start)
		if !c.Paused {
			w.key("breachTime")
			v.writeSLATime(w, c.Since.Add(c.Goal-c.Elapsed))
		}
		w.kbool("breached", elapsed > c.Goal)
		w.kbool("paused", c.Paused)
		w.kbool("withinCalendarHours", true)
		writeSLADuration(w, "goalDuration", c.Goal)
		writeSLADuration(w, "elapsedTime", elapsed)
		writeSLADuration(w, "remainingTime", c.Goal-elapsed)
		w.close()
	}
	w.kstr("slaDisplayFormat", slaFormat)
	w.close()
}

func avatarURL(name string) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	return "https://avatar-management--avatars.us-west-2.prod.public.atl-paas.net/initials/" + initials(name) + "-" + strconv.Itoa(int(h.Sum32()%7)) + ".png"
}

func (v *view) writeUser(w *enc, accountID string) {
	u := v.s.user(accountID)
	if u == nil {
		w.null()
		return
	}
	w.open()
	w.kstr("self", v.api()+"/user?accountId="+url.QueryEscape(u.AccountID))
	w.kstr("accountId", u.AccountID)
	if u.Email != "" {
		w.kstr("emailAddress", u.Email)
	}
	av := avatarURL(u.DisplayName)
	w.kopen("avatarUrls")
	for _, size := range []string{"48x48", "24x24", "16x16", "32x32"} {
		w.kstr(size, av)
	}
	w.close()
	w.kstr("displayName", u.DisplayName)
	w.kbool("active", u.Active)
	w.kstr("timeZone", u.TimeZone)
	w.kstr("accountType", u.AccountType)
	w.close()
}

func (v *view) writeIssueType(w *enc, t *issueTypeDef) {
	w.open()
	w.kstr("self", v.api()+"/issuetype/"+t.id)
	w.kstr("id", t.id)
	w.kstr("description", t.desc)
	w.kstr("iconUrl", v.base+"/rest/api/2/universal_avatar/view/type/issuetype/avatar/"+strconv.FormatInt(t.avatar, 10)+"?size=medium")
	w.kstr("name", t.name)
	w.kbool("subtask", t.subtask)
	w.kint("avatarId", t.avatar)
	w.kstr("entityId", t.entityID)
	w.kint("hierarchyLevel", t.hierarchy)
	w.close()
}

func (v *view) writeProject(w *enc, p *project) {
	id := strconv.FormatInt(p.id, 10)
	w.open()
	w.kstr("self", v.api()+"/project/"+id)
	w.kstr("id", id)
	w.kstr("key", p.key)
	w.kstr("name", v.s.projectName(p))
	typ := "software"
	if p.service {
		typ = "service_desk"
	}
	w.kstr("projectTypeKey", typ)
	w.kbool("simplified", false)
	av := v.api() + "/universal_avatar/view/type/project/avatar/" + strconv.FormatInt(10400+p.id%10, 10)
	w.kopen("avatarUrls")
	w.kstr("48x48", av)
	w.kstr("24x24", av+"?size=small")
	w.kstr("16x16", av+"?size=xsmall")
	w.kstr("32x32", av+"?size=medium")
	w.close()
	w.close()
}

func (v *view) writeStatus(w *enc, st *statusDef) {
	w.open()
	w.kstr("self", v.api()+"/status/"+st.id)
	w.kstr("description", st.desc)
	w.kstr("iconUrl", v.base+st.icon)
	w.kstr("name", st.name)
	w.kstr("id", st.id)
	w.key("statusCategory")
	v.writeCategory(w, st.cat)
	w.close()
}

func (v *view) writeCategory(w *enc, c *category) {
	w.open()
	w.kstr("self", v.api()+"/statuscategory/"+strconv.FormatInt(c.id, 10))
	w.kint("id", c.id)
	w.kstr("key", c.key)
	w.kstr("colorName", c.color)
	w.kstr("name", c.name)
	w.close()
}

func (v *view) writePriority(w *enc, p *priorityDef) {
	w.open()
	w.kstr("self", v.api()+"/priority/"+p.id)
	w.kstr("iconUrl", v.base+"/images/icons/priorities/"+p.icon)
	w.kstr("name", p.name)
	w.kstr("id", p.id)
	w.close()
}

func (v *view) writeVersion(w *enc, ver *version) {
	w.open()
	w.kstr("self", v.api()+"/version/"+ver.id)
	w.kstr("id", ver.id)
	w.kstr("description", "")
	w.kstr("name", ver.name)
	w.kbool("archived", false)
	w.kbool("released", v.s.versionReleased(ver))
	w.kstr("releaseDate", ver.date)
	w.close()
}

func (v *view) writeShort(w *enc, si shortIssue) {
	id := strconv.FormatInt(si.id, 10)
	w.open()
	w.kstr("id", id)
	w.kstr("key", si.key)
	w.kstr("self", v.api()+"/issue/"+id)
	w.kopen("fields")
	w.kstr("summary", si.summary)
	w.key("status")
	v.writeStatus(w, si.status)
	w.key("priority")
	v.writePriority(w, si.priority)
	w.key("issuetype")
	v.writeIssueType(w, si.itype)
	w.close()
	w.close()
}

func (v *view) writeLink(w *enc, l linkView) {
	id := strconv.FormatInt(l.id, 10)
	w.open()
	w.kstr("id", id)
	w.kstr("self", v.api()+"/issueLink/"+id)
	w.kopen("type")
	w.kstr("id", l.typ.id)
	w.kstr("name", l.typ.name)
	w.kstr("inward", l.typ.inward)
	w.kstr("outward", l.typ.outward)
	w.kstr("self", v.api()+"/issueLinkType/"+l.typ.id)
	w.close()
	if l.outward {
		w.key("outwardIssue")
	} else {
		w.key("inwardIssue")
	}
	v.writeShort(w, l.other)
	w.close()
}

// writeAttachment writes an attachment as issues embed it; metadata is the
// shape of GET /rest/api/3/attachment/{id}, whose id is a number.
func (v *view) writeAttachment(w *enc, a Attachment, metadata bool) {
	w.open()
	w.kstr("self", v.api()+"/attachment/"+a.ID)
	if metadata {
		n, _ := strconv.ParseInt(a.ID, 10, 64)
		w.kint("id", n)
	} else {
		w.kstr("id", a.ID)
	}
	w.kstr("filename", a.Filename)
	w.key("author")
	v.writeUser(w, a.Author)
	w.ktime("created", a.Created, v.zone)
	w.kint("size", a.Size)
	w.kstr("mimeType", a.MimeType)
	w.kstr("content", v.api()+"/attachment/content/"+a.ID)
	if strings.HasPrefix(a.MimeType, "image/") {
		w.kstr("thumbnail", v.api()+"/attachment/thumbnail/"+a.ID)
	}
	w.close()
}

func (v *view) writeComment(w *enc, issueID int64, c Comment, rendered, renderedBody bool) {
	w.open()
	w.kstr("self", v.api()+"/issue/"+strconv.FormatInt(issueID, 10)+"/comment/"+c.ID)
	w.kstr("id", c.ID)
	w.key("author")
	v.writeUser(w, c.Author)
	w.key("body")
	v.writeDoc(w, c.Body)
	if renderedBody {
		w.kstr("renderedBody", c.Body.HTML())
	}
	w.key("updateAuthor")
	v.writeUser(w, c.UpdateAuthor)
	if rendered {
		w.kstr("created", friendlyTime(c.Created, v.zone))
		w.kstr("updated", friendlyTime(c.Updated, v.zone))
	} else {
		w.ktime("created", c.Created, v.zone)
		w.ktime("updated", c.Updated, v.zone)
	}
	if c.Visibility != "" {
		w.kopen("visibility")
		w.kstr("type", "role")
		w.kstr("value", c.Visibility)
		w.kstr("identifier", c.Visibility)
		w.close()
	}
	w.kbool("jsdPublic", c.Public)
	w.close()
}

// writeEmbeddedComments writes fields.comment: the newest 100 comments,
// oldest first, with startAt = total - 100 once there are more.
func (v *view) writeEmbeddedComments(w *enc, iv *issueView, rendered bool) {
	cs := iv.is.Comments
	start := max(0, len(cs)-maxEmbedded)
	w.open()
	w.karr("comments")
	for _, c := range cs[start:] {
		v.writeComment(w, iv.id, c, rendered, false)
	}
	w.closeArr()
	w.kstr("self", v.api()+"/issue/"+strconv.FormatInt(iv.id, 10)+"/comment")
	w.kint("maxResults", int64(len(cs)-start))
	w.kint("total", int64(len(cs)))
	w.kint("startAt", int64(start))
	w.close()
}

func (v *view) writeHistory(w *enc, h History) {
	w.open()
	w.kstr("id", h.ID)
	w.key("author")
	v.writeUser(w, h.Author)
	w.ktime("created", h.Created, v.zone)
	w.karr("items")
	for _, it := range h.Items {
		v.writeChange(w, it)
	}
	w.closeArr()
	if m := h.Metadata; m != nil {
		w.kopen("historyMetadata")
		w.kstr("type", m.Type)
		if m.Description != "" {
			w.kstr("description", m.Description)
		}
		if m.ActivityDescription != "" {
			w.kstr("activityDescription", m.ActivityDescription)
		}
		if m.ActorID != "" {
			w.kopen("actor")
			w.kstr("id", m.ActorID)
			w.kstr("displayName", m.ActorName)
			w.kstr("type", m.ActorType)
			w.close()
		}
		w.close()
	}
	w.close()
}

func writeNullable(w *enc, k string, s *string) {
	if s == nil {
		w.knull(k)
		return
	}
	w.kstr(k, *s)
}

// writeChange writes one change item. Changes of user fields carry Jira
// Cloud's tmpFromAccountId and tmpToAccountId, in webhooks as in the REST
// changelog.
func (v *view) writeChange(w *enc, c Change) {
	w.open()
	w.kstr("field", c.Field)
	w.kstr("fieldtype", c.FieldType)
	if c.FieldID != "" {
		w.kstr("fieldId", c.FieldID)
	}
	writeNullable(w, "from", c.From)
	writeNullable(w, "fromString", c.FromString)
	writeNullable(w, "to", c.To)
	writeNullable(w, "toString", c.ToString)
	if c.FieldID == "assignee" || c.FieldID == "reporter" {
		writeNullable(w, "tmpFromAccountId", c.From)
		writeNullable(w, "tmpToAccountId", c.To)
	}
	w.close()
}

func worklogText(d time.Duration) string {
	h := int64(d / time.Hour)
	m := int64(d % time.Hour / time.Minute)
	switch {
	case h > 0 && m > 0:
		return strconv.FormatInt(h, 10) + "h " + strconv.FormatInt(m, 10) + "m"
	case h > 0:
		return strconv.FormatInt(h, 10) + "h"
	}
	return strconv.FormatInt(m, 10) + "m"
}

func (v *view) writeWorklog(w *enc, issueID int64, wl Worklog) {
	id := strconv.FormatInt(issueID, 10)
	w.open()
	w.kstr("self", v.api()+"/issue/"+id+"/worklog/"+wl.ID)
	w.key("author")
	v.writeUser(w, wl.Author)
	w.key("updateAuthor")
	v.writeUser(w, wl.updateAuthor())
	if !wl.Comment.IsZero() {
		w.key("comment")
		v.writeDoc(w, wl.Comment)
	}
	w.ktime("created", wl.Created, v.zone)
	w.ktime("updated", wl.updated(), v.zone)
	w.ktime("started", wl.Started, v.zone)
	w.kstr("timeSpent", worklogText(wl.Spent))
	w.kint("timeSpentSeconds", int64(wl.Spent/time.Second))
	if wl.Visibility != "" {
		w.kopen("visibility")
		w.kstr("type", "role")
		w.kstr("value", wl.Visibility)
		w.kstr("identifier", wl.Visibility)
		w.close()
	}
	w.kstr("id", wl.ID)
	w.kstr("issueId", id)
	w.close()
}

// writeRendered writes renderedFields: HTML for rich text, friendly dates,
// and null for the fields Jira does not render.
func (v *view) writeRendered(w *enc, iv *issueView, sel *fieldSel) {
	is := iv.is
	z := iv.zone
	friendly := func(k string, t time.Time) {
		if t.IsZero() {
			w.knull(k)
		} else {
			w.kstr(k, friendlyTime(t, z))
		}
	}
	w.kopen("renderedFields")
	v.eachField(iv, sel, func(id string) {
		switch id {
		case "statuscategorychangedate":
			friendly(id, is.StatusChanged)
		case "created":
			friendly(id, is.Created)
		case "updated":
			friendly(id, is.Updated)
		case "resolutiondate":
			friendly(id, is.Resolved)
		case "duedate":
			if is.DueDate == "" {
				w.knull(id)
			} else {
				w.kstr(id, friendlyDate(is.DueDate))
			}
		case "description":
			if is.Description.IsZero() {
				w.knull(id)
			} else {
				w.kstr(id, is.Description.HTML())
			}
		case "environment":
			w.kstr(id, "")
		case "comment":
			w.key(id)
			v.writeEmbeddedComments(w, iv, true)
		case "attachment":
			w.karr(id)
			for _, a := range is.Attachments {
				w.open()
				w.kstr("self", v.api()+"/attachment/"+a.ID)
				w.kstr("id", a.ID)
				w.kstr("filename", a.Filename)
				w.key("author")
				v.writeUser(w, a.Author)
				w.kstr("created", friendlyTime(a.Created, z))
				w.kint("size", a.Size)
				w.kstr("mimeType", a.MimeType)
				w.kstr("content", v.api()+"/attachment/content/"+a.ID)
				w.close()
			}
			w.closeArr()
		case "worklog":
			w.kopen(id)
			w.kint("startAt", 0)
			w.kint("maxResults", 20)
			w.kint("total", int64(len(is.Worklogs)))
			w.karr("worklogs")
			w.closeArr()
			w.close()
		case "timetracking":
			w.kopen(id)
			w.close()
		case FieldRootCause:
			if d, ok := is.Custom[id].(Doc); ok {
				w.kstr(id, d.HTML())
			} else {
				w.knull(id)
			}
		default:
			if cf := findCustomField(id); cf != nil && (cf.kind == kindText || cf.kind == kindURL) {
				if s, ok := is.Custom[id].(string); ok {
					w.kstr(id, s)
					return
				}
				w.kstr(id, "")
				return
			}
			w.knull(id)
		}
	})
	w.close()
}

// writeRemoteLinks writes GET /rest/api/3/issue/{key}/remotelink.
func (v *view) writeRemoteLinks(w *enc, key string, links []RemoteLink) {
	w.openArr()
	for _, r := range links {
		id := strconv.FormatInt(r.ID, 10)
		w.open()
		w.kint("id", r.ID)
		w.kstr("self", v.api()+"/issue/"+key+"/remotelink/"+id)
		if r.GlobalID != "" {
			w.kstr("globalId", r.GlobalID)
		}
		if r.AppType != "" || r.AppName != "" {
			w.kopen("application")
			w.kstr("type", r.AppType)
			w.kstr("name", r.AppName)
			w.close()
		}
		if r.Relationship != "" {
			w.kstr("relationship", r.Relationship)
		}
		w.kopen("object")
		w.kstr("url", r.URL)
		w.kstr("title", r.Title)
		if r.Summary != "" {
			w.kstr("summary", r.Summary)
		}
		w.kopen("icon")
		w.kstr("url16x16", iconFor(r))
		w.kstr("title", r.AppName)
		w.close()
		w.kopen("status")
		w.kbool("resolved", r.Resolved)
		w.kopen("icon")
		w.close()
		w.close()
		w.close()
		w.close()
	}
	w.closeArr()
}

func iconFor(r RemoteLink) string {
	switch r.AppType {
	case "com.atlassian.confluence":
		return "https://example.atlassian.net/wiki/images/icons/favicon.png"
	case "com.github.integration.production":
		return "https://github.com/favicon.ico"
	}
	u, err := url.Parse(r.URL)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host + "/favicon.ico"
}

// writeFieldList writes GET /rest/api/3/field: system fields, then custom
// ones.
func (v *view) writeFieldList(w *enc) {
	w.openArr()
	for _, f := range systemFields {
		w.open()
		w.kstr("id", f.id)
		w.kstr("key", f.id)
		w.kstr("name", f.name)
		w.kbool("custom", false)
		w.kbool("orderable", f.orderable)
		w.kbool("navigable", f.navigable)
		w.kbool("searchable", f.searchable)
		w.kstrs("clauseNames", orEmpty(f.clauses))
		if f.typ != "" {
			w.kopen("schema")
			w.kstr("type", f.typ)
			if f.items != "" {
				w.kstr("items", f.items)
			}
			w.kstr("system", f.id)
			w.close()
		}
		w.close()
	}
	for _, cf := range customFields {
		if !v.s.fieldOn(cf) {
			continue
		}
		w.open()
		w.kstr("id", cf.id)
		w.kstr("key", cf.id)
		w.kstr("name", cf.name)
		w.kstr("untranslatedName", cf.name)
		w.kbool("custom", true)
		w.kbool("orderable", true)
		w.kbool("navigable", true)
		w.kbool("searchable", true)
		w.kstrs("clauseNames", []string{"cf[" + strconv.FormatInt(cf.num, 10) + "]", cf.name})
		w.kopen("schema")
		w.kstr("type", cf.typ)
		if cf.items != "" {
			w.kstr("items", cf.items)
		}
		w.kstr("custom", cf.custom)
		w.kint("customId", cf.num)
		w.close()
		w.close()
	}
	w.closeArr()
}

func orEmpty(list []string) []string {
	if list == nil {
		return []string{}
	}
	return slices.Clone(list)
}
