package metrics

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestWebhookLabel(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"jira:issue_updated", "jira:issue_updated"},
		{"comment_created", "comment_created"},
		{"worklog_deleted", "worklog_deleted"},
		{"issuelink_created", "issuelink_created"},
		{"", "unknown"},
		{"jira:issue_updatedX", "other"},
		{"sprint_started", "other"},
		{"made-up-17", "other"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := WebhookLabel(tc.in); got != tc.want {
				t.Errorf("WebhookLabel(%q): got %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestWebhookTypesDoNotGrowMetrics records 2,000 made-up event types, as an
// unsigned sender may send: /metrics keeps one series for all of them.
func TestWebhookTypesDoNotGrowMetrics(t *testing.T) {
	m := New(Gauges{})
	scrape := func() string {
		w := httptest.NewRecorder()
		m.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		b, _ := io.ReadAll(w.Body)
		return string(b)
	}
	m.Webhook("jira:issue_updated", http.StatusAccepted)
	before := len(scrape())
	for i := range 2000 {
		m.Webhook(fmt.Sprint("made-up-", i), http.StatusAccepted)
	}
	out := scrape()
	if strings.Contains(out, "made-up") {
		t.Errorf("a made-up event type is a label value")
	}
	if !strings.Contains(out, `jiraduck_webhooks_received_total{code="202",event_type="other"} 2000`) {
		t.Errorf("made-up types not counted under other:\n%s", grep(out, "jiraduck_webhooks_received_total"))
	}
	if grown := len(out) - before; grown > 1024 {
		t.Errorf("/metrics grew by %d bytes for 2,000 made-up types, want at most 1 KiB", grown)
	}
}

func grep(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestJobItemsCountIssuesOnly: a job's counts that are issues by outcome
// accumulate in jiraduck_job_items_total, reconcile's worklog_issues among
// them; counts of other things (list entries, candidates) do not.
func TestJobItemsCountIssuesOnly(t *testing.T) {
	m := New(Gauges{})
	m.Job("reconcile", "ok", map[string]int{"listed": 500, "stale": 2, "worklog_changes": 40, "worklog_issues": 3}, time.Second)
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	out := w.Body.String()
	for _, tc := range []struct {
		series string
		want   bool
	}{
		{`jiraduck_job_items_total{job_name="reconcile",state="stale"} 2`, true},
		{`jiraduck_job_items_total{job_name="reconcile",state="worklog_issues"} 3`, true},
		{`state="worklog_changes"`, false},
		{`state="listed"`, false},
	} {
		if got := strings.Contains(out, tc.series); got != tc.want {
			t.Errorf("%s in /metrics: got %v, want %v\n%s", tc.series, got, tc.want, grep(out, "jiraduck_job_items_total"))
		}
	}
}
