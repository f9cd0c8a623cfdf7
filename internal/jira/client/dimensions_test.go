package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jiraduck/jiraduck/internal/jira"
)

// pagedServer serves n objects {"id":"<i>"} at path as PageBeans; style
// says how each page tells it is the last: "isLast", "total" or "short"
// (neither: a page shorter than asked). It records the startAt of every
// call.
type pagedServer struct {
	mu     sync.Mutex
	starts []int
}

func (p *pagedServer) handler(t *testing.T, path string, n int, style string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path {
			http.NotFound(w, r)
			return
		}
		start, _ := strconv.Atoi(r.URL.Query().Get("startAt"))
		size, _ := strconv.Atoi(r.URL.Query().Get("maxResults"))
		p.mu.Lock()
		p.starts = append(p.starts, start)
		p.mu.Unlock()
		values := []string{}
		for i := start; i < min(start+size, n); i++ {
			values = append(values, fmt.Sprintf(`{"id":"%d"}`, i))
		}
		body := map[string]any{"startAt": start, "maxResults": size, "values": json.RawMessage("[" + strings.Join(values, ",") + "]")}
		switch style {
		case "isLast":
			body["isLast"] = start+size >= n
		case "total":
			body["total"] = n
		}
		b, _ := json.Marshal(body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	})
}

func TestPagedValues(t *testing.T) {
	for _, tc := range []struct {
		name      string
		style     string
		n, size   int
		wantCalls int
	}{
		{"isLast over three pages", "isLast", 25, 10, 3},
		{"isLast on an exact multiple", "isLast", 20, 10, 2},
		{"total over three pages", "total", 25, 10, 3},
		{"short last page", "short", 25, 10, 3},
		{"short: an exact multiple needs an empty page", "short", 20, 10, 3},
		{"nothing at all", "isLast", 0, 10, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := &pagedServer{}
			srv := httptest.NewServer(ps.handler(t, "/rest/api/3/thing", tc.n, tc.style))
			defer srv.Close()
			c := newTestClient(t, srv.URL, nil)
			got, err := c.PagedValues(context.Background(), "thing", "/rest/api/3/thing", nil, tc.size)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.n {
				t.Errorf("got %d values, want %d", len(got), tc.n)
			}
			for i, raw := range got {
				if want := fmt.Sprintf(`{"id":"%d"}`, i); string(raw) != want {
					t.Errorf("value %d: got %s, want %s", i, raw, want)
				}
			}
			if len(ps.starts) != tc.wantCalls {
				t.Errorf("got %d calls (startAt %v), want %d", len(ps.starts), ps.starts, tc.wantCalls)
			}
		})
	}
}

// TestPagedValuesBounded: a server that never says it is done is stopped
// with an error, not paged for ever.
func TestPagedValuesBounded(t *testing.T) {
	defer func(n int) { maxObjectPages = n }(maxObjectPages)
	maxObjectPages = 50
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		start, _ := strconv.Atoi(r.URL.Query().Get("startAt"))
		fmt.Fprintf(w, `{"startAt":%d,"maxResults":1,"isLast":false,"values":[{"id":"%d"}]}`, start, start)
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, nil)
	_, err := c.PagedValues(context.Background(), "thing", "/x", nil, 1)
	if !errors.Is(err, ErrTooManyPages) {
		t.Fatalf("got %v, want ErrTooManyPages", err)
	}
	if calls != maxObjectPages {
		t.Errorf("got %d calls, want %d", calls, maxObjectPages)
	}
}

// TestUsersPaging: users/search answers bare arrays and may return fewer
// than asked while more follow; only an empty page ends the listing.
func TestUsersPaging(t *testing.T) {
	var starts []int
	// 2500 accounts, of which the server hides every tenth from each page.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/rest/api/3/users/search" {
			http.NotFound(w, r)
			return
		}
		start, _ := strconv.Atoi(r.URL.Query().Get("startAt"))
		size, _ := strconv.Atoi(r.URL.Query().Get("maxResults"))
		starts = append(starts, start)
		var out []string
		for i := start; i < min(start+size, 2500); i++ {
			if i%10 != 0 {
				out = append(out, fmt.Sprintf(`{"accountId":"a%d"}`, i))
			}
		}
		fmt.Fprintf(w, "[%s]", strings.Join(out, ","))
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, nil)
	got, err := c.Users(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2250 {
		t.Errorf("got %d users, want 2250", len(got))
	}
	if want := []int{0, 1000, 2000, 3000}; fmt.Sprint(starts) != fmt.Sprint(want) {
		t.Errorf("got startAt %v, want %v", starts, want)
	}
}

