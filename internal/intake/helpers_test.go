package intake

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/store"
)

const (
	fixtureDir = "../../../shared/jira-fixtures"
	path       = "/webhooks/jira"
)

var testSecret = []byte("It's a Secret to Everybody")

// recordingSink keeps every batch handed over. When gated, its next Accept
// signals entered and waits for release: the appender is then stuck in that
// call, so every delivery posted meanwhile queues up for one group commit.
type recordingSink struct {
	mu      sync.Mutex
	batches [][]*store.Event
	gate    chan struct{} // closed by release
	entered chan struct{}
}

func (s *recordingSink) Accept(events []*store.Event) {
	s.mu.Lock()
	s.batches = append(s.batches, events)
	s.mu.Unlock()
}

// wait is the intake's hook after each journaled group: when gated, it
// blocks the appender until release.
func (s *recordingSink) wait() {
	s.mu.Lock()
	gate, entered := s.gate, s.entered
	s.gate, s.entered = nil, nil
	s.mu.Unlock()
	if gate != nil {
		close(entered)
		<-gate
	}
}

// hold makes the appender block after its next group until the returned
// release is called.
func (s *recordingSink) hold() (entered <-chan struct{}, release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gate, s.entered = make(chan struct{}), make(chan struct{})
	gate := s.gate
	return s.entered, func() { close(gate) }
}

// events returns every event handed over, in order.
func (s *recordingSink) events() []*store.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*store.Event
	for _, b := range s.batches {
		out = append(out, b...)
	}
	return out
}

type harness struct {
	s      *store.Store
	in     *Intake
	sink   *recordingSink
	secret []byte
}

func openStore(t testing.TB) *store.Store {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(t.TempDir(), store.FileName), store.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if _, _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}

// newHarness starts an intake on a fresh store; opts.Secret defaults to
// testSecret unless opts.AllowUnsigned is set.
func newHarness(t testing.TB, opts Options) *harness {
	t.Helper()
	if opts.Secret == nil && !opts.AllowUnsigned {
		opts.Secret = testSecret
	}
	return startIntake(t, openStore(t), opts)
}

func startIntake(t testing.TB, s *store.Store, opts Options) *harness {
	t.Helper()
	h := &harness{s: s, sink: &recordingSink{}, secret: opts.Secret}
	if opts.Journal == "" {
		opts.Journal = filepath.Join(filepath.Dir(s.Path()), JournalName)
	}
	in, err := New(context.Background(), s, h.sink, opts)
	if err != nil {
		t.Fatalf("new intake: %v", err)
	}
	in.afterJournal = h.sink.wait
	t.Cleanup(func() { in.Close() })
	h.in = in
	return h
}

// flush waits until everything journaled is in the store and handed over.
func (h *harness) flush(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := h.in.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

// events returns every event handed to the sink once journaled events are
// in the store.
func (h *harness) events(t testing.TB) []*store.Event {
	t.Helper()
	h.flush(t)
	return h.sink.events()
}

// post delivers body with the given headers. Unless hdr already has an
// X-Hub-Signature or X-Hub-Signature-256 entry (even an empty one), the body
// is signed with the harness secret.
func (h *harness) post(body []byte, hdr http.Header) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	for k, v := range hdr {
		r.Header[k] = v
	}
	_, sig := hdr["X-Hub-Signature"]
	_, sig256 := hdr["X-Hub-Signature-256"]
	if !sig && !sig256 && len(h.secret) > 0 {
		r.Header.Set("X-Hub-Signature", Sign(h.secret, body))
	}
	w := httptest.NewRecorder()
	h.in.ServeHTTP(w, r)
	return w
}

// answer is the JSON of a webhook answer.
type answer struct {
	Status string `json:"status"`
	ID     int64  `json:"id"`
	Error  string `json:"error"`
}

func decodeAnswer(t testing.TB, w *httptest.ResponseRecorder) answer {
	t.Helper()
	var a answer
	if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
		t.Fatalf("answer %q is not JSON: %v", w.Body.String(), err)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type: got %q, want application/json", ct)
	}
	return a
}

// accepted checks a 202 answer and returns its id.
func (h *harness) accepted(t testing.TB, w *httptest.ResponseRecorder) int64 {
	t.Helper()
	if w.Code != http.StatusAccepted {
		t.Fatalf("status: got %d (%s), want 202", w.Code, w.Body.String())
	}
	a := decodeAnswer(t, w)
	if a.Status != "accepted" || a.ID <= 0 {
		t.Fatalf("answer: got %+v, want status accepted with a positive id", a)
	}
	return a.ID
}

func (h *harness) rowCount(t testing.TB) int {
	t.Helper()
	h.flush(t)
	var n int
	if err := h.s.DB().QueryRow(`SELECT count(*) FROM webhook_events`).Scan(&n); err != nil {
		t.Fatalf("count events: %v", err)
	}
	return n
}

// row is one webhook_events row as stored.
type row struct {
	DeliveryID     string
	Type           string
	IssueKey       string
	IssueID        string
	RelatedIssueID string
	JiraTimestamp  sql.NullTime
	ReceivedAt     time.Time
	RetryCount     int
	State          string
	Body           string
}

func (h *harness) row(t testing.TB, id int64) row {
	t.Helper()
	h.flush(t)
	var r row
	err := h.s.DB().QueryRow(`SELECT coalesce(delivery_id, ''), webhook_event, coalesce(issue_key, ''),
		coalesce(issue_id, ''), coalesce(related_issue_id, ''), jira_timestamp, received_at, retry_count, state,
		coalesce(CAST(body AS VARCHAR), '') FROM webhook_events WHERE event_id = ?`, id).Scan(&r.DeliveryID, &r.Type,
		&r.IssueKey, &r.IssueID, &r.RelatedIssueID, &r.JiraTimestamp, &r.ReceivedAt, &r.RetryCount, &r.State, &r.Body)
	if err != nil {
		t.Fatalf("read event %d: %v", id, err)
	}
	return r
}

// waitQueued waits until n appends wait in the appender's queue. It bounds
// the wait only to turn a hang into a failure; nothing is asserted on time.
func (h *harness) waitQueued(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for len(h.in.reqs) < n {
		if time.Now().After(deadline) {
			t.Fatalf("queued appends: got %d, want %d", len(h.in.reqs), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// bodyClock gives every issueBody its own millisecond, as Jira does: two
// deliveries of one body are a replay (see TestReplayedBody).
var bodyClock atomic.Int64

// issueBody is a jira:issue_updated delivery about key, with a timestamp no
// other issueBody has.
func issueBody(key string) []byte {
	k, _ := json.Marshal(key)
	ts := 1550286113023 + bodyClock.Add(1)
	return []byte(`{"timestamp":` + strconv.FormatInt(ts, 10) + `,"webhookEvent":"jira:issue_updated","issue":{"id":"10040","key":` +
		string(k) + `,"fields":{}}}`)
}

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h[http.CanonicalHeaderKey(kv[i])] = []string{kv[i+1]}
	}
	return h
}
