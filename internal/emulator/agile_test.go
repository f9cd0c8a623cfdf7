package emulator

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jiraduck/jiraduck/internal/jira"
)

// agilePageOf is a page of the agile API.
type agilePageOf[T any] struct {
	StartAt    int  `json:"startAt"`
	MaxResults int  `json:"maxResults"`
	Total      *int `json:"total"`
	IsLast     bool `json:"isLast"`
	Values     []T  `json:"values"`
}

// sdPageOf is a page of the service desk API.
type sdPageOf[T any] struct {
	Size       int  `json:"size"`
	Start      int  `json:"start"`
	Limit      int  `json:"limit"`
	IsLastPage bool `json:"isLastPage"`
	Values     []T  `json:"values"`
}

func TestBoardsAndSprintsOfTheAgileAPI(t *testing.T) {
	e, c := newEmu(t, Options{Issues: 50, Seed: 3})
	t.Run("boards page by page", func(t *testing.T) {
		first := decodeAs[agilePageOf[jira.Board]](t, c.get("/rest/agile/1.0/board?maxResults=1", http.StatusOK))
		second := decodeAs[agilePageOf[jira.Board]](t, c.get("/rest/agile/1.0/board?startAt=1&maxResults=1", http.StatusOK))
		if first.IsLast || !second.IsLast || len(first.Values) != 1 || len(second.Values) != 1 {
			t.Fatalf("got pages %+v and %+v, want one board each, the second last", first, second)
		}
		got := []string{first.Values[0].Name + "/" + first.Values[0].Type, second.Values[0].Name + "/" + second.Values[0].Type}
		if want := []string{"OPS board/scrum", "OPS kanban/kanban"}; !slices.Equal(got, want) {
			t.Errorf("got boards %v, want %v", got, want)
		}
		if l := first.Values[0].Location; l == nil || l.ProjectKey != "OPS" || l.ProjectID != "10001" || l.ProjectName != "Operations" {
			t.Errorf("got location %+v, want the OPS project", l)
		}
	})
	t.Run("sprints of the scrum board", func(t *testing.T) {
		var all []jira.Sprint
		for start := 0; ; {
			p := decodeAs[agilePageOf[jira.Sprint]](t, c.get("/rest/agile/1.0/board/1/sprint?startAt="+strconv.Itoa(start), http.StatusOK))
			all = append(all, p.Values...)
			start += len(p.Values)
			if p.IsLast {
				break
			}
		}
		if len(all) != len(e.Sprints()) {
			t.Fatalf("got %d sprints over the pages, want %d", len(all), len(e.Sprints()))
		}
		var states []string
		for _, sp := range all {
			if len(states) == 0 || states[len(states)-1] != sp.State {
				states = append(states, sp.State)
			}
			if sp.OriginBoardID != "1" || sp.Name == "" {
				t.Errorf("sprint %s: got board %q name %q, want board 1 and a name", sp.ID, sp.OriginBoardID, sp.Name)
			}
			if (sp.State == "closed") != !sp.CompleteDate.IsZero() {
				t.Errorf("sprint %s %s: got completeDate %v, want one exactly when closed", sp.ID, sp.State, sp.CompleteDate)
			}
		}
		if want := []string{"closed", "active", "future"}; !slices.Equal(states, want) {
			t.Errorf("got states in order %v, want %v", states, want)
		}
		if last := all[len(all)-1]; !last.StartDate.IsZero() || !last.EndDate.IsZero() {
			t.Errorf("got the last future sprint with dates %v..%v, want none (not planned yet)", last.StartDate, last.EndDate)
		}
		raw := c.get("/rest/agile/1.0/board/1/sprint?maxResults=1", http.StatusOK)
		if !strings.Contains(string(raw), `"startDate":"`) || !strings.Contains(string(raw), `Z","endDate"`) {
			t.Errorf("got %s, want RFC 3339 dates in UTC as the agile API writes them", raw)
		}
	})
	t.Run("the kanban board has no sprints", func(t *testing.T) {
		body := c.get("/rest/agile/1.0/board/2/sprint", http.StatusBadRequest)
		if !strings.Contains(string(body), "The board does not support sprints") {
			t.Errorf("got %s, want Jira's message", body)
		}
		c.get("/rest/agile/1.0/board/99/sprint", http.StatusNotFound)
	})
}

