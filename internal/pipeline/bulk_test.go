package pipeline

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/jira/client"
	"github.com/jiraduck/jiraduck/internal/normalize"
	"github.com/jiraduck/jiraduck/internal/store"
)

// bulkSite is a queue whose Jira is the emulator, behind a hook that can
// answer a bulk fetch in its place.
type bulkSite struct {
	em  *emulator.Emulator
	url string // the emulator's, which its payloads' links hold
	s   *store.Store
	q   *Queue

	mu   sync.Mutex
	bulk func(w http.ResponseWriter, r *http.Request) bool
}

func newBulkSite(t *testing.T, issues int, opts QueueOptions) *bulkSite {
	t.Helper()
	ctx := context.Background()
	now := time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)
	em, err := emulator.New(emulator.Options{Issues: issues, Seed: 5, Now: now, Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	b := &bulkSite{em: em}
	h := em.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		hook := b.bulk
		b.mu.Unlock()
		if hook != nil && strings.HasSuffix(r.URL.Path, "/issue/bulkfetch") && hook(w, r) {
			return
		}
		h.ServeHTTP(w, r)
	}))
	b.url = srv.URL
	jc, err := client.New(client.Options{BaseURL: srv.URL, Email: "bot@test", APIToken: "tok", MaxAttempts: 2,
		Sleep: func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	b.s, err = store.Open(ctx, filepath.Join(dir, store.FileName), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	w := b.s.NewWriter(16, nil)
	cfg, _ := config.FromMap(map[string]string{})
	proc := NewProcessor(jc, b.s, w, NewCatalog(cfg), ProcessorOptions{DataDir: dir, AttachmentMaxBytes: 1 << 20, AttachmentParallel: 2})
	opts.RetryBase = time.Millisecond
	b.q = NewQueue(proc, b.s, w, opts)
	t.Cleanup(func() {
		b.q.Close()
		w.Close()
		b.s.Close()
		srv.Close()
		em.Close()
	})
	return b
}

// release enqueues every issue of the site at once, as a storm's release
// makes them all ready, and waits until the queue is empty.
func (b *bulkSite) release(t *testing.T) {
	t.Helper()
	b.em.ResetStats()
	for _, key := range b.em.Keys() {
		is, err := b.em.Issue(key)
		if err != nil {
			t.Fatal(err)
		}
		b.q.Enqueue(is.ID, key)
	}
	if err := b.q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := b.q.Wait(ctx); err != nil {
		t.Fatalf("queue not empty: %v (depth %d)", err, b.q.Depth())
	}
}

func (b *bulkSite) stored(t *testing.T) int {
	t.Helper()
	var n int
	if err := b.s.DB().QueryRow(`SELECT count(*) FROM issues`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestReleaseFetchesInBulk: when many issues are ready at once (a storm's
// release, a bulk edit, a replay), workers read them with bulk fetches, not
// one GET issue each; an issue the bulk answer leaves out, or every issue
// of a failed bulk call, is fetched alone, and every issue is stored as a
// fetch of its own would have stored it.
func TestReleaseFetchesInBulk(t *testing.T) {
	const n = 60
	tests := []struct {
		name  string
		opts  QueueOptions
		setup func(t *testing.T, b *bulkSite)
		// wantAlone is how many GET issue calls are made; -1: as many as
		// the emulator moved into issueErrors.
		wantAlone  int64
		wantBulk   func(calls int64) bool
		wantStored int
	}{
		{name: "ready issues are read in bulk", wantAlone: 0, wantStored: n,
			// Four workers take a share of 16 (60 / 4, at least BulkFetch)
			// each, and the third the 12 left after its 16: 16, 16, 28.
			wantBulk: func(c int64) bool { return c == 3 }},
		{name: "issues left out of the answer are fetched alone", wantAlone: -1, wantStored: n,
			setup: func(t *testing.T, b *bulkSite) {
				if err := b.em.SetFaults(emulator.Faults{BulkErrorRate: 0.25}); err != nil {
					t.Fatal(err)
				}
			}, wantBulk: func(c int64) bool { return c == 3 }},
		{name: "a failed bulk call falls back to one fetch each", wantAlone: n, wantStored: n,
			setup: func(t *testing.T, b *bulkSite) {
				b.bulk = func(w http.ResponseWriter, r *http.Request) bool {
					w.WriteHeader(http.StatusInternalServerError)
					_, _ = w.Write([]byte(`{"errorMessages":["Internal server error"]}`))
					return true
				}
			}, wantBulk: func(c int64) bool { return c == 0 }},
		{name: "an issue deleted after it was queued is gone, nothing else", wantAlone: 1, wantStored: n - 1,
			setup: func(t *testing.T, b *bulkSite) {
				victim := b.em.Keys()[7]
				var once sync.Once
				b.bulk = func(w http.ResponseWriter, r *http.Request) bool {
					once.Do(func() {
						if err := b.em.Delete(victim); err != nil {
							t.Error(err)
						}
					})
					return false
				}
			}, wantBulk: func(c int64) bool { return c == 3 }},
		{name: "a few ready issues are fetched one by one", opts: QueueOptions{BulkFetch: n + 1}, wantAlone: n, wantStored: n,
			wantBulk: func(c int64) bool { return c == 0 }},
		{name: "bulk fetches turned off", opts: QueueOptions{BulkFetch: -1}, wantAlone: n, wantStored: n,
			wantBulk: func(c int64) bool { return c == 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBulkSite(t, n, tt.opts)
			if tt.setup != nil {
				tt.setup(t, b)
			}
			b.release(t)
			st := b.em.Stats()
			wantAlone := tt.wantAlone
			if wantAlone < 0 {
				wantAlone = st.Faults.BulkErrors
				if wantAlone == 0 {
					t.Error("no issue error was injected")
				}
			}
			if got := st.Calls[emulator.EndpointIssue]; got != wantAlone {
				t.Errorf("GET issue calls: got %d, want %d", got, wantAlone)
			}
			if got := st.Calls[emulator.EndpointBulkFetch]; !tt.wantBulk(got) {
				t.Errorf("bulk fetches: got %d", got)
			}
			if got := b.stored(t); got != tt.wantStored {
				t.Errorf("issues stored: got %d, want %d", got, tt.wantStored)
			}
		})
	}
}

// TestBulkReadIssuesMatchFetchesAlone: the rows of issues read in bulk are
// those of the same issues fetched one by one, in every analyst table.
func TestBulkReadIssuesMatchFetchesAlone(t *testing.T) {
	const n = 40
	digests := func(opts QueueOptions) map[string]string {
		b := newBulkSite(t, n, opts)
		b.release(t)
		out := map[string]string{}
		for _, table := range normalize.Tables {
			// When the rows were written is not what they hold, nor the
			// address each site's emulator listened on.
			q := fmt.Sprintf(`SELECT count(*) || ' ' || coalesce(md5(string_agg(r, chr(10) ORDER BY r)), '')
				FROM (SELECT replace((t)::VARCHAR, ?, 'SITE') AS r FROM (SELECT * EXCLUDE (%s) FROM %s) t)`,
				map[string]string{"issues": "synced_at", "sla": "observed_at"}[table], table)
			q = strings.Replace(q, "EXCLUDE ()", "", 1)
			var d string
			if err := b.s.DB().QueryRow(q, b.url).Scan(&d); err != nil {
				t.Fatalf("%s: %v", table, err)
			}
			out[table] = d
		}
		return out
	}
	bulk, alone := digests(QueueOptions{}), digests(QueueOptions{BulkFetch: -1})
	if bulk["issues"] != alone["issues"] || strings.HasPrefix(bulk["issues"], "0 ") {
		t.Errorf("issues: got %s in bulk, %s alone, want the same, not empty", bulk["issues"], alone["issues"])
	}
	for table, d := range alone {
		if bulk[table] != d {
			t.Errorf("%s: got %s in bulk, want %s as fetched alone", table, bulk[table], d)
		}
	}
}

// TestGroupsLeaveDeletionsAlone: a group for a bulk fetch takes a worker's
// share of the ready issues in their order, the rest too when too few would
// be left, and never a deletion, which waits for its own fetch's 404.
func TestGroupsLeaveDeletionsAlone(t *testing.T) {
	q := NewQueue(nil, nil, nil, QueueOptions{Workers: 2, BulkFetch: 4})
	defer q.cancel()
	var ready []*item
	for i := range 11 {
		ready = append(ready, &item{ident: fmt.Sprint("id:", i), id: fmt.Sprint(i), delete: i == 0 || i == 5, state: stateReady})
	}
	q.ready = slices.Clone(ready)
	q.mu.Lock()
	defer q.mu.Unlock()
	idents := func(items []*item) string {
		var out []string
		for _, it := range items {
			out = append(out, it.id)
		}
		return strings.Join(out, ",")
	}
	// 11 ready, two workers: a share of 6, which leaves 5 (4 or more).
	if got := idents(q.groupLocked()); got != "1,2,3,4,6,7" {
		t.Errorf("first group: got %s, want 1,2,3,4,6,7 (0 and 5 are deletions)", got)
	}
	// 0, 5, 8, 9, 10: a share of 4 would leave 1, so the group takes all
	// three that are not deletions.
	if got := idents(q.groupLocked()); got != "8,9,10" {
		t.Errorf("second group: got %s, want 8,9,10", got)
	}
	if got := idents(q.ready); got != "0,5" {
		t.Errorf("left ready: got %s, want the deletions 0,5", got)
	}
	if g := q.groupLocked(); g != nil {
		t.Errorf("with 2 ready, under BulkFetch: got group %s, want none", idents(g))
	}
	for _, it := range ready {
		want := stateRunning
		if it.delete {
			want = stateReady
		}
		if it.state != want {
			t.Errorf("item %s: state %s, want %s", it.id, it.state, want)
		}
	}
}

// TestBacklogCountsIssuesInABulkFetch: the issues a bulk fetch is reading
// still wait for their write, so the exporter keeps putting off its passes
// while they and the ready ones are more than a write transaction takes.
func TestBacklogCountsIssuesInABulkFetch(t *testing.T) {
	q := NewQueue(nil, nil, nil, QueueOptions{Workers: 2, BulkFetch: 4, MaxWrites: 6})
	defer q.cancel()
	for i := range 11 {
		q.ready = append(q.ready, &item{ident: fmt.Sprint("id:", i), id: fmt.Sprint(i), state: stateReady})
	}
	q.mu.Lock()
	group := q.groupLocked()
	q.mu.Unlock()
	if len(group) != 6 || len(q.ready) != 5 {
		t.Fatalf("group of %d, %d left ready; want 6 and 5", len(group), len(q.ready))
	}
	if !q.Backlog() {
		t.Errorf("backlog with 5 ready and 6 in a bulk fetch (MaxWrites 6): got none")
	}
	q.mu.Lock()
	q.ready = nil
	q.mu.Unlock()
	if q.Backlog() {
		t.Errorf("backlog with only the 6 in a bulk fetch (MaxWrites 6): got one, want none")
	}
}
