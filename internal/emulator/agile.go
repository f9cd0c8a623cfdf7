package emulator

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"
)

// Jira Software on the emulated site: every software project has a scrum
// board, whose two-week sprints cover the generated period (closed ones, the
// active one, two future ones), and a kanban board, which has no sprints.
// Issues of software projects carry the sprints they were in in the sprint
// field, shaped as Jira Cloud writes it. Jira Service Management adds
// customer organizations, which requests of the service project are shared
// with through the Organizations field. Options.WithoutSoftware and
// Options.WithoutServiceManagement make a site without either product: its
// REST API answers 404 and its field is not on the site.

// The sprint and Organizations fields carry the ids Jira Cloud gives them on
// new sites.
const (
	FieldSprint        = "customfield_10020"
	FieldOrganizations = "customfield_10002"
)

const (
	sprintFieldType        = "com.pyxis.greenhopper.jira:gh-sprint"
	organizationsFieldType = "com.atlassian.servicedesk:sd-customer-organizations"
	sprintLength           = 14 * 24 * time.Hour
	// futureSprints are planned after the active one of each scrum board;
	// the last has no dates yet, as Jira allows.
	futureSprints = 2
	// maxAgilePage is the most the agile API serves in one page.
	maxAgilePage = 50
)

// Board is a Jira Software board of the site.
type Board struct {
	ID      int64
	Name    string
	Type    string // scrum or kanban
	Project string
}

// Sprint is a sprint of a scrum board. Start and End are zero for a future
// sprint not yet planned; Complete is set once it is closed.
type Sprint struct {
	ID       int64
	Board    int64
	Name     string
	Goal     string
	State    string // future, active or closed
	Start    time.Time
	End      time.Time
	Complete time.Time
	Created  time.Time
}

// Organization is a Jira Service Management customer organization. Created
// is zero for the oldest ones, as Jira omits it for organizations made
// before it recorded the date.
type Organization struct {
	ID      int64
	Name    string
	Created time.Time
}

// agile is the site's Jira Software and Jira Service Management state. It has
// a lock of its own: rendering an issue reads sprint states without the
// site's lock, and sprint changes take only this one.
type agile struct {
	mu      sync.RWMutex
	boards  []Board
	sprints []Sprint
	orgs    []Organization
	// software and service say whether the site has the products.
	software, service bool
}

var sprintGoals = []string{"", "Ship the billing export", "Cut p95 latency of the search API", "Retire the legacy VPN",
	"Close the security review findings", "", "Onboarding flow v2", "Stabilise the nightly jobs"}

var organizationNames = []string{"Acme Corporation", "Globex", "Initech", "Umbrella Health", "Stark Logistics",
	"Wayne Retail", "Soylent Foods", "Tyrell Systems", "Cyberdyne Labs", "Hooli Europe", "Vandelay Imports", "Oscorp"}

