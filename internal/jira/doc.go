// Package jira holds what Jira Cloud sends and jiraduck keeps: the REST v3
// types, the timestamp and webhook formats, issue-key validation, the Bundle
// an issue is stored as, and the kinds of error Jira answers with. It does
// no I/O and imports no HTTP code, so that normalizing a stored issue or
// decoding a webhook does not depend on the client that calls Jira (package
// client, internal/jira/client).
//
// A Bundle is the issue payload with every comment and changelog page, its
// remote links and the SLA overlay, plus a completeness state per
// collection, so that the store can tell a fresh empty list from a fetch that
// failed.
package jira
