package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jiraduck/jiraduck/internal/jira"
)

// gatedJira answers GET issue only once every side call of the fetch has
// arrived, so a fetch that waits for the issue before asking for its remote
// links and SLA fields never gets it. The side calls answer as told.
type gatedJira struct {
	*fakeJira
	arrived   chan string
	wantSides int
	// side answers a remote link or SLA request: status 0 serves it.
	side func(r *http.Request) int
}

func (g *gatedJira) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/rest/api/3/issue/JAVA-62" && r.URL.Query().Get("fields") == "*all":
		seen := map[string]bool{}
		deadline := time.After(10 * time.Second)
		for len(seen) < g.wantSides {
			select {
			case p := <-g.arrived:
				seen[p] = true
			case <-deadline:
				w.WriteHeader(http.StatusGatewayTimeout)
				_, _ = w.Write([]byte(`{"errorMessages":["the side calls never came while the issue was asked for"]}`))
				return
			}
		}
	case strings.HasSuffix(r.URL.Path, "/remotelink"), r.URL.Path == "/rest/api/3/issue/JAVA-62":
		g.arrived <- r.URL.Path
		if g.side != nil {
			if status := g.side(r); status != 0 {
				w.WriteHeader(status)
				_, _ = w.Write([]byte(`{"errorMessages":["injected failure"]}`))
				return
			}
		}
	}
	g.fakeJira.ServeHTTP(w, r)
}

// TestFetchIssueAsksAtOnce: GET issue, the remote links and the SLA fields
// are asked for at once, and each collection's state comes from its own
// calls whichever finishes first.
func TestFetchIssueAsksAtOnce(t *testing.T) {
	tests := []struct {
		name string
		side func(r *http.Request) int
		want jira.BundleState
	}{
		{"all answer", nil,
			jira.BundleState{Comments: jira.StateComplete, Changelog: jira.StateComplete, RemoteLinks: jira.StateComplete, SLA: jira.StateComplete, Worklogs: jira.StateComplete}},
		{"remote links fail", func(r *http.Request) int {
			if strings.HasSuffix(r.URL.Path, "/remotelink") {
				return http.StatusForbidden
			}
			return 0
		}, jira.BundleState{Comments: jira.StateComplete, Changelog: jira.StateComplete, RemoteLinks: jira.StateUnknown, SLA: jira.StateComplete, Worklogs: jira.StateComplete}},
		{"sla fields fail", func(r *http.Request) int {
			if !strings.HasSuffix(r.URL.Path, "/remotelink") {
				return http.StatusForbidden
			}
			return 0
		}, jira.BundleState{Comments: jira.StateComplete, Changelog: jira.StateComplete, RemoteLinks: jira.StateComplete, SLA: jira.StateUnknown, Worklogs: jira.StateComplete}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &gatedJira{fakeJira: newFakeJira(t, 150, 120), arrived: make(chan string, 8), wantSides: 2, side: tt.side}
			srv := httptest.NewServer(g)
			defer srv.Close()
			// Without an SLA account the SLA fields come from the site, as
			// a GET issue with only those fields.
			sla := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				r.URL.Path = strings.TrimPrefix(r.URL.Path, "/ex/jira/abc-123")
				g.ServeHTTP(w, r)
			}))
			defer sla.Close()
			c := newTestClient(t, srv.URL, func(o *Options) {
				o.SLAEmail, o.SLAAPIToken, o.CloudAPIURL, o.CloudID, o.MaxAttempts = testEmail, testToken, sla.URL, "abc-123", 1
			})
			b, err := c.FetchIssue(context.Background(), "JAVA-62", FetchOptions{SLAFieldIDs: []string{"customfield_10161"}})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, b.State); diff != "" {
				t.Errorf("state (-want +got):\n%s\nerrors: %+v", diff, b.Errors)
			}
			if len(b.Comments) != 150 || len(b.Histories) != 120 {
				t.Errorf("got %d comments and %d histories, want 150 and 120", len(b.Comments), len(b.Histories))
			}
		})
	}
}

// TestFetchIssueNotFoundDropsSideCalls: a 404 on GET issue fails the fetch,
// whatever the side calls got.
func TestFetchIssueNotFoundDropsSideCalls(t *testing.T) {
	fj := newFakeJira(t, 1, 1)
	fj.fail = func(r *http.Request) int {
		if r.URL.Path == "/rest/api/3/issue/JAVA-62" {
			return http.StatusNotFound
		}
		return 0
	}
	srv := httptest.NewServer(fj)
	defer srv.Close()
	c := newTestClient(t, srv.URL, nil)
	b, err := c.FetchIssue(context.Background(), "JAVA-62", FetchOptions{})
	if b != nil || err == nil || !strings.Contains(err.Error(), "get issue JAVA-62: status 404") {
		t.Errorf("got %v, %v; want no bundle and the 404", b, err)
	}
}

