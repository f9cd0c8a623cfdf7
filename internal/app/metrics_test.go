package app_test

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/emulator"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads GET /metrics of a running serve.
func scrape(t *testing.T, addr string) scraped {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("GET /metrics: content type %q, want the Prometheus text format", ct)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("GET /metrics: not the Prometheus text format: %v", err)
	}
	return scraped(fams)
}

// scraped is one parsed scrape, by family name.
type scraped map[string]*dto.MetricFamily

// matching returns the samples of a family whose labels include every
// name=value pair given.
func (s scraped) matching(name string, pairs ...string) []*dto.Metric {
	f := s[name]
	if f == nil {
		return nil
	}
	var out []*dto.Metric
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		ok := true
		for i := 0; i+1 < len(pairs); i += 2 {
			if have[pairs[i]] != pairs[i+1] {
				ok = false
			}
		}
		if ok {
			out = append(out, m)
		}
	}
	return out
}

// sum adds the values of the matching samples of a counter or gauge family,
// or the observation counts of a histogram family.
func (s scraped) sum(name string, pairs ...string) float64 {
	total := 0.0
	for _, m := range s.matching(name, pairs...) {
		switch {
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		case m.Histogram != nil:
			total += float64(m.GetHistogram().GetSampleCount())
		case m.Untyped != nil:
			total += m.GetUntyped().GetValue()
		}
	}
	return total
}

