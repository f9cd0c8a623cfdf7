package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jiraduck/jiraduck/internal/jira"
)

// ownFixture returns a file of this package's testdata (PROVENANCE.md there
// says where each comes from).
func ownFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// idsOf returns the "id" of each payload, as text.
func idsOf(t *testing.T, raw []json.RawMessage) string {
	t.Helper()
	var ids []string
	for _, p := range raw {
		var v struct {
			ID jira.ID `json:"id"`
		}
		if err := json.Unmarshal(p, &v); err != nil {
			t.Fatalf("decode %s: %v", p, err)
		}
		ids = append(ids, string(v.ID))
	}
	return strings.Join(ids, ",")
}

// agilePagedServer answers each path with the page its query names (key: path
// and the value of the paging parameter), and records what was asked.
type agilePagedServer struct {
	srv    *httptest.Server
	mu     sync.Mutex
	asked  []string
	header []string
}

func newAgilePagedServer(t *testing.T, param string, pages map[string]string) *agilePagedServer {
	t.Helper()
	ps := &agilePagedServer{}
	ps.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.URL.Path + "@" + r.URL.Query().Get(param)
		ps.mu.Lock()
		ps.asked = append(ps.asked, key+"/"+r.URL.Query().Get(map[string]string{"startAt": "maxResults", "start": "limit"}[param]))
		ps.header = append(ps.header, r.Header.Get("X-ExperimentalApi"))
		ps.mu.Unlock()
		body, ok := pages[key]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"errorMessages":["No resource found at %s"],"errors":{}}`, r.URL.Path)
			return
		}
		if strings.HasPrefix(body, "400 ") {
			w.WriteHeader(http.StatusBadRequest)
			body = body[4:]
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body)
	}))
	t.Cleanup(ps.srv.Close)
	return ps
}

func (ps *agilePagedServer) requests() (asked, headers []string) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return append([]string(nil), ps.asked...), append([]string(nil), ps.header...)
}

func TestAgileListsArePaged(t *testing.T) {
	pages := map[string]string{
		"/rest/agile/1.0/board@0":           ownFixture(t, "agile_boards_page1.json"),
		"/rest/agile/1.0/board@2":           ownFixture(t, "agile_boards_page2.json"),
		"/rest/agile/1.0/board/84/sprint@0": ownFixture(t, "agile_sprints.json"),
		"/rest/agile/1.0/board/92/sprint@0": `400 {"errorMessages":["The board does not support sprints"],"errors":{}}`,
	}
	ps := newAgilePagedServer(t, "startAt", pages)
	c := newTestClient(t, ps.srv.URL, nil)
	ctx := context.Background()

	tests := []struct {
		name      string
		call      func() ([]json.RawMessage, error)
		wantIDs   string
		wantAsked string
		wantErr   error
	}{
		{"boards over two pages", func() ([]json.RawMessage, error) { return c.Boards(ctx) }, "84,92,1",
			"/rest/agile/1.0/board@0/50 /rest/agile/1.0/board@2/50", nil},
		{"sprints of a scrum board", func() ([]json.RawMessage, error) { return c.Sprints(ctx, "84") }, "37,72",
			"/rest/agile/1.0/board/84/sprint@0/50", nil},
		{"sprints of a kanban board", func() ([]json.RawMessage, error) { return c.Sprints(ctx, "92") }, "",
			"/rest/agile/1.0/board/92/sprint@0/50", ErrNoSprints},
		{"sprints of a board id that is no number", func() ([]json.RawMessage, error) { return c.Sprints(ctx, "84/../../x") }, "",
			"", nil},
		{"sprints of a board not found", func() ([]json.RawMessage, error) { return c.Sprints(ctx, "7") }, "",
			"/rest/agile/1.0/board/7/sprint@0/50", jira.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := ps.requests()
			got, err := tt.call()
			after, _ := ps.requests()
			asked := strings.Join(after[len(before):], " ")
			switch {
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			case tt.wantErr == nil && tt.wantIDs == "" && err == nil:
				t.Fatalf("got no error, want one")
			case tt.wantIDs != "" && err != nil:
				t.Fatalf("got error %v, want none", err)
			}
			if ids := idsOf(t, got); ids != tt.wantIDs {
				t.Errorf("got ids %q, want %q", ids, tt.wantIDs)
			}
			if asked != tt.wantAsked {
				t.Errorf("asked %q, want %q", asked, tt.wantAsked)
			}
		})
	}
}

func TestServiceDeskListsArePaged(t *testing.T) {
	lastDesk := `{"_expands":[],"size":1,"start":3,"limit":50,"isLastPage":true,"_links":{},"values":[
		{"id":"10004","projectId":"11004","projectName":"Facilities","projectKey":"FAC"}]}`
	pages := map[string]string{
		"/rest/servicedeskapi/servicedesk@0":                ownFixture(t, "servicedesk_servicedesks.json"),
		"/rest/servicedeskapi/servicedesk@3":                lastDesk,
		"/rest/servicedeskapi/servicedesk/28/requesttype@0": ownFixture(t, "servicedesk_requesttypes.json"),
		"/rest/servicedeskapi/organization@0":               ownFixture(t, "servicedesk_organizations.json"),
		"/rest/servicedeskapi/servicedesk/99/requesttype@0": `{"start":0,"isLastPage":false,"values":[{"id":"1"}]}`,
		"/rest/servicedeskapi/servicedesk/99/requesttype@1": `{"start":0,"isLastPage":false,"values":[{"id":"1"}]}`,
		"/rest/servicedeskapi/servicedesk/77/requesttype@0": `{"start":0,"isLastPage":true,"values":[]}`,
	}
	ps := newAgilePagedServer(t, "start", pages)
	c := newTestClient(t, ps.srv.URL, nil)
	ctx := context.Background()
	tests := []struct {
		name      string
		call      func() ([]json.RawMessage, error)
		wantIDs   string
		wantAsked string
		wantErr   error
	}{
		{"service desks over two pages", func() ([]json.RawMessage, error) { return c.ServiceDesks(ctx) }, "10001,10002,10003,10004",
			"/rest/servicedeskapi/servicedesk@0/50 /rest/servicedeskapi/servicedesk@3/50", nil},
		{"request types", func() ([]json.RawMessage, error) { return c.RequestTypes(ctx, "28") }, "11001",
			"/rest/servicedeskapi/servicedesk/28/requesttype@0/50", nil},
		{"organizations", func() ([]json.RawMessage, error) { return c.Organizations(ctx) }, "1",
			"/rest/servicedeskapi/organization@0/50", nil},
		{"an empty list", func() ([]json.RawMessage, error) { return c.RequestTypes(ctx, "77") }, "",
			"/rest/servicedeskapi/servicedesk/77/requesttype@0/50", nil},
		{"a server that ignores start", func() ([]json.RawMessage, error) { return c.RequestTypes(ctx, "99") }, "1",
			"/rest/servicedeskapi/servicedesk/99/requesttype@0/50 /rest/servicedeskapi/servicedesk/99/requesttype@1/50", ErrPagingIgnored},
		{"a site without the product", func() ([]json.RawMessage, error) { return c.RequestTypes(ctx, "5") }, "",
			"/rest/servicedeskapi/servicedesk/5/requesttype@0/50", jira.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := ps.requests()
			got, err := tt.call()
			after, headers := ps.requests()
			asked := strings.Join(after[len(before):], " ")
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) || tt.wantErr == nil && err != nil {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if ids := idsOf(t, got); ids != tt.wantIDs {
				t.Errorf("got ids %q, want %q", ids, tt.wantIDs)
			}
			if asked != tt.wantAsked {
				t.Errorf("asked %q, want %q", asked, tt.wantAsked)
			}
			for _, h := range headers[len(before):] {
				if h != "opt-in" {
					t.Errorf("got X-ExperimentalApi %q, want opt-in on every call", h)
				}
			}
		})
	}
}
