package emulator

import (
	"sync/atomic"
)

// Endpoint names of Stats.Calls.
const (
	EndpointIssue      = "issue"
	EndpointComment    = "comment"
	EndpointChangelog  = "changelog"
	EndpointRemoteLink = "remotelink"
	// EndpointWorklog counts GET /issue/{key}/worklog, EndpointWorklogChanges
	// the site-wide worklog lists (updated, deleted, list).
	EndpointWorklog        = "worklog"
	EndpointWorklogChanges = "worklog_changes"
	EndpointField          = "field"
	EndpointSearch         = "search"
	EndpointBulkFetch      = "bulkfetch"
	EndpointAttachment     = "attachment"
	EndpointMedia          = "media"
	EndpointTenantInfo     = "tenant_info"
	EndpointOther          = "other"
)

var endpointNames = []string{EndpointIssue, EndpointComment, EndpointChangelog, EndpointRemoteLink, EndpointWorklog,
	EndpointWorklogChanges, EndpointField,
	EndpointSearch, EndpointBulkFetch, EndpointAttachment, EndpointMedia, EndpointTenantInfo, EndpointOther}

// Stats is a snapshot of the emulator's counters, as GET /_emulator/stats
// answers them.
type Stats struct {
	// Calls counts requests per endpoint, failed and faulted ones included.
	Calls map[string]int64 `json:"calls"`
	// IssueFetches counts, per current issue key, how often the issue was
	// returned by GET issue or a bulk fetch.
	IssueFetches map[string]int64 `json:"issueFetches"`
	Webhooks     WebhookStats     `json:"webhooks"`
	Faults       FaultStats       `json:"faults"`
}

// WebhookStats counts webhook deliveries.
type WebhookStats struct {
	// Events is how many webhooks mutations produced (silent ones produce
	// none).
	Events int64 `json:"events"`
	// Attempts counts HTTP requests, retries and duplicates included.
	Attempts  int64 `json:"attempts"`
	Delivered int64 `json:"delivered"`
	// Failed counts deliveries given up after the last retry or on an
	// answer Jira does not retry.
	Failed     int64 `json:"failed"`
	Retries    int64 `json:"retries"`
	Duplicates int64 `json:"duplicates"`
	// Unsent counts events dropped because no webhook URL is set.
	Unsent int64 `json:"unsent"`
	// Pending is how many deliveries are queued, in flight or waiting for a
	// retry.
	Pending int64 `json:"pending"`
}

// FaultStats counts injected faults.
type FaultStats struct {
	Errors     int64 `json:"errors"`
	Throttled  int64 `json:"throttled"`
	Stalled    int64 `json:"stalled"`
	Dropped    int64 `json:"dropped"`
	BulkErrors int64 `json:"bulkErrors"`
}

type stats struct {
	calls map[string]*atomic.Int64

	events, attempts, delivered, failed, retries, duplicates, unsent, pending atomic.Int64
	errors, throttled, stalled, dropped, bulkErrors                           atomic.Int64
}

func newStats() *stats {
	st := &stats{calls: map[string]*atomic.Int64{}}
	for _, n := range endpointNames {
		st.calls[n] = new(atomic.Int64)
	}
	return st
}

func (st *stats) call(endpoint string) {
	c, ok := st.calls[endpoint]
	if !ok {
		c = st.calls[EndpointOther]
	}
	c.Add(1)
}

// Stats returns the current counters.
func (e *Emulator) Stats() Stats {
	s := e.s
	st := s.stats
	out := Stats{Calls: map[string]int64{}, IssueFetches: map[string]int64{}}
	for n, c := range st.calls {
		out.Calls[n] = c.Load()
	}
	s.mu.RLock()
	for _, r := range s.recs {
		if n := r.fetches.Load(); n > 0 {
			out.IssueFetches[r.key] = n
		}
	}
	s.mu.RUnlock()
	out.Webhooks = WebhookStats{
		Events: st.events.Load(), Attempts: st.attempts.Load(), Delivered: st.delivered.Load(),
		Failed: st.failed.Load(), Retries: st.retries.Load(), Duplicates: st.duplicates.Load(),
		Unsent: st.unsent.Load(), Pending: st.pending.Load(),
	}
	out.Faults = FaultStats{Errors: st.errors.Load(), Throttled: st.throttled.Load(), Stalled: st.stalled.Load(),
		Dropped: st.dropped.Load(), BulkErrors: st.bulkErrors.Load()}
	return out
}

// ResetStats zeroes every counter except Pending, which tracks deliveries
// still under way.
func (e *Emulator) ResetStats() {
	s := e.s
	st := s.stats
	for _, c := range st.calls {
		c.Store(0)
	}
	s.mu.RLock()
	for _, r := range s.recs {
		r.fetches.Store(0)
	}
	s.mu.RUnlock()
	for _, c := range []*atomic.Int64{&st.events, &st.attempts, &st.delivered, &st.failed, &st.retries, &st.duplicates,
		&st.unsent, &st.errors, &st.throttled, &st.stalled, &st.dropped, &st.bulkErrors} {
		c.Store(0)
	}
}
