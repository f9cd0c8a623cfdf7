package emulator

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestBoardAndSprintEdits: boards are made, renamed and deleted, sprints
// edited and deleted, through Go and the admin API; each change sends its
// board_* or sprint_* webhook with the object as the agile API writes it,
// the agile API lists the result, and a deleted sprint's issues go back to
// the backlog with a jira:issue_updated each.
func TestBoardAndSprintEdits(t *testing.T) {
	e, c, sink := newHookedEmu(t, Options{Issues: 60, Seed: 9, WebhookWorkers: 1})
	var future Sprint
	for _, sp := range e.Sprints() {
		if sp.State == "future" && future.ID == 0 {
			future = sp
		}
	}
	ref := strconv.FormatInt(future.ID, 10)
	inFuture := 0
	for _, k := range e.Keys() {
		is, _ := e.Issue(k)
		if ids, _ := is.Custom[FieldSprint].([]string); slices.Contains(ids, ref) {
			inFuture++
		}
	}
	if inFuture == 0 {
		t.Fatalf("no issue in the future sprint %d", future.ID)
	}
	var made Board
	tests := []struct {
		name string
		do   func() error
		want error
	}{
		{"create a board", func() (err error) { made, err = e.CreateBoard("OPS triage", "kanban", "OPS"); return err }, nil},
		{"create a board of a service project", func() error { _, err := e.CreateBoard("Desk", "kanban", "SUP"); return err }, ErrInvalid},
		{"create a board of no type", func() error { _, err := e.CreateBoard("X", "list", "OPS"); return err }, ErrInvalid},
		{"create a board of no project", func() error { _, err := e.CreateBoard("X", "scrum", "NOPE"); return err }, ErrNotFound},
		{"rename the board", func() error { _, err := e.RenameBoard(made.ID, "OPS intake"); return err }, nil},
		{"rename no board", func() error { _, err := e.RenameBoard(999, "X"); return err }, ErrNotFound},
		{"edit a future sprint", func() error { _, err := e.UpdateSprint(future.ID, "OPS Sprint renamed", "Ship it"); return err }, nil},
		{"edit a closed sprint", func() error { _, err := e.UpdateSprint(1, "Renamed", ""); return err }, ErrInvalid},
		{"delete a closed sprint", func() error { _, err := e.DeleteSprint(1); return err }, ErrInvalid},
		{"delete the future sprint", func() error { _, err := e.DeleteSprint(future.ID); return err }, nil},
		{"delete it again", func() error { _, err := e.DeleteSprint(future.ID); return err }, ErrNotFound},
		{"delete the board", func() error { _, err := e.DeleteBoard(made.ID); return err }, nil},
		{"delete it again", func() error { _, err := e.DeleteBoard(made.ID); return err }, ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	for _, k := range e.Keys() {
		is, _ := e.Issue(k)
		if ids, _ := is.Custom[FieldSprint].([]string); slices.Contains(ids, ref) {
			t.Errorf("%s: got sprints %v, want the deleted sprint %d gone", k, ids, future.ID)
		}
	}
	if slices.ContainsFunc(e.Sprints(), func(sp Sprint) bool { return sp.ID == future.ID }) {
		t.Errorf("the deleted sprint %d is still listed", future.ID)
	}
	wait(t, e)
	want := []string{"board_created", "board_updated", "sprint_updated"}
	for range inFuture {
		want = append(want, "jira:issue_updated")
	}
	want = append(want, "sprint_deleted", "board_deleted")
	// Deliveries run side by side: in any order, each once.
	got := sink.events(t)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("got webhooks %v, want %v in any order", got, want)
	}
	var updated struct {
		Board struct {
			ID       int64  `json:"id"`
			Name     string `json:"name"`
			Type     string `json:"type"`
			Location struct {
				ProjectKey string `json:"projectKey"`
			} `json:"location"`
		} `json:"board"`
	}
	d := sink.deliveries()[1]
	verify(t, d)
	if err := json.Unmarshal(d.body, &updated); err != nil {
		t.Fatal(err)
	}
	if b := updated.Board; b.ID != made.ID || b.Name != "OPS intake" || b.Type != "kanban" || b.Location.ProjectKey != "OPS" {
		t.Errorf("got board_updated %+v, want board %d OPS intake, kanban, of OPS", b, made.ID)
	}

	t.Run("admin API", func(t *testing.T) {
		b := decodeAs[boardJSON](t, c.post("/_emulator/boards", map[string]string{"name": "OPS ops", "type": "scrum", "project": "OPS"}, http.StatusCreated))
		if b.Name != "OPS ops" || b.Type != "scrum" {
			t.Fatalf("got %+v, want the board made", b)
		}
		id := strconv.FormatInt(b.ID, 10)
		if resp, body := c.do(http.MethodPut, "/_emulator/boards/"+id, map[string]string{"name": "OPS ops 2"}); resp.StatusCode != http.StatusOK {
			t.Errorf("rename: got %d %s, want 200", resp.StatusCode, body)
		}
		sp := decodeAs[sprintOut](t, c.post("/_emulator/boards/"+id+"/sprints", map[string]string{"name": "S1"}, http.StatusCreated))
		sid := strconv.FormatInt(sp.ID, 10)
		if resp, body := c.do(http.MethodPut, "/_emulator/sprints/"+sid, map[string]string{"name": "S1b", "goal": "g"}); resp.StatusCode != http.StatusOK {
			t.Errorf("edit sprint: got %d %s, want 200", resp.StatusCode, body)
		}
		if resp, body := c.do(http.MethodPut, "/_emulator/sprints/"+sid, map[string]string{"name": ""}); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("edit sprint without a name: got %d %s, want 400", resp.StatusCode, body)
		}
		for _, path := range []string{"/_emulator/sprints/" + sid, "/_emulator/boards/" + id} {
			if resp, body := c.do(http.MethodDelete, path, nil); resp.StatusCode != http.StatusNoContent {
				t.Errorf("DELETE %s: got %d %s, want 204", path, resp.StatusCode, body)
			}
		}
		if resp, _ := c.do(http.MethodDelete, "/_emulator/boards/x", nil); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("DELETE a board of id x: got %d, want 400", resp.StatusCode)
		}
		boards := decodeAs[pageOfBoards](t, c.get("/rest/agile/1.0/board", http.StatusOK))
		for _, v := range boards.Values {
			if v.ID == b.ID || v.ID == made.ID {
				t.Errorf("the deleted board %d is still listed", v.ID)
			}
		}
	})
}

type pageOfBoards struct {
	Values []struct {
		ID int64 `json:"id"`
	} `json:"values"`
}

// TestRenamedProjectOnBoardsAndDesks: a renamed project shows its new name
// in its boards' location and its service desk, as on Jira, where both read
// the project.
func TestRenamedProjectOnBoardsAndDesks(t *testing.T) {
	e, c := newEmu(t, Options{Issues: 10, Seed: 9})
	for _, key := range []string{"OPS", "SUP"} {
		if err := e.RenameProject(key, key+" renamed"); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, path, want string
	}{
		{"board location", "/rest/agile/1.0/board", `"projectName":"OPS renamed"`},
		{"board display name", "/rest/agile/1.0/board", `"displayName":"OPS renamed (OPS)"`},
		{"service desk", "/rest/servicedeskapi/servicedesk", `"projectName":"SUP renamed"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if body := string(c.get(tt.path, http.StatusOK)); !strings.Contains(body, tt.want) {
				t.Errorf("got %s, want %s in it", body, tt.want)
			}
		})
	}
}
