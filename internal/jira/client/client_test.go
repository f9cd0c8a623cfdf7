package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jiraduck/jiraduck/internal/jira"
	"github.com/sirupsen/logrus"
)

func TestNewValidates(t *testing.T) {
	good := Options{BaseURL: "https://x.atlassian.net", Email: "a@b.c", APIToken: testToken}
	tests := []struct {
		name string
		mod  func(*Options)
		want string
	}{
		{"no base url", func(o *Options) { o.BaseURL = "" }, "base url is required"},
		{"relative base url", func(o *Options) { o.BaseURL = "x.atlassian.net" }, "http or https"},
		{"ftp base url", func(o *Options) { o.BaseURL = "ftp://x.atlassian.net" }, "http or https"},
		{"credentials in url", func(o *Options) { o.BaseURL = "https://u:p@x.atlassian.net" }, "must not carry credentials"},
		{"query in url", func(o *Options) { o.BaseURL = "https://x.atlassian.net/?a=1" }, "query"},
		{"no token", func(o *Options) { o.APIToken = "" }, "email and api token"},
		{"half sla pair", func(o *Options) { o.SLAEmail = "s@b.c" }, "sla email and sla api token"},
		{"bad cloud id", func(o *Options) { o.CloudID = "../x" }, "cloud id"},
		{"bad gateway", func(o *Options) { o.CloudAPIURL = "api.atlassian.com" }, "cloud api url"},
		{"negative timeout", func(o *Options) { o.Timeout = -1 }, "timeout must not be negative"},
		{"negative attempts", func(o *Options) { o.MaxAttempts = -1 }, "max attempts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := good
			tt.mod(&o)
			_, err := New(o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error about %q", err, tt.want)
			}
			if strings.Contains(err.Error(), o.APIToken) && o.APIToken != "" {
				t.Errorf("error shows the token: %v", err)
			}
		})
	}
	c, err := New(good)
	if err != nil {
		t.Fatal(err)
	}
	if c.maxAttempts != DefaultMaxAttempts || c.maxRetryWait != DefaultMaxRetryWait || c.gateway.String() != DefaultCloudAPIURL {
		t.Errorf("defaults not applied: %+v", c)
	}
	if s := fmt.Sprintf("%v %+v %s", c, c, c); strings.Contains(s, testToken) {
		t.Errorf("formatting the client shows the token: %s", s)
	}
}

func TestGetIssue(t *testing.T) {
	payload := fixture(t, "rest/issue/get_issue_v3_expand_renderedFields_names_transitions__xsoar_real_anonymised.json")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || user != testEmail || pass != testToken {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.URL.Path != "/rest/api/3/issue/COMPANYSA-35" {
			http.NotFound(w, r)
			return
		}
		if got := r.URL.Query().Get("fields"); got != "*all" {
			t.Errorf("fields: got %q", got)
		}
		if got := r.URL.Query().Get("expand"); got != "changelog" {
			t.Errorf("expand: got %q", got)
		}
		_, _ = w.Write(payload)
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, nil)
	issue, raw, err := c.GetIssue(context.Background(), "COMPANYSA-35")
	if err != nil {
		t.Fatal(err)
	}
	if issue.Key != "COMPANYSA-35" || string(raw) != string(payload) {
		t.Errorf("got key %s, raw of %d bytes", issue.Key, len(raw))
	}
	if _, _, err := c.GetIssue(context.Background(), "../../admin"); !errors.Is(err, jira.ErrInvalidKey) {
		t.Errorf("bad key: got %v", err)
	}
	if reqs, _, _ := c.observer.snapshot(); len(reqs) != 1 {
		t.Errorf("requests: got %d, want 1 (a bad key sends nothing)", len(reqs))
	}
}

// serveStatus answers every request with status and body, counting them.
func serveStatus(status int, body []byte, header map[string]string) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	return srv, &n
}

