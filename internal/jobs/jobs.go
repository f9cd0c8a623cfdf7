// Package jobs holds the work that runs apart from webhooks: backfill
// (enumerate the scope and fetch what the store lacks), rebuild (re-derive
// every table from the stored payloads), import (the Python data broker's raw
// layout), and the jobs that keep the store honest between webhooks: the SLA
// poll (SLA values tick without any webhook, and lost webhooks leave issues
// stale) and reconcile (issues created, edited or deleted without a webhook
// reaching jiraduck). Commands run them once; serve runs the last two on its
// schedule.
package jobs

func ptr(s string) *string { return &s }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
