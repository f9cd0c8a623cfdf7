// Package jira talks to Jira Cloud: the REST v3 types jiraduck stores, the
// timestamp and webhook formats, issue-key validation, and an HTTP client with
// the retry and rate-limit policy every Jira call goes through.
//
// The client never decides what to store. FetchIssue returns a Bundle: the issue
// payload with every comment and changelog page, its remote links and the SLA
// overlay, plus a completeness state per collection, so that the store can tell
// a fresh empty list from a fetch that failed.
package jira