// newAgile lays out the boards, sprints and organizations of the site. It
// draws from no random stream: the generated issues stay what they were.
func newAgile(projects []*project, now time.Time, months int, opts *Options) *agile {
	a := &agile{software: !opts.WithoutSoftware, service: !opts.WithoutServiceManagement}
	start := now.AddDate(0, -months, 0).Truncate(24 * time.Hour).Add(9 * time.Hour)
	if a.software {
		for _, p := range projects {
			if p.service {
				continue
			}
			scrum := Board{ID: int64(len(a.boards) + 1), Name: p.key + " board", Type: "scrum", Project: p.key}
			a.boards = append(a.boards, scrum, Board{ID: scrum.ID + 1, Name: p.key + " kanban", Type: "kanban", Project: p.key})
			future := 0
			for n := 1; future < futureSprints; n++ {
				sp := Sprint{ID: int64(len(a.sprints) + 1), Board: scrum.ID, Name: fmt.Sprintf("%s Sprint %d", p.key, n),
					Goal: sprintGoals[(n+int(scrum.ID))%len(sprintGoals)]}
				sp.Start = start.Add(time.Duration(n-1) * sprintLength)
				sp.End = sp.Start.Add(sprintLength)
				sp.Created = sp.Start.Add(-3 * 24 * time.Hour)
				switch {
				case !sp.End.After(now):
					sp.State, sp.Complete = "closed", sp.End.Add(-time.Duration(n%5)*time.Hour)
				case !sp.Start.After(now):
					sp.State = "active"
				default:
					sp.State = "future"
					future++
					if future == futureSprints {
						sp.Start, sp.End = time.Time{}, time.Time{}
					}
				}
				a.sprints = append(a.sprints, sp)
			}
		}
	}
	if a.service {
		for i, name := range organizationNames {
			o := Organization{ID: int64(i + 1), Name: name}
			if i > 0 {
				o.Created = ms(start.Add(-time.Duration(len(organizationNames)-i) * 17 * 24 * time.Hour).Add(time.Duration(i) * 37 * time.Minute))
			}
			a.orgs = append(a.orgs, o)
		}
	}
	return a
}

// sprintAt returns the index of the sprint of board that runs at t: the
// first whose end is after t. -1 when none has dates that late.
func (a *agile) sprintAt(board int64, t time.Time) int {
	for i, sp := range a.sprints {
		if sp.Board == board && !sp.End.IsZero() && sp.End.After(t) {
			return i
		}
	}
	return -1
}

func (a *agile) scrumBoard(projectKey string) int64 {
	for _, b := range a.boards {
		if b.Project == projectKey && b.Type == "scrum" {
			return b.ID
		}
	}
	return 0
}

func (a *agile) sprint(id int64) *Sprint {
	for i := range a.sprints {
		if a.sprints[i].ID == id {
			return &a.sprints[i]
		}
	}
	return nil
}

func (a *agile) org(id int64) *Organization {
	for i := range a.orgs {
		if a.orgs[i].ID == id {
			return &a.orgs[i]
		}
	}
	return nil
}

// genAgile puts a generated issue into sprints and organizations. It draws
// from a stream of its own. An issue of a software project (not a sub-task)
// is in the sprint that ran when it was created and every sprint after it
// until the one it was resolved in, or the active one; a few never left the
// backlog and a few open ones are planned for the next sprint. A request of
// the service project raised by a customer is shared with the customer's
// organization, now and then with a second one.
func (s *site) genAgile(is *Issue, in genInput, p *project) {
	a := s.agile
	// Sprints made or started since start only ever come after the ones
	// generated, and the dates of those never move: the same issue comes
	// out of its seed whatever happened to the sprints since.
	a.mu.RLock()
	defer a.mu.RUnlock()
	rng := rand.New(rand.NewPCG(in.seed, 0x6167696c65))
	if !p.service && !in.subtask && a.software {
		board := a.scrumBoard(p.key)
		first := a.sprintAt(board, is.Created)
		active := a.sprintAt(board, s.now0)
		last := -1
		switch r := rng.IntN(100); {
		case first < 0 || r < 15:
			// The backlog.
		case !is.Resolved.IsZero():
			last = max(a.sprintAt(board, is.Resolved), first)
		case r < 35 && active >= 0 && active+1 < len(a.sprints) && a.sprints[active+1].Board == board:
			last = active + 1 // planned for the next sprint
		default:
			last = max(active, first)
		}
		var ids []string
		for i := max(first, last-5); last >= 0 && i <= last; i++ {
			// Carried over from sprint to sprint: every closed one stays,
			// and the issue is in one open sprint, the last.
			if i < active || i == last {
				ids = append(ids, strconv.FormatInt(a.sprints[i].ID, 10))
			}
		}
		if len(ids) > 0 {
			is.Custom[FieldSprint] = ids
		}
	}
	if p.service && a.service && len(a.orgs) > 0 && !in.subtask {
		u := s.user(is.Reporter)
		if u == nil || u.AccountType != "customer" || rng.IntN(10) < 2 {
			return
		}
		own := a.orgs[s.userIdx[is.Reporter]%len(a.orgs)].ID
		ids := []string{strconv.FormatInt(own, 10)}
		if rng.IntN(10) == 0 {
			if other := a.orgs[rng.IntN(len(a.orgs))].ID; other != own {
				ids = append(ids, strconv.FormatInt(other, 10))
			}
		}
		is.Custom[FieldOrganizations] = ids
	}
}

