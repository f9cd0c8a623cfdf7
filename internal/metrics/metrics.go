// Package metrics holds jiraduck's Prometheus metrics and the small adapters
// that feed them from the other parts: the Jira client's observer, the intake,
// the queue, the exporter, the attachment downloader and the scheduled jobs.
package metrics

import (
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is one registry with every jiraduck family.
type Metrics struct {
	reg *prometheus.Registry

	webhooks          *prometheus.CounterVec
	signatureFailures prometheus.Counter
	jiraRequests      *prometheus.CounterVec
	jiraDuration      *prometheus.HistogramVec
	jiraRetries       *prometheus.CounterVec
	jiraThrottle      *prometheus.CounterVec
	processed         *prometheus.CounterVec
	processing        *prometheus.HistogramVec
	exportLatency     prometheus.Histogram
	exportDuration    prometheus.Histogram
	partitions        *prometheus.CounterVec
	attachmentBytes   prometheus.Counter
	attachmentSkipped *prometheus.CounterVec
	jobRuns           *prometheus.CounterVec
	jobItems          *prometheus.CounterVec
	jobLastSuccess    *prometheus.GaugeVec
	jobLastDuration   *prometheus.GaugeVec
}

// Gauges are read when scraped.
type Gauges struct {
	QueueDepth    func() int
	OldestPending func() time.Time
	FailedEvents  func() int64
	StorePath     string
	// StoreWritable reports whether the store takes writes (no append of
	// webhook events or write of issues failing on the disk).
	StoreWritable func() bool
	// DuckDBMemory reads DuckDB's memory by tag.
	DuckDBMemory func() ([]MemoryUse, error)
}

// New registers every family. Gauges are sampled at scrape time.
func New(g Gauges) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{reg: reg}
	f := promFactory{reg}
	m.webhooks = f.counterVec("jiraduck_webhooks_received_total", "Webhook deliveries by event type and answer code.", "event_type", "code")
	m.signatureFailures = f.counter("jiraduck_webhook_signature_failures_total", "Webhook deliveries refused for a missing or wrong signature.")
	m.jiraRequests = f.counterVec("jiraduck_jira_requests_total", "Jira REST calls by endpoint and status code (0: no answer).", "endpoint", "status")
	m.jiraDuration = f.histogramVec("jiraduck_jira_request_duration_seconds", "Duration of Jira REST calls.", prometheus.DefBuckets, "endpoint")
	m.jiraRetries = f.counterVec("jiraduck_jira_retries_total", "Retried Jira calls by endpoint and reason (429, 5xx, timeout, network).", "endpoint", "reason")
	m.jiraThrottle = f.counterVec("jiraduck_jira_throttle_wait_seconds_total", "Seconds spent waiting because Jira asked to (Retry-After).", "endpoint")
	m.processed = f.counterVec("jiraduck_issues_processed_total", "Issues processed by outcome (applied, unchanged, stale, deleted, gone, error).", "outcome")
	m.processing = f.histogramVec("jiraduck_issue_processing_seconds", "Time from the oldest webhook event of an issue being accepted to its rows being committed.",
		[]float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}, "outcome")
	m.exportLatency = f.histogram("jiraduck_export_latency_seconds", "Time from the commit that dirtied a partition to the partition being visible.",
		[]float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60})
	m.exportDuration = f.histogram("jiraduck_export_duration_seconds", "Time to write and publish one partition.", prometheus.DefBuckets)
	m.partitions = f.counterVec("jiraduck_partitions_exported_total", "Partitions published by table.", "table")
	m.attachmentBytes = f.counter("jiraduck_attachment_bytes_downloaded_total", "Attachment bytes downloaded.")
	m.attachmentSkipped = f.counterVec("jiraduck_attachments_skipped_total", "Attachments not downloaded, by reason (too_large, foreign_host, failed).", "reason")
	// The label is job_name: "job" is the label Prometheus gives every
	// scraped target, and a clash would rename ours to exported_job.
	m.jobRuns = f.counterVec("jiraduck_job_runs_total", "Runs of serve's scheduled jobs by job and status (ok, failed, interrupted).", "job_name", "status")
	m.jobItems = f.counterVec("jiraduck_job_items_total", "Issues handled by serve's scheduled jobs, by job and outcome (updated, healed, skipped, failed, gone, missing, stale, incomplete, deleted, kept, pruned, worklog_issues).", "job_name", "state")
	m.jobLastSuccess = f.gaugeVec("jiraduck_job_last_success_timestamp_seconds", "Unix time of the last successful run of each scheduled job.", "job_name")
	m.jobLastDuration = f.gaugeVec("jiraduck_job_last_duration_seconds", "Duration of the last run of each scheduled job.", "job_name")
	if g.QueueDepth != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "jiraduck_queue_depth", Help: "Issues waiting or being processed."},
			func() float64 { return float64(g.QueueDepth()) }))
	}
	if g.OldestPending != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "jiraduck_queue_oldest_pending_seconds", Help: "Age of the oldest event still queued (0 when empty)."},
			func() float64 {
				t := g.OldestPending()
				if t.IsZero() {
					return 0
				}
				return time.Since(t).Seconds()
			}))
	}
	if g.FailedEvents != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "jiraduck_failed_events", Help: "Webhook events that failed for good and wait for an operator."},
			func() float64 { return float64(g.FailedEvents()) }))
	}
	if g.StoreWritable != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "jiraduck_store_writable", Help: "1 while the store takes writes, 0 while they fail on the disk (full, read-only, I/O error)."},
			func() float64 {
				if g.StoreWritable() {
					return 1
				}
				return 0
			}))
	}
	if g.DuckDBMemory != nil {
		reg.MustRegister(newDuckDBMemory(g.DuckDBMemory))
	}
	if g.StorePath != "" {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "jiraduck_store_file_bytes", Help: "Size of the DuckDB file and its WAL."},
			func() float64 {
				var n int64
				for _, p := range []string{g.StorePath, g.StorePath + ".wal"} {
					if st, err := os.Stat(p); err == nil {
						n += st.Size()
					}
				}
				return float64(n)
			}))
	}
	return m
}

