package emulator

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// The site's fixed configuration: workflow statuses, priorities, issue types,
// link types, fields and projects. Ids and names follow what Jira Cloud ships
// for new sites, so payloads look like the captured ones.

type category struct {
	id    int64
	key   string
	color string
	name  string
}

var (
	catNew      = &category{2, "new", "blue-gray", "To Do"}
	catProgress = &category{4, "indeterminate", "yellow", "In Progress"}
	catDone     = &category{3, "done", "green", "Done"}
)

type statusDef struct {
	id   string
	name string
	desc string
	icon string // path below the site
	cat  *category
}

// Status names of the emulated workflow. "Waiting for customer" pauses the
// time-to-resolution SLA, as in Jira Service Management.
const (
	StatusToDo     = "To Do"
	StatusProgress = "In Progress"
	StatusWaiting  = "Waiting for customer"
	StatusReview   = "In Review"
	StatusDone     = "Done"
	StatusClosed   = "Closed"
)

var statuses = []*statusDef{
	{"10000", StatusToDo, "", "/", catNew},
	{"3", StatusProgress, "This issue is being actively worked on at the moment by the assignee.", "/images/icons/statuses/inprogress.png", catProgress},
	{"10001", StatusWaiting, "", "/", catProgress},
	{"10002", StatusReview, "", "/", catProgress},
	{"10003", StatusDone, "", "/", catDone},
	{"6", StatusClosed, "The issue is considered finished, the resolution is correct. Issues which are closed can be reopened.", "/images/icons/statuses/closed.png", catDone},
}

type priorityDef struct {
	id   string
	name string
	icon string
	// ttfr and ttr are the SLA goals of a request with this priority.
	ttfr, ttr time.Duration
}

var priorities = []*priorityDef{
	{"1", "Highest", "highest.svg", time.Hour, 4 * time.Hour},
	{"2", "High", "high.svg", 2 * time.Hour, 8 * time.Hour},
	{"3", "Medium", "medium.svg", 4 * time.Hour, 24 * time.Hour},
	{"4", "Low", "low.svg", 8 * time.Hour, 48 * time.Hour},
	{"5", "Lowest", "lowest.svg", 8 * time.Hour, 72 * time.Hour},
}

type resolutionDef struct {
	id   string
	name string
	desc string
}

var resolutions = []*resolutionDef{
	{"10000", "Done", "Work has been completed on this issue."},
	{"10001", "Won't Do", "This issue won't be actioned."},
	{"10002", "Duplicate", "The problem is a duplicate of an existing issue."},
	{"10003", "Cannot Reproduce", "All attempts at reproducing this issue failed, or not enough information was available to reproduce the issue."},
}

type issueTypeDef struct {
	id        string
	name      string
	desc      string
	subtask   bool
	avatar    int64
	hierarchy int64
	entityID  string
}

var issueTypes = []*issueTypeDef{
	{"10001", "Task", "Tasks track small, distinct pieces of work.", false, 10318, 0, "2f9dddd5-938a-45f6-8584-807bfdd9fbcf"},
	{"10002", "Sub-task", "Subtasks track small pieces of work that are part of a larger task.", true, 10316, -1, "6b1f0a4e-3c1d-4f2a-9a57-2d0c3f0c8e11"},
	{"10003", "Story", "Stories track functionality or features expressed as user goals.", false, 10315, 0, "c4f5e1a2-8b3d-4e6f-a0b1-7d2c9e8f3a40"},
	{"10004", "Bug", "Bugs track problems or errors.", false, 10303, 0, "0d9e8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c65"},
	{"10005", "Service Request", "Requests for help, information or access.", false, 10320, 0, "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"},
	{"10006", "Incident", "For system outages or incidents.", false, 10304, 0, "f0e1d2c3-b4a5-4968-8776-655443322110"},
	// Epics are made only through Create: the generated site has none, so
	// that a seed gives the same site as before they existed.
	{"10000", "Epic", "Epics track collections of related bugs, stories, and tasks.", false, 10307, 1, "5e7d9c1b-2a4f-4b6d-8e0c-3f1a9b7d5c24"},
}

type linkTypeDef struct {
	id      string
	name    string
	inward  string
	outward string
}