// TestUsersByID asks user/bulk for UserBulkSize accounts a call, and leaves
// out the ids Jira does not know.
func TestUsersByID(t *testing.T) {
	var asked [][]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/rest/api/3/user/bulk" {
			http.NotFound(w, r)
			return
		}
		ids := r.URL.Query()["accountId"]
		asked = append(asked, ids)
		var values []string
		for _, id := range ids {
			if !strings.HasPrefix(id, "gone") {
				values = append(values, fmt.Sprintf(`{"accountId":%q,"displayName":"x"}`, id))
			}
		}
		fmt.Fprintf(w, `{"startAt":0,"maxResults":%s,"total":%d,"isLast":true,"values":[%s]}`,
			r.URL.Query().Get("maxResults"), len(values), strings.Join(values, ","))
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, nil)
	var ids []string
	for i := range 250 {
		ids = append(ids, fmt.Sprintf("acc%d", i))
	}
	ids = append(ids, "gone1", "gone2")
	got, err := c.UsersByID(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 250 {
		t.Errorf("got %d users, want 250", len(got))
	}
	var sizes []int
	for _, a := range asked {
		sizes = append(sizes, len(a))
	}
	if want := []int{100, 100, 52}; fmt.Sprint(sizes) != fmt.Sprint(want) {
		t.Errorf("got batches of %v, want %v", sizes, want)
	}
}

// TestListEndpointsOnFixtures reads the list endpoints from the captured
// answers of Atlassian's documentation.
func TestListEndpointsOnFixtures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		path    string
		fixture string
		call    func(*Client, context.Context) ([]json.RawMessage, error)
		want    int
	}{
		{"statuses", "/rest/api/3/status", "rest/misc/get_statuses__openapi_example.json", (*Client).Statuses, 2},
		{"issue types", "/rest/api/3/issuetype", "rest/misc/get_issuetypes__openapi_example.json", (*Client).IssueTypes, 2},
		{"link types", "/rest/api/3/issueLinkType", "rest/issuelink/get_issuelinktypes__openapi_example.json", (*Client).IssueLinkTypes, 2},
		{"fields", "/rest/api/3/field", "rest/field/get_fields__openapi_example.json", (*Client).FieldList, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := fixture(t, tc.fixture)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != tc.path {
					http.NotFound(w, r)
					return
				}
				w.Write(body)
			}))
			defer srv.Close()
			c := newTestClient(t, srv.URL, nil)
			got, err := tc.call(c.Client, context.Background())
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if want < 0 {
				var all []json.RawMessage
				if err := json.Unmarshal(body, &all); err != nil {
					t.Fatal(err)
				}
				want = len(all)
			}
			if len(got) != want || want == 0 {
				t.Errorf("got %d objects, want %d", len(got), want)
			}
		})
	}
}

// TestObjectListingErrors: a 404 keeps its kind (the refresh tells a
// missing product by it) and names the path.
func TestObjectListingErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"errorMessages":["No project could be found with key or id '10000'."],"errors":{}}`))
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, nil)
	_, err := c.ProjectVersions(context.Background(), "10000")
	if !errors.Is(err, jira.ErrNotFound) {
		t.Fatalf("got %v, want a not found error", err)
	}
	if !strings.Contains(err.Error(), "/rest/api/3/project/10000/version") {
		t.Errorf("got %q, want the path in the error", err)
	}
	if _, err := c.ProjectComponents(context.Background(), "../admin"); err == nil || !strings.Contains(err.Error(), "not a numeric id") {
		t.Errorf("got %v, want a refused project id", err)
	}
}