// labelValues lists the values one label takes in a family.
func (s scraped) labelValues(name, label string) []string {
	seen := map[string]bool{}
	for _, m := range s.matching(name) {
		for _, l := range m.GetLabel() {
			if l.GetName() == label {
				seen[l.GetValue()] = true
			}
		}
	}
	var out []string
	for v := range seen {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// metricFamiliesInSource lists the jiraduck_* names internal/metrics
// registers, so a family added there without a check here fails this test.
func metricFamiliesInSource(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "..", "internal", "metrics", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range paths {
		// publish.go's families exist only with a bucket configured;
		// the publish tests check them.
		if strings.HasSuffix(p, "_test.go") || filepath.Base(p) == "publish.go" {
			continue
		}
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`"(jiraduck_[a-z0-9_]+)"`).FindAllSubmatch(src, -1) {
			seen[string(m[1])] = true
		}
	}
	var out []string
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// TestMetricsAfterABurst drives a serve with the emulator (edits, a comment,
// a small and an oversized attachment, a created issue, a throttled fetch, a
// badly signed delivery and scheduled SLA polls), then scrapes /metrics and
// checks every family of internal/metrics with the values that burst implies.
func TestMetricsAfterABurst(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator test skipped in -short mode")
	}
	t.Parallel()
	start := time.Now()
	// A frozen Jira clock keeps SLA values still, so the scheduled poll
	// finds nothing to heal and the queue stays empty once settled.
	clock := &testClock{t: time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)}
	// An SLA poll every second: more often than a setting may ask.
	live := apptest.StartTunedLiveSite(t, emulator.Options{Issues: 20, Months: 3, Seed: 11, Clock: clock.now},
		map[string]string{"JIRADUCK_ATTACHMENT_MAX_BYTES": "1000"},
		func(c *config.Config) { c.SLAPollSchedule = "@every 1s" })
	em, addr := live.Emulator, live.Service.Addr()
	var sup []string
	for _, k := range em.Keys() {
		if strings.HasPrefix(k, "SUP-") {
			sup = append(sup, k)
		}
	}
	if len(sup) < 8 {
		t.Fatalf("the generated site has %d SUP issues, want at least 8", len(sup))
	}
	// The newest ones: the first generated issues carry 150 comments, which
	// only slow this test down.
	sup = sup[len(sup)-5:]

	// Before anything happens: the gauges are there, the counters not yet.
	idle := scrape(t, addr)
	for _, name := range []string{"jiraduck_queue_depth", "jiraduck_queue_oldest_pending_seconds", "jiraduck_failed_events"} {
		if idle[name] == nil || idle.sum(name) != 0 {
			t.Errorf("%s before any event: got %v, want 0", name, idle.sum(name))
		}
	}

	// The burst: every change below sends a signed webhook.
	for i := 0; i < 4; i++ {
		apptest.Must(t, em.Update(sup[i], func(is *emulator.Issue) { is.Summary = fmt.Sprintf("metrics edit %d", i) }))
	}
	_, err := em.AddComment(sup[0], emulator.Comment{Body: emulator.Text("a comment for the metrics test")})
	apptest.Must(t, err)
	_, err = em.AddAttachment(sup[1], emulator.Attachment{Filename: "small.txt", MimeType: "text/plain", Size: 42}, nil)
	apptest.Must(t, err)
	_, err = em.AddAttachment(sup[2], emulator.Attachment{Filename: "large.bin", MimeType: "application/octet-stream", Size: 5000}, nil)
	apptest.Must(t, err)
	_, err = em.Create("SUP", func(is *emulator.Issue) { is.Summary = "created for the metrics test" })
	apptest.Must(t, err)

	// A delivery signed with the wrong secret.
	bad := strings.NewReader(`{"timestamp":1751284800000,"webhookEvent":"jira:issue_updated","issue":{"id":"10001","key":"SUP-1"}}`)
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/webhooks/jira", bad)
	apptest.Must(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature", "sha256="+strings.Repeat("0", 64))
	resp, err := http.DefaultClient.Do(req)
	apptest.Must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("badly signed delivery: status %d, want 401", resp.StatusCode)
	}
	live.Settle(t)

	// A fetch that Jira throttles once: the retry and the wait are counted.
	apptest.Must(t, em.SetFaults(emulator.Faults{ThrottleRate: 1, RetryAfter: time.Second}))
	apptest.Must(t, em.Update(sup[4], func(is *emulator.Issue) { is.Summary = "throttled once" }))
	apptest.WaitFor(t, 15*time.Second, func() error {
		if em.Stats().Faults.Throttled == 0 {
			return errors.New("no request was throttled")
		}
		return nil
	})
	apptest.Must(t, em.SetFaults(emulator.Faults{}))
	live.Settle(t)

	// Wait for a scheduled SLA poll (every second) to have succeeded.
	_ = apptest.Poll(15*time.Second, func() error {
		if n := scrape(t, addr).sum("jiraduck_job_runs_total", "job_name", "sla-poll", "status", "ok"); n < 1 {
			return fmt.Errorf("sla-poll runs ok: %v", n)
		}
		return nil
	})
	live.Settle(t)
	s := scrape(t, addr)

	type check struct {
		name string
		kind dto.MetricType
		// ok checks the family's values; nil only checks that it is there.
		ok func(s scraped) error
	}
	atLeast := func(min float64, name string, pairs ...string) func(s scraped) error {
		return func(s scraped) error {
			if got := s.sum(name, pairs...); got < min {
				return fmt.Errorf("%s%v: got %v, want at least %v", name, pairs, got, min)
			}
			return nil
		}
	}
	exactly := func(want float64, name string, pairs ...string) func(s scraped) error {
		return func(s scraped) error {
			if got := s.sum(name, pairs...); got != want {
				return fmt.Errorf("%s%v: got %v, want %v", name, pairs, got, want)
			}
			return nil
		}
	}
	all := func(fs ...func(s scraped) error) func(s scraped) error {
		return func(s scraped) error {
			var errs []string
			for _, f := range fs {
				if err := f(s); err != nil {
					errs = append(errs, err.Error())
				}
			}
			if len(errs) > 0 {
				return fmt.Errorf("%s", strings.Join(errs, "; "))
			}
			return nil
		}
	}
	counter, gauge, histogram := dto.MetricType_COUNTER, dto.MetricType_GAUGE, dto.MetricType_HISTOGRAM
	checks := []check{
		{"jiraduck_webhooks_received_total", counter, all(
			atLeast(5, "jiraduck_webhooks_received_total", "event_type", "jira:issue_updated", "code", "202"),
			atLeast(1, "jiraduck_webhooks_received_total", "event_type", "comment_created", "code", "202"),
			atLeast(2, "jiraduck_webhooks_received_total", "event_type", "attachment_created", "code", "202"),
			atLeast(1, "jiraduck_webhooks_received_total", "event_type", "jira:issue_created", "code", "202"),
			// A refused signature is counted before the body is read, so
			// its event type is unknown.
			exactly(1, "jiraduck_webhooks_received_total", "event_type", "unknown", "code", "401"),
			exactly(1, "jiraduck_webhooks_received_total", "code", "401"))},
		{"jiraduck_webhook_signature_failures_total", counter, exactly(1, "jiraduck_webhook_signature_failures_total")},
		{"jiraduck_jira_requests_total", counter, all(
			atLeast(6, "jiraduck_jira_requests_total", "endpoint", "issue", "status", "200"),
			atLeast(1, "jiraduck_jira_requests_total", "endpoint", "attachment", "status", "200"),
			atLeast(1, "jiraduck_jira_requests_total", "status", "429"))},
		{"jiraduck_jira_request_duration_seconds", histogram, all(
			atLeast(6, "jiraduck_jira_request_duration_seconds", "endpoint", "issue"),
			// One observation per attempt, as the request counter counts.
			// (Issue fetches only: the SLA poll keeps calling bulkfetch
			// while the scrape reads one family after the other.)
			func(s scraped) error {
				obs := s.sum("jiraduck_jira_request_duration_seconds", "endpoint", "issue")
				reqs := s.sum("jiraduck_jira_requests_total", "endpoint", "issue")
				if obs != reqs {
					return fmt.Errorf("jira request durations of issue: %v observations, %v requests counted", obs, reqs)
				}
				return nil
			})},
		{"jiraduck_jira_retries_total", counter, atLeast(1, "jiraduck_jira_retries_total", "reason", "429")},
		{"jiraduck_jira_throttle_wait_seconds_total", counter, func(s scraped) error {
			if got := s.sum("jiraduck_jira_throttle_wait_seconds_total"); got <= 0 || got > 60 {
				return fmt.Errorf("throttle wait: got %vs, want a wait above 0 and at most 60s", got)
			}
			return nil
		}},
		{"jiraduck_issues_processed_total", counter, all(
			atLeast(6, "jiraduck_issues_processed_total", "outcome", "applied"),
			exactly(0, "jiraduck_issues_processed_total", "outcome", "error"))},
		{"jiraduck_issue_processing_seconds", histogram, atLeast(6, "jiraduck_issue_processing_seconds", "outcome", "applied")},
		{"jiraduck_export_latency_seconds", histogram, atLeast(1, "jiraduck_export_latency_seconds")},
		{"jiraduck_export_duration_seconds", histogram, func(s scraped) error {
			// One observation per published partition.
			if d, p := s.sum("jiraduck_export_duration_seconds"), s.sum("jiraduck_partitions_exported_total"); d != p || d == 0 {
				return fmt.Errorf("export durations: %v observations for %v partitions", d, p)
			}
			return nil
		}},
		{"jiraduck_partitions_exported_total", counter, all(
			atLeast(1, "jiraduck_partitions_exported_total", "table", "issues"),
			atLeast(1, "jiraduck_partitions_exported_total", "table", "comments"),
			atLeast(1, "jiraduck_partitions_exported_total", "table", "attachments"))},
		{"jiraduck_attachment_bytes_downloaded_total", counter, atLeast(42, "jiraduck_attachment_bytes_downloaded_total")},
		{"jiraduck_attachments_skipped_total", counter, all(
			atLeast(1, "jiraduck_attachments_skipped_total", "reason", "too_large"),
			exactly(0, "jiraduck_attachments_skipped_total", "reason", "failed"))},
		{"jiraduck_job_runs_total", counter, all(
			atLeast(1, "jiraduck_job_runs_total", "job_name", "sla-poll", "status", "ok"),
			exactly(0, "jiraduck_job_runs_total", "job_name", "sla-poll", "status", "failed"))},
		{"jiraduck_job_items_total", counter, func(s scraped) error {
			// Every state of a run is exported, zero counts included.
			if len(s.matching("jiraduck_job_items_total", "job_name", "sla-poll", "state", "skipped")) != 1 {
				return fmt.Errorf("job items: no sla-poll skipped series; states %v", s.labelValues("jiraduck_job_items_total", "state"))
			}
			return nil
		}},
		{"jiraduck_job_last_success_timestamp_seconds", gauge, func(s scraped) error {
			got := s.sum("jiraduck_job_last_success_timestamp_seconds", "job_name", "sla-poll")
			if lo, hi := float64(start.Unix()-1), float64(time.Now().Unix()+1); got < lo || got > hi {
				return fmt.Errorf("sla-poll last success: got %v, want a time between %v and %v", got, lo, hi)
			}
			return nil
		}},
		{"jiraduck_job_last_duration_seconds", gauge, func(s scraped) error {
			if ms := s.matching("jiraduck_job_last_duration_seconds", "job_name", "sla-poll"); len(ms) != 1 || ms[0].GetGauge().GetValue() > 60 {
				return fmt.Errorf("sla-poll last duration: got %v", ms)
			}
			return nil
		}},
		{"jiraduck_queue_depth", gauge, exactly(0, "jiraduck_queue_depth")},
		{"jiraduck_duckdb_memory_bytes", gauge, func(s scraped) error {
			// The burst's writes and exports read the tables through the
			// pool, and the pool holds them until something evicts them.
			if got := s.sum("jiraduck_duckdb_memory_bytes", "tag", "BASE_TABLE"); got <= 0 {
				return fmt.Errorf("duckdb memory of BASE_TABLE: got %v, want the tables read so far; tags %v", got, s.labelValues("jiraduck_duckdb_memory_bytes", "tag"))
			}
			return nil
		}},
		{"jiraduck_duckdb_temporary_bytes", gauge, func(s scraped) error {
			if len(s.matching("jiraduck_duckdb_temporary_bytes", "tag", "BASE_TABLE")) != 1 {
				return fmt.Errorf("duckdb temporary bytes: no BASE_TABLE series; tags %v", s.labelValues("jiraduck_duckdb_temporary_bytes", "tag"))
			}
			return nil
		}},
		{"jiraduck_queue_oldest_pending_seconds", gauge, exactly(0, "jiraduck_queue_oldest_pending_seconds")},
		{"jiraduck_failed_events", gauge, exactly(0, "jiraduck_failed_events")},
		{"jiraduck_store_writable", gauge, exactly(1, "jiraduck_store_writable")},
		{"jiraduck_store_file_bytes", gauge, func(s scraped) error {
			got := s.sum("jiraduck_store_file_bytes")
			var want int64
			for _, p := range []string{app.StorePath(live.Config), app.StorePath(live.Config) + ".wal"} {
				if st, err := os.Stat(p); err == nil {
					want += st.Size()
				}
			}
			if got <= 0 || want <= 0 {
				return fmt.Errorf("store file bytes: got %v, files hold %d", got, want)
			}
			return nil
		}},
	}

	// Every family the metrics package registers has a check here.
	checked := map[string]bool{}
	for _, c := range checks {
		checked[c.name] = true
	}
	for _, name := range metricFamiliesInSource(t) {
		if !checked[name] {
			t.Errorf("%s is registered in internal/metrics but this test does not check it", name)
		}
	}

	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			f := s[c.name]
			if f == nil {
				t.Fatalf("%s not exposed", c.name)
			}
			if f.GetType() != c.kind {
				t.Errorf("type: got %v, want %v", f.GetType(), c.kind)
			}
			if f.GetHelp() == "" {
				t.Error("no HELP text")
			}
			if err := sane(f); err != nil {
				t.Error(err)
			}
			if c.ok != nil {
				if err := c.ok(s); err != nil {
					t.Error(err)
				}
			}
		})
	}

	// The runtime and process collectors operators alert on are there too.
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "process_open_fds"} {
		if s.sum(name) <= 0 {
			t.Errorf("%s: got %v, want a positive value", name, s.sum(name))
		}
	}
}

