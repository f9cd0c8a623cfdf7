package emulator

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
)

// Changes to boards and sprints beyond a sprint's life (agile.go): a board
// made, renamed or deleted, a sprint edited or deleted, each with the
// webhook Jira Software sends for it.

// CreateBoard makes a board of a software project and sends board_created.
// Type is scrum or kanban.
func (e *Emulator) CreateBoard(name, typ, projectKey string) (Board, error) {
	s := e.s
	a := s.agile
	if strings.TrimSpace(name) == "" {
		return Board{}, fmt.Errorf("%w: a board needs a name", ErrInvalid)
	}
	if typ != "scrum" && typ != "kanban" {
		return Board{}, fmt.Errorf("%w: board type %q (want scrum or kanban)", ErrInvalid, typ)
	}
	p := s.projectByKey(projectKey)
	switch {
	case !a.software:
		return Board{}, fmt.Errorf("%w: the site has no Jira Software", ErrNotFound)
	case p == nil:
		return Board{}, fmt.Errorf("%w: project %q", ErrNotFound, projectKey)
	case p.service:
		return Board{}, fmt.Errorf("%w: %s is a service project, not a software one", ErrInvalid, projectKey)
	}
	a.mu.Lock()
	var top int64
	for _, b := range a.boards {
		top = max(top, b.ID)
	}
	b := Board{ID: top + 1, Name: name, Type: typ, Project: p.key}
	a.boards = append(a.boards, b)
	a.mu.Unlock()
	e.send([]hookEvent{s.boardEvent("board_created", b)})
	return b, nil
}

// RenameBoard renames a board and sends board_updated.
func (e *Emulator) RenameBoard(id int64, name string) (Board, error) {
	if strings.TrimSpace(name) == "" {
		return Board{}, fmt.Errorf("%w: a board needs a name", ErrInvalid)
	}
	a := e.s.agile
	a.mu.Lock()
	i := slices.IndexFunc(a.boards, func(b Board) bool { return b.ID == id })
	if i < 0 {
		a.mu.Unlock()
		return Board{}, fmt.Errorf("%w: board %d", ErrNotFound, id)
	}
	a.boards[i].Name = name
	b := a.boards[i]
	a.mu.Unlock()
	e.send([]hookEvent{e.s.boardEvent("board_updated", b)})
	return b, nil
}

// DeleteBoard deletes a board and sends board_deleted. As in Jira, its
// sprints stay on the issues that were in them, but no board lists them any
// more.
func (e *Emulator) DeleteBoard(id int64) (Board, error) {
	a := e.s.agile
	a.mu.Lock()
	i := slices.IndexFunc(a.boards, func(b Board) bool { return b.ID == id })
	if i < 0 {
		a.mu.Unlock()
		return Board{}, fmt.Errorf("%w: board %d", ErrNotFound, id)
	}
	b := a.boards[i]
	a.boards = slices.Delete(a.boards, i, i+1)
	a.mu.Unlock()
	e.send([]hookEvent{e.s.boardEvent("board_deleted", b)})
	return b, nil
}

// boardEvent is a board_* webhook: the board as the agile API writes it.
func (s *site) boardEvent(event string, b Board) hookEvent {
	v := &view{s: s, base: s.hookBase(), v2: true, now: s.now()}
	var w enc
	w.open()
	w.kint("timestamp", s.now().UnixMilli())
	w.kstr("webhookEvent", event)
	w.key("board")
	v.writeBoard(&w, b)
	w.close()
	return hookEvent{event: event, body: w.b}
}

// UpdateSprint sets a sprint's name and goal and sends sprint_updated. A
// closed sprint keeps its name, as Jira's board offers no edit of it.
func (e *Emulator) UpdateSprint(id int64, name, goal string) (Sprint, error) {
	if strings.TrimSpace(name) == "" {
		return Sprint{}, fmt.Errorf("%w: a sprint needs a name", ErrInvalid)
	}
	return e.changeSprint(id, "sprint_updated", func(_ *agile, sp *Sprint, _ time.Time) error {
		if sp.State == "closed" {
			return fmt.Errorf("%w: sprint %d is closed", ErrInvalid, id)
		}
		sp.Name, sp.Goal = name, goal
		return nil
	})
}

