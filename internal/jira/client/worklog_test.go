package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/jira"
)

// fakeWorklogs serves an issue's worklogs the way Jira pages them, with
// faults: the page at failAt answers 403, and claim makes total say more
// worklogs than are served.
type fakeWorklogs struct {
	n      int
	failAt int // -1: never
	claim  int
	mu     sync.Mutex
	asked  []int
}

func worklogJSON(i int) string {
	created := time.Date(2021, 2, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute).Format("2006-01-02T15:04:05.000-0700")
	return fmt.Sprintf(`{"id":"%d","issueId":"10002","started":"2021-02-01T10:00:00.000+0000","timeSpentSeconds":60,`+
		`"created":"%s","updated":"2021-02-01T10:00:00.000+0000"}`, 50000+i, created)
}

func (f *fakeWorklogs) embedded() json.RawMessage {
	var list []string
	for i := range min(20, f.n) {
		list = append(list, worklogJSON(i))
	}
	return json.RawMessage(fmt.Sprintf(`{"startAt":0,"maxResults":20,"total":%d,"worklogs":[%s]}`, f.total(), strings.Join(list, ",")))
}

func (f *fakeWorklogs) total() int { return max(f.n, f.claim) }

func (f *fakeWorklogs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/rest/api/3/issue/ED-1/worklog" {
		http.NotFound(w, r)
		return
	}
	startAt, _ := strconv.Atoi(r.URL.Query().Get("startAt"))
	maxResults, _ := strconv.Atoi(r.URL.Query().Get("maxResults"))
	f.mu.Lock()
	f.asked = append(f.asked, startAt)
	f.mu.Unlock()
	if startAt == f.failAt {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"errorMessages":["no"],"errors":{}}`)
		return
	}
	var list []string
	for i := startAt; i < f.n && i < startAt+maxResults; i++ {
		list = append(list, worklogJSON(i))
	}
	fmt.Fprintf(w, `{"startAt":%d,"maxResults":%d,"total":%d,"worklogs":[%s]}`, startAt, maxResults, f.total(), strings.Join(list, ","))
}

func TestAllWorklogsStates(t *testing.T) {
	tests := []struct {
		name      string
		fake      *fakeWorklogs
		embedded  func(f *fakeWorklogs) json.RawMessage
		wantState jira.State
		wantN     int
		wantAsked string
	}{
		{"embedded whole: no call", &fakeWorklogs{n: 3, failAt: -1}, (*fakeWorklogs).embedded, jira.StateComplete, 3, ""},
		{"past 20: paged from the start", &fakeWorklogs{n: 1500, failAt: -1}, (*fakeWorklogs).embedded, jira.StateComplete, 1500, "0,1000"},
		{"no embedded field: paged", &fakeWorklogs{n: 5, failAt: -1}, func(*fakeWorklogs) json.RawMessage { return nil }, jira.StateComplete, 5, "0"},
		{"second page fails: partial", &fakeWorklogs{n: 1500, failAt: 1000}, (*fakeWorklogs).embedded, jira.StatePartial, 1000, "0,1000"},
		{"first page fails: unknown, embedded kept", &fakeWorklogs{n: 1500, failAt: 0}, (*fakeWorklogs).embedded, jira.StateUnknown, 20, "0"},
		{"fewer served than the total: partial", &fakeWorklogs{n: 30, failAt: -1, claim: 40}, (*fakeWorklogs).embedded, jira.StatePartial, 30, "0,30"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.fake
			srv := httptest.NewServer(f)
			defer srv.Close()
			c := newTestClient(t, srv.URL, nil)
			list, state, msg := c.AllWorklogs(context.Background(), "ED-1", tc.embedded(f))
			if state != tc.wantState || len(list) != tc.wantN {
				t.Fatalf("got %s with %d worklogs (%s), want %s with %d", state, len(list), msg, tc.wantState, tc.wantN)
			}
			if (msg == "") != (state == jira.StateComplete) {
				t.Errorf("message %q for a %s list", msg, state)
			}
			got := ids(t, list)
			for i := 1; i < len(got); i++ {
				if got[i] <= got[i-1] {
					t.Fatalf("worklogs out of order or repeated at %d: %d after %d", i, got[i], got[i-1])
				}
			}
			var asked []string
			for _, a := range f.asked {
				asked = append(asked, strconv.Itoa(a))
			}
			if s := strings.Join(asked, ","); s != tc.wantAsked {
				t.Errorf("pages asked: got %q, want %q", s, tc.wantAsked)
			}
		})
	}
}

// TestFetchIssueWorklogs: FetchIssue pages the worklogs of an issue that
// embeds 20 of 45, and stores them in the bundle, not twice.
func TestFetchIssueWorklogs(t *testing.T) {
	f := &fakeWorklogs{n: 45, failAt: -1}
	mux := http.NewServeMux()
	mux.Handle("/rest/api/3/issue/ED-1/worklog", f)
	mux.HandleFunc("/rest/api/3/issue/ED-1", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"id":"10002","key":"ED-1","fields":{"created":"2021-01-01T00:00:00.000+0000",
			"comment":{"total":0,"comments":[]},"worklog":%s},"changelog":{"total":0,"histories":[]}}`, f.embedded())
	})
	mux.HandleFunc("/rest/api/3/issue/ED-1/remotelink", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `[]`) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := newTestClient(t, srv.URL, nil)
	b, err := c.FetchIssue(context.Background(), "ED-1", FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b.State.Worklogs != jira.StateComplete || len(b.Worklogs) != 45 || !b.Complete() {
		t.Fatalf("got %s with %d worklogs (%s), want complete with 45", b.State.Worklogs, len(b.Worklogs), b.Errors.Worklogs)
	}
	if strings.Contains(string(b.Issue), `"id":"50000"`) {
		t.Error("the compacted issue still embeds the worklogs the bundle holds")
	}
	if !strings.Contains(string(b.Issue), `"total":45`) {
		t.Errorf("the compacted issue lost the worklog total: %s", b.Issue)
	}
}