func TestErrorStatuses(t *testing.T) {
	tests := []struct {
		rel      string
		status   int
		kind     error
		attempts int32
		text     string
	}{
		{"errors/401_client_must_be_authenticated__real.json", 401, jira.ErrUnauthorized, 1, "get issue SUP-12: status 401: Client must be authenticated"},
		{"errors/401_user_is_not_logged_in__openapi_example.json", 401, jira.ErrUnauthorized, 1, "status 401: User is not logged in."},
		{"errors/403_no_access_operation__real.json", 403, jira.ErrForbidden, 1, "status 403: You currently"},
		{"errors/404_issue_does_not_exist_or_no_permission__openapi_example.json", 404, jira.ErrNotFound, 1, "get issue SUP-12: status 404: Issue does not exist"},
		{"errors/410_legacy_search_removed__real.json", 410, nil, 1, "status 410: The requested API has been removed"},
		{"errors/400_field_search__openapi_example.json", 400, nil, 1, "status 400: Only custom fields"},
		{"errors/429_rate_limited__real.json", 429, jira.ErrRateLimited, 3, "status 429: The request has been rate-limited"},
	}
	for _, tt := range tests {
		t.Run(tt.rel, func(t *testing.T) {
			srv, n := serveStatus(tt.status, fixture(t, tt.rel), nil)
			defer srv.Close()
			c := newTestClient(t, srv.URL, func(o *Options) { o.MaxAttempts = 3 })
			_, _, err := c.GetIssue(context.Background(), "SUP-12")
			if err == nil {
				t.Fatal("got no error")
			}
			var apiErr *jira.APIError
			if !errors.As(err, &apiErr) || apiErr.Status != tt.status || apiErr.Method != http.MethodGet || apiErr.Endpoint != EndpointIssue {
				t.Fatalf("got %#v", err)
			}
			if tt.kind != nil && !errors.Is(err, tt.kind) {
				t.Errorf("got %v, want it to be %v", err, tt.kind)
			}
			for _, other := range []error{jira.ErrNotFound, jira.ErrUnauthorized, jira.ErrForbidden, jira.ErrRateLimited, jira.ErrUnavailable} {
				if other != tt.kind && errors.Is(err, other) {
					t.Errorf("%v is also %v", err, other)
				}
			}
			if got := n.Load(); got != tt.attempts {
				t.Errorf("attempts: got %d, want %d", got, tt.attempts)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("got %q, want it to contain %q", err, tt.text)
			}
			if strings.Contains(err.Error(), testToken) || strings.Contains(err.Error(), "Basic ") {
				t.Errorf("error shows credentials: %q", err)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name   string
		status int
		header string
		want   time.Duration
	}{
		{"seconds", 429, "7", 7 * time.Second},
		{"http date", 429, now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second},
		{"date in the past", 429, now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"ten years capped", 429, "315360000", 60 * time.Second},
		{"far date capped", 503, now.AddDate(10, 0, 0).Format(http.TimeFormat), 60 * time.Second},
		{"503 with seconds", 503, "2", 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) == 1 {
					w.Header().Set("Retry-After", tt.header)
					w.WriteHeader(tt.status)
					return
				}
				_, _ = w.Write([]byte(`[]`))
			}))
			defer srv.Close()
			c := newTestClient(t, srv.URL, func(o *Options) { o.Now = func() time.Time { return now } })
			if _, err := c.RemoteLinks(context.Background(), "SUP-1"); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]time.Duration{tt.want}, c.sleeper.recorded()); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
			_, retries, throttles := c.observer.snapshot()
			wantReason := "429"
			if tt.status == 503 {
				wantReason = "5xx"
			}
			if diff := cmp.Diff([]string{wantReason}, retries); diff != "" {
				t.Errorf("retries (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]time.Duration{tt.want}, throttles); diff != "" {
				t.Errorf("throttles (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRateLimitedExhausted(t *testing.T) {
	srv, n := serveStatus(429, fixture(t, "errors/429_rate_limited__real.json"), map[string]string{"Retry-After": "3"})
	defer srv.Close()
	c := newTestClient(t, srv.URL, nil)
	_, err := c.Fields(context.Background())
	if !errors.Is(err, jira.ErrRateLimited) {
		t.Fatalf("got %v, want ErrRateLimited", err)
	}
	var apiErr *jira.APIError
	if !errors.As(err, &apiErr) || apiErr.RetryAfter != 3*time.Second {
		t.Errorf("retry after: got %#v", err)
	}
	if n.Load() != DefaultMaxAttempts || len(c.sleeper.recorded()) != DefaultMaxAttempts-1 {
		t.Errorf("got %d attempts, %d waits", n.Load(), len(c.sleeper.recorded()))
	}
	if !strings.HasPrefix(err.Error(), "get fields: status 429") {
		t.Errorf("error text: got %q", err)
	}
}

func TestRetriesThenSuccess(t *testing.T) {
	statuses := []int{503, 502, 500, 200}
	var n atomic.Int32
	body := fixture(t, "rest/field/get_fields__openapi_example.json")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := statuses[n.Add(1)-1]
		w.WriteHeader(s)
		if s == 200 {
			_, _ = w.Write(body)
		} else {
			_, _ = w.Write([]byte("<html>Oops</html>"))
		}
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, nil)
	fields, err := c.Fields(context.Background())
	if err != nil || len(fields) != 2 {
		t.Fatalf("got %d fields, %v", len(fields), err)
	}
	reqs, retries, throttles := c.observer.snapshot()
	if diff := cmp.Diff([]int{503, 502, 500, 200}, reqs); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"5xx", "5xx", "5xx"}, retries); diff != "" {
		t.Errorf("retries (-want +got):\n%s", diff)
	}
	if len(throttles) != 0 {
		t.Errorf("throttles: got %v, want none", throttles)
	}
	// Full jitter under an exponential ceiling.
	for i, w := range c.sleeper.recorded() {
		if ceiling := DefaultBaseBackoff << i; w < 0 || w > ceiling {
			t.Errorf("wait %d: got %v, want within [0, %v]", i, w, ceiling)
		}
	}
}