// DeleteSprint deletes an open sprint and sends sprint_deleted; its issues
// go back to the backlog, each with a jira:issue_updated, as Jira does. A
// closed sprint is history and cannot be deleted.
func (e *Emulator) DeleteSprint(id int64) (Sprint, error) {
	s := e.s
	a := s.agile
	a.mu.RLock()
	sp := a.sprint(id)
	var state string
	if sp != nil {
		state = sp.State
	}
	a.mu.RUnlock()
	switch {
	case sp == nil || !a.software:
		return Sprint{}, fmt.Errorf("%w: sprint %d", ErrNotFound, id)
	case state == "closed":
		return Sprint{}, fmt.Errorf("%w: sprint %d is closed: only open sprints can be deleted", ErrInvalid, id)
	}
	// The issues leave it while it still exists, so that their changelog
	// names it, as Jira's does.
	ref := strconv.FormatInt(id, 10)
	for _, k := range e.Keys() {
		is, err := e.Issue(k)
		if err != nil {
			continue
		}
		if ids, _ := is.Custom[FieldSprint].([]string); !slices.Contains(ids, ref) {
			continue
		}
		err = e.update(k, func(is *Issue) error {
			ids, _ := is.Custom[FieldSprint].([]string)
			is.Custom[FieldSprint] = slices.DeleteFunc(slices.Clone(ids), func(x string) bool { return x == ref })
			return nil
		})
		if err != nil {
			return Sprint{}, fmt.Errorf("delete sprint %d: move %s to the backlog: %w", id, k, err)
		}
	}
	a.mu.Lock()
	i := slices.IndexFunc(a.sprints, func(sp Sprint) bool { return sp.ID == id })
	if i < 0 {
		a.mu.Unlock()
		return Sprint{}, fmt.Errorf("%w: sprint %d", ErrNotFound, id)
	}
	gone := a.sprints[i]
	a.sprints = slices.Delete(a.sprints, i, i+1)
	a.mu.Unlock()
	e.send([]hookEvent{s.sprintEvent("sprint_deleted", gone)})
	return gone, nil
}

// boardAdminRoutes adds the admin routes that make, rename and delete
// boards and edit and delete sprints (docs/emulator.md).
func (e *Emulator) boardAdminRoutes(a *mux.Router, handle func(func(http.ResponseWriter, *http.Request) error) http.HandlerFunc) {
	a.HandleFunc("/boards", handle(func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			common
			Name    string `json:"name"`
			Type    string `json:"type"`
			Project string `json:"project"`
		}
		if err := decode(r, &in); err != nil {
			return err
		}
		b, err := e.handle(r, in.common).CreateBoard(in.Name, in.Type, in.Project)
		if err != nil {
			return err
		}
		adminJSON(w, http.StatusCreated, toBoardOut(b))
		return nil
	})).Methods(http.MethodPost)
	a.HandleFunc("/boards/{id}", handle(func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			common
			Name string `json:"name"`
		}
		if err := decode(r, &in); err != nil {
			return err
		}
		id, err := adminID(r, "board")
		if err != nil {
			return err
		}
		b, err := e.handle(r, in.common).RenameBoard(id, in.Name)
		if err != nil {
			return err
		}
		adminJSON(w, http.StatusOK, toBoardOut(b))
		return nil
	})).Methods(http.MethodPut)
	a.HandleFunc("/boards/{id}", handle(e.adminDeleteByID("board", func(em *Emulator, id int64) error {
		_, err := em.DeleteBoard(id)
		return err
	}))).Methods(http.MethodDelete)
	a.HandleFunc("/sprints/{id}", handle(func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			common
			Name string `json:"name"`
			Goal string `json:"goal"`
		}
		if err := decode(r, &in); err != nil {
			return err
		}
		id, err := adminID(r, "sprint")
		if err != nil {
			return err
		}
		sp, err := e.handle(r, in.common).UpdateSprint(id, in.Name, in.Goal)
		if err != nil {
			return err
		}
		adminJSON(w, http.StatusOK, toSprintOut(sp))
		return nil
	})).Methods(http.MethodPut)
	a.HandleFunc("/sprints/{id}", handle(e.adminDeleteByID("sprint", func(em *Emulator, id int64) error {
		_, err := em.DeleteSprint(id)
		return err
	}))).Methods(http.MethodDelete)
}

// adminDeleteByID is the admin DELETE of the object of kind {id} names: del
// runs on the emulator the body's common fields ask for (webhooks sent or
// not), and the answer is 204.
func (e *Emulator) adminDeleteByID(kind string, del func(em *Emulator, id int64) error) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in common
		if err := decode(r, &in); err != nil {
			return err
		}
		id, err := adminID(r, kind)
		if err != nil {
			return err
		}
		if err := del(e.handle(r, in), id); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// boardJSON is a board as the admin API writes it.
type boardJSON struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	Type    string `json:"type"`
	Project string `json:"project"`
}

func toBoardOut(b Board) boardJSON { return boardJSON(b) }

// adminID reads the numeric {id} of an admin route.
func adminID(r *http.Request, what string) (int64, error) {
	id, err := strconv.ParseInt(mux.Vars(r)["id"], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s id %q", ErrInvalid, what, mux.Vars(r)["id"])
	}
	return id, nil
}
