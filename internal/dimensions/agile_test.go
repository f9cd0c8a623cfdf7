package dimensions

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/jira/client"
)

var updateAgile = flag.Bool("update-agile", false, "rewrite testdata/agile_rows.golden")

// agileFixture reads a payload of the client's testdata (PROVENANCE.md there
// says where each comes from).
func agileFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "jira", "client", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// agileSite serves the fixtures as Jira would: pages by their start, a
// board without sprints, a service desk the account may not see, and a
// request type listed without its desk.
func agileSite(t *testing.T) *client.Client {
	t.Helper()
	pages := map[string]string{
		"/rest/agile/1.0/board?0":                              agileFixture(t, "agile_boards_page1.json"),
		"/rest/agile/1.0/board?2":                              agileFixture(t, "agile_boards_page2.json"),
		"/rest/agile/1.0/board/84/sprint?0":                    agileFixture(t, "agile_sprints.json"),
		"/rest/agile/1.0/board/1/sprint?0":                     `400 {"errorMessages":["The board does not support sprints"],"errors":{}}`,
		"/rest/servicedeskapi/servicedesk?0":                   agileFixture(t, "servicedesk_servicedesks.json"),
		"/rest/servicedeskapi/servicedesk?3":                   `{"start":3,"limit":50,"size":0,"isLastPage":true,"values":[]}`,
		"/rest/servicedeskapi/servicedesk/10001/requesttype?0": agileFixture(t, "servicedesk_requesttypes.json"),
		"/rest/servicedeskapi/servicedesk/10002/requesttype?0": `{"start":0,"isLastPage":true,"values":[
			{"id":"11002","name":"Request leave","description":"","issueTypeId":"10005","groupIds":[]}]}`,
		"/rest/servicedeskapi/servicedesk/10003/requesttype?0": `403 {"errorMessages":["You do not have permission to access this service desk."]}`,
		"/rest/servicedeskapi/organization?0":                  agileFixture(t, "servicedesk_organizations.json"),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := r.URL.Query().Get("startAt") + r.URL.Query().Get("start")
		body, ok := pages[r.URL.Path+"?"+start]
		if !ok {
			t.Errorf("unexpected request %s", r.URL)
			w.WriteHeader(http.StatusNotFound)
			return
		}
		switch {
		case strings.HasPrefix(body, "400 "):
			w.WriteHeader(http.StatusBadRequest)
			body = body[4:]
		case strings.HasPrefix(body, "403 "):
			w.WriteHeader(http.StatusForbidden)
			body = body[4:]
		}
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	c, err := client.New(client.Options{BaseURL: srv.URL, Email: "bot@example.com", APIToken: "token", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestAgileRowsOfTheFixtures fetches every Jira Software and Jira Service
// Management table from Jira's documented answers and compares the rows with
// testdata/agile_rows.golden (-update-agile rewrites it).
func TestAgileRowsOfTheFixtures(t *testing.T) {
	c := agileSite(t)
	got := map[string][]string{}
	for _, s := range slicesOf(softwareSources(), serviceDeskSources()) {
		objs, err := s.Fetch(context.Background(), c)
		if err != nil {
			t.Fatalf("%s: %v", s.Table, err)
		}
		got[s.Table] = []string{}
		for _, o := range objs {
			row, err := s.Row(o)
			if err != nil {
				t.Fatalf("%s %s: %v", s.Table, o.ID, err)
			}
			if len(row) != len(s.Columns) {
				t.Fatalf("%s %s: got %d values for %d columns", s.Table, o.ID, len(row), len(s.Columns))
			}
			got[s.Table] = append(got[s.Table], agileRowString(s, row))
		}
	}
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "agile_rows.golden")
	if *updateAgile {
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update-agile)", err)
	}
	if string(want) != string(b)+"\n" {
		t.Errorf("rows differ from %s (run with -update-agile after checking):\n%s", path, b)
	}
}

func slicesOf(lists ...[]Source) []Source {
	var out []Source
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// agileRowString writes a row as column=value pairs, each value with its Go
// type, so that a NULL, a time and a list read apart.
func agileRowString(s Source, row []any) string {
	parts := make([]string, len(row))
	for i, v := range row {
		var text string
		switch x := v.(type) {
		case nil:
			text = "NULL"
		case time.Time:
			text = x.Format(time.RFC3339Nano) + " (" + x.Location().String() + ")"
		case []string:
			text = fmt.Sprintf("%q", x)
		default:
			text = fmt.Sprintf("%T %v", v, v)
		}
		parts[i] = s.Columns[i].Name + "=" + text
	}
	return strings.Join(parts, ", ")
}

// TestAgileRowsRefuseBadObjects: a stored object that is not what its table
// holds fails its row with an error naming it, instead of a row of NULLs.
func TestAgileRowsRefuseBadObjects(t *testing.T) {
	tests := []struct {
		table   string
		payload string
		want    string
	}{
		{"boards", `[1,2]`, "decode board 7"},
		{"sprints", `{"id":7,"startDate":"yesterday"}`, "decode sprint 7"},
		{"service_desks", `"desk"`, "decode service desk 7"},
		{"request_types", `{"id":7,"groupIds":"12"}`, "decode request type 7"},
		{"organizations", `{"id":"7","created":{"iso8601":"the 7th"}}`, "organization 7: created"},
	}
	sources := map[string]Source{}
	for _, s := range slicesOf(softwareSources(), serviceDeskSources()) {
		sources[s.Table] = s
	}
	for _, tc := range tests {
		t.Run(tc.table, func(t *testing.T) {
			_, err := sources[tc.table].Row(Object{ID: "7", Payload: json.RawMessage(tc.payload)})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestRequestTypeTakesItsDesk: a request type listed without serviceDeskId
// is stored with the desk it was listed under; Jira's own payload is kept
// as it is otherwise.
func TestRequestTypeTakesItsDesk(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"added", `{"id":"1","name":"x"}`, `{"serviceDeskId":"9","id":"1","name":"x"}`},
		{"kept", `{"id":"1","serviceDeskId":"3"}`, `{"id":"1","serviceDeskId":"3"}`},
		{"empty object", `{}`, `{"serviceDeskId":"9"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := withServiceDesk(json.RawMessage(tc.in), "9")
			if err != nil || string(got) != tc.want {
				t.Errorf("got %s, %v; want %s", got, err, tc.want)
			}
		})
	}
}