// TestThrottleHoldsOffTheFetch: once Jira asks one call of a fetch to
// wait, the fetch's other calls wait out the same pause before sending,
// instead of each finding the limit with a 429 of its own; a call of
// another fetch (another worker's issue) is not held.
func TestThrottleHoldsOffTheFetch(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var throttled atomic.Int32
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if strings.HasSuffix(r.URL.Path, "/remotelink") && throttled.Add(1) == 1 {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		_, _ = w.Write([]byte(`[]`))
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, func(o *Options) { o.Now = func() time.Time { return now } })
	fetch := withPauseGroup(context.Background())
	if _, err := c.RemoteLinks(fetch, "SUP-1"); err != nil {
		t.Fatal(err)
	}
	// Another worker's call: not held.
	if _, err := c.Fields(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := len(c.sleeper.recorded()); got != 1 {
		t.Errorf("waits after another fetch's call: got %d, want 1 (the throttled call's own)", got)
	}
	// The clock stands still: the pause Jira asked for is still on for
	// the fetch's next call.
	if _, err := c.Fields(fetch); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]time.Duration{7 * time.Second, 7 * time.Second}, c.sleeper.recorded()); diff != "" {
		t.Errorf("waits: the throttled call's own, then the fetch's next call's (-want +got):\n%s", diff)
	}
	if got := calls.Load(); got != 4 {
		t.Errorf("requests: got %d, want 4 (429, retry, the other worker's, the fetch's next)", got)
	}
	// Once the pause is over nobody waits.
	now = now.Add(8 * time.Second)
	if _, err := c.Fields(fetch); err != nil {
		t.Fatal(err)
	}
	if got := len(c.sleeper.recorded()); got != 2 {
		t.Errorf("waits after the pause: got %d, want still 2", got)
	}
}

// bulkJira serves bulk fetches of JAVA-62 (id 10231) and, for the SLA
// account, of its SLA fields.
type bulkJira struct {
	*fakeJira
	// issueErrors are ids answered in issueErrors.
	issueErrors []string
	bulkStatus  int
	slaStatus   int
	bodies      []jira.BulkFetchRequest
}