func TestBackoffCeiling(t *testing.T) {
	c := newTestClient(t, "http://127.0.0.1:1", func(o *Options) {
		o.BaseBackoff = time.Second
		o.MaxBackoff = 5 * time.Second
	})
	c.jitter = func(n int64) int64 { return n - 1 } // always the ceiling
	var got []time.Duration
	for attempt := 1; attempt <= 6; attempt++ {
		got = append(got, c.backoff(attempt))
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second, 5 * time.Second}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ceilings (-want +got):\n%s", diff)
	}
}

func TestUnavailableExhausted(t *testing.T) {
	srv, n := serveStatus(500, []byte(`{"errorMessages":["Internal server error"]}`), nil)
	defer srv.Close()
	c := newTestClient(t, srv.URL, func(o *Options) { o.MaxAttempts = 4 })
	_, err := c.Comments(context.Background(), "SUP-12", 0, 100)
	if !errors.Is(err, jira.ErrUnavailable) {
		t.Fatalf("got %v, want ErrUnavailable", err)
	}
	if n.Load() != 4 || len(c.sleeper.recorded()) != 3 {
		t.Errorf("got %d attempts, %d waits", n.Load(), len(c.sleeper.recorded()))
	}
	if want := "get comments of SUP-12 at 0: status 500: Internal server error"; err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
}

func TestNotFoundIsNotRetried(t *testing.T) {
	srv, n := serveStatus(404, fixture(t, "errors/404_issue_does_not_exist_or_no_permission__openapi_example.json"), nil)
	defer srv.Close()
	c := newTestClient(t, srv.URL, nil)
	_, err := c.Changelog(context.Background(), "10231", 0, 100)
	if !errors.Is(err, jira.ErrNotFound) || n.Load() != 1 || len(c.sleeper.recorded()) != 0 {
		t.Errorf("got %v after %d attempts", err, n.Load())
	}
}