// sprintField is an issue's sprint field as Jira Cloud writes it.
type sprintField struct {
	ID           int64  `json:"id"`
	Name         string `json:"name"`
	State        string `json:"state"`
	BoardID      int64  `json:"boardId"`
	Goal         string `json:"goal"`
	StartDate    string `json:"startDate"`
	EndDate      string `json:"endDate"`
	CompleteDate string `json:"completeDate"`
}

func TestSprintAndOrganizationsFields(t *testing.T) {
	e, c := newEmu(t, Options{Issues: 300, Seed: 5})
	fields := decodeAs[[]jira.Field](t, c.get("/rest/api/3/field", http.StatusOK))
	schemas := map[string]string{}
	for _, f := range fields {
		if f.Schema != nil {
			schemas[f.ID] = f.Schema.Custom
		}
	}
	if schemas[FieldSprint] != jira.SprintFieldType || schemas[FieldOrganizations] != jira.OrganizationsFieldType {
		t.Fatalf("got schemas %q and %q, want the sprint and Organizations plug-in types", schemas[FieldSprint], schemas[FieldOrganizations])
	}
	sprints := map[int64]Sprint{}
	for _, sp := range e.Sprints() {
		sprints[sp.ID] = sp
	}
	var withSprints, carried, withOrgs int
	for _, key := range e.Keys() {
		raw := c.get("/rest/api/3/issue/"+key, http.StatusOK)
		var is struct {
			Fields map[string]json.RawMessage `json:"fields"`
		}
		if err := json.Unmarshal(raw, &is); err != nil {
			t.Fatal(err)
		}
		var got []sprintField
		if err := json.Unmarshal(is.Fields[FieldSprint], &got); err != nil {
			t.Fatalf("%s: sprint field %s: %v", key, is.Fields[FieldSprint], err)
		}
		open := 0
		for _, f := range got {
			sp := sprints[f.ID]
			if f.Name != sp.Name || f.State != sp.State || f.BoardID != sp.Board || f.StartDate == "" {
				t.Errorf("%s: got sprint %+v, want the site's %+v with dates", key, f, sp)
			}
			if f.State != "closed" {
				open++
			}
		}
		if open > 1 {
			t.Errorf("%s: in %d open sprints, want one at most", key, open)
		}
		if len(got) > 0 {
			withSprints++
			if !strings.HasPrefix(key, "OPS-") {
				t.Errorf("%s: got sprints outside the software project", key)
			}
		}
		if len(got) > 1 {
			carried++
		}
		decoded, err := jira.DecodeSprintField(is.Fields[FieldSprint])
		if err != nil || len(decoded) != len(got) {
			t.Errorf("%s: jira.DecodeSprintField: got %d sprints, %v; want %d", key, len(decoded), err, len(got))
		}
		orgs, err := jira.DecodeOrganizationsField(is.Fields[FieldOrganizations])
		if err != nil {
			t.Fatalf("%s: organizations field: %v", key, err)
		}
		if len(orgs) > 0 {
			withOrgs++
			if !strings.HasPrefix(key, "SUP-") || orgs[0].Name == "" {
				t.Errorf("%s: got organizations %+v, want named ones on service requests only", key, orgs)
			}
		}
	}
	if withSprints == 0 || carried == 0 || withOrgs == 0 {
		t.Errorf("got %d issues in sprints, %d carried over, %d shared with organizations; want some of each", withSprints, carried, withOrgs)
	}
}