// fieldOn reports whether a custom field exists on the site: the sprint
// field needs Jira Software, the Organizations field Jira Service
// Management.
func (s *site) fieldOn(cf *customField) bool {
	switch cf.kind {
	case kindSprint:
		return s.agile.software
	case kindOrganizations:
		return s.agile.service
	}
	return true
}

// agileValue checks a sprint or Organizations value: ids (strings or
// numbers) of sprints or organizations the site has, in the order given,
// without repeats. An empty list clears the field.
func (s *site) agileValue(f *customField, v any) (any, error) {
	var ids []string
	switch x := v.(type) {
	case []string:
		ids = slices.Clone(x)
	case []any:
		for _, e := range x {
			switch id := e.(type) {
			case string:
				ids = append(ids, id)
			case float64:
				ids = append(ids, strconv.FormatFloat(id, 'f', -1, 64))
			case int64:
				ids = append(ids, strconv.FormatInt(id, 10))
			case int:
				ids = append(ids, strconv.Itoa(id))
			default:
				return nil, fmt.Errorf("%w: value %v does not suit %s (%s): want ids", ErrInvalid, v, f.id, f.name)
			}
		}
	case nil:
		return nil, nil
	default:
		return nil, fmt.Errorf("%w: value %v does not suit %s (%s): want a list of ids", ErrInvalid, v, f.id, f.name)
	}
	a := s.agile
	a.mu.RLock()
	defer a.mu.RUnlock()
	var out []string
	for _, id := range ids {
		n, err := strconv.ParseInt(strings.TrimSpace(id), 10, 64)
		known := err == nil && ((f.kind == kindSprint && a.sprint(n) != nil) || (f.kind == kindOrganizations && a.org(n) != nil))
		if !known {
			return nil, fmt.Errorf("%w: %s has no %s %q", ErrInvalid, f.name, map[fieldKind]string{kindSprint: "sprint", kindOrganizations: "organization"}[f.kind], id)
		}
		if canon := strconv.FormatInt(n, 10); !slices.Contains(out, canon) {
			out = append(out, canon)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// agileChange is the changelog item of a sprint or Organizations change:
// ids and names, each joined with ", ", as Jira writes them.
func (s *site) agileChange(f *customField, before, after any) Change {
	c := Change{Field: f.name, FieldType: "custom", FieldID: f.id}
	side := func(v any) (*string, *string) {
		ids, _ := v.([]string)
		if len(ids) == 0 {
			return nil, nil
		}
		names := make([]string, 0, len(ids))
		s.agile.mu.RLock()
		for _, id := range ids {
			n, _ := strconv.ParseInt(id, 10, 64)
			switch {
			case f.kind == kindSprint && s.agile.sprint(n) != nil:
				names = append(names, s.agile.sprint(n).Name)
			case f.kind == kindOrganizations && s.agile.org(n) != nil:
				names = append(names, s.agile.org(n).Name)
			default:
				names = append(names, id)
			}
		}
		s.agile.mu.RUnlock()
		return strp(strings.Join(ids, ", ")), strp(strings.Join(names, ", "))
	}
	c.From, c.FromString = side(before)
	c.To, c.ToString = side(after)
	return c
}

// writeSprintField writes the sprint field: the issue's sprints as they
// stand now, in the shape of Jira Cloud's issue payloads.
func (v *view) writeSprintField(w *enc, val any) {
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
		if sp := a.sprint(n); sp != nil {
			w.open()
			w.kint("id", sp.ID)
			w.kstr("name", sp.Name)
			w.kstr("state", sp.State)
			w.kint("boardId", sp.Board)
			w.kstr("goal", sp.Goal)
			writeSprintDates(w, sp)
			w.close()
		}
	}
	w.closeArr()
}

// writeSprintDates writes the dates a sprint has, in UTC as the agile API
// writes them (RFC 3339, milliseconds, "Z"), unlike the platform API.
func writeSprintDates(w *enc, sp *Sprint) {
	for _, d := range []struct {
		k string
		t time.Time
	}{{"startDate", sp.Start}, {"endDate", sp.End}, {"completeDate", sp.Complete}} {
		if !d.t.IsZero() {
			w.kstr(d.k, agileTime(d.t))
		}
	}
}

func agileTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// writeSprint writes a sprint as the agile API does.
func (v *view) writeSprint(w *enc, sp *Sprint) {
	w.open()
	w.kint("id", sp.ID)
	w.kstr("self", v.base+"/rest/agile/1.0/sprint/"+strconv.FormatInt(sp.ID, 10))
	w.kstr("state", sp.State)
	w.kstr("name", sp.Name)
	writeSprintDates(w, sp)
	w.kstr("createdDate", agileTime(sp.Created))
	w.kint("originBoardId", sp.Board)
	w.kstr("goal", sp.Goal)
	w.close()
}

func (v *view) writeBoard(w *enc, b Board) {
	w.open()
	w.kint("id", b.ID)
	w.kstr("self", v.base+"/rest/agile/1.0/board/"+strconv.FormatInt(b.ID, 10))
	w.kstr("name", b.Name)
	w.kstr("type", b.Type)
	if p := v.s.projectByKey(b.Project); p != nil {
		// The project's current name: a renamed project shows its new one.
		name := v.s.projectName(p)
		display := name + " (" + p.key + ")"
		w.kopen("location")
		w.kint("projectId", p.id)
		w.kstr("displayName", display)
		w.kstr("projectName", name)
		w.kstr("projectKey", p.key)
		w.kstr("projectTypeKey", "software")
		w.kstr("avatarURI", v.base+"/rest/api/2/universal_avatar/view/type/project/avatar/10400?size=small")
		w.kstr("name", display)
		w.close()
	}
	w.kbool("isPrivate", false)
	w.close()
}

// agilePage reads startAt and maxResults of the agile API; maxResults is
// clamped to 50.
func agilePage(r *http.Request) (int, int) {
	q := r.URL.Query()
	start, err := strconv.Atoi(q.Get("startAt"))
	if err != nil || start < 0 {
		start = 0
	}
	n, err := strconv.Atoi(q.Get("maxResults"))
	if err != nil || n <= 0 || n > maxAgilePage {
		n = maxAgilePage
	}
	return start, n
}

func (s *site) agileRoutes(api *mux.Router) {
	api.HandleFunc("/rest/agile/1.0/board", s.getBoards).Methods(http.MethodGet)
	api.HandleFunc("/rest/agile/1.0/board/{id}/sprint", s.getBoardSprints).Methods(http.MethodGet)
	api.HandleFunc("/rest/agile/1.0/sprint/{id}", s.getSprint).Methods(http.MethodGet)
	api.HandleFunc("/rest/servicedeskapi/servicedesk", s.getServiceDesks).Methods(http.MethodGet)
	api.HandleFunc("/rest/servicedeskapi/servicedesk/{id}/requesttype", s.getRequestTypes).Methods(http.MethodGet)
	api.HandleFunc("/rest/servicedeskapi/organization", s.getOrganizations).Methods(http.MethodGet)
}

// noProduct answers a call to the API of a product the site lacks, as Jira
// does for a path nothing serves.
func noProduct(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusNotFound, errorBody("No resource found at "+r.URL.Path))
}

func (s *site) getBoards(w http.ResponseWriter, r *http.Request) {
	a := s.agile
	if !a.software {
		noProduct(w, r)
		return
	}
	start, n := agilePage(r)
	a.mu.RLock()
	boards := slices.Clone(a.boards)
	a.mu.RUnlock()
	if t := r.URL.Query().Get("type"); t != "" {
		boards = slices.DeleteFunc(boards, func(b Board) bool { return b.Type != t })
	}
	v := s.newView(r)
	var e enc
	e.open()
	e.kint("maxResults", int64(n))
	e.kint("startAt", int64(start))
	e.kint("total", int64(len(boards)))
	e.kbool("isLast", start+n >= len(boards))
	e.karr("values")
	for i := start; i < len(boards) && i < start+n; i++ {
		v.writeBoard(&e, boards[i])
	}
	e.closeArr()
	e.close()
	writeJSON(w, http.StatusOK, e.b)
}

const boardMissing = "Board does not exist or you do not have permission to see it."

func (s *site) getBoardSprints(w http.ResponseWriter, r *http.Request) {
	a := s.agile
	if !a.software {
		noProduct(w, r)
		return
	}
	id, err := strconv.ParseInt(mux.Vars(r)["id"], 10, 64)
	a.mu.RLock()
	var board *Board
	for i := range a.boards {
		if err == nil && a.boards[i].ID == id {
			board = &a.boards[i]
		}
	}
	var sprints []Sprint
	for _, sp := range a.sprints {
		if board != nil && sp.Board == board.ID {
			sprints = append(sprints, sp)
		}
	}
	a.mu.RUnlock()
	switch {
	case board == nil:
		writeJSON(w, http.StatusNotFound, errorBody(boardMissing))
		return
	case board.Type != "scrum":
		writeJSON(w, http.StatusBadRequest, errorBody("The board does not support sprints"))
		return
	}
	if states := r.URL.Query().Get("state"); states != "" {
		want := strings.Split(states, ",")
		sprints = slices.DeleteFunc(sprints, func(sp Sprint) bool { return !slices.Contains(want, sp.State) })
	}
	// Closed sprints first, then the active one, then the future ones, as
	// Jira orders them; within a state by id (the backlog's order here).
	rank := map[string]int{"closed": 0, "active": 1, "future": 2}
	slices.SortStableFunc(sprints, func(x, y Sprint) int { return rank[x.State] - rank[y.State] })
	start, n := agilePage(r)
	v := s.newView(r)
	var e enc
	e.open()
	e.kint("maxResults", int64(n))
	e.kint("startAt", int64(start))
	e.kbool("isLast", start+n >= len(sprints))
	e.karr("values")
	for i := start; i < len(sprints) && i < start+n; i++ {
		v.writeSprint(&e, &sprints[i])
	}
	e.closeArr()
	e.close()
	writeJSON(w, http.StatusOK, e.b)
}

func (s *site) getSprint(w http.ResponseWriter, r *http.Request) {
	a := s.agile
	if !a.software {
		noProduct(w, r)
		return
	}
	id, _ := strconv.ParseInt(mux.Vars(r)["id"], 10, 64)
	a.mu.RLock()
	sp := a.sprint(id)
	var c Sprint
	if sp != nil {
		c = *sp
	}
	a.mu.RUnlock()
	if sp == nil {
		writeJSON(w, http.StatusNotFound, errorBody("Sprint does not exist or you do not have permission to see it."))
		return
	}
	var e enc
	s.newView(r).writeSprint(&e, &c)
	writeJSON(w, http.StatusOK, e.b)
}

// Boards returns the site's boards.
func (e *Emulator) Boards() []Board {
	a := e.s.agile
	a.mu.RLock()
	defer a.mu.RUnlock()
	return slices.Clone(a.boards)
}

// Sprints returns the site's sprints, by id.
func (e *Emulator) Sprints() []Sprint {
	a := e.s.agile
	a.mu.RLock()
	defer a.mu.RUnlock()
	return slices.Clone(a.sprints)
}

// Organizations returns the site's customer organizations, by id.
func (e *Emulator) Organizations() []Organization {
	a := e.s.agile
	a.mu.RLock()
	defer a.mu.RUnlock()
	return slices.Clone(a.orgs)
}

// CreateSprint plans a new future sprint on a scrum board and sends
// sprint_created.
func (e *Emulator) CreateSprint(board int64, name, goal string) (Sprint, error) {
	s := e.s
	a := s.agile
	if strings.TrimSpace(name) == "" {
		return Sprint{}, fmt.Errorf("%w: a sprint needs a name", ErrInvalid)
	}
	a.mu.Lock()
	var b *Board
	for i := range a.boards {
		if a.boards[i].ID == board {
			b = &a.boards[i]
		}
	}
	if b == nil || b.Type != "scrum" {
		a.mu.Unlock()
		if b == nil {
			return Sprint{}, fmt.Errorf("%w: board %d", ErrNotFound, board)
		}
		return Sprint{}, fmt.Errorf("%w: board %d does not support sprints", ErrInvalid, board)
	}
	var top int64
	for _, sp := range a.sprints {
		top = max(top, sp.ID)
	}
	sp := Sprint{ID: top + 1, Board: board, Name: name, Goal: goal, State: "future", Created: ms(s.now())}
	a.sprints = append(a.sprints, sp)
	a.mu.Unlock()
	e.send([]hookEvent{s.sprintEvent("sprint_created", sp)})
	return sp, nil
}

// StartSprint makes a future sprint active from now, for two weeks unless
// it was planned with dates, and sends sprint_started. A board runs one
// sprint at a time.
func (e *Emulator) StartSprint(id int64) (Sprint, error) {
	return e.changeSprint(id, "sprint_started", func(a *agile, sp *Sprint, now time.Time) error {
		if sp.State != "future" {
			return fmt.Errorf("%w: sprint %d is %s, not future", ErrInvalid, id, sp.State)
		}
		for _, other := range a.sprints {
			if other.Board == sp.Board && other.State == "active" {
				return fmt.Errorf("%w: board %d already runs sprint %d", ErrInvalid, sp.Board, other.ID)
			}
		}
		sp.State, sp.Start = "active", now
		if !sp.End.After(now) {
			sp.End = now.Add(sprintLength)
		}
		return nil
	})
}

// CloseSprint completes the active sprint now and sends sprint_closed. Its
// issues keep it in their sprint field, now closed; moving the open ones
// on is a MoveToSprint each, as in Jira.
func (e *Emulator) CloseSprint(id int64) (Sprint, error) {
	return e.changeSprint(id, "sprint_closed", func(_ *agile, sp *Sprint, now time.Time) error {
		if sp.State != "active" {
			return fmt.Errorf("%w: sprint %d is %s, not active", ErrInvalid, id, sp.State)
		}
		sp.State, sp.Complete = "closed", now
		return nil
	})
}

func (e *Emulator) changeSprint(id int64, event string, fn func(a *agile, sp *Sprint, now time.Time) error) (Sprint, error) {
	s := e.s
	a := s.agile
	a.mu.Lock()
	sp := a.sprint(id)
	if sp == nil || !a.software {
		a.mu.Unlock()
		return Sprint{}, fmt.Errorf("%w: sprint %d", ErrNotFound, id)
	}
	if err := fn(a, sp, ms(s.now())); err != nil {
		a.mu.Unlock()
		return Sprint{}, err
	}
	c := *sp
	a.mu.Unlock()
	e.send([]hookEvent{s.sprintEvent(event, c)})
	return c, nil
}

// sprintEvent is a sprint_* webhook: the sprint as the agile API writes it.
func (s *site) sprintEvent(event string, sp Sprint) hookEvent {
	v := &view{s: s, base: s.hookBase(), v2: true, now: s.now()}
	var w enc
	w.open()
	w.kint("timestamp", s.now().UnixMilli())
	w.kstr("webhookEvent", event)
	w.key("sprint")
	v.writeSprint(&w, &sp)
	w.close()
	return hookEvent{event: event, body: w.b}
}

// MoveToSprint puts an issue into an open sprint, as the board's "move to
// sprint" does: the active or future sprint it was in, if any, gives way
// (an issue is in one open sprint at a time) and the closed ones stay. Jira
// records the change in the changelog and sends jira:issue_updated.
func (e *Emulator) MoveToSprint(keyOrID string, sprint int64) error {
	a := e.s.agile
	a.mu.RLock()
	sp := a.sprint(sprint)
	var state string
	if sp != nil {
		state = sp.State
	}
	open := map[string]bool{}
	for _, other := range a.sprints {
		if other.State != "closed" {
			open[strconv.FormatInt(other.ID, 10)] = true
		}
	}
	a.mu.RUnlock()
	switch {
	case sp == nil || !a.software:
		return fmt.Errorf("%w: sprint %d", ErrNotFound, sprint)
	case state == "closed":
		return fmt.Errorf("%w: sprint %d is closed: issues move only to open sprints", ErrInvalid, sprint)
	}
	return e.update(keyOrID, func(is *Issue) error {
		if p := e.s.projectByKey(is.Project); p == nil || p.service {
			return fmt.Errorf("%w: %s is not in a software project", ErrInvalid, is.Key)
		}
		ids, _ := is.Custom[FieldSprint].([]string)
		ids = slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return open[id] })
		is.Custom[FieldSprint] = append(ids, strconv.FormatInt(sprint, 10))
		return nil
	})
}

