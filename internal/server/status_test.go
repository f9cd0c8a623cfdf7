package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/export"
	"github.com/jiraduck/jiraduck/internal/intake"
	"github.com/jiraduck/jiraduck/internal/pipeline"
	"github.com/jiraduck/jiraduck/internal/store"
	"github.com/sirupsen/logrus"
)

// Secrets of the test configuration: none may ever reach the page.
var testSecrets = map[string]string{
	"JIRA_WEBHOOK_SECRET":  "whsec-7f3a9c1e-never-shown",
	"JIRADUCK_ADMIN_TOKEN": "admin-5d2b8e4f-never-shown",
	"JIRA_API_TOKEN":       "api-token-1c9e7a3d-never-shown",
	"JIRA_SLA_API_TOKEN":   "sla-token-8b4f2e6a-never-shown",
}

// evilError is an event error carrying markup, as a Jira answer might.
const evilError = `fetch issue SUP-3: status 502: <script>alert("x")</script> & <b>bold</b>`

// statusFixture is a server over a migrated store in a temporary folder.
type statusFixture struct {
	store   *store.Store
	queue   *pipeline.Queue
	intake  *intake.Intake
	handler http.Handler
}

func newStatusFixture(t testing.TB) *statusFixture {
	t.Helper()
	return newStatusFixtureWith(t, nil)
}

