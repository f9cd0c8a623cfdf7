package jobs

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/jira/client"
	"github.com/jiraduck/jiraduck/internal/pipeline"
	"github.com/jiraduck/jiraduck/internal/store"
)

// backfillSite is an emulated Jira behind a proxy the test can steer, and
// a migrated store with its processor.
type backfillSite struct {
	em   *emulator.Emulator
	jc   *client.Client
	s    *store.Store
	w    *store.Writer
	proc *pipeline.Processor
	// bulk, when set, answers a bulk fetch instead of the emulator (true)
	// or lets it through (false).
	mu   sync.Mutex
	bulk func(w http.ResponseWriter, r *http.Request) bool
}

func newBackfillSite(t *testing.T, issues int) *backfillSite {
	t.Helper()
	ctx := context.Background()
	now := time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)
	em, err := emulator.New(emulator.Options{Issues: issues, Seed: 3, Now: now, Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	b := &backfillSite{em: em}
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
	t.Cleanup(srv.Close)
	b.jc, err = client.New(client.Options{BaseURL: srv.URL, Email: "bot@test", APIToken: "tok", MaxAttempts: 2,
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
	b.w = b.s.NewWriter(16, nil)
	cfg, _ := config.FromMap(map[string]string{})
	b.proc = pipeline.NewProcessor(b.jc, b.s, b.w, pipeline.NewCatalog(cfg),
		pipeline.ProcessorOptions{DataDir: dir, AttachmentMaxBytes: 1 << 20, AttachmentParallel: 4})
	t.Cleanup(func() {
		b.w.Close()
		b.s.Close()
		em.Close()
	})
	return b
}

func (b *backfillSite) count(t *testing.T, query string) int {
	t.Helper()
	var n int
	if err := b.s.DB().QueryRow(query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBackfillFetchesInBulk: a backfill asks for 100 issues a call and
// pages only the lists the bulk answer cut short; an issue the bulk fetch
// did not return (issueErrors, a failed call, deleted meanwhile) is fetched
// alone, and the counts say what happened to each.
func TestBackfillFetchesInBulk(t *testing.T) {
	const n = 250
	tests := []struct {
		name string
		// setup steers the site before the backfill.
		setup       func(t *testing.T, b *backfillSite)
		wantFetched int
		wantGone    int
		// wantAlone is how many issues are fetched with GET issue; -1: as
		// many as the emulator moved into issueErrors.
		wantAlone int
		// wantBulk is how many bulk fetches reach the emulator (0: one per
		// 100 issues).
		wantBulk int64
	}{
		{name: "bulk", setup: func(*testing.T, *backfillSite) {}, wantFetched: n},
		{name: "issue errors fall back", setup: func(t *testing.T, b *backfillSite) {
			if err := b.em.SetFaults(emulator.Faults{BulkErrorRate: 0.2}); err != nil {
				t.Fatal(err)
			}
		}, wantFetched: n, wantAlone: -1},
		{name: "a failed bulk call falls back", setup: func(t *testing.T, b *backfillSite) {
			// Every attempt at the bulk fetch holding the first issue
			// fails; the others pass.
			first, err := b.em.Issue(b.em.Keys()[0])
			if err != nil {
				t.Fatal(err)
			}
			b.bulk = func(w http.ResponseWriter, r *http.Request) bool {
				body, _ := io.ReadAll(r.Body)
				r.Body = io.NopCloser(bytes.NewReader(body))
				if !bytes.Contains(body, []byte(`"`+first.ID+`"`)) {
					return false
				}
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = w.Write([]byte(`{"errorMessages":["Internal server error"]}`))
				return true
			}
		}, wantFetched: n, wantAlone: 100, wantBulk: 2},
		{name: "an issue deleted after listing is gone", setup: func(t *testing.T, b *backfillSite) {
			victim := b.em.Keys()[5]
			var once sync.Once
			b.bulk = func(w http.ResponseWriter, r *http.Request) bool {
				once.Do(func() {
					if err := b.em.Delete(victim); err != nil {
						t.Error(err)
					}
				})
				return false
			}
		}, wantFetched: n - 1, wantGone: 1, wantAlone: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackfillSite(t, n)
			tt.setup(t, b)
			b.em.ResetStats()
			res, err := Backfill(context.Background(), b.jc, b.s, b.proc, BackfillOptions{Parallel: 4, RetryDelay: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if res.Listed != n || res.Fetched != tt.wantFetched || res.Gone != tt.wantGone || res.Failed != 0 {
				t.Errorf("got %+v, want %d listed, %d fetched, %d gone, none failed", res, n, tt.wantFetched, tt.wantGone)
			}
			st := b.em.Stats()
			wantAlone := int64(tt.wantAlone)
			if tt.wantAlone < 0 {
				wantAlone = st.Faults.BulkErrors
				if wantAlone == 0 {
					t.Error("no issue error was injected")
				}
			}
			if got := st.Calls[emulator.EndpointIssue]; got != wantAlone {
				t.Errorf("GET issue calls: got %d, want %d", got, wantAlone)
			}
			if int64(res.Alone) != wantAlone || res.Counts()["fetched_alone"] != res.Alone {
				t.Errorf("fetched alone: got %d (counts %v), want %d", res.Alone, res.Counts(), wantAlone)
			}
			wantBulk := tt.wantBulk
			if wantBulk == 0 {
				wantBulk = (n + 99) / 100
			}
			if got := st.Calls[emulator.EndpointBulkFetch]; got != wantBulk {
				t.Errorf("bulk fetches: got %d, want %d", got, wantBulk)
			}
			// Pages only where the bulk answer cut a list short: at most
			// the pages the issues with more than it embeds need.
			var wantPages int64
			for _, k := range b.em.Keys() {
				is, err := b.em.Issue(k)
				if err != nil {
					continue
				}
				if c := len(is.Comments); c > 100 {
					wantPages += int64((c + 99) / 100)
				}
				if h := len(is.Histories); h > 40 {
					wantPages += int64((h + 99) / 100)
				}
			}
			if got := st.Calls[emulator.EndpointComment] + st.Calls[emulator.EndpointChangelog]; got > wantPages {
				t.Errorf("comment and changelog pages: got %d, want at most %d", got, wantPages)
			}
			issueLevel := st.Calls[emulator.EndpointIssue] + st.Calls[emulator.EndpointBulkFetch] +
				st.Calls[emulator.EndpointComment] + st.Calls[emulator.EndpointChangelog]
			if tt.name == "bulk" && float64(issueLevel)/n > 1.05 {
				t.Errorf("issue-level calls per issue: got %.2f (%d), want at most 1.05", float64(issueLevel)/n, issueLevel)
			}
			if got := b.count(t, `SELECT count(*) FROM issues`); got != tt.wantFetched {
				t.Errorf("issues stored: got %d, want %d", got, tt.wantFetched)
			}
			if got := b.count(t, `SELECT count(*) FROM raw_issues WHERE incomplete`); got != 0 {
				t.Errorf("incomplete issues stored: got %d, want 0", got)
			}
			var wantComments, wantHistories int
			for _, k := range b.em.Keys() {
				if is, err := b.em.Issue(k); err == nil {
					wantComments += len(is.Comments)
					wantHistories += len(is.Histories)
				}
			}
			if got := b.count(t, `SELECT count(*) FROM comments`); got != wantComments {
				t.Errorf("comments stored: got %d, want %d", got, wantComments)
			}
			if got := b.count(t, `SELECT count(DISTINCT change_id) FROM changelog`); got > wantHistories || got < wantHistories*9/10 {
				t.Errorf("histories stored: got %d, want about %d (those with items)", got, wantHistories)
			}
			// Everything is stored whole: a second run fetches nothing.
			b.em.ResetStats()
			again, err := Backfill(context.Background(), b.jc, b.s, b.proc, BackfillOptions{Parallel: 4})
			if err != nil || again.Fetched != 0 || again.Skipped != tt.wantFetched {
				t.Errorf("second run: got %+v, %v; want everything skipped", again, err)
			}
			if calls := b.em.Stats().Calls; calls[emulator.EndpointBulkFetch]+calls[emulator.EndpointIssue] != 0 {
				t.Errorf("second run fetched: %v", calls)
			}
		})
	}
}

// TestBackfillBulkResumes: a backfill interrupted between bulk fetches is
// finished by the next run, which skips what the first one stored.
func TestBackfillBulkResumes(t *testing.T) {
	const n = 300
	b := newBackfillSite(t, n)
	ctx, cancel := context.WithCancel(context.Background())
	var done atomic.Int64
	_, err := Backfill(ctx, b.jc, b.s, b.proc, BackfillOptions{Parallel: 4, Progress: func() {
		if done.Add(1) == n/2 {
			cancel()
		}
	}})
	if err == nil {
		t.Fatal("the interrupted backfill returned no error")
	}
	// An attachment download the interruption cut short left its issue
	// stored incomplete: fetched again, like every incomplete issue.
	whole := b.count(t, `SELECT count(*) FROM raw_issues WHERE NOT incomplete`)
	res, err := Backfill(context.Background(), b.jc, b.s, b.proc, BackfillOptions{Parallel: 4})
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped != whole || res.Fetched+res.Skipped != n || res.Failed != 0 {
		t.Errorf("resumed: got %+v, want %d skipped and the rest of %d fetched", res, whole, n)
	}
	if got := b.count(t, `SELECT count(*) FROM issues`); got != n {
		t.Errorf("issues stored: got %d, want %d", got, n)
	}
}

// TestBackfillConflictFailsAlone: an issue that carries an id the store
// holds for another issue (Jira sent one id for two issues) fails alone,
// with an error naming both; the other issues written in its batch are
// stored, and not fetched again.
func TestBackfillConflictFailsAlone(t *testing.T) {
	const n = 120
	b := newBackfillSite(t, n)
	var victim, commentID string
	for _, k := range b.em.Keys() {
		is, err := b.em.Issue(k)
		if err != nil {
			t.Fatal(err)
		}
		if len(is.Comments) > 0 {
			victim, commentID = k, is.Comments[0].ID
			break
		}
	}
	if victim == "" {
		t.Fatal("no generated issue has a comment")
	}
	if _, err := b.s.DB().Exec(`INSERT INTO comments (comment_id, issue_key, body) VALUES (?, 'ZZZ-1', 'held by another issue')`, commentID); err != nil {
		t.Fatal(err)
	}
	res, err := Backfill(context.Background(), b.jc, b.s, b.proc, BackfillOptions{Parallel: 4, RetryDelay: time.Millisecond})
	if err == nil {
		t.Fatal("backfill: got no error, want the conflicting issue reported")
	}
	if res.Listed != n || res.Fetched != n-1 || res.Failed != 1 {
		t.Errorf("got %+v, want %d listed, %d fetched, 1 failed", res, n, n-1)
	}
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0], victim) || !strings.Contains(res.Errors[0], "ZZZ-1") ||
		!strings.Contains(res.Errors[0], "one id for two issues") {
		t.Errorf("errors: got %q, want one naming %s and ZZZ-1 as holding one id", res.Errors, victim)
	}
	if got := b.count(t, `SELECT count(*) FROM issues`); got != n-1 {
		t.Errorf("issues stored: got %d, want %d", got, n-1)
	}
}
