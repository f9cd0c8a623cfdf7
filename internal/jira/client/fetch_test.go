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
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jiraduck/jiraduck/internal/jira"
)

var fakeEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func fakeComment(i int) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"id":"%d","author":{"accountId":"a1","displayName":"A"},"body":{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"comment %d"}]}]},"created":%q,"updated":%q,"jsdPublic":true}`,
		20000+i, i, jira.FormatTime(fakeEpoch.Add(time.Duration(i)*time.Minute)), jira.FormatTime(fakeEpoch.Add(time.Duration(i)*time.Minute))))
}

func fakeHistory(i int) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"id":"%d","author":{"accountId":"a1"},"created":%q,"items":[{"field":"status","fieldtype":"jira","fieldId":"status","from":"1","fromString":"To Do","to":"3","toString":"In Progress"}]}`,
		30000+i, jira.FormatTime(fakeEpoch.Add(time.Duration(i)*time.Minute))))
}

func joinRaw(items []json.RawMessage) string {
	parts := make([]string, len(items))
	for i, it := range items {
		parts[i] = string(it)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// fakeJira serves one issue, JAVA-62 (id 10231), with as many comments and
// histories as asked, the way Jira Cloud embeds and pages them.
type fakeJira struct {
	t           *testing.T
	comments    []json.RawMessage
	histories   []json.RawMessage
	commentsTot int // total the comment endpoint reports; len(comments) when 0
	// ignoreStartAt makes the comment endpoint serve its first page always.
	ignoreStartAt bool
	// fail returns a status to answer with instead, or 0.
	fail func(r *http.Request) int
	// base is the captured issue the payloads are built on, read in the test
	// goroutine so that a missing fixture skips the test instead of failing a
	// handler.
	base json.RawMessage

	mu       sync.Mutex
	requests []string
	users    map[string]string // path prefix -> basic-auth user seen
}

func newFakeJira(t *testing.T, comments, histories int) *fakeJira {
	f := &fakeJira{t: t, users: map[string]string{}, base: fixture(t, "rest/issue/get_issue_v3_default_fields__mtroja98_real.json")}
	for i := range comments {
		f.comments = append(f.comments, fakeComment(i))
	}
	for i := range histories {
		f.histories = append(f.histories, fakeHistory(i))
	}
	return f
}

func (f *fakeJira) record(r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := r.URL.Query()
	entry := r.URL.Path
	if s := q.Get("startAt"); s != "" {
		entry += "@" + s
	}
	f.requests = append(f.requests, entry)
	user, _, _ := r.BasicAuth()
	f.users[r.URL.Path] = user
}

func (f *fakeJira) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

// issuePayload embeds the newest 100 comments and histories.
func (f *fakeJira) issuePayload() []byte {
	var base map[string]json.RawMessage
	if err := json.Unmarshal(f.base, &base); err != nil {
		f.t.Fatal(err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(base["fields"], &fields); err != nil {
		f.t.Fatal(err)
	}
	cStart := max(0, len(f.comments)-100)
	fields["comment"] = json.RawMessage(fmt.Sprintf(`{"comments":%s,"self":"x","maxResults":100,"total":%d,"startAt":%d}`,
		joinRaw(f.comments[cStart:]), len(f.comments), cStart))
	fields["customfield_10161"] = json.RawMessage(`{"errorMessage":"not an agent"}`)
	fields["customfield_10328"] = json.RawMessage(`{"errorMessage":"not an agent"}`)
	fields["customfield_10500"] = json.RawMessage(`"Test & <ticket>"`)
	hStart := max(0, len(f.histories)-100)
	base["changelog"] = json.RawMessage(fmt.Sprintf(`{"startAt":%d,"maxResults":100,"total":%d,"histories":%s}`,
		hStart, len(f.histories), joinRaw(f.histories[hStart:])))
	base["renderedFields"] = json.RawMessage(`{"description":"<p>Test &amp; ticket</p>"}`)
	fb, _ := marshalNoEscape(fields)
	base["fields"] = fb
	b, _ := marshalNoEscape(base)
	return b
}

func (f *fakeJira) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.record(r)
	if f.fail != nil {
		if status := f.fail(r); status != 0 {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"errorMessages":["injected failure"]}`))
			return
		}
	}
	if user, pass, ok := r.BasicAuth(); r.URL.Path != "/_edge/tenant_info" && (!ok || user != testEmail || pass != testToken) {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	q := r.URL.Query()
	startAt, _ := strconv.Atoi(q.Get("startAt"))
	maxResults, _ := strconv.Atoi(q.Get("maxResults"))
	maxResults = min(maxResults, 100)
	switch r.URL.Path {
	case "/_edge/tenant_info":
		_, _ = w.Write([]byte(`{"cloudId":"abc-123"}`))
	case "/rest/api/3/issue/JAVA-62", "/rest/api/3/issue/10231":
		_, _ = w.Write(f.issuePayload())
	case "/rest/api/3/issue/JAVA-62/comment":
		if q.Get("orderBy") != "created" {
			f.t.Errorf("comments ordered by %q", q.Get("orderBy"))
		}
		if f.ignoreStartAt {
			startAt = 0
		}
		end := min(len(f.comments), startAt+maxResults)
		page := f.comments[min(startAt, end):end]
		total := len(f.comments)
		if f.commentsTot != 0 {
			total = f.commentsTot
		}
		fmt.Fprintf(w, `{"startAt":%d,"maxResults":%d,"total":%d,"comments":%s}`, startAt, maxResults, total, joinRaw(page))
	case "/rest/api/3/issue/JAVA-62/changelog":
		end := min(len(f.histories), startAt+maxResults)
		page := f.histories[min(startAt, end):end]
		fmt.Fprintf(w, `{"startAt":%d,"maxResults":%d,"total":%d,"isLast":%v,"values":%s}`,
			startAt, maxResults, len(f.histories), end >= len(f.histories), joinRaw(page))
	case "/rest/api/3/issue/JAVA-62/remotelink", "/rest/api/3/issue/10231/remotelink":
		_, _ = w.Write(fixture(f.t, "rest/remotelink/get_issue_remotelinks__openapi_example.json"))
	default:
		http.NotFound(w, r)
	}
}

func ids(t *testing.T, raws []json.RawMessage) []int {
	t.Helper()
	out := make([]int, len(raws))
	for i, raw := range raws {
		var v struct {
			ID jira.ID `json:"id"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		out[i], _ = strconv.Atoi(string(v.ID))
	}
	return out
}

func seq(from, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = from + i
	}
	return out
}

func TestFetchIssuePagesEverything(t *testing.T) {
	fj := newFakeJira(t, 150, 120)
	srv := httptest.NewServer(fj)
	defer srv.Close()
	c := newTestClient(t, srv.URL, func(o *Options) { o.Now = func() time.Time { return fakeEpoch } })

	b, err := c.FetchIssue(context.Background(), "10231", FetchOptions{SLAFieldIDs: []string{"customfield_10161"}})
	if err != nil {
		t.Fatal(err)
	}
	want := jira.BundleState{Comments: jira.StateComplete, Changelog: jira.StateComplete, RemoteLinks: jira.StateComplete, SLA: jira.StateComplete,
		Worklogs: jira.StateComplete}
	if diff := cmp.Diff(want, b.State); diff != "" {
		t.Errorf("state (-want +got):\n%s\nerrors: %+v", diff, b.Errors)
	}
	if !b.Complete() || b.Errors != (jira.BundleErrors{}) {
		t.Errorf("complete: got %v, errors %+v", b.Complete(), b.Errors)
	}
	if diff := cmp.Diff(seq(20000, 150), ids(t, b.Comments)); diff != "" {
		t.Errorf("comment ids, oldest first, no duplicates (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(seq(30000, 120), ids(t, b.Histories)); diff != "" {
		t.Errorf("history ids (-want +got):\n%s", diff)
	}
	if len(b.RemoteLinks) != 2 || !b.FetchedAt.Equal(fakeEpoch) {
		t.Errorf("got %d remote links, fetched at %v", len(b.RemoteLinks), b.FetchedAt)
	}
	// Paged from the start, by the key the issue answered with.
	seen := fj.seen()
	for _, want := range []string{"/rest/api/3/issue/JAVA-62/comment@0", "/rest/api/3/issue/JAVA-62/comment@100",
		"/rest/api/3/issue/JAVA-62/changelog@0", "/rest/api/3/issue/JAVA-62/changelog@100"} {
		if !containsString(seen, want) {
			t.Errorf("requests %v lack %s", seen, want)
		}
	}
	if containsString(seen, "/_edge/tenant_info") {
		t.Error("the cloud id was looked up without an sla account")
	}

	// The bundle survives storage and decodes without Jira.
	stored, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	var back jira.Bundle
	if err := json.Unmarshal(stored, &back); err != nil {
		t.Fatal(err)
	}
	issue, comments, histories, links, err := back.Decode()
	if err != nil {
		t.Fatal(err)
	}
	if issue.Key != "JAVA-62" || len(comments) != 150 || len(histories) != 120 || len(links) != 2 {
		t.Errorf("decoded %s with %d comments, %d histories, %d links", issue.Key, len(comments), len(histories), len(links))
	}
	if comments[0].Created.After(comments[149].Created.Time) || histories[0].Items[0].Field != "status" {
		t.Error("decoded collections are out of order")
	}
	if !strings.Contains(string(stored), `"state":{"comments":"complete","changelog":"complete","remote_links":"complete","sla":"complete","worklogs":"complete"}`) {
		t.Errorf("stored state: %s", stored[len(stored)-200:])
	}
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestFetchIssueEmbeddedIsEnough(t *testing.T) {
	fj := newFakeJira(t, 2, 3)
	srv := httptest.NewServer(fj)
	defer srv.Close()
	c := newTestClient(t, srv.URL, nil)
	b, err := c.FetchIssue(context.Background(), "JAVA-62", FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !b.Complete() || len(b.Comments) != 2 || len(b.Histories) != 3 {
		t.Errorf("got state %+v, %d comments, %d histories", b.State, len(b.Comments), len(b.Histories))
	}
	for _, r := range fj.seen() {
		if strings.Contains(r, "/comment") || strings.Contains(r, "/changelog") {
			t.Errorf("paged %s although the issue embedded everything", r)
		}
	}
}

func TestFetchIssueEmbeddedUnsorted(t *testing.T) {
	// Histories embedded newest first come back oldest first.
	fj := newFakeJira(t, 0, 0)
	fj.histories = []json.RawMessage{fakeHistory(2), fakeHistory(0), fakeHistory(1)}
	srv := httptest.NewServer(fj)
	defer srv.Close()
	c := newTestClient(t, srv.URL, nil)
	b, err := c.FetchIssue(context.Background(), "JAVA-62", FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(seq(30000, 3), ids(t, b.Histories)); diff != "" {
		t.Errorf("history ids (-want +got):\n%s", diff)
	}
	if b.Comments == nil || len(b.Comments) != 0 || b.State.Comments != jira.StateComplete {
		t.Errorf("no comments: got %v (%s)", b.Comments, b.State.Comments)
	}
}

func TestFetchIssueFailures(t *testing.T) {
	tests := []struct {
		name     string
		fail     func(r *http.Request) int
		total    int
		check    func(t *testing.T, b *jira.Bundle)
		wantErr  error
		ignore   bool
		comments int
	}{
		{
			name:     "comment endpoint ignores startAt",
			ignore:   true,
			comments: 250,
			check: func(t *testing.T, b *jira.Bundle) {
				if b.State.Comments != jira.StatePartial || !strings.Contains(b.Errors.Comments, "the page at 100 repeats earlier items") {
					t.Errorf("got %s: %s", b.State.Comments, b.Errors.Comments)
				}
			},
		},
		{
			name: "first comment page fails",
			fail: func(r *http.Request) int {
				if strings.HasSuffix(r.URL.Path, "/comment") {
					return 500
				}
				return 0
			},
			check: func(t *testing.T, b *jira.Bundle) {
				if b.State.Comments != jira.StateUnknown || !strings.Contains(b.Errors.Comments, "status 500: injected failure") {
					t.Errorf("got %s: %s", b.State.Comments, b.Errors.Comments)
				}
				if diff := cmp.Diff(seq(20050, 100), ids(t, b.Comments)); diff != "" {
					t.Errorf("the embedded comments are kept (-want +got):\n%s", diff)
				}
				if b.State.Changelog != jira.StateComplete || b.State.RemoteLinks != jira.StateComplete {
					t.Errorf("other collections: %+v", b.State)
				}
			},
		},
		{
			name: "second comment page fails",
			fail: func(r *http.Request) int {
				if strings.HasSuffix(r.URL.Path, "/comment") && r.URL.Query().Get("startAt") != "0" {
					return 503
				}
				return 0
			},
			check: func(t *testing.T, b *jira.Bundle) {
				if b.State.Comments != jira.StatePartial || !strings.Contains(b.Errors.Comments, "get comments of JAVA-62 at 100: status 503") {
					t.Errorf("got %s: %s", b.State.Comments, b.Errors.Comments)
				}
				if got := len(b.Comments); got != 150 {
					t.Errorf("got %d comments, want the first page and the embedded ones", got)
				}
			},
		},
		{
			name: "changelog fails",
			fail: func(r *http.Request) int {
				if strings.HasSuffix(r.URL.Path, "/changelog") {
					return 403
				}
				return 0
			},
			check: func(t *testing.T, b *jira.Bundle) {
				if b.State.Changelog != jira.StateUnknown || len(b.Histories) != 100 || b.State.Comments != jira.StateComplete {
					t.Errorf("got %+v with %d histories", b.State, len(b.Histories))
				}
			},
		},
		{
			name: "remote links fail",
			fail: func(r *http.Request) int {
				if strings.HasSuffix(r.URL.Path, "/remotelink") {
					return 500
				}
				return 0
			},
			check: func(t *testing.T, b *jira.Bundle) {
				if b.State.RemoteLinks != jira.StateUnknown || b.RemoteLinks != nil || !strings.Contains(b.Errors.RemoteLinks, "get remote links of JAVA-62") {
					t.Errorf("got %s %v: %s", b.State.RemoteLinks, b.RemoteLinks, b.Errors.RemoteLinks)
				}
				if b.Complete() {
					t.Error("Complete: got true")
				}
			},
		},
		{
			name:  "fewer comments than the total",
			total: 160,
			check: func(t *testing.T, b *jira.Bundle) {
				if b.State.Comments != jira.StatePartial || b.Errors.Comments != "got 150 comments of 160" {
					t.Errorf("got %s: %s", b.State.Comments, b.Errors.Comments)
				}
			},
		},
		{
			name: "issue fails",
			fail: func(r *http.Request) int {
				if r.URL.Path == "/rest/api/3/issue/JAVA-62" {
					return 404
				}
				return 0
			},
			wantErr: jira.ErrNotFound,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			comments := tt.comments
			if comments == 0 {
				comments = 150
			}
			fj := newFakeJira(t, comments, 120)
			fj.fail, fj.commentsTot, fj.ignoreStartAt = tt.fail, tt.total, tt.ignore
			srv := httptest.NewServer(fj)
			defer srv.Close()
			c := newTestClient(t, srv.URL, func(o *Options) { o.MaxAttempts = 2 })
			b, err := c.FetchIssue(context.Background(), "JAVA-62", FetchOptions{})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || b != nil {
					t.Fatalf("got %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("FetchIssue failed: %v", err)
			}
			tt.check(t, b)
		})
	}
}

// fakeGateway plays api.atlassian.com for the SLA account.
type fakeGateway struct {
	t        *testing.T
	fields   map[string]json.RawMessage
	fail     bool
	mu       sync.Mutex
	requests int
}

func (g *fakeGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	g.requests++
	g.mu.Unlock()
	user, pass, ok := r.BasicAuth()
	if !ok || user != testSLAEmail || pass != testSLAToken {
		g.t.Errorf("gateway got user %q", user)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if g.fail {
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"errorMessages":["You do not have permission"]}`))
		return
	}
	switch r.URL.Path {
	case "/ex/jira/abc-123/rest/api/3/issue/JAVA-62":
		asked := strings.Split(r.URL.Query().Get("fields"), ",")
		out := map[string]json.RawMessage{}
		for _, id := range asked {
			if v, ok := g.fields[id]; ok {
				out[id] = v
			}
		}
		b, _ := json.Marshal(map[string]any{"id": "10231", "key": "JAVA-62", "fields": out})
		_, _ = w.Write(b)
	case "/ex/jira/abc-123/rest/api/3/issue/bulkfetch":
		var req jira.BulkFetchRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		b, _ := json.Marshal(map[string]any{"issues": []any{map[string]any{"id": "10231", "key": "JAVA-62", "fields": g.fields}}})
		_, _ = w.Write(b)
	default:
		http.NotFound(w, r)
	}
}

func TestFetchIssueSLAOverlay(t *testing.T) {
	ongoing := fixture(t, "jsm/sla_custom_field_ongoing_cycle__seculayer_cloud_real.json")
	fj := newFakeJira(t, 3, 3)
	srv := httptest.NewServer(fj)
	defer srv.Close()
	gw := &fakeGateway{t: t, fields: map[string]json.RawMessage{"customfield_10161": ongoing, "customfield_10328": json.RawMessage("null")}}
	gsrv := httptest.NewServer(gw)
	defer gsrv.Close()
	c := newTestClient(t, srv.URL, func(o *Options) {
		o.SLAEmail, o.SLAAPIToken, o.CloudAPIURL = testSLAEmail, testSLAToken, gsrv.URL
	})
	opts := FetchOptions{SLAFieldIDs: []string{"customfield_10161", "customfield_10328"}}

	for range 2 {
		b, err := c.FetchIssue(context.Background(), "JAVA-62", opts)
		if err != nil {
			t.Fatal(err)
		}
		if b.State.SLA != jira.StateComplete {
			t.Fatalf("sla state %s: %s", b.State.SLA, b.Errors.SLA)
		}
		issue, _, _, _, err := b.Decode()
		if err != nil {
			t.Fatal(err)
		}
		v, err := jira.DecodeSLA(issue.Fields.Raw["customfield_10161"])
		if err != nil || v == nil || v.OngoingCycle == nil || v.Name != "연구소 대기 SLA" {
			t.Errorf("overlaid customfield_10161: got %+v, %v", v, err)
		}
		if got := string(issue.Fields.Raw["customfield_10328"]); got != "null" {
			t.Errorf("customfield_10328: got %s, want the gateway's null", got)
		}
		if issue.Key != "JAVA-62" || issue.Fields.Summary != "Create ticket with Slack and GPT" {
			t.Errorf("the rest of the issue changed: %s %q", issue.Key, issue.Fields.Summary)
		}
		if !strings.Contains(string(b.Issue), `"Test & <ticket>"`) {
			t.Error("text with HTML characters was escaped by the overlay")
		}
		if strings.Contains(string(b.Issue), `"renderedFields":`) {
			t.Error("the bundle keeps rendered fields")
		}
	}
	if n := strings.Count(strings.Join(fj.seen(), " "), "/_edge/tenant_info"); n != 1 {
		t.Errorf("tenant info looked up %d times, want once", n)
	}
	for path, user := range fj.users {
		if user == testSLAEmail {
			t.Errorf("the site got the sla account on %s", path)
		}
	}

	t.Run("missing field", func(t *testing.T) {
		b, err := c.FetchIssue(context.Background(), "JAVA-62", FetchOptions{SLAFieldIDs: []string{"customfield_10161", "customfield_99999"}})
		if err != nil {
			t.Fatal(err)
		}
		if b.State.SLA != jira.StatePartial || !strings.Contains(b.Errors.SLA, "customfield_99999") {
			t.Errorf("got %s: %s", b.State.SLA, b.Errors.SLA)
		}
	})
	t.Run("gateway refuses", func(t *testing.T) {
		gw.fail = true
		defer func() { gw.fail = false }()
		b, err := c.FetchIssue(context.Background(), "JAVA-62", opts)
		if err != nil {
			t.Fatal(err)
		}
		if b.State.SLA != jira.StateUnknown || !strings.Contains(b.Errors.SLA, "status 403") {
			t.Errorf("got %s: %s", b.State.SLA, b.Errors.SLA)
		}
		var top struct {
			Fields map[string]json.RawMessage `json:"fields"`
		}
		_ = json.Unmarshal(b.Issue, &top)
		if !strings.Contains(string(top.Fields["customfield_10161"]), "not an agent") {
			t.Errorf("payload changed without an overlay: %s", top.Fields["customfield_10161"])
		}
	})
	t.Run("bulk", func(t *testing.T) {
		res, err := c.BulkFetchSLA(context.Background(), []string{"JAVA-62"}, opts.SLAFieldIDs)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Issues) != 1 || res.Issues[0].Fields.Raw["customfield_10161"] == nil {
			t.Errorf("got %+v", res)
		}
	})
}

func TestSLAFieldsWithoutSLAAccount(t *testing.T) {
	fj := newFakeJira(t, 0, 0)
	srv := httptest.NewServer(fj)
	defer srv.Close()
	c := newTestClient(t, srv.URL, nil)
	vals, err := c.SLAFields(context.Background(), "JAVA-62", []string{"customfield_10161"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(vals["customfield_10161"]), "not an agent") {
		t.Errorf("got %s", vals["customfield_10161"])
	}
	if fj.users["/rest/api/3/issue/JAVA-62"] != testEmail {
		t.Errorf("sent as %q", fj.users["/rest/api/3/issue/JAVA-62"])
	}
}
