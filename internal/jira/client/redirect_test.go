package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/jiraduck/jiraduck/internal/jira"
)

// recorder answers every request with an issue and records the
// Authorization and Referer headers it received.
type recorder struct {
	mu       sync.Mutex
	auths    []string
	referers []string
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec.mu.Lock()
	rec.auths = append(rec.auths, r.Header.Get("Authorization"))
	rec.referers = append(rec.referers, r.Header.Get("Referer"))
	rec.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"id":"10001","key":"SUP-1","fields":{"customfield_10328":null}}`))
}

func (rec *recorder) got() (auths, referers []string) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]string(nil), rec.auths...), append([]string(nil), rec.referers...)
}

// redirector answers every request with a redirect to target(r) and records
// the Authorization headers it received.
type redirector struct {
	recorder
	target func(r *http.Request) string
}

func (rd *redirector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rd.mu.Lock()
	rd.auths = append(rd.auths, r.Header.Get("Authorization"))
	rd.mu.Unlock()
	http.Redirect(w, r, rd.target(r), http.StatusFound)
}

// call runs one request of the given account against a client whose site and
// gateway are both base: the main account on the site, the SLA account on
// the gateway.
var redirectCalls = []struct {
	name    string
	account string
	call    func(c *Client) error
}{
	{"main account get issue", testEmail, func(c *Client) error {
		_, _, err := c.GetIssue(context.Background(), "SUP-1")
		return err
	}},
	{"main account search", testEmail, func(c *Client) error {
		_, err := c.SearchJQL(context.Background(), jira.SearchRequest{JQL: "project = SUP"})
		return err
	}},
	{"sla account on the gateway", testSLAEmail, func(c *Client) error {
		_, err := c.SLAFields(context.Background(), "SUP-1", []string{"customfield_10328"})
		return err
	}},
}

func redirectClient(t *testing.T, base string, httpClient *http.Client) *Client {
	t.Helper()
	return newTestClient(t, base, func(o *Options) {
		o.CloudAPIURL = base
		o.CloudID = "site-1"
		o.SLAEmail, o.SLAAPIToken = testSLAEmail, testSLAToken
		o.HTTPClient = httpClient
	}).Client
}

// TestRedirectToAnotherPortDropsCredentials: Go keeps Authorization on a
// redirect to the same host name, whatever the port; the client must not.
func TestRedirectToAnotherPortDropsCredentials(t *testing.T) {
	for _, tc := range redirectCalls {
		t.Run(tc.name, func(t *testing.T) {
			other := &recorder{}
			osrv := httptest.NewServer(other)
			defer osrv.Close()
			site := &redirector{target: func(r *http.Request) string { return osrv.URL + r.URL.RequestURI() }}
			ssrv := httptest.NewServer(site)
			defer ssrv.Close()

			if err := tc.call(redirectClient(t, ssrv.URL, nil)); err != nil {
				t.Fatalf("got %v, want the redirect followed", err)
			}
			if auths, _ := site.got(); len(auths) != 1 || !strings.HasPrefix(auths[0], "Basic ") {
				t.Errorf("the site got Authorization %q, want the %s credentials", auths, tc.account)
			}
			auths, referers := other.got()
			if len(auths) != 1 || auths[0] != "" {
				t.Errorf("the other port got Authorization %q, want none", auths)
			}
			if len(referers) != 1 || referers[0] != "" {
				t.Errorf("the other port got Referer %q, want none", referers)
			}
		})
	}
}

// TestRedirectBackToOriginStaysWithoutCredentials: once a chain has left the
// origin, a hop that returns to it (at a path the other host chose) gets no
// credentials either.
func TestRedirectBackToOriginStaysWithoutCredentials(t *testing.T) {
	var siteURL string
	away := &redirector{target: func(*http.Request) string { return siteURL + "/rest/api/3/issue/SUP-1?chosen=elsewhere" }}
	asrv := httptest.NewServer(away)
	defer asrv.Close()
	var mu sync.Mutex
	var backAuth []string
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("chosen") == "" {
			http.Redirect(w, r, asrv.URL+"/away", http.StatusFound)
			return
		}
		mu.Lock()
		backAuth = append(backAuth, r.Header.Get("Authorization"))
		mu.Unlock()
		_, _ = w.Write([]byte(`{"id":"10001","key":"SUP-1","fields":{}}`))
	}))
	defer site.Close()
	siteURL = site.URL

	if _, _, err := redirectClient(t, site.URL, nil).GetIssue(context.Background(), "SUP-1"); err != nil {
		t.Fatal(err)
	}
	if auths, _ := away.got(); len(auths) != 1 || auths[0] != "" {
		t.Errorf("the other host got Authorization %q, want none", auths)
	}
	if len(backAuth) != 1 || backAuth[0] != "" {
		t.Errorf("the hop back to the site got Authorization %q, want none", backAuth)
	}
}

// TestRedirectFromHTTPSToHTTPRefused: a chain that starts on https never
// continues on http, where the request (and a token in its URL) would travel
// in clear; the http server is never asked.
func TestRedirectFromHTTPSToHTTPRefused(t *testing.T) {
	for _, tc := range redirectCalls {
		t.Run(tc.name, func(t *testing.T) {
			plain := &recorder{}
			psrv := httptest.NewServer(plain)
			defer psrv.Close()
			site := &redirector{target: func(r *http.Request) string { return psrv.URL + r.URL.RequestURI() }}
			ssrv := httptest.NewTLSServer(site)
			defer ssrv.Close()
			c := redirectClient(t, ssrv.URL, ssrv.Client())

			err := tc.call(c)
			if !errors.Is(err, ErrForeignHost) || !strings.Contains(err.Error(), "from https to http") {
				t.Fatalf("got %v, want a refused redirect from https to http", err)
			}
			if auths, _ := plain.got(); len(auths) != 0 {
				t.Errorf("the http server got %d requests, want none", len(auths))
			}
			if auths, _ := site.got(); len(auths) != 1 {
				t.Errorf("the https site got %d requests, want 1 (a refused redirect is not retried)", len(auths))
			}
			for _, secret := range []string{testToken, testSLAToken, "Basic "} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error shows %q: %v", secret, err)
				}
			}
		})
	}
}

// TestRedirectFromHTTPToHTTPSDropsCredentials: a change of scheme is a change
// of origin, even upwards.
func TestRedirectFromHTTPToHTTPSDropsCredentials(t *testing.T) {
	secure := &recorder{}
	tsrv := httptest.NewTLSServer(secure)
	defer tsrv.Close()
	site := &redirector{target: func(r *http.Request) string { return tsrv.URL + r.URL.RequestURI() }}
	ssrv := httptest.NewServer(site)
	defer ssrv.Close()

	if _, _, err := redirectClient(t, ssrv.URL, tsrv.Client()).GetIssue(context.Background(), "SUP-1"); err != nil {
		t.Fatal(err)
	}
	if auths, _ := secure.got(); len(auths) != 1 || auths[0] != "" {
		t.Errorf("the https server got Authorization %q, want none", auths)
	}
}

// TestRedirectWithinOriginKeepsCredentials: a redirect on the same scheme,
// host and port (Jira moving a path) still carries the account.
func TestRedirectWithinOriginKeepsCredentials(t *testing.T) {
	var mu sync.Mutex
	var auths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auths = append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
		if r.URL.Path == "/rest/api/3/issue/SUP-1" {
			http.Redirect(w, r, "/rest/api/3/issue/10001", http.StatusMovedPermanently)
			return
		}
		_, _ = w.Write([]byte(`{"id":"10001","key":"SUP-1","fields":{}}`))
	}))
	defer srv.Close()

	if _, _, err := redirectClient(t, srv.URL, nil).GetIssue(context.Background(), "SUP-1"); err != nil {
		t.Fatal(err)
	}
	if len(auths) != 2 || auths[0] == "" || auths[1] != auths[0] {
		t.Errorf("got Authorization %q, want the same credentials on both hops", auths)
	}
}

// TestRedirectPolicyRefusals: redirects to other schemes and endless chains
// fail at once, without retries.
func TestRedirectPolicyRefusals(t *testing.T) {
	tests := []struct {
		name     string
		location string
		want     error
		text     string
	}{
		{"to ftp", "ftp://files.example.com/x", ErrForeignHost, `redirect to scheme "ftp"`},
		{"to file", "file:///etc/passwd", ErrForeignHost, `redirect to scheme "file"`},
		{"endless", "/rest/api/3/issue/SUP-1", nil, "more than 10 redirects"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var n int
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				n++
				mu.Unlock()
				w.Header().Set("Location", tt.location)
				w.WriteHeader(http.StatusFound)
			}))
			defer srv.Close()
			c := newTestClient(t, srv.URL, func(o *Options) { o.MaxAttempts = 3 })
			_, _, err := c.GetIssue(context.Background(), "SUP-1")
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) || !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("got %v, want an error containing %q", err, tt.text)
			}
			if retries := c.sleeper.recorded(); len(retries) != 0 {
				t.Errorf("got %d retries, want none", len(retries))
			}
			if tt.want != nil && n != 1 {
				t.Errorf("got %d requests, want 1", n)
			}
		})
	}
}