// AddOrganization shares a request with a customer organization: the
// Organizations field gains it, Jira records the change and sends
// jira:issue_updated.
func (e *Emulator) AddOrganization(keyOrID string, org int64) error {
	a := e.s.agile
	a.mu.RLock()
	known := a.org(org) != nil
	a.mu.RUnlock()
	if !known || !a.service {
		return fmt.Errorf("%w: organization %d", ErrNotFound, org)
	}
	return e.update(keyOrID, func(is *Issue) error {
		if p := e.s.projectByKey(is.Project); p == nil || !p.service {
			return fmt.Errorf("%w: %s is not in a service project", ErrInvalid, is.Key)
		}
		ids, _ := is.Custom[FieldOrganizations].([]string)
		id := strconv.FormatInt(org, 10)
		if !slices.Contains(ids, id) {
			is.Custom[FieldOrganizations] = append(slices.Clone(ids), id)
		}
		return nil
	})
}

// sprintOut is a sprint as the admin API writes it.
type sprintOut struct {
	ID       int64  `json:"id"`
	Board    int64  `json:"board"`
	Name     string `json:"name"`
	Goal     string `json:"goal"`
	State    string `json:"state"`
	Start    string `json:"start,omitempty"`
	End      string `json:"end,omitempty"`
	Complete string `json:"complete,omitempty"`
}

