package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/jira"
	"github.com/jiraduck/jiraduck/internal/jira/client"
	"github.com/jiraduck/jiraduck/internal/store"
)

// fakeJira serves a small, changeable set of issues in the REST v3 shapes the
// client reads, and counts and can break the calls.
type fakeJira struct {
	t   *testing.T
	srv *httptest.Server

	mu          sync.Mutex
	issues      map[string]*fakeIssue // by key
	fetches     map[string]int
	failIssue   int  // answer GET issue with 500 this many more times
	failRemote  bool // answer remote links with 500
	throttle    bool // answer GET issue with 429 and a Retry-After of an hour
	block       chan struct{}
	attachments map[string][]byte
}

type fakeIssue struct {
	id, key  string
	summary  string
	comments int
	updated  time.Time
	attach   []fakeAttachment
	remote   int
}

type fakeAttachment struct {
	id, name, contentURL string
	size                 int
}

func newFakeJira(t *testing.T) *fakeJira {
	f := &fakeJira{t: t, issues: map[string]*fakeIssue{}, fetches: map[string]int{}, attachments: map[string][]byte{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeJira) add(id, key string, comments int) *fakeIssue {
	f.mu.Lock()
	defer f.mu.Unlock()
	is := &fakeIssue{id: id, key: key, summary: "summary " + key, comments: comments, updated: time.Date(2024, 3, 5, 10, 0, 0, 0, time.UTC)}
	f.issues[key] = is
	return is
}

func (f *fakeJira) find(keyOrID string) *fakeIssue {
	for _, is := range f.issues {
		if is.key == keyOrID || is.id == keyOrID {
			return is
		}
	}
	return nil
}

func (f *fakeJira) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fetches[key]
}

func ts(t time.Time) string { return jira.FormatTime(t) }

func (f *fakeJira) serve(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if strings.HasPrefix(path, "/files/") {
		f.mu.Lock()
		b, ok := f.attachments[strings.TrimPrefix(path, "/files/")]
		f.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
		return
	}
	if path == "/rest/api/3/field" {
		w.Write([]byte(`[{"id":"summary","name":"Summary","custom":false,"schema":{"type":"string","system":"summary"}}]`))
		return
	}
	rest, ok := strings.CutPrefix(path, "/rest/api/3/issue/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	keyOrID, sub, _ := strings.Cut(rest, "/")
	f.mu.Lock()
	is := f.find(keyOrID)
	if is == nil {
		f.mu.Unlock()
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"errorMessages":["Issue does not exist or you do not have permission to see it."],"errors":{}}`))
		return
	}
	switch sub {
	case "":
		f.fetches[is.key]++
		block := f.block
		if f.throttle {
			f.mu.Unlock()
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"errorMessages":["Rate limit exceeded."]}`))
			return
		}
		if f.failIssue > 0 {
			f.failIssue--
			f.mu.Unlock()
			if block != nil {
				<-block
			}
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(`{"errorMessages":["Internal server error"]}`))
			return
		}
		body := f.issueJSON(is)
		f.mu.Unlock()
		if block != nil {
			<-block
		}
		w.Write(body)
	case "remotelink":
		fail, n := f.failRemote, is.remote
		f.mu.Unlock()
		if fail {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		var links []string
		for i := 0; i < n; i++ {
			links = append(links, fmt.Sprintf(`{"id":%d,"globalId":"g%d","object":{"url":"https://docs.test/%d","title":"doc %d"}}`, i+1, i, i, i))
		}
		fmt.Fprintf(w, "[%s]", strings.Join(links, ","))
	case "comment", "changelog":
		f.mu.Unlock()
		fmt.Fprint(w, `{"startAt":0,"maxResults":100,"total":0,"isLast":true,"comments":[],"values":[]}`)
	default:
		f.mu.Unlock()
		http.NotFound(w, r)
	}
}

func (f *fakeJira) issueJSON(is *fakeIssue) []byte {
	var comments []string
	for i := 0; i < is.comments; i++ {
		comments = append(comments, fmt.Sprintf(`{"id":"%s%03d","author":{"accountId":"a1","displayName":"Ann"},"body":{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"comment %d"}]}]},"created":"%s","updated":"%s"}`,
			is.id, i, i, ts(is.updated.Add(time.Duration(i)*time.Minute)), ts(is.updated)))
	}
	var atts []string
	for _, a := range is.attach {
		atts = append(atts, fmt.Sprintf(`{"id":"%s","filename":%q,"size":%d,"mimeType":"text/plain","content":%q,"created":"%s"}`,
			a.id, a.name, a.size, a.contentURL, ts(is.updated)))
	}
	return []byte(fmt.Sprintf(`{"id":"%s","key":"%s","fields":{"summary":%q,"created":"2024-03-01T08:00:00.000+0100","updated":"%s",
		"status":{"name":"Open","statusCategory":{"key":"new","name":"To Do"}},
		"comment":{"startAt":0,"maxResults":100,"total":%d,"comments":[%s]},"attachment":[%s]},
		"changelog":{"startAt":0,"maxResults":100,"total":0,"histories":[]}}`,
		is.id, is.key, is.summary, ts(is.updated), is.comments, strings.Join(comments, ","), strings.Join(atts, ",")))
}

