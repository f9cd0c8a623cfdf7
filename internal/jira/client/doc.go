// Package client calls the Jira Cloud REST API: issues, comment and changelog
// paging, JQL search, bulk fetch, remote links, fields, SLA fields through a
// second account on the cloud gateway, and attachment downloads, every call
// under one retry and rate-limit policy and one redirect policy that keeps
// credentials with their origin.
//
// The client never decides what to store. FetchIssue returns a jira.Bundle:
// the issue payload with every comment and changelog page, its remote links
// and the SLA overlay, plus a completeness state per collection. What Jira
// answered is matched with the error kinds of package jira; the client's own
// refusals (ErrForeignHost, ErrTooLarge, ErrWaitAborted, ErrSearchLoop) are
// here.
package client
