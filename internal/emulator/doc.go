// Package emulator is a local Jira Cloud site for `jiraduck emulator`, the
// demo, the end-to-end tests and the benchmarks.
//
// It generates a reproducible site from a seed (projects, accounts, issues
// with rich text, changelogs, comments, links, attachments, custom fields and
// Jira Service Management SLA values) and serves it through the REST v3
// endpoints jiraduck reads, shaped on captured Jira Cloud payloads: GET issue
// with its embedded and truncated collections, comment and changelog paging,
// remote links, fields, search/jql with page tokens, bulk fetch, attachment
// redirects, the cloud gateway prefix and tenant_info. Changes made through
// the Go API or the admin API under /_emulator/ update the issue, its
// changelog and updated time like Jira does, and send signed webhooks in the
// REST v2 format with Jira's delivery headers and retry policy. Faults
// (latency, 5xx, 429, stalls, dropped connections, a lagging search index,
// duplicated and reordered webhooks) are injected from a seeded generator.
//
// Issues are kept as compact records and generated again from their seed
// when rendered, until a change stores them in full, so that 100,000 issues
// start in about a second.
package emulator