var linkTypes = []*linkTypeDef{
	{"10000", "Blocks", "is blocked by", "blocks"},
	{"10001", "Cloners", "is cloned by", "clones"},
	{"10002", "Duplicate", "is duplicated by", "duplicates"},
	{"10003", "Relates", "relates to", "relates to"},
}

// Lookups by name; the Go API and the admin API speak names.
func findStatus(name string) *statusDef {
	for _, s := range statuses {
		if strings.EqualFold(s.name, name) {
			return s
		}
	}
	return nil
}

func findPriority(name string) *priorityDef {
	for _, p := range priorities {
		if strings.EqualFold(p.name, name) {
			return p
		}
	}
	return nil
}

func findResolution(name string) *resolutionDef {
	for _, r := range resolutions {
		if strings.EqualFold(r.name, name) {
			return r
		}
	}
	return nil
}

func findIssueType(name string) *issueTypeDef {
	for _, t := range issueTypes {
		if strings.EqualFold(t.name, name) {
			return t
		}
	}
	return nil
}

func findLinkType(name string) *linkTypeDef {
	for _, t := range linkTypes {
		if strings.EqualFold(t.name, name) || strings.EqualFold(t.outward, name) || t.id == name {
			return t
		}
	}
	return nil
}

// project is a Jira project of the site. The first configured project is a
// Jira Service Management project: its requests carry a request type and SLA
// values; the others are software projects, where Jira answers SLA fields with
// an errorMessage.
type project struct {
	id         int64
	key        string
	name       string
	service    bool
	components []component
	versions   []version
	// next is the number of the next issue key.
	next int
}

type component struct {
	id   string
	name string
	desc string
}

type version struct {
	id       string
	name     string
	released bool
	date     string
}

var projectNames = map[string]string{
	"SUP": "Support",
	"OPS": "Operations",
	"ENG": "Engineering",
	"IT":  "IT Help Desk",
}

var serviceComponents = []string{"Billing", "Accounts", "Mobile App", "Web Portal", "Integrations"}
var softwareComponents = []string{"Backend", "Frontend", "Infrastructure", "Database", "Monitoring"}

func newProject(i int, key string, service bool, now time.Time, months int) *project {
	p := &project{id: 10000 + int64(i), key: key, service: service, next: 1}
	p.name = projectNames[key]
	if p.name == "" {
		p.name = key + " project"
	}
	names := softwareComponents
	if service {
		names = serviceComponents
	}
	for j, n := range names {
		p.components = append(p.components, component{
			id:   fmt.Sprint(10000 + i*100 + j),
			name: n,
			desc: n + " of " + p.name,
		})
	}
	if !service {
		// One release a quarter over the generated period, the last ones
		// still to come.
		start := now.AddDate(0, -months, 0)
		for j := 0; j*3 <= months+3; j++ {
			day := start.AddDate(0, j*3, 14)
			p.versions = append(p.versions, version{
				id:       fmt.Sprint(10000 + i*100 + j),
				name:     fmt.Sprintf("%d.%d", 1+j/4, j%4),
				released: day.Before(now),
				date:     day.Format(time.DateOnly),
			})
		}
	}
	return p
}

func (p *project) component(name string) *component {
	for i := range p.components {
		if strings.EqualFold(p.components[i].name, name) {
			return &p.components[i]
		}
	}
	return nil
}

func (p *project) version(name string) *version {
	for i := range p.versions {
		if strings.EqualFold(p.versions[i].name, name) {
			return &p.versions[i]
		}
	}
	return nil
}

// Request types of the service project.
var requestTypes = []struct {
	id, name, desc string
	// ttr says whether time to resolution applies; it never starts for
	// questions, which gives the "never started" SLA shape.
	ttr bool
}{
	{"1", "Get IT help", "Get assistance for general IT problems and questions.", true},
	{"2", "Report a bug", "Let us know about a problem you found.", true},
	{"3", "Request a new account", "Request access to a system or a new account.", true},
	{"4", "Ask a question", "Ask us anything about our products.", false},
	{"5", "Report an incident", "Report a system outage or a security incident.", true},
}

func findRequestType(name string) int {
	for i, rt := range requestTypes {
		if strings.EqualFold(rt.name, name) {
			return i
		}
	}
	return -1
}

// fieldKind is how a custom field's value is written.
type fieldKind uint8