func TestServiceDeskAPI(t *testing.T) {
	e, c := newEmu(t, Options{Issues: 40, Seed: 2})
	desks := decodeAs[sdPageOf[jira.ServiceDesk]](t, c.get("/rest/servicedeskapi/servicedesk", http.StatusOK))
	if len(desks.Values) != 1 || desks.Values[0].ID != "1" || desks.Values[0].ProjectKey != "SUP" || desks.Values[0].ProjectID != "10000" || !desks.IsLastPage {
		t.Fatalf("got service desks %+v, want the SUP desk 1 on one page", desks)
	}
	var types []jira.RequestType
	var lasts []bool
	for start := 0; ; {
		p := decodeAs[sdPageOf[jira.RequestType]](t, c.get("/rest/servicedeskapi/servicedesk/1/requesttype?limit=2&start="+strconv.Itoa(start), http.StatusOK))
		types = append(types, p.Values...)
		lasts = append(lasts, p.IsLastPage)
		start += len(p.Values)
		if p.IsLastPage || len(p.Values) == 0 {
			break
		}
	}
	if len(types) != len(requestTypes) || !slices.Equal(lasts, []bool{false, false, true}) {
		t.Fatalf("got %d request types, pages last %v; want %d over three pages", len(types), lasts, len(requestTypes))
	}
	for _, rt := range types {
		if rt.ServiceDeskID != "1" || rt.IssueTypeID == "" || len(rt.GroupIDs) == 0 {
			t.Errorf("got request type %+v, want its desk, issue type and groups", rt)
		}
	}
	c.get("/rest/servicedeskapi/servicedesk/2/requesttype", http.StatusNotFound)
	// The request type field of a request names the same object the list has.
	key := findIssue(t, e, func(is *Issue) bool { return is.RequestType != "" })
	var is struct {
		Fields map[string]json.RawMessage `json:"fields"`
	}
	if err := json.Unmarshal(c.get("/rest/api/3/issue/"+key, http.StatusOK), &is); err != nil {
		t.Fatal(err)
	}
	var field struct {
		RequestType jira.RequestType `json:"requestType"`
	}
	if err := json.Unmarshal(is.Fields[FieldRequestType], &field); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(types, func(rt jira.RequestType) bool { return rt.ID == field.RequestType.ID })
	if i < 0 || !reflectEqual(types[i], field.RequestType) {
		t.Errorf("%s: got request type %+v in the field, want the list's", key, field.RequestType)
	}
	orgs := decodeAs[sdPageOf[jira.Organization]](t, c.get("/rest/servicedeskapi/organization?limit=5", http.StatusOK))
	rest := decodeAs[sdPageOf[jira.Organization]](t, c.get("/rest/servicedeskapi/organization?start=5&limit=50", http.StatusOK))
	if len(orgs.Values) != 5 || orgs.IsLastPage || !rest.IsLastPage || len(orgs.Values)+len(rest.Values) != len(e.Organizations()) {
		t.Errorf("got %d+%d organizations, want %d over two pages", len(orgs.Values), len(rest.Values), len(e.Organizations()))
	}
	if orgs.Values[0].Created != nil || orgs.Values[1].Created == nil || orgs.Values[1].Created.ISO8601 == "" {
		t.Errorf("got created %+v and %+v, want none on the oldest organization and a date on the next", orgs.Values[0].Created, orgs.Values[1].Created)
	}
}