type harness struct {
	dir   string
	jira  *fakeJira
	s     *store.Store
	w     *store.Writer
	proc  *Processor
	queue *Queue
}

func newHarness(t *testing.T, qopts QueueOptions) *harness {
	t.Helper()
	return newHarnessWith(t, qopts, nil)
}

// newHarnessWith is newHarness with the Jira client's options changed by mod.
func newHarnessWith(t *testing.T, qopts QueueOptions, mod func(*client.Options)) *harness {
	t.Helper()
	ctx := context.Background()
	h := &harness{dir: t.TempDir(), jira: newFakeJira(t)}
	var err error
	h.s, err = store.Open(ctx, filepath.Join(h.dir, store.FileName), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	h.w = h.s.NewWriter(16, nil)
	jo := client.Options{BaseURL: h.jira.srv.URL, Email: "bot@test", APIToken: "tok", MaxAttempts: 1,
		Sleep: func(context.Context, time.Duration) error { return nil }}
	if mod != nil {
		mod(&jo)
	}
	jc, err := client.New(jo)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := config.FromMap(map[string]string{})
	cat := NewCatalog(cfg)
	h.proc = NewProcessor(jc, h.s, h.w, cat, ProcessorOptions{DataDir: h.dir, AttachmentMaxBytes: 1000, AttachmentParallel: 2})
	if qopts.RetryBase == 0 {
		qopts.RetryBase = time.Millisecond
	}
	if qopts.FollowUp == 0 {
		qopts.FollowUp = time.Millisecond
	}
	h.queue = NewQueue(h.proc, h.s, h.w, qopts)
	t.Cleanup(func() {
		h.queue.Close()
		h.w.Close()
		h.s.Close()
	})
	return h
}

var nextDelivery atomic.Int64

// event stores an accepted event as the intake would and returns it.
func (h *harness) event(t *testing.T, typ, key, id string) *store.Event {
	t.Helper()
	next, err := h.s.NextEventID(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	e := &store.Event{ID: next, DeliveryID: fmt.Sprint("d", nextDelivery.Add(1)), Type: typ, IssueKey: key, IssueID: id,
		ReceivedAt: time.Now().UTC(), State: store.EventPending}
	err = h.w.Do(context.Background(), func(ctx context.Context, tx *store.Tx) error {
		return store.InsertEvents(ctx, tx, []*store.Event{e})
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (h *harness) drain(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.queue.Wait(ctx); err != nil {
		t.Fatalf("queue did not drain: %v (depth %d)", err, h.queue.Depth())
	}
}

func (h *harness) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	if err := h.s.DB().QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func (h *harness) eventStates(t *testing.T) map[string]int {
	t.Helper()
	c, err := h.s.EventCounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for k, v := range c {
		out[k] = int(v)
	}
	return out
}

func TestEventIsFetchedAndStored(t *testing.T) {
	h := newHarness(t, QueueOptions{Workers: 2})
	h.jira.add("100", "SUP-1", 3)
	if err := h.queue.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.queue.Accept([]*store.Event{h.event(t, "jira:issue_created", "SUP-1", "100")})
	h.drain(t)
	if n := h.count(t, `SELECT count(*) FROM issues WHERE issue_key = 'SUP-1'`); n != 1 {
		t.Errorf("issues: got %d, want 1", n)
	}
	if n := h.count(t, `SELECT count(*) FROM comments`); n != 3 {
		t.Errorf("comments: got %d, want 3", n)
	}
	if st := h.eventStates(t); st[store.EventDone] != 1 {
		t.Errorf("event states: got %v, want 1 done", st)
	}
	if d, _ := h.s.DirtyPartitions(context.Background()); len(d) == 0 {
		t.Error("no partition marked dirty")
	}
}

func TestEventsCoalescePerIssue(t *testing.T) {
	h := newHarness(t, QueueOptions{Workers: 4})
	h.jira.add("100", "SUP-1", 1)
	block := make(chan struct{})
	h.jira.block = block
	if err := h.queue.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.queue.Accept([]*store.Event{h.event(t, "jira:issue_updated", "SUP-1", "100")})
	// Wait until the first fetch is in flight, then send more events.
	deadline := time.Now().Add(10 * time.Second)
	for h.jira.count("SUP-1") == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	for i := 0; i < 5; i++ {
		h.queue.Accept([]*store.Event{h.event(t, "comment_created", "SUP-1", "100")})
	}
	if got := h.jira.count("SUP-1"); got != 1 {
		t.Errorf("fetches while the first runs: got %d, want 1 (never two at once)", got)
	}
	h.jira.mu.Lock()
	h.jira.block = nil
	h.jira.mu.Unlock()
	close(block)
	h.drain(t)
	if got := h.jira.count("SUP-1"); got != 2 {
		t.Errorf("fetches: got %d, want 2 (one, then one follow-up for five events)", got)
	}
	if st := h.eventStates(t); st[store.EventDone] != 6 {
		t.Errorf("event states: got %v, want 6 done", st)
	}
}

func TestFailedFetchIsRetried(t *testing.T) {
	h := newHarness(t, QueueOptions{Workers: 1, MaxAttempts: 5})
	h.jira.add("100", "SUP-1", 0)
	h.jira.failIssue = 2
	if err := h.queue.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.queue.Accept([]*store.Event{h.event(t, "jira:issue_updated", "SUP-1", "100")})
	h.drain(t)
	if got := h.jira.count("SUP-1"); got != 3 {
		t.Errorf("fetches: got %d, want 3 (two failures, one success)", got)
	}
	if st := h.eventStates(t); st[store.EventDone] != 1 {
		t.Errorf("event states: got %v, want 1 done", st)
	}
}

func TestFetchFailingForGoodMarksEventsFailed(t *testing.T) {
	h := newHarness(t, QueueOptions{Workers: 1, MaxAttempts: 3})
	h.jira.add("100", "SUP-1", 0)
	h.jira.failIssue = 1000
	if err := h.queue.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.queue.Accept([]*store.Event{h.event(t, "jira:issue_updated", "SUP-1", "100")})
	h.drain(t)
	deadline := time.Now().Add(10 * time.Second)
	for h.eventStates(t)[store.EventFailed] == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	failed, err := h.s.FailedEvents(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) != 1 || !strings.Contains(failed[0].LastError, "500") || failed[0].Attempts != 3 {
		t.Errorf("failed events: got %+v, want one with the 500 error after 3 attempts", failed)
	}
	if got := h.jira.count("SUP-1"); got != 3 {
		t.Errorf("fetches: got %d, want 3", got)
	}
}

func TestPendingEventsReplayedAtStart(t *testing.T) {
	h := newHarness(t, QueueOptions{Workers: 2})
	h.jira.add("100", "SUP-1", 0)
	h.jira.add("200", "SUP-2", 0)
	h.event(t, "jira:issue_created", "SUP-1", "100")
	h.event(t, "comment_created", "SUP-2", "200")
	if err := h.queue.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.drain(t)
	if n := h.count(t, `SELECT count(*) FROM issues`); n != 2 {
		t.Errorf("issues after replay: got %d, want 2", n)
	}
	if st := h.eventStates(t); st[store.EventDone] != 2 || st[store.EventPending] != 0 {
		t.Errorf("event states: got %v", st)
	}
}

func TestDeletion(t *testing.T) {
	h := newHarness(t, QueueOptions{Workers: 1})
	h.jira.add("100", "SUP-1", 2)
	h.jira.add("200", "SUP-2", 1)
	if err := h.queue.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.queue.Accept([]*store.Event{h.event(t, "jira:issue_created", "SUP-1", "100"), h.event(t, "jira:issue_created", "SUP-2", "200")})
	h.drain(t)
	h.jira.mu.Lock()
	delete(h.jira.issues, "SUP-1")
	delete(h.jira.issues, "SUP-2")
	h.jira.mu.Unlock()

	// A comment event for an issue Jira no longer shows removes nothing.
	h.queue.Accept([]*store.Event{h.event(t, "comment_deleted", "SUP-2", "200")})
	h.drain(t)
	if n := h.count(t, `SELECT count(*) FROM issues WHERE issue_key = 'SUP-2'`); n != 1 {
		t.Errorf("SUP-2 was removed by a comment_deleted event")
	}
	// Only jira:issue_deleted deletes.
	h.queue.Accept([]*store.Event{h.event(t, "jira:issue_deleted", "SUP-1", "100")})
	h.drain(t)
	if n := h.count(t, `SELECT count(*) FROM issues WHERE issue_key = 'SUP-1'`); n != 0 {
		t.Errorf("SUP-1 still stored after jira:issue_deleted")
	}
	if n := h.count(t, `SELECT count(*) FROM comments WHERE issue_key = 'SUP-1'`); n != 0 {
		t.Errorf("comments of SUP-1 still stored")
	}
	if n := h.count(t, `SELECT count(*) FROM raw_issues WHERE issue_id = '100' AND deleted_at IS NOT NULL`); n != 1 {
		t.Errorf("no tombstone for SUP-1")
	}
}

func TestDeleteOfAnIssueThatStillExistsRefetches(t *testing.T) {
	h := newHarness(t, QueueOptions{Workers: 1})
	h.jira.add("100", "SUP-1", 1)
	if err := h.queue.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A delivery reordered or replayed late: Jira still has the issue.
	h.queue.Accept([]*store.Event{h.event(t, "jira:issue_deleted", "SUP-1", "100")})
	h.drain(t)
	if n := h.count(t, `SELECT count(*) FROM issues WHERE issue_key = 'SUP-1'`); n != 1 {
		t.Errorf("an issue Jira still has was not stored (got %d rows)", n)
	}
}

func TestFailedRemoteLinksKeepStoredRows(t *testing.T) {
	h := newHarness(t, QueueOptions{Workers: 1})
	is := h.jira.add("100", "SUP-1", 0)
	is.remote = 2
	if err := h.queue.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.queue.Accept([]*store.Event{h.event(t, "jira:issue_created", "SUP-1", "100")})
	h.drain(t)
	if n := h.count(t, `SELECT count(*) FROM remote_links`); n != 2 {
		t.Fatalf("remote links: got %d, want 2", n)
	}
	h.jira.mu.Lock()
	h.jira.failRemote = true
	is.summary = "edited"
	is.updated = is.updated.Add(time.Minute)
	h.jira.mu.Unlock()
	h.queue.Accept([]*store.Event{h.event(t, "jira:issue_updated", "SUP-1", "100")})
	h.drain(t)
	if n := h.count(t, `SELECT count(*) FROM remote_links`); n != 2 {
		t.Errorf("remote links after a failed fetch: got %d, want the 2 stored kept", n)
	}
	if n := h.count(t, `SELECT count(*) FROM issues WHERE summary = 'edited'`); n != 1 {
		t.Errorf("the issue itself was not updated")
	}
	var state string
	h.s.DB().QueryRow(`SELECT remote_links_state FROM raw_issues`).Scan(&state)
	if state != "unknown" {
		t.Errorf("remote_links_state: got %q, want unknown", state)
	}
}

func TestStaleSnapshotIsNotWritten(t *testing.T) {
	h := newHarness(t, QueueOptions{Workers: 1})
	h.jira.add("100", "SUP-1", 0)
	ctx := context.Background()
	if _, err := h.proc.Process(ctx, Request{KeyOrID: "SUP-1"}); err != nil {
		t.Fatal(err)
	}
	// Pretend a newer version is stored, then process the older one again.
	if _, err := h.s.DB().Exec(`UPDATE raw_issues SET updated_at = updated_at + INTERVAL 1 HOUR`); err != nil {
		t.Fatal(err)
	}
	h.jira.mu.Lock()
	h.jira.issues["SUP-1"].summary = "older"
	h.jira.mu.Unlock()
	out, err := h.proc.Process(ctx, Request{KeyOrID: "SUP-1"})
	if err != nil {
		t.Fatal(err)
	}
	if out != Stale {
		t.Errorf("outcome: got %s, want stale", out)
	}
	if n := h.count(t, `SELECT count(*) FROM issues WHERE summary = 'older'`); n != 0 {
		t.Error("an older snapshot overwrote a newer one")
	}
}

func TestAttachments(t *testing.T) {
	h := newHarness(t, QueueOptions{Workers: 1})
	is := h.jira.add("100", "SUP-1", 0)
	h.jira.attachments["a1"] = []byte("hello")
	is.attach = []fakeAttachment{
		{id: "1", name: "../../etc/passwd", contentURL: h.jira.srv.URL + "/files/a1", size: 5},
		{id: "2", name: "big.bin", contentURL: h.jira.srv.URL + "/files/a1", size: 5000},
		{id: "3", name: "evil.txt", contentURL: "https://elsewhere.test/files/a1", size: 5},
		{id: "4", name: "gone.txt", contentURL: h.jira.srv.URL + "/files/missing", size: 5},
	}
	if _, err := h.proc.Process(context.Background(), Request{KeyOrID: "SUP-1"}); err != nil {
		t.Fatal(err)
	}
	rows, err := h.s.DB().Query(`SELECT attachment_id, coalesce(local_path, ''), coalesce(sha256, ''), coalesce(skipped_reason, '') FROM attachments ORDER BY attachment_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string][3]string{}
	for rows.Next() {
		var id, path, sum, reason string
		rows.Scan(&id, &path, &sum, &reason)
		got[id] = [3]string{path, sum, reason}
	}
	if got["1"][0] != filepath.Join("attachments", "SUP-1", "1_etc_passwd") || got["1"][1] == "" {
		t.Errorf("hostile name: got %v, want a sanitised path under attachments/SUP-1 with a digest", got["1"])
	}
	b, err := os.ReadFile(filepath.Join(h.dir, got["1"][0]))
	if err != nil || string(b) != "hello" {
		t.Errorf("stored bytes: got %q %v", b, err)
	}
	if st, err := os.Stat(filepath.Join(h.dir, got["1"][0])); err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("file mode: got %v %v, want 0640", st, err)
	}
	if !strings.Contains(got["2"][2], "larger than") || got["2"][0] != "" {
		t.Errorf("too large: got %v", got["2"])
	}
	if !strings.Contains(got["3"][2], "refused") || got["3"][0] != "" {
		t.Errorf("foreign host: got %v", got["3"])
	}
	if !strings.Contains(got["4"][2], "download failed") {
		t.Errorf("failed download: got %v", got["4"])
	}
	var state string
	h.s.DB().QueryRow(`SELECT attachments_state FROM raw_issues`).Scan(&state)
	if state != "partial" {
		t.Errorf("attachments_state: got %q, want partial (one download failed)", state)
	}
	if _, err := os.Stat(filepath.Join(h.dir, "..", "etc", "passwd")); err == nil {
		t.Error("a file was written outside the data directory")
	}
}

func TestSanitizeFilename(t *testing.T) {
	cases := []struct{ in, want string }{
		{"report.pdf", "report.pdf"},
		{"../../etc/passwd", "etc_passwd"},
		{`..\..\windows\system32`, "windows_system32"},
		{"..", "file"},
		{".", "file"},
		{"", "file"},
		{".hidden", "hidden"},
		{"a\x00b\nc\rd\x7f", "a_b_c_d_"},
		{"name\u202egnp.exe", "name_gnp.exe"},
		{"ümlaut 日本.txt", "ümlaut 日本.txt"},
		{"bad\xffutf8", "bad_utf8"},
		{"trailing. ", "trailing"},
		{"C:report", "C_report"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			if got := SanitizeFilename(tc.in); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	long := SanitizeFilename(strings.Repeat("é", 10000) + ".txt")
	if len(long) > maxNameBytes || !strings.HasSuffix(long, ".txt") {
		t.Errorf("long name: got %d bytes ending %q", len(long), long[len(long)-8:])
	}
}

func FuzzSanitizeFilename(f *testing.F) {
	for _, s := range []string{"a.txt", "../x", "..", "\x00", strings.Repeat("a", 300), "é/é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got := SanitizeFilename(name)
		if got == "" || got == "." || got == ".." || strings.ContainsAny(got, "/\\\x00") || len(got) > maxNameBytes {
			t.Fatalf("SanitizeFilename(%q) = %q", name, got)
		}
		p, err := AttachmentPath("SUP-1", "123", name)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Dir(p) != filepath.Join("attachments", "SUP-1") {
			t.Fatalf("path %q escapes the issue folder", p)
		}
	})
}

func TestAttachmentPathRefusesHostileKeys(t *testing.T) {
	for _, key := range []string{"../SUP-1", "SUP-1/..", "sup-1", "SUP-0"} {
		if _, err := AttachmentPath(key, "1", "a"); err == nil {
			t.Errorf("key %q accepted", key)
		}
	}
	for _, id := range []string{"../1", "1a", ""} {
		if _, err := AttachmentPath("SUP-1", id, "a"); err == nil {
			t.Errorf("id %q accepted", id)
		}
	}
}

func TestSLAMetricName(t *testing.T) {
	cases := map[string]string{"Time to first response": "first_response", "Time to resolution": "time_to_resolution",
		"Time to close after resolution": "time_to_close_after_resolution", "!!": "sla"}
	for in, want := range cases {
		if got := SLAMetricName(in); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

var _ = json.Marshal