func (b *bulkJira) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "/issue/bulkfetch") {
		b.fakeJira.ServeHTTP(w, r)
		return
	}
	b.record(r)
	var req jira.BulkFetchRequest
	_ = json.NewDecoder(r.Body).Decode(&req)
	sla := strings.HasPrefix(r.URL.Path, "/ex/jira/")
	if !sla {
		b.mu.Lock()
		b.bodies = append(b.bodies, req)
		b.mu.Unlock()
	}
	if status := map[bool]int{false: b.bulkStatus, true: b.slaStatus}[sla]; status != 0 {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"errorMessages":["injected failure"]}`))
		return
	}
	var issues []string
	for _, k := range req.IssueIDsOrKeys {
		if k != "JAVA-62" && k != "10231" && k != "java-62" {
			continue
		}
		if sla {
			issues = append(issues, `{"id":"10231","key":"JAVA-62","fields":{"customfield_10161":{"id":"1","name":"TTR"}}}`)
		} else {
			issues = append(issues, string(b.issuePayload()))
		}
		break
	}
	var errs []string
	for _, id := range b.issueErrors {
		errs = append(errs, fmt.Sprintf(`{"id":%q,"errorMessage":"The issue could not be retrieved in time."}`, id))
	}
	fmt.Fprintf(w, `{"expand":"schema,names","issues":[%s],"issueErrors":[%s]}`, strings.Join(issues, ","), strings.Join(errs, ","))
}

// TestFetchIssues: a bulk fetch of many issues, each completed into the
// bundle FetchIssue would make; issues Jira lists in issueErrors or leaves
// out are reported apart, and a failed SLA bulk call leaves the issues with
// their SLA unknown, not failed.
func TestFetchIssues(t *testing.T) {
	tests := []struct {
		name       string
		asked      []string
		errs       []string
		slaStatus  int
		bulkStatus int
		wantIssues []string
		wantFailed []string
		wantSLA    jira.State
		wantErr    string
	}{
		{name: "by id, with an issue error and one left out", asked: []string{"10231", "10232", "10233"}, errs: []string{"10232"},
			wantIssues: []string{"10231"}, wantFailed: []string{"10232", "10233"}, wantSLA: jira.StateComplete},
		{name: "by key, and again by id", asked: []string{"JAVA-62", "10231"}, wantIssues: []string{"JAVA-62"}, wantFailed: []string{"10231"},
			wantSLA: jira.StateComplete},
		{name: "sla bulk call fails", asked: []string{"JAVA-62"}, slaStatus: http.StatusForbidden,
			wantIssues: []string{"JAVA-62"}, wantSLA: jira.StateUnknown},
		{name: "bulk call fails", asked: []string{"JAVA-62"}, bulkStatus: http.StatusBadRequest, wantErr: "bulk fetch of 1 issues: status 400"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bj := &bulkJira{fakeJira: newFakeJira(t, 150, 120), issueErrors: tt.errs, slaStatus: tt.slaStatus, bulkStatus: tt.bulkStatus}
			srv := httptest.NewServer(bj)
			defer srv.Close()
			c := newTestClient(t, srv.URL, func(o *Options) {
				o.SLAEmail, o.SLAAPIToken, o.CloudAPIURL, o.CloudID, o.MaxAttempts = testEmail, testToken, srv.URL, "abc-123", 1
			})
			got, err := c.FetchIssues(context.Background(), tt.asked, FetchOptions{SLAFieldIDs: []string{"customfield_10161"}})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var issues, failed []string
			for _, bi := range got.Issues {
				issues = append(issues, bi.Asked)
			}
			for _, k := range tt.asked {
				if got.Failed[k] != "" {
					failed = append(failed, k)
				}
			}
			if diff := cmp.Diff(tt.wantIssues, issues); diff != "" {
				t.Errorf("issues (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantFailed, failed); diff != "" {
				t.Errorf("failed (-want +got):\n%s\n%v", diff, got.Failed)
			}
			if len(bj.bodies) != 1 || !cmp.Equal(bj.bodies[0].Fields, []string{"*all"}) || !cmp.Equal(bj.bodies[0].Expand, []string{"changelog"}) {
				t.Errorf("bulk requests: got %+v, want one with every field and the changelog", bj.bodies)
			}
			b, err := c.CompleteIssue(context.Background(), got.Issues[0])
			if err != nil {
				t.Fatal(err)
			}
			want := jira.BundleState{Comments: jira.StateComplete, Changelog: jira.StateComplete, RemoteLinks: jira.StateComplete, SLA: tt.wantSLA, Worklogs: jira.StateComplete}
			if diff := cmp.Diff(want, b.State); diff != "" {
				t.Errorf("state (-want +got):\n%s\nerrors %+v", diff, b.Errors)
			}
			if len(b.Comments) != 150 || len(b.Histories) != 120 || len(b.RemoteLinks) != 2 {
				t.Errorf("got %d comments, %d histories, %d remote links; want 150, 120, 2", len(b.Comments), len(b.Histories), len(b.RemoteLinks))
			}
			issue, _, _, _, err := b.Decode()
			if err != nil {
				t.Fatal(err)
			}
			overlaid := strings.Contains(string(issue.Fields.Raw["customfield_10161"]), "TTR")
			if overlaid != (tt.wantSLA == jira.StateComplete) {
				t.Errorf("sla overlay applied: got %v, want %v (%s)", overlaid, tt.wantSLA == jira.StateComplete, issue.Fields.Raw["customfield_10161"])
			}
			for _, r := range bj.seen() {
				if r == "/rest/api/3/issue/JAVA-62" || r == "/rest/api/3/issue/10231" {
					t.Errorf("GET issue %s after a bulk fetch", r)
				}
			}
		})
	}
}

// TestEmbeddedPageWithoutTotal: an embedded list without its total may be
// cut short, so the endpoint is paged.
func TestEmbeddedPageWithoutTotal(t *testing.T) {
	for _, tt := range []struct {
		name  string
		raw   string
		n     int
		known bool
	}{
		{"with total", `{"histories":[{"id":"1"}],"total":1}`, 1, true},
		{"without total", `{"histories":[{"id":"1"}]}`, 1, false},
		{"bad total", `{"histories":[{"id":"1"}],"total":"x"}`, 1, false},
		{"bare list", `[{"id":"1"},{"id":"2"}]`, 2, true},
		{"absent", `null`, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			list, _, known := embeddedList(json.RawMessage(tt.raw), "histories")
			if len(list) != tt.n || known != tt.known {
				t.Errorf("got %d items, known %v; want %d, %v", len(list), known, tt.n, tt.known)
			}
		})
	}
}
