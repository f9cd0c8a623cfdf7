package emulator

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

const (
	testEmail    = "sync@example.com"
	testToken    = "main-token"
	testSLAEmail = "agent@example.com"
	testSLAToken = "sla-token"
)

// fixturesDir holds the captured Jira payloads the shapes are checked against.
const fixturesDir = "../../../shared/jira-fixtures"

// frozen returns a clock that stands still at t.
func frozen(t time.Time) func() time.Time { return func() time.Time { return t } }

// newEmu starts an emulator behind an httptest server and returns it with a
// client that authenticates as the main account.
func newEmu(t testing.TB, opts Options) (*Emulator, *client) {
	t.Helper()
	if opts.Email == "" {
		opts.Email, opts.APIToken = testEmail, testToken
	}
	e, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(e.Handler())
	t.Cleanup(func() {
		srv.Close()
		e.Close()
	})
	return e, &client{t: t, base: srv.URL, user: opts.Email, token: opts.APIToken}
}

type client struct {
	t           testing.TB
	base        string
	user, token string
}

func (c *client) as(user, token string) *client {
	cc := *c
	cc.user, cc.token = user, token
	return &cc
}

// do sends a request; body is JSON-encoded unless it is a string or nil.
func (c *client) do(method, path string, body any) (*http.Response, []byte) {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.token)
	}
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: read: %v", method, path, err)
	}
	return resp, out
}

// get fetches path and fails the test unless the status is want.
func (c *client) get(path string, want int) []byte {
	c.t.Helper()
	resp, body := c.do(http.MethodGet, path, nil)
	if resp.StatusCode != want {
		c.t.Fatalf("GET %s: got status %d, want %d: %.300s", path, resp.StatusCode, want, body)
	}
	return body
}

func (c *client) post(path string, body any, want int) []byte {
	c.t.Helper()
	resp, out := c.do(http.MethodPost, path, body)
	if resp.StatusCode != want {
		c.t.Fatalf("POST %s: got status %d, want %d: %.300s", path, resp.StatusCode, want, out)
	}
	return out
}

func decodeAs[T any](t testing.TB, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %T: %v: %.300s", v, err, b)
	}
	return v
}

// fixture reads a captured payload, skipping the test when the captures are
// not checked out next to the repository.
func fixture(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixturesDir, rel))
	if os.IsNotExist(err) {
		t.Skipf("fixture %s not available", rel)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// findIssue returns the key of the first issue whose snapshot satisfies ok.
func findIssue(t testing.TB, e *Emulator, ok func(*Issue) bool) string {
	t.Helper()
	for _, k := range e.Keys() {
		is, err := e.Issue(k)
		if err != nil {
			t.Fatal(err)
		}
		if ok(is) {
			return k
		}
	}
	t.Fatal("no generated issue has the wanted property")
	return ""
}

// hookSink is a webhook receiver that records every delivery.
type hookSink struct {
	mu     sync.Mutex
	got    []delivered
	status func(n int) int
	srv    *httptest.Server
}

type delivered struct {
	header http.Header
	body   []byte
}

func newHookSink(t testing.TB) *hookSink {
	h := &hookSink{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.got = append(h.got, delivered{r.Header.Clone(), b})
		n := len(h.got)
		status := h.status
		h.mu.Unlock()
		code := http.StatusAccepted
		if status != nil {
			code = status(n)
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookSink) deliveries() []delivered {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]delivered(nil), h.got...)
}

// events returns the webhookEvent of every delivery, in arrival order.
func (h *hookSink) events(t testing.TB) []string {
	var out []string
	for _, d := range h.deliveries() {
		var env struct {
			WebhookEvent string `json:"webhookEvent"`
		}
		if err := json.Unmarshal(d.body, &env); err != nil {
			t.Fatalf("webhook body: %v", err)
		}
		out = append(out, env.WebhookEvent)
	}
	return out
}