func TestTimeouts(t *testing.T) {
	var n atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 2 {
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		_, _ = w.Write([]byte(`[]`))
	}))
	defer srv.Close()
	defer close(release)

	c := newTestClient(t, srv.URL, func(o *Options) { o.Timeout = 50 * time.Millisecond })
	if _, err := c.RemoteLinks(context.Background(), "SUP-1"); err != nil {
		t.Fatalf("got %v", err)
	}
	reqs, retries, _ := c.observer.snapshot()
	if diff := cmp.Diff([]string{"timeout", "timeout"}, retries); diff != "" {
		t.Errorf("retries (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{0, 0, 200}, reqs); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}

	n.Store(-100) // every request hangs from now on
	c2 := newTestClient(t, srv.URL, func(o *Options) { o.Timeout = 20 * time.Millisecond; o.MaxAttempts = 2 })
	_, err := c2.RemoteLinks(context.Background(), "SUP-1")
	if !errors.Is(err, jira.ErrUnavailable) || !isTimeout(err) {
		t.Errorf("got %v, want an unavailable timeout", err)
	}
}

func TestDroppedConnection(t *testing.T) {
	var n atomic.Int32
	linksBody := fixture(t, "rest/remotelink/get_issue_remotelinks__openapi_example.json")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = conn.Close()
			}
		case 2:
			// Promise more than is sent, then drop: a failure while reading.
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n[{\"id\":")
				_ = buf.Flush()
				_ = conn.Close()
			}
		default:
			_, _ = w.Write(linksBody)
		}
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, nil)
	links, err := c.RemoteLinks(context.Background(), "SUP-1")
	if err != nil || len(links) != 2 {
		t.Fatalf("got %d links, %v", len(links), err)
	}
	_, retries, _ := c.observer.snapshot()
	if diff := cmp.Diff([]string{"network", "network"}, retries); diff != "" {
		t.Errorf("retries (-want +got):\n%s", diff)
	}
}