func toSprintOut(sp Sprint) sprintOut {
	out := sprintOut{ID: sp.ID, Board: sp.Board, Name: sp.Name, Goal: sp.Goal, State: sp.State}
	for _, d := range []struct {
		dst *string
		t   time.Time
	}{{&out.Start, sp.Start}, {&out.End, sp.End}, {&out.Complete, sp.Complete}} {
		if !d.t.IsZero() {
			*d.dst = agileTime(d.t)
		}
	}
	return out
}

// agileAdminRoutes adds the admin routes of boards, sprints and
// organizations (docs/emulator.md).
func (e *Emulator) agileAdminRoutes(a *mux.Router, handle func(func(http.ResponseWriter, *http.Request) error) http.HandlerFunc) {
	e.boardAdminRoutes(a, handle)
	a.HandleFunc("/boards", func(w http.ResponseWriter, r *http.Request) {
		type boardOut struct {
			ID      int64  `json:"id"`
			Name    string `json:"name"`
			Type    string `json:"type"`
			Project string `json:"project"`
		}
		out := []boardOut{}
		for _, b := range e.Boards() {
			out = append(out, boardOut(b))
		}
		adminJSON(w, http.StatusOK, map[string]any{"boards": out})
	}).Methods(http.MethodGet)
	a.HandleFunc("/sprints", func(w http.ResponseWriter, r *http.Request) {
		out := []sprintOut{}
		for _, sp := range e.Sprints() {
			out = append(out, toSprintOut(sp))
		}
		adminJSON(w, http.StatusOK, map[string]any{"sprints": out})
	}).Methods(http.MethodGet)
	a.HandleFunc("/boards/{id}/sprints", handle(func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			common
			Name string `json:"name"`
			Goal string `json:"goal"`
		}
		if err := decode(r, &in); err != nil {
			return err
		}
		board, err := strconv.ParseInt(mux.Vars(r)["id"], 10, 64)
		if err != nil {
			return fmt.Errorf("%w: board id %q", ErrInvalid, mux.Vars(r)["id"])
		}
		sp, err := e.handle(r, in.common).CreateSprint(board, in.Name, in.Goal)
		if err != nil {
			return err
		}
		adminJSON(w, http.StatusCreated, toSprintOut(sp))
		return nil
	})).Methods(http.MethodPost)
	for _, op := range []struct {
		path string
		fn   func(*Emulator, int64) (Sprint, error)
	}{{"start", (*Emulator).StartSprint}, {"close", (*Emulator).CloseSprint}} {
		a.HandleFunc("/sprints/{id}/"+op.path, handle(func(w http.ResponseWriter, r *http.Request) error {
			var in common
			if err := decode(r, &in); err != nil {
				return err
			}
			id, err := strconv.ParseInt(mux.Vars(r)["id"], 10, 64)
			if err != nil {
				return fmt.Errorf("%w: sprint id %q", ErrInvalid, mux.Vars(r)["id"])
			}
			sp, err := op.fn(e.handle(r, in), id)
			if err != nil {
				return err
			}
			adminJSON(w, http.StatusOK, toSprintOut(sp))
			return nil
		})).Methods(http.MethodPost)
	}
	a.HandleFunc("/issues/{key}/sprint", handle(func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			common
			Sprint int64 `json:"sprint"`
		}
		if err := decode(r, &in); err != nil {
			return err
		}
		if err := e.handle(r, in.common).MoveToSprint(mux.Vars(r)["key"], in.Sprint); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})).Methods(http.MethodPost)
	a.HandleFunc("/organizations", func(w http.ResponseWriter, r *http.Request) {
		type orgOut struct {
			ID      int64  `json:"id"`
			Name    string `json:"name"`
			Created string `json:"created,omitempty"`
		}
		out := []orgOut{}
		for _, o := range e.Organizations() {
			oo := orgOut{ID: o.ID, Name: o.Name}
			if !o.Created.IsZero() {
				oo.Created = agileTime(o.Created)
			}
			out = append(out, oo)
		}
		adminJSON(w, http.StatusOK, map[string]any{"organizations": out})
	}).Methods(http.MethodGet)
	a.HandleFunc("/issues/{key}/organizations", handle(func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			common
			Organization int64 `json:"organization"`
		}
		if err := decode(r, &in); err != nil {
			return err
		}
		if err := e.handle(r, in.common).AddOrganization(mux.Vars(r)["key"], in.Organization); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})).Methods(http.MethodPost)
}