const (
	kindText fieldKind = iota
	kindTextArea
	kindNumber
	kindOption
	kindOptions
	kindUser
	kindDate
	kindDateTime
	kindURL
	kindLabels
	kindRank
	kindRequestType
	kindSLA
	kindSprint
	kindOrganizations
)

type option struct {
	id    string
	value string
}

type customField struct {
	id      string // customfield_NNNNN
	num     int64
	name    string
	kind    fieldKind
	custom  string // schema.custom
	typ     string // schema.type
	items   string // schema.items
	options []option
}

// Custom field ids. SLA and request type ids are exported because tests and
// the demo address them.
const (
	FieldRequestType      = "customfield_10010"
	FieldRank             = "customfield_10019"
	FieldCustomerImpact   = "customfield_10030"
	FieldStoryPoints      = "customfield_10031"
	FieldSeverity         = "customfield_10032"
	FieldAffectedSystems  = "customfield_10033"
	FieldEscalationOwner  = "customfield_10034"
	FieldTargetDate       = "customfield_10035"
	FieldIncidentStart    = "customfield_10036"
	FieldRootCause        = "customfield_10037"
	FieldRunbook          = "customfield_10038"
	FieldCustomerLabels   = "customfield_10039"
	FieldTimeToResolution = "customfield_10040"
	FieldTimeToFirstResp  = "customfield_10041"
)

const (
	slaFieldType  = "com.atlassian.servicedesk:sd-sla-field"
	cfPrefix      = "com.atlassian.jira.plugin.system.customfieldtypes:"
	slaTTRName    = "Time to resolution"
	slaTTFRName   = "Time to first response"
	slaFormat     = "NEW_SLA_FORMAT"
	requestPortal = "1"
)

var customFields = []*customField{
	{id: FieldRequestType, num: 10010, name: "Request Type", kind: kindRequestType, custom: "com.atlassian.servicedesk:vp-origin", typ: "sd-customerrequesttype"},
	{id: FieldRank, num: 10019, name: "Rank", kind: kindRank, custom: "com.pyxis.greenhopper.jira:gh-lexo-rank", typ: "any"},
	{id: FieldCustomerImpact, num: 10030, name: "Customer Impact", kind: kindText, custom: cfPrefix + "textfield", typ: "string"},
	{id: FieldStoryPoints, num: 10031, name: "Story Points", kind: kindNumber, custom: cfPrefix + "float", typ: "number"},
	{id: FieldSeverity, num: 10032, name: "Severity", kind: kindOption, custom: cfPrefix + "select", typ: "option",
		options: []option{{"10100", "S1 - Critical"}, {"10101", "S2 - Major"}, {"10102", "S3 - Minor"}, {"10103", "S4 - Cosmetic"}}},
	{id: FieldAffectedSystems, num: 10033, name: "Affected Systems", kind: kindOptions, custom: cfPrefix + "multiselect", typ: "array", items: "option",
		options: []option{{"10110", "Billing API"}, {"10111", "Web Portal"}, {"10112", "Mobile App"}, {"10113", "Data Warehouse"}, {"10114", "Single Sign-On"}}},
	{id: FieldEscalationOwner, num: 10034, name: "Escalation Owner", kind: kindUser, custom: cfPrefix + "userpicker", typ: "user"},
	{id: FieldTargetDate, num: 10035, name: "Target Date", kind: kindDate, custom: cfPrefix + "datepicker", typ: "date"},
	{id: FieldIncidentStart, num: 10036, name: "Incident Start", kind: kindDateTime, custom: cfPrefix + "datetime", typ: "datetime"},
	{id: FieldRootCause, num: 10037, name: "Root Cause", kind: kindTextArea, custom: cfPrefix + "textarea", typ: "string"},
	{id: FieldRunbook, num: 10038, name: "Runbook", kind: kindURL, custom: cfPrefix + "url", typ: "string"},
	{id: FieldCustomerLabels, num: 10039, name: "Customer Labels", kind: kindLabels, custom: cfPrefix + "labels", typ: "array", items: "string"},
	{id: FieldTimeToResolution, num: 10040, name: slaTTRName, kind: kindSLA, custom: slaFieldType, typ: "sd-servicelevelagreement"},
	{id: FieldTimeToFirstResp, num: 10041, name: slaTTFRName, kind: kindSLA, custom: slaFieldType, typ: "sd-servicelevelagreement"},
	{id: FieldSprint, num: 10020, name: "Sprint", kind: kindSprint, custom: sprintFieldType, typ: "array", items: "json"},
	{id: FieldOrganizations, num: 10002, name: "Organizations", kind: kindOrganizations, custom: organizationsFieldType, typ: "array", items: "sd-customerorganization"},
}