func reflectEqual(a, b jira.RequestType) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestSprintAndOrganizationMutations(t *testing.T) {
	e, c, sink := newHookedEmu(t, Options{Issues: 60, Seed: 9, WebhookWorkers: 1})
	var active, future Sprint
	for _, sp := range e.Sprints() {
		switch {
		case sp.State == "active":
			active = sp
		case sp.State == "future" && future.ID == 0:
			future = sp
		}
	}
	key := findIssue(t, e, func(is *Issue) bool {
		ids, _ := is.Custom[FieldSprint].([]string)
		return is.Project == "OPS" && is.Type != "Sub-task" && !slices.Contains(ids, strconv.FormatInt(future.ID, 10))
	})
	before, _ := e.Issue(key)

	if err := e.MoveToSprint(key, future.ID); err != nil {
		t.Fatal(err)
	}
	after, _ := e.Issue(key)
	ids, _ := after.Custom[FieldSprint].([]string)
	if len(ids) == 0 || ids[len(ids)-1] != strconv.FormatInt(future.ID, 10) || slices.Contains(ids, strconv.FormatInt(active.ID, 10)) {
		t.Errorf("got sprints %v, want the future sprint %d last and not the active %d", ids, future.ID, active.ID)
	}
	if h := after.Histories[len(after.Histories)-1]; len(after.Histories) != len(before.Histories)+1 || h.Items[0].FieldID != FieldSprint || !strings.Contains(*h.Items[0].ToString, future.Name) {
		t.Errorf("got last history %+v, want one Sprint change naming %s", h, future.Name)
	}
	tests := []struct {
		name string
		do   func() error
		want error
	}{
		{"start a sprint while the board runs one", func() error { _, err := e.StartSprint(future.ID); return err }, ErrInvalid},
		{"close the active sprint", func() error { _, err := e.CloseSprint(active.ID); return err }, nil},
		{"close it again", func() error { _, err := e.CloseSprint(active.ID); return err }, ErrInvalid},
		{"start the next sprint", func() error { _, err := e.StartSprint(future.ID); return err }, nil},
		{"move an issue to a closed sprint", func() error { return e.MoveToSprint(key, active.ID) }, ErrInvalid},
		{"move an issue to no sprint", func() error { return e.MoveToSprint(key, 9999) }, ErrNotFound},
		{"share a software issue with an organization", func() error { return e.AddOrganization(key, 1) }, ErrInvalid},
		{"share a request with an organization", func() error { return e.AddOrganization("SUP-1", 3) }, nil},
		{"share a request with no organization", func() error { return e.AddOrganization("SUP-1", 999) }, ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	sup, _ := e.Issue("SUP-1")
	if orgs, _ := sup.Custom[FieldOrganizations].([]string); !slices.Contains(orgs, "3") {
		t.Errorf("got organizations %v on SUP-1, want 3 among them", orgs)
	}
	wait(t, e)
	// Deliveries run side by side: in any order, each once.
	got, want := sink.events(t), []string{"jira:issue_updated", "jira:issue_updated", "sprint_closed", "sprint_started"}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("got webhooks %v, want %v in any order", got, want)
	}
	var started struct {
		WebhookEvent string `json:"webhookEvent"`
		Sprint       struct {
			ID            int64  `json:"id"`
			State         string `json:"state"`
			OriginBoardID int64  `json:"originBoardId"`
			StartDate     string `json:"startDate"`
			EndDate       string `json:"endDate"`
		} `json:"sprint"`
	}
	d := sink.deliveries()[2]
	verify(t, d)
	if err := json.Unmarshal(d.body, &started); err != nil {
		t.Fatal(err)
	}
	if started.Sprint.ID != future.ID || started.Sprint.State != "active" || started.Sprint.OriginBoardID != future.Board ||
		started.Sprint.StartDate == "" || started.Sprint.EndDate == "" {
		t.Errorf("got sprint_started %+v, want sprint %d active with dates", started, future.ID)
	}
	// The issue now shows the sprint as active, from the site's state.
	var is struct {
		Fields map[string]json.RawMessage `json:"fields"`
	}
	if err := json.Unmarshal(c.get("/rest/api/3/issue/"+key, http.StatusOK), &is); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(is.Fields[FieldSprint]), `"id":`+strconv.FormatInt(future.ID, 10)+`,"name":"`+future.Name+`","state":"active"`) {
		t.Errorf("got sprint field %s, want sprint %d active", is.Fields[FieldSprint], future.ID)
	}
	// Through the admin API.
	resp, body := c.do(http.MethodPost, "/_emulator/issues/"+key+"/sprint", map[string]int64{"sprint": future.ID})
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("admin move to sprint: got %d %s, want 204", resp.StatusCode, body)
	}
	created := decodeAs[struct {
		ID    int64  `json:"id"`
		State string `json:"state"`
	}](t, c.post("/_emulator/boards/1/sprints", map[string]string{"name": "OPS Sprint X"}, http.StatusCreated))
	if created.State != "future" || created.ID == 0 {
		t.Errorf("got created sprint %+v, want a future one", created)
	}
	c.post("/_emulator/sprints/"+strconv.FormatInt(future.ID, 10)+"/close", nil, http.StatusOK)
	c.post("/_emulator/issues/SUP-2/organizations", map[string]int64{"organization": 2}, http.StatusNoContent)
	c.post("/_emulator/boards/2/sprints", map[string]string{"name": "no"}, http.StatusBadRequest)
}