func TestWorklogChangesPaged(t *testing.T) {
	var mu sync.Mutex
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		since, _ := strconv.ParseInt(r.URL.Query().Get("since"), 10, 64)
		mu.Lock()
		asked = append(asked, r.URL.Path+"@"+strconv.FormatInt(since, 10))
		mu.Unlock()
		switch {
		case r.URL.Path == "/rest/api/3/worklog/updated" && since < 2000:
			fmt.Fprint(w, `{"since":1000,"until":2000,"lastPage":false,"nextPage":"https://elsewhere.example/x?since=2000",
				"values":[{"worklogId":1,"updatedTime":1500,"properties":[]}]}`)
		case r.URL.Path == "/rest/api/3/worklog/updated":
			fmt.Fprint(w, `{"since":2000,"until":3000,"lastPage":true,"values":[{"worklogId":2,"updatedTime":2500}]}`)
		case r.URL.Path == "/rest/api/3/worklog/deleted":
			// A server that ignores since.
			fmt.Fprint(w, `{"since":1000,"until":1000,"lastPage":false,"values":[{"worklogId":3,"updatedTime":1000}]}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, nil)
	var got []string
	next, err := c.WorklogsUpdated(context.Background(), 1000, func(p *jira.WorklogChangePage) error {
		for _, v := range p.Values {
			got = append(got, string(v.WorklogID))
		}
		return nil
	})
	if err != nil || next != 3000 || strings.Join(got, ",") != "1,2" {
		t.Errorf("updated: got %v next %d err %v, want [1 2] next 3000", got, next, err)
	}
	if strings.Join(asked, " ") != "/rest/api/3/worklog/updated@1000 /rest/api/3/worklog/updated@2000" {
		t.Errorf("asked %v, want since 1000 then the first page's until (never the nextPage host)", asked)
	}
	next, err = c.WorklogsDeleted(context.Background(), 1000, func(*jira.WorklogChangePage) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "does not move forward") || next != 1000 {
		t.Errorf("deleted from a server ignoring since: got next %d err %v, want an error and the cursor kept", next, err)
	}
}

func TestWorklogList(t *testing.T) {
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 1024)
		n, _ := r.Body.Read(b)
		body = string(b[:n])
		if r.Method != http.MethodPost || r.URL.Path != "/rest/api/3/worklog/list" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, `[{"id":"103","issueId":"10002","timeSpentSeconds":60}]`)
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, nil)
	got, err := c.WorklogList(context.Background(), []string{"103", "104"})
	if err != nil {
		t.Fatal(err)
	}
	if body != `{"ids":[103,104]}` || len(got) != 1 || got[0].IssueID != "10002" {
		t.Errorf("got body %s and %+v, want ids as numbers and the issue id", body, got)
	}
	for _, bad := range [][]string{{"10x"}, {"-1"}, make([]string, jira.MaxWorklogList+1)} {
		if _, err := c.WorklogList(context.Background(), bad); err == nil {
			t.Errorf("ids %.20v: got no error", bad)
		}
	}
}