func findCustomField(id string) *customField {
	for _, f := range customFields {
		if f.id == id {
			return f
		}
	}
	return nil
}

func (f *customField) option(value string) *option {
	for i := range f.options {
		if strings.EqualFold(f.options[i].value, value) || f.options[i].id == value {
			return &f.options[i]
		}
	}
	return nil
}

// systemField describes a field of GET /rest/api/3/field that is not custom.
type systemField struct {
	id         string
	name       string
	typ        string // schema.type; "" means no schema
	items      string
	orderable  bool
	navigable  bool
	searchable bool
	clauses    []string
}

var systemFields = []systemField{
	{"statuscategorychangedate", "Status Category Changed", "datetime", "", false, true, true, []string{"statusCategoryChangedDate"}},
	{"issuetype", "Issue Type", "issuetype", "", true, true, true, []string{"issuetype", "type"}},
	{"parent", "Parent", "issuelink", "", true, true, true, []string{"parent"}},
	{"timespent", "Time Spent", "number", "", false, true, false, []string{"timespent"}},
	{"project", "Project", "project", "", false, true, true, []string{"project"}},
	{"fixVersions", "Fix versions", "array", "version", true, true, true, []string{"fixVersion"}},
	{"aggregatetimespent", "Σ Time Spent", "number", "", false, true, false, nil},
	{"resolution", "Resolution", "resolution", "", true, true, true, []string{"resolution"}},
	{"resolutiondate", "Resolved", "datetime", "", false, true, true, []string{"resolutiondate", "resolved"}},
	{"workratio", "Work Ratio", "number", "", false, true, true, []string{"workratio"}},
	{"lastViewed", "Last Viewed", "datetime", "", false, true, false, []string{"lastViewed"}},
	{"watches", "Watchers", "watches", "", false, true, true, []string{"watchers"}},
	{"created", "Created", "datetime", "", false, true, true, []string{"created", "createdDate"}},
	{"priority", "Priority", "priority", "", true, true, true, []string{"priority"}},
	{"labels", "Labels", "array", "string", true, true, true, []string{"labels"}},
	{"aggregatetimeoriginalestimate", "Σ Original Estimate", "number", "", false, true, false, nil},
	{"timeestimate", "Remaining Estimate", "number", "", false, true, false, []string{"remainingEstimate", "timeestimate"}},
	{"versions", "Affects versions", "array", "version", true, true, true, []string{"affectedVersion"}},
	{"issuelinks", "Linked Issues", "array", "issuelinks", true, false, true, []string{"issueLink"}},
	{"assignee", "Assignee", "user", "", true, true, true, []string{"assignee"}},
	{"updated", "Updated", "datetime", "", false, true, true, []string{"updated", "updatedDate"}},
	{"status", "Status", "status", "", false, true, true, []string{"status"}},
	{"statusCategory", "Status Category", "statusCategory", "", false, true, true, []string{"statusCategory"}},
	{"components", "Components", "array", "component", true, true, true, []string{"component"}},
	{"timeoriginalestimate", "Original estimate", "number", "", false, true, false, []string{"originalEstimate", "timeoriginalestimate"}},
	{"description", "Description", "string", "", true, true, true, []string{"description"}},
	{"timetracking", "Time tracking", "timetracking", "", true, false, true, nil},
	{"security", "Security Level", "securitylevel", "", true, true, true, []string{"level"}},
	{"attachment", "Attachment", "array", "attachment", true, false, true, []string{"attachments"}},
	{"aggregatetimeestimate", "Σ Remaining Estimate", "number", "", false, true, false, nil},
	{"summary", "Summary", "string", "", true, true, true, []string{"summary"}},
	{"creator", "Creator", "user", "", false, true, true, []string{"creator"}},
	{"subtasks", "Sub-tasks", "array", "issuelinks", false, true, true, []string{"subtasks"}},
	{"reporter", "Reporter", "user", "", true, true, true, []string{"reporter"}},
	{"aggregateprogress", "Σ Progress", "progress", "", false, true, false, nil},
	{"environment", "Environment", "string", "", true, true, true, []string{"environment"}},
	{"duedate", "Due date", "date", "", true, true, true, []string{"due", "duedate"}},
	{"progress", "Progress", "progress", "", false, true, false, []string{"progress"}},
	{"votes", "Votes", "votes", "", false, true, true, []string{"votes"}},
	{"comment", "Comment", "comments-page", "", true, false, true, []string{"comment"}},
	{"worklog", "Log Work", "array", "worklog", true, false, true, nil},
	{"issuerestriction", "Restrict to", "issuerestriction", "", true, true, false, nil},
	{"issuekey", "Key", "", "", false, true, false, []string{"id", "issue", "issuekey", "key"}},
	{"thumbnail", "Images", "", "", false, true, false, nil},
}

