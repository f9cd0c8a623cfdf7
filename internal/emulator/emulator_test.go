package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// serve runs one request against the handler directly, with a fixed host, so
// that two emulators can be compared byte for byte.
func serve(t *testing.T, h http.Handler, method, path, body string) []byte {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, "http://jira.example.test"+path, rd)
	req.SetBasicAuth(testEmail, testToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Body.Bytes()
}

func TestSameSeedSameBytes(t *testing.T) {
	now := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	mk := func(seed int64) *Emulator {
		e, err := New(Options{Issues: 400, Seed: seed, Now: now, Clock: frozen(now), Email: testEmail, APIToken: testToken})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		return e
	}
	a, b, other := mk(7), mk(7), mk(8)
	if a.CloudID() != b.CloudID() {
		t.Errorf("cloud ids differ: %s and %s", a.CloudID(), b.CloudID())
	}
	withRemote := findIssue(t, a, func(is *Issue) bool { return len(is.RemoteLinks) > 0 })
	requests := []struct{ method, path, body string }{
		{"GET", "/rest/api/3/issue/SUP-1?fields=*all&expand=renderedFields,changelog,names,schema", ""},
		{"GET", "/rest/api/3/issue/OPS-3", ""},
		{"GET", "/rest/api/3/issue/SUP-1/comment?startAt=0&maxResults=100", ""},
		{"GET", "/rest/api/3/issue/10002/changelog?startAt=100", ""},
		{"GET", "/rest/api/3/issue/" + withRemote + "/remotelink", ""},
		{"GET", "/rest/api/3/field", ""},
		{"POST", "/rest/api/3/search/jql", `{"jql":"project = SUP ORDER BY created ASC","fields":["*all"],"maxResults":20}`},
		{"POST", "/rest/api/3/search/jql", `{"jql":"ORDER BY updated DESC","maxResults":300}`},
		{"POST", "/rest/api/3/issue/bulkfetch", `{"issueIdsOrKeys":["SUP-2","OPS-2","10020"],"fields":["*all"]}`},
		{"GET", "/_edge/tenant_info", ""},
	}
	for _, r := range requests {
		x := serve(t, a.Handler(), r.method, r.path, r.body)
		y := serve(t, b.Handler(), r.method, r.path, r.body)
		if !bytes.Equal(x, y) {
			t.Errorf("%s %s: answers differ for the same seed", r.method, r.path)
		}
		if len(x) < 20 {
			t.Errorf("%s %s: answer too short: %s", r.method, r.path, x)
		}
	}
	if bytes.Equal(serve(t, a.Handler(), "GET", "/rest/api/3/issue/SUP-1", ""), serve(t, other.Handler(), "GET", "/rest/api/3/issue/SUP-1", "")) {
		t.Error("seeds 7 and 8 gave the same issue")
	}
}

// TestServesEveryEndpoint starts a site like `jiraduck emulator --issues 1000
// --months 24 --seed 7` on a loopback port and calls every endpoint.
func TestServesEveryEndpoint(t *testing.T) {
	e, err := New(Options{Issues: 1000, Months: 24, Seed: 7, Email: testEmail, APIToken: testToken, SLAEmail: testSLAEmail, SLAAPIToken: testSLAToken})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	url, err := e.Start(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(url, "http://127.0.0.1:") || e.URL() != url {
		t.Fatalf("got url %q", url)
	}
	c := &client{t: t, base: url, user: testEmail, token: testToken}
	att := findIssue(t, e, func(is *Issue) bool { return len(is.Attachments) > 0 && is.Attachments[0].Size < 1<<20 })
	is, _ := e.Issue(att)
	a := is.Attachments[0]
	gw := "/ex/jira/" + e.CloudID()
	cases := []struct {
		method, path string
		body         any
		want         int
	}{
		{"GET", "/rest/api/3/issue/SUP-1", nil, 200},
		{"GET", "/rest/api/3/issue/SUP-1/comment", nil, 200},
		{"GET", "/rest/api/3/issue/SUP-2/changelog", nil, 200},
		{"GET", "/rest/api/3/issue/SUP-2/remotelink", nil, 200},
		{"GET", "/rest/api/3/field", nil, 200},
		{"GET", "/rest/api/3/myself", nil, 200},
		{"POST", "/rest/api/3/search/jql", map[string]any{"jql": "project = OPS"}, 200},
		{"GET", "/rest/api/3/search/jql?jql=project%3DSUP&maxResults=5", nil, 200},
		{"POST", "/rest/api/3/search", map[string]any{"jql": ""}, 410},
		{"GET", "/rest/api/3/search?jql=", nil, 410},
		{"POST", "/rest/api/3/issue/bulkfetch", map[string]any{"issueIdsOrKeys": []string{"SUP-1"}}, 200},
		{"GET", "/rest/api/3/attachment/" + a.ID, nil, 200},
		{"GET", "/rest/api/3/attachment/content/" + a.ID, nil, 303},
		{"GET", gw + "/rest/api/3/issue/SUP-1", nil, 200},
		{"GET", "/_edge/tenant_info", nil, 200},
		{"GET", "/_emulator/stats", nil, 200},
		{"GET", "/rest/api/3/nothing-here", nil, 404},
	}
	for _, tc := range cases {
		resp, body := c.do(tc.method, tc.path, tc.body)
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s: got %d, want %d: %.200s", tc.method, tc.path, resp.StatusCode, tc.want, body)
		}
		if tc.want < 300 && !json.Valid(body) {
			t.Errorf("%s %s: answer is not JSON: %.200s", tc.method, tc.path, body)
		}
	}
	st := e.Stats()
	for _, ep := range []string{EndpointIssue, EndpointComment, EndpointChangelog, EndpointRemoteLink, EndpointField, EndpointSearch, EndpointBulkFetch, EndpointAttachment, EndpointTenantInfo} {
		if st.Calls[ep] == 0 {
			t.Errorf("stats: no %s calls counted", ep)
		}
	}
	if st.IssueFetches["SUP-1"] != 3 {
		t.Errorf("stats: SUP-1 fetched %d times, want 3 (site, gateway, bulk)", st.IssueFetches["SUP-1"])
	}
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := http.Get(url + "/_edge/tenant_info"); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("server still answers after its context ended")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestOptionsRejected(t *testing.T) {
	cases := map[string]Options{
		"negative issues":  {Issues: -1},
		"bad project":      {Projects: []string{"sup"}},
		"duplicate":        {Projects: []string{"SUP", "SUP"}},
		"half sla account": {SLAEmail: "x@example.com"},
		"rate above one":   {Faults: Faults{ErrorRate: 1.5}},
	}
	for name, o := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := New(o); err == nil {
				t.Error("got no error")
			}
		})
	}
}