func TestContextCancellation(t *testing.T) {
	srv, n := serveStatus(503, nil, nil)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	c := newTestClient(t, srv.URL, func(o *Options) {
		o.BaseBackoff = time.Hour
		o.MaxBackoff = time.Hour
		o.Sleep = func(ctx context.Context, d time.Duration) error {
			cancel() // the caller gives up while the client waits
			return sleepContext(ctx, d)
		}
	})
	c.jitter = func(n int64) int64 { return n - 1 }
	start := time.Now()
	_, err := c.Fields(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if time.Since(start) > 5*time.Second || n.Load() != 1 {
		t.Errorf("took %v and %d attempts", time.Since(start), n.Load())
	}

	// Cancelled before anything is sent.
	if _, err := c.Fields(ctx); !errors.Is(err, context.Canceled) || n.Load() != 1 {
		t.Errorf("got %v after %d attempts", err, n.Load())
	}
}

// TestStopWaits: a throttled call told to stop waiting gives up its
// Retry-After wait with ErrWaitAborted (and Jira's answer) while its context
// lives on; a call whose wait was never stopped still waits and retries.
func TestStopWaits(t *testing.T) {
	srv, n := serveStatus(429, []byte(`{"message":"slow down"}`), map[string]string{"Retry-After": "3600"})
	defer srv.Close()
	stop := make(chan struct{})
	waiting := make(chan struct{}, 1)
	c := newTestClient(t, srv.URL, func(o *Options) {
		o.MaxRetryWait = time.Hour
		o.Sleep = func(ctx context.Context, d time.Duration) error {
			waiting <- struct{}{}
			return sleepContext(ctx, d)
		}
	})
	ctx := StopWaits(context.Background(), stop)
	done := make(chan error, 1)
	go func() {
		_, err := c.Fields(ctx)
		done <- err
	}()
	<-waiting
	close(stop)
	select {
	case err := <-done:
		if !errors.Is(err, ErrWaitAborted) {
			t.Fatalf("got %v, want ErrWaitAborted", err)
		}
		if !strings.Contains(err.Error(), "429") {
			t.Errorf("error %q does not say what Jira answered", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the call kept waiting after StopWaits")
	}
	if ctx.Err() != nil || n.Load() != 1 {
		t.Errorf("context error %v after %d attempts, want nil after 1", ctx.Err(), n.Load())
	}
	// Already stopped: no wait at all, one attempt.
	if _, err := c.Fields(ctx); !errors.Is(err, ErrWaitAborted) || n.Load() != 2 {
		t.Errorf("got %v after %d attempts, want ErrWaitAborted after 2", err, n.Load())
	}
}

func TestSearchAll(t *testing.T) {
	page1 := fixture(t, "rest/search/post_search_jql_page1_nextPageToken_isLast_false__mtroja98_real.json")
	var bodies []jira.SearchRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/rest/api/3/search/jql" {
			http.NotFound(w, r)
			return
		}
		var req jira.SearchRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Errorf("decode request: %v", err)
		}
		bodies = append(bodies, req)
		if req.NextPageToken == "" {
			_, _ = w.Write(page1)
			return
		}
		_, _ = w.Write([]byte(`{"issues":[{"id":"10001","key":"JAVA-1","fields":{"updated":"2025-09-11T22:30:21.136+0200"}}],"isLast":true}`))
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, nil)
	var keys []string
	req := jira.SearchRequest{JQL: "project = JAVA", Fields: []string{"updated"}, MaxResults: 100}
	err := c.SearchAll(context.Background(), req, func(i jira.SearchIssue) error {
		keys = append(keys, i.Key)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"JAVA-93", "JAVA-92", "JAVA-90", "JAVA-1"}, keys); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	if len(bodies) != 2 || bodies[1].NextPageToken == "" || bodies[1].JQL != "project = JAVA" || bodies[1].Fields[0] != "updated" {
		t.Errorf("requests: got %+v", bodies)
	}

	stop := errors.New("stop")
	if err := c.SearchAll(context.Background(), req, func(jira.SearchIssue) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("callback error: got %v", err)
	}
	if _, err := c.SearchJQL(context.Background(), jira.SearchRequest{JQL: "x", ReconcileIssues: make([]int64, 51)}); err == nil {
		t.Error("51 reconcile issues: got no error")
	}
}

func TestSearchAllGuards(t *testing.T) {
	tests := []struct {
		name string
		page func(n int) string
		opts func(*Options)
		want string
	}{
		{"repeated token", func(n int) string {
			return `{"issues":[{"id":"1","key":"A-1"}],"nextPageToken":"same","isLast":false}`
		}, nil, "page token repeated"},
		{"token cycle", func(n int) string {
			return fmt.Sprintf(`{"issues":[{"id":"1","key":"A-1"}],"nextPageToken":"t%d","isLast":false}`, n%3)
		}, nil, "page token repeated"},
		{"empty page with a token", func(n int) string {
			return fmt.Sprintf(`{"issues":[],"nextPageToken":"t%d","isLast":false}`, n)
		}, nil, "empty page"},
		{"page cap", func(n int) string {
			return fmt.Sprintf(`{"issues":[{"id":"1","key":"A-1"}],"nextPageToken":"t%d"}`, n)
		}, func(o *Options) { o.MaxSearchPages = 5 }, "more than 5 pages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) > 100 {
					t.Error("paging did not stop")
					w.WriteHeader(http.StatusBadRequest)
					return
				}
				_, _ = io.WriteString(w, tt.page(int(n.Load())))
			}))
			defer srv.Close()
			c := newTestClient(t, srv.URL, tt.opts)
			err := c.SearchAll(context.Background(), jira.SearchRequest{JQL: "x"}, func(jira.SearchIssue) error { return nil })
			if !errors.Is(err, ErrSearchLoop) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want ErrSearchLoop about %q", err, tt.want)
			}
		})
	}
}