func TestGeneratedSprintsDoNotFollowLaterChanges(t *testing.T) {
	opts := Options{Issues: 120, Seed: 4}
	e, _ := newEmu(t, opts)
	before := map[string]any{}
	for _, k := range e.Keys() {
		is, _ := e.Issue(k)
		before[k] = is.Custom[FieldSprint]
	}
	var active Sprint
	for _, sp := range e.Sprints() {
		if sp.State == "active" {
			active = sp
		}
	}
	if _, err := e.CloseSprint(active.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.CreateSprint(active.Board, "Extra", ""); err != nil {
		t.Fatal(err)
	}
	for _, k := range e.Keys() {
		is, _ := e.Issue(k)
		if got := is.Custom[FieldSprint]; !jsonEqual(got, before[k]) {
			t.Errorf("%s: got sprints %v after sprint changes, want %v as generated", k, got, before[k])
		}
	}
	// The same seed gives the same site.
	again, _ := newEmu(t, opts)
	for _, k := range again.Keys() {
		is, _ := again.Issue(k)
		if !jsonEqual(is.Custom[FieldSprint], before[k]) || !jsonEqual(is.Custom[FieldOrganizations], mustIssue(t, e, k).Custom[FieldOrganizations]) {
			t.Errorf("%s: a second site from the same seed differs", k)
		}
	}
}

func mustIssue(t *testing.T, e *Emulator, key string) *Issue {
	t.Helper()
	is, err := e.Issue(key)
	if err != nil {
		t.Fatal(err)
	}
	return is
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestSiteWithoutSoftwareOrServiceManagement(t *testing.T) {
	e, c := newEmu(t, Options{Issues: 40, Seed: 6, WithoutSoftware: true, WithoutServiceManagement: true})
	for _, path := range []string{"/rest/agile/1.0/board", "/rest/agile/1.0/board/1/sprint", "/rest/servicedeskapi/servicedesk",
		"/rest/servicedeskapi/servicedesk/1/requesttype", "/rest/servicedeskapi/organization"} {
		c.get(path, http.StatusNotFound)
	}
	for _, f := range decodeAs[[]jira.Field](t, c.get("/rest/api/3/field", http.StatusOK)) {
		if f.ID == FieldSprint || f.ID == FieldOrganizations {
			t.Errorf("got field %s (%s) on a site without the product", f.ID, f.Name)
		}
	}
	for _, k := range e.Keys() {
		body := string(c.get("/rest/api/3/issue/"+k, http.StatusOK))
		if strings.Contains(body, FieldSprint) || strings.Contains(body, FieldOrganizations) {
			t.Fatalf("%s: got the sprint or Organizations field on a site without the product", k)
		}
	}
	if len(e.Boards()) != 0 || len(e.Sprints()) != 0 || len(e.Organizations()) != 0 {
		t.Errorf("got boards, sprints or organizations on a site without the products")
	}
}