// newStatusFixtureWith is newStatusFixture with the settings changed by mod.
func newStatusFixtureWith(t testing.TB, mod func(vars map[string]string)) *statusFixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, store.FileName), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{
		"JIRA_DOMAIN": "example.atlassian.net", "JIRA_EMAIL": "bot@example.test", "JIRA_SLA_EMAIL": "agent@example.test",
		"JIRADUCK_DATA_DIR": dir, "JIRADUCK_RECONCILE_SCHEDULE": "",
	}
	for k, v := range testSecrets {
		vars[k] = v
	}
	if mod != nil {
		mod(vars)
	}
	cfg, err := config.FromMap(vars)
	if err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	w := st.NewWriter(8, nil)
	t.Cleanup(func() { w.Close() })
	q := pipeline.NewQueue(nil, st, w, pipeline.QueueOptions{Logger: log})
	t.Cleanup(q.Close)
	in, err := intake.New(ctx, st, q, intake.Options{Secret: []byte(cfg.WebhookSecret.Reveal()), AllowUnsigned: cfg.AllowUnsigned, Logger: log,
		Journal: filepath.Join(dir, intake.JournalName)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	ex := export.New(st, w, export.Options{DataDir: dir, Logger: log})
	h := New(Deps{Config: cfg, Store: st, Intake: in, Queue: q, Exporter: ex, Logger: log})
	return &statusFixture{store: st, queue: q, intake: in, handler: h}
}

// seed stores 100 events (3 failed, 2 pending), three runs, three
// partitions, issues and attachments.
func (f *statusFixture) seed(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	var events, pending []*store.Event
	var failed, done []int64
	for i := 1; i <= 100; i++ {
		e := &store.Event{ID: int64(i), DeliveryID: fmt.Sprintf("d-%d", i), Type: "jira:issue_updated",
			IssueKey: fmt.Sprintf("SUP-%d", i%7+1), IssueID: fmt.Sprint(10000 + i%7), ReceivedAt: now.Add(time.Duration(i-100) * time.Second),
			State: store.EventPending}
		events = append(events, e)
		switch {
		case i <= 3:
			failed = append(failed, e.ID)
		case i > 98:
			pending = append(pending, e)
		default:
			done = append(done, e.ID)
		}
	}
	mustTx(t, f.store, func(tx *store.Tx) error {
		if err := store.InsertEvents(ctx, tx, events); err != nil {
			return err
		}
		if err := store.FinishEvents(ctx, tx, failed, store.EventFailed, evilError, 6); err != nil {
			return err
		}
		return store.FinishEvents(ctx, tx, done, store.EventDone, "", 1)
	})
	f.queue.Accept(pending)

	poll, err := f.store.StartRun(ctx, "sla-poll", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.FinishRun(ctx, poll, store.RunOK, map[string]int{"updated": 1234, "failed": 0}, nil); err != nil {
		t.Fatal(err)
	}
	rec, err := f.store.StartRun(ctx, "reconcile", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.FinishRun(ctx, rec, store.RunFailed, nil, errors.New("search jql: status 401")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.StartRun(ctx, "backfill", nil); err != nil {
		t.Fatal(err)
	}

	mustTx(t, f.store, func(tx *store.Tx) error {
		for _, p := range []store.PublishedPartition{
			{Table: "issues", Month: "2025-05", Rows: 1500, Bytes: 3 << 20, SHA256: "a", WrittenAt: now.Add(-time.Hour)},
			{Table: "issues", Month: "2025-06", Rows: 20, Bytes: 40 << 10, SHA256: "b", WrittenAt: now.Add(-time.Minute)},
			{Table: "comments", Month: "2025-06", Rows: 7, Bytes: 9 << 10, SHA256: "c", WrittenAt: now.Add(-time.Minute)},
		} {
			d := store.DirtyPartition{Partition: store.Partition{Table: p.Table, Month: p.Month}}
			if err := store.RecordExport(ctx, tx, d, &p); err != nil {
				return err
			}
		}
		for i := 1; i <= 3; i++ {
			if _, err := tx.ExecContext(ctx, `INSERT INTO issues (issue_key, issue_id, created_at, synced_at) VALUES (?, ?, ?, ?)`,
				fmt.Sprintf("SUP-%d", i), fmt.Sprint(10000+i), now, now); err != nil {
				return err
			}
		}
		for i, state := range []string{"live", "live", "incomplete", "deleted"} {
			var deleted *time.Time
			if state == "deleted" {
				deleted = &now
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO raw_issues (issue_id, issue_key, incomplete, fetched_at, deleted_at)
				VALUES (?, ?, ?, ?, ?)`, fmt.Sprint(10001+i), fmt.Sprintf("SUP-%d", i+1), state == "incomplete", now, deleted); err != nil {
				return err
			}
		}
		for i, a := range []struct{ path, skipped string }{{"attachments/SUP-1/1_a.txt", ""}, {"attachments/SUP-1/2_b.png", ""},
			{"", "larger than 52428800 bytes"}, {"", ""}} {
			if _, err := tx.ExecContext(ctx, `INSERT INTO attachments (attachment_id, issue_key, local_path, size_bytes, skipped_reason)
				VALUES (?, 'SUP-1', ?, 2048, ?)`, fmt.Sprint(i+1), nullable(a.path), nullable(a.skipped)); err != nil {
				return err
			}
		}
		return nil
	})
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func mustTx(t testing.TB, s *store.Store, fn func(tx *store.Tx) error) {
	t.Helper()
	if err := s.WithTx(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func (f *statusFixture) get(t testing.TB, target string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	return rec.Result(), rec.Body.String()
}

func TestStatusPage(t *testing.T) {
	f := newStatusFixture(t)
	f.seed(t)
	res, body := f.get(t, "/")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status: got %d, want 200; body %s", res.StatusCode, body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("content type: got %q", ct)
	}
	for _, tc := range []struct{ name, want string }{
		{"queue depth", `id="queue-depth">2<`},
		{"issues stored", `id="issues-stored">3<`},
		{"issues table", `id="rows-issues">3<`},
		{"event total", `id="events-total">100<`},
		{"failed events", `id="events-failed">3<`},
		{"pending chip", `id="state-pending">pending 2<`},
		{"done chip", `id="state-done">done 95<`},
		{"webhook_events rows", `id="rows-webhook_events">100<`},
		{"attachments stored", `id="attachments-stored">2 <`},
		{"attachments skipped", `id="attachments-skipped">1<`},
		{"attachments total", `id="attachments-total">4<`},
		{"partition month", `<td class="nowrap">2025-05</td>`},
		{"partition rows", `<td class="n">1,520</td>`},
		{"partition size", `3.0 MiB`},
		{"job counts", `failed 0 · updated 1,234`},
		{"job error", `search jql: status 401`},
		{"running job", `<span class="badge s-running">running</span>`},
		{"domain", `example.atlassian.net`},
		{"webhook secret set", `<th scope="row">Webhook secret</th><td class="ok">set</td>`},
		{"sla account set", `<td class="ok">set (separate account)</td>`},
		{"escaped error", `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(body, tc.want) {
				t.Errorf("page lacks %s", tc.want)
			}
		})
	}
	for _, bad := range []string{"<script", "<b>bold", "Could not read"} {
		if strings.Contains(body, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	for name, secret := range testSecrets {
		if strings.Contains(body, secret) {
			t.Errorf("page shows the value of %s", name)
		}
	}
	// The three failed events are older than the 50 recent ones.
	if n := strings.Count(body, `<span class="badge s-failed">failed</span>`); n != 3+1 {
		t.Errorf("failed badges: got %d, want 4 (3 failed events, the reconcile run)", n)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("content security policy: got %q", csp)
	}
}

func TestStatusPageEmptyStore(t *testing.T) {
	f := newStatusFixture(t)
	res, body := f.get(t, "/")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status: got %d, want 200", res.StatusCode)
	}
	for _, want := range []string{`id="queue-depth">0<`, `id="events-total">0<`, "No webhook received yet.", "No failed events.",
		"No job has run yet.", "Nothing exported yet."} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
}

// A broken table costs its own section, never the page.
func TestStatusPageFailingQueries(t *testing.T) {
	f := newStatusFixture(t)
	f.seed(t)
	for _, st := range []string{`DROP TABLE sync_runs`, `DROP TABLE attachments`} {
		if _, err := f.store.DB().Exec(st); err != nil {
			t.Fatal(err)
		}
	}
	res, body := f.get(t, "/")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status: got %d, want 200", res.StatusCode)
	}
	if n := strings.Count(body, "Could not read this section"); n != 2 {
		t.Errorf("section errors: got %d, want 2 (jobs, attachments)", n)
	}
	for _, want := range []string{"Some sections could not be read", "sync_runs", `id="events-total">100<`, `id="rows-issues">3<`,
		`<td class="nowrap">2025-05</td>`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
}

func TestStatusPageRefresh(t *testing.T) {
	f := newStatusFixture(t)
	for _, tc := range []struct{ query, want string }{
		{"", ""},
		{"?refresh=10", `<meta http-equiv="refresh" content="10">`},
		{"?refresh=1", ""},
		{"?refresh=99999", `<meta http-equiv="refresh" content="3600">`},
		{`?refresh="><script>`, ""},
	} {
		t.Run(tc.query, func(t *testing.T) {
			_, body := f.get(t, "/"+tc.query)
			has := strings.Contains(body, `http-equiv="refresh"`)
			if tc.want == "" && has || tc.want != "" && !strings.Contains(body, tc.want) {
				t.Errorf("got refresh tag %v, want %q", has, tc.want)
			}
		})
	}
}

func TestStatusPageUnsetSecrets(t *testing.T) {
	cfg, err := config.FromMap(map[string]string{"JIRA_BASE_URL": "https://jira.example.test/jira/"})
	if err != nil {
		t.Fatal(err)
	}
	rows := configRows(cfg, false)
	got := map[string]string{}
	for _, r := range rows {
		got[r.Name] = r.Value
	}
	want := map[string]string{
		"Jira site":        "jira.example.test/jira",
		"Jira API account": "not set: webhooks are stored but not processed",
		"Webhook secret":   "not set: webhooks are refused",
		"Admin token":      "not set: admin API off",
		"SLA poll":         config.DefaultSLAPollSchedule,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
	// Validation refuses such a URL; the page would still not show its parts.
	if got := siteOf(&config.Config{JiraBaseURL: "https://bob:pa55word@jira.example.test/?token=q"}); got != "jira.example.test" {
		t.Errorf("site of a base URL with user info: got %q, want jira.example.test", got)
	}
	if rows := configRows(cfg, true); rows[3].Value != "not set: unsigned webhooks are accepted" {
		t.Errorf("webhook secret with unsigned webhooks allowed: got %q", rows[3].Value)
	}
}

func TestFormatters(t *testing.T) {
	now := time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)
	p := &statusPage{Now: now}
	for _, tc := range []struct{ name, got, want string }{
		{"bytes small", formatBytes(512), "512 B"},
		{"bytes KiB", formatBytes(1536), "1.5 KiB"},
		{"bytes MiB", formatBytes(52428800), "50.0 MiB"},
		{"bytes large", formatBytes(300 << 30), "300 GiB"},
		{"count", formatCount(1234567), "1,234,567"},
		{"count small", formatCount(int64(999)), "999"},
		{"count negative", formatCount(-1000), "-1,000"},
		{"duration ms", formatDuration(350 * time.Millisecond), "350 ms"},
		{"duration s", formatDuration(2500 * time.Millisecond), "2.5 s"},
		{"duration whole s", formatDuration(3 * time.Second), "3 s"},
		{"duration min", formatDuration(4*time.Minute + 10*time.Second), "4 min 10 s"},
		{"duration h", formatDuration(2 * time.Hour), "2 h"},
		{"duration d", formatDuration(720 * time.Hour), "30 d"},
		{"ago", p.Ago(now.Add(-3 * time.Second)), "3 s ago"},
		{"ago never", p.Ago(time.Time{}), "never"},
		{"ago now", p.Ago(now), "just now"},
		{"clip", clip(3, "abcdef"), "abc…"},
		{"clip short", clip(3, "ab"), "ab"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

// BenchmarkStatusPage renders the page over 100 stored events.
func BenchmarkStatusPage(b *testing.B) {
	f := newStatusFixture(b)
	f.seed(b)
	for b.Loop() {
		if res, _ := f.get(b, "/"); res.StatusCode != http.StatusOK {
			b.Fatalf("status %d", res.StatusCode)
		}
	}
}

// Only "/" is the page; other paths keep the JSON not-found answer.
func TestStatusPageRoute(t *testing.T) {
	f := newStatusFixture(t)
	for _, tc := range []struct {
		method, target string
		status         int
		html           bool
	}{
		{http.MethodGet, "/", http.StatusOK, true},
		{http.MethodHead, "/", http.StatusOK, false},
		{http.MethodGet, "/nope", http.StatusNotFound, false},
		{http.MethodPost, "/", http.StatusMethodNotAllowed, false},
	} {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			rec := httptest.NewRecorder()
			f.handler.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.target, nil))
			if rec.Code != tc.status {
				t.Errorf("status: got %d, want %d", rec.Code, tc.status)
			}
			if got := strings.Contains(rec.Body.String(), "<!doctype html>"); got != tc.html {
				t.Errorf("html body: got %v, want %v", got, tc.html)
			}
		})
	}
}