// TestLargeSiteStartsQuickly generates a large site in one piece. At the
// benchmark's 100,000 issues only with JIRADUCK_TEST_LONG set: the code is
// the same at 20,000, and under the race detector the larger site takes the
// CPU of a dozen other tests.
func TestLargeSiteStartsQuickly(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a large site")
	}
	issues := 20000
	if os.Getenv("JIRADUCK_TEST_LONG") != "" {
		issues = 100000
	}
	start := time.Now()
	e, err := New(Options{Issues: issues, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if n := len(e.Keys()); n != issues {
		t.Fatalf("got %d issues, want %d", n, issues)
	}
	t.Logf("%d issues generated in %s", issues, time.Since(start))
}

func TestEmptySite(t *testing.T) {
	e, c := newEmu(t, Options{IDBase: 20000})
	if len(e.Keys()) != 0 {
		t.Fatalf("got %d issues, want none", len(e.Keys()))
	}
	page := decodeAs[map[string]any](t, c.post("/rest/api/3/search/jql", map[string]any{"jql": ""}, http.StatusOK))
	if len(page["issues"].([]any)) != 0 || page["isLast"] != true {
		t.Errorf("empty search: %v", page)
	}
	is, err := e.Create("OPS", func(is *Issue) { is.Summary = "First" })
	if err != nil || is.Key != "OPS-1" || is.ID != "20000" {
		t.Fatalf("create: %+v %v", is, err)
	}
	c.get("/rest/api/3/issue/OPS-1", http.StatusOK)
	c.get("/rest/api/3/issue/20000", http.StatusOK)
	if _, err := e.As("nobody").Create("OPS", nil); err == nil {
		t.Error("an unknown account created an issue")
	}
}

// status turns an answer other than 200 into an error, for goroutines that
// may not fail the test themselves.
func status(resp *http.Response, err error) error {
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: status %d", resp.Request.URL.Path, resp.StatusCode)
	}
	return nil
}

// TestConcurrentUse reads and changes the site from many goroutines at once;
// run with -race it checks the locking.
func TestConcurrentUse(t *testing.T) {
	// No credentials, so that plain http.Get works from the goroutines.
	sink := newHookSink(t)
	e, err := New(Options{Issues: 200, Seed: 3, WebhookURL: sink.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e.Handler())
	t.Cleanup(func() { srv.Close(); e.Close() })
	c := &client{t: t, base: srv.URL}
	keys := e.Keys()
	done := make(chan error)
	work := []func(i int) error{
		func(i int) error {
			return status(http.Get(c.base + "/rest/api/3/issue/" + keys[i%len(keys)] + "?expand=renderedFields,changelog"))
		},
		func(i int) error {
			return status(http.Post(c.base+"/rest/api/3/search/jql", "application/json",
				strings.NewReader(`{"jql":"ORDER BY updated DESC","fields":["key","updated"]}`)))
		},
		func(i int) error {
			return e.Update(keys[i%7], func(is *Issue) { is.Summary = "edit " + strconv.Itoa(i) })
		},
		func(i int) error {
			_, err := e.AddComment(keys[i%5], Comment{Body: Text("concurrent")})
			return err
		},
		func(i int) error {
			_, err := e.Storm(context.Background(), StormOptions{Events: 3, Issues: 3})
			return err
		},
		func(i int) error {
			_, err := e.Create("SUP", nil)
			return err
		},
		func(i int) error {
			_ = e.Stats()
			_, err := e.State(keys[i%3])
			return err
		},
	}
	for g, fn := range work {
		go func() {
			for i := range 15 {
				if err := fn(i + g); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range work {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	wait(t, e)
}