// fieldName returns the display name of a system or custom field.
func fieldName(id string) string {
	for _, f := range systemFields {
		if f.id == id {
			return f.name
		}
	}
	if f := findCustomField(id); f != nil {
		return f.name
	}
	return id
}

// User is an account of the emulated site.
type User struct {
	AccountID string
	// Email is empty for accounts that hide their address, as Jira's privacy
	// settings allow; emailAddress is then absent from every payload.
	Email       string
	DisplayName string
	TimeZone    string
	Active      bool
	// AccountType is "atlassian" for staff and "customer" for Jira Service
	// Management portal customers.
	AccountType string
}

var firstNames = []string{"Mia", "Noah", "Aisha", "Lukas", "Sofia", "Mateo", "Hana", "Oliver", "Priya", "Jonas",
	"Chloe", "Ravi", "Elena", "Tomasz", "Yuki", "Amara", "Felix", "Leila", "Diego", "Ingrid", "Kwame", "Nora",
	"Samir", "Greta", "Paulo", "Zara", "Henrik", "Ana", "Victor", "Maya"}

var lastNames = []string{"Krystof", "Okafor", "Lindqvist", "Moreau", "Tanaka", "Silva", "Novak", "Haddad", "Fischer",
	"Patel", "Kowalski", "Rossi", "Nakamura", "Mensah", "Brennan", "Costa", "Weber", "Ibrahim", "Larsen", "Duarte"}

// newUsers builds the site's accounts: agents who work issues and customers
// who raise requests. About one in four hides its e-mail address.
func newUsers(rng *rand.Rand, agents, customers int) []User {
	users := make([]User, 0, agents+customers)
	seen := map[string]bool{}
	for i := 0; i < agents+customers; i++ {
		var name string
		for {
			name = firstNames[rng.IntN(len(firstNames))] + " " + lastNames[rng.IntN(len(lastNames))]
			if !seen[name] {
				seen[name] = true
				break
			}
		}
		u := User{DisplayName: name, Active: true, AccountType: "atlassian"}
		z := zone(rng.IntN(int(numZones)))
		u.TimeZone = z.timeZoneName()
		customer := i >= agents
		switch {
		case customer:
			u.AccountType = "customer"
			u.AccountID = "qm:" + uuid(rng) + ":" + uuid(rng)
		case i%3 == 0:
			u.AccountID = fmt.Sprintf("%08x%016x", rng.Uint32(), rng.Uint64())
		case i%3 == 1:
			u.AccountID = "557058:" + uuid(rng)
		default:
			u.AccountID = "712020:" + uuid(rng)
		}
		if rng.IntN(4) != 0 {
			local := strings.ToLower(strings.ReplaceAll(name, " ", "."))
			domain := "example.com"
			if customer {
				domain = []string{"customer.example.org", "client.example.net", "mail.example"}[rng.IntN(3)]
			}
			u.Email = local + "@" + domain
		}
		if i == agents-1 {
			// A former employee: deactivated accounts keep appearing in
			// old issues.
			u.Active = false
		}
		users = append(users, u)
	}
	return users
}

// uuid draws a random version 4 UUID from rng, so that ids are reproducible
// for a seed.
func uuid(rng *rand.Rand) string {
	a, b := rng.Uint64(), rng.Uint64()
	a = a&^0xf000 | 0x4000
	b = b&^(0xc<<60) | 0x8<<60
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xffff, b>>48, b&0xffffffffffff)
}

func initials(name string) string {
	var out []byte
	for _, part := range strings.Fields(name) {
		out = append(out, part[0])
	}
	return strings.ToUpper(string(out))
}