// sane checks what holds for any jiraduck family: finite, non-negative
// values, and histograms whose buckets grow and end at their count.
func sane(f *dto.MetricFamily) error {
	bad := func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) || v < 0 }
	for _, m := range f.GetMetric() {
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			if v := m.GetCounter().GetValue(); bad(v) {
				return fmt.Errorf("counter %v: value %v", m.GetLabel(), v)
			}
		case dto.MetricType_GAUGE:
			if v := m.GetGauge().GetValue(); bad(v) {
				return fmt.Errorf("gauge %v: value %v", m.GetLabel(), v)
			}
		case dto.MetricType_HISTOGRAM:
			h := m.GetHistogram()
			if bad(h.GetSampleSum()) {
				return fmt.Errorf("histogram %v: sum %v", m.GetLabel(), h.GetSampleSum())
			}
			prev := uint64(0)
			for _, b := range h.GetBucket() {
				if b.GetCumulativeCount() < prev {
					return fmt.Errorf("histogram %v: bucket le=%v holds %d, fewer than the one before (%d)", m.GetLabel(), b.GetUpperBound(), b.GetCumulativeCount(), prev)
				}
				prev = b.GetCumulativeCount()
			}
			if prev > h.GetSampleCount() {
				return fmt.Errorf("histogram %v: buckets hold %d, count is %d", m.GetLabel(), prev, h.GetSampleCount())
			}
		}
	}
	return nil
}