// Handler serves GET /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// webhookTypes are the event types that are label values of their own; the
// type comes from the delivery's body, which without a webhook secret anyone
// may write, and made-up types would grow /metrics without bound.
var webhookTypes = map[string]bool{
	"jira:issue_created": true, "jira:issue_updated": true, "jira:issue_deleted": true,
	"comment_created": true, "comment_updated": true, "comment_deleted": true,
	"attachment_created": true, "attachment_deleted": true,
	"issuelink_created": true, "issuelink_deleted": true,
	"worklog_created": true, "worklog_updated": true, "worklog_deleted": true,
}

// WebhookLabel is the event_type label of an event type: the type itself
// when it is one jiraduck knows, "unknown" when the delivery had none
// (refused before its body was read), "other" for any other.
func WebhookLabel(eventType string) string {
	switch {
	case eventType == "":
		return "unknown"
	case webhookTypes[eventType]:
		return eventType
	}
	return "other"
}

// Webhook records one answer of the webhook endpoint.
func (m *Metrics) Webhook(eventType string, status int) {
	m.webhooks.WithLabelValues(WebhookLabel(eventType), strconv.Itoa(status)).Inc()
	if status == http.StatusUnauthorized {
		m.signatureFailures.Inc()
	}
}

// ObserveRequest implements the Jira client's observer.
func (m *Metrics) ObserveRequest(endpoint string, status int, d time.Duration) {
	m.jiraRequests.WithLabelValues(endpoint, strconv.Itoa(status)).Inc()
	m.jiraDuration.WithLabelValues(endpoint).Observe(d.Seconds())
}

// ObserveRetry implements the Jira client's observer.
func (m *Metrics) ObserveRetry(endpoint, reason string) {
	m.jiraRetries.WithLabelValues(endpoint, reason).Inc()
}

// ObserveThrottle implements the Jira client's observer.
func (m *Metrics) ObserveThrottle(endpoint string, wait time.Duration) {
	m.jiraThrottle.WithLabelValues(endpoint).Add(wait.Seconds())
}

// Processed records one processed issue.
func (m *Metrics) Processed(outcome string, failed bool, sinceAccepted time.Duration) {
	if failed {
		outcome = "error"
	}
	m.processed.WithLabelValues(outcome).Inc()
	if !failed && sinceAccepted > 0 {
		m.processing.WithLabelValues(outcome).Observe(sinceAccepted.Seconds())
	}
}

// Exported records one published partition.
func (m *Metrics) Exported(table string, sinceMarked, took time.Duration) {
	m.partitions.WithLabelValues(table).Inc()
	if sinceMarked > 0 {
		m.exportLatency.Observe(sinceMarked.Seconds())
	}
	m.exportDuration.Observe(took.Seconds())
}

// Attachment records a download or a skip.
func (m *Metrics) Attachment(bytes int64, skipped string) {
	if skipped != "" {
		m.attachmentSkipped.WithLabelValues(skipped).Inc()
		return
	}
	m.attachmentBytes.Add(float64(bytes))
}

// jobOutcomes are the counts of a run that are issues by outcome; other
// counts (sizes, candidates, rows per table) are not accumulated.
var jobOutcomes = map[string]bool{"updated": true, "healed": true, "skipped": true, "failed": true, "gone": true,
	"missing": true, "stale": true, "incomplete": true, "deleted": true, "kept": true, "pruned": true,
	// Stored issues reconcile fetched again because a worklog of theirs
	// changed (its worklog_changes are list entries, not issues).
	"worklog_issues": true}

// Job records a finished run of a scheduled job: status is ok, failed or
// interrupted, as in sync_runs.
func (m *Metrics) Job(job, status string, counts map[string]int, took time.Duration) {
	m.jobRuns.WithLabelValues(job, status).Inc()
	for state, n := range counts {
		if jobOutcomes[state] {
			m.jobItems.WithLabelValues(job, state).Add(float64(n))
		}
	}
	m.jobLastDuration.WithLabelValues(job).Set(took.Seconds())
	if status == "ok" {
		m.jobLastSuccess.WithLabelValues(job).Set(float64(time.Now().Unix()))
	}
}

type promFactory struct{ reg *prometheus.Registry }

func (f promFactory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f promFactory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f promFactory) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(g)
	return g
}

func (f promFactory) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
	f.reg.MustRegister(h)
	return h
}

func (f promFactory) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	f.reg.MustRegister(h)
	return h
}