func TestBulkFetch(t *testing.T) {
	payload := fixture(t, "rest/issue/get_issue_v3_default_fields__mtroja98_real.json")
	var got jira.BulkFetchRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/rest/api/3/issue/bulkfetch" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewDecoder(r.Body).Decode(&got)
		fmt.Fprintf(w, `{"issues":[%s],"issueErrors":[{"id":"10002","errorMessage":"try again"}]}`, payload)
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, nil)
	res, err := c.BulkFetch(context.Background(), []string{"JAVA-62", "10002"}, []string{"updated"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Issues) != 1 || res.Issues[0].Key != "JAVA-62" || res.IssueErrors[0].ID != "10002" {
		t.Errorf("got %+v", res)
	}
	if diff := cmp.Diff(jira.BulkFetchRequest{IssueIDsOrKeys: []string{"JAVA-62", "10002"}, Fields: []string{"updated"}}, got); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf("A-%d", i+1)
	}
	for name, ids := range map[string][]string{"101 issues": many, "none": nil, "bad key": {"A-1", "a/b"}} {
		if _, err := c.BulkFetch(context.Background(), ids, nil); err == nil {
			t.Errorf("%s: got no error", name)
		}
	}
	if reqs, _, _ := c.observer.snapshot(); len(reqs) != 1 {
		t.Errorf("requests: got %d, want 1", len(reqs))
	}
}

func TestLogsAndErrorsHideCredentials(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = conn.Close()
			}
		}
	}))
	defer srv.Close()
	var logs strings.Builder
	logger := logrus.New()
	logger.SetOutput(&logs)
	logger.SetLevel(logrus.DebugLevel)
	c := newTestClient(t, srv.URL, func(o *Options) { o.Logger = logger; o.MaxAttempts = 3 })
	_, _, err := c.GetIssue(context.Background(), "SUP-12")
	if !errors.Is(err, jira.ErrUnavailable) {
		t.Fatalf("got %v, want ErrUnavailable", err)
	}
	if !strings.HasPrefix(err.Error(), "get issue SUP-12: jira unavailable after 3 attempts: ") {
		t.Errorf("error text: got %q", err)
	}
	if !strings.Contains(logs.String(), "reason=429") || !strings.Contains(logs.String(), "reason=network") {
		t.Errorf("retries not logged:\n%s", logs.String())
	}
	for _, secret := range []string{testToken, "Basic ", "Authorization"} {
		if strings.Contains(logs.String(), secret) || strings.Contains(err.Error(), secret) {
			t.Errorf("%q appears in the logs or the error:\n%s\n%v", secret, logs.String(), err)
		}
	}
}

func TestFetchIssueCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	issue := fixture(t, "rest/issue/get_issue_v3_default_fields__mtroja98_real.json")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/remotelink") {
			cancel()
			<-r.Context().Done()
			return
		}
		_, _ = w.Write(issue)
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, nil)
	b, err := c.FetchIssue(ctx, "JAVA-62", FetchOptions{})
	if !errors.Is(err, context.Canceled) || b != nil {
		t.Errorf("got %v, %v; want no bundle and context.Canceled", b, err)
	}
}

// TestConcurrentCallsReuseConnections: a client shared by parallel workers
// keeps their connections open between calls. Go's default transport keeps
// two idle connections per host, so parallel workers opened about one connection
// per call beyond the second; on Jira Cloud each is a TLS handshake.
func TestConcurrentCallsReuseConnections(t *testing.T) {
	var opened atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Millisecond) // the workers' calls overlap, as on Jira
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"10001","key":"SUP-1","fields":{}}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	c := newTestClient(t, srv.URL, nil)
	const workers, calls = 16, 25
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range calls {
				if _, _, err := c.GetIssue(context.Background(), "SUP-1"); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	// A few more than the workers can open while a connection is on its way
	// back to the pool; the default transport opened about 100 here.
	if n := opened.Load(); n > 2*workers {
		t.Errorf("connections opened for %d calls by %d workers: %d, want at most %d", workers*calls, workers, n, 2*workers)
	}
}
