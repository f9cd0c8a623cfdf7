package jira

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Error kinds of Jira's answers, usable with errors.Is on any error the
// client (package client) returns. They say what Jira answered, not how it
// was asked, so that callers match them without depending on the client.
var (
	// ErrNotFound means Jira answered 404. For an issue this means it does
	// not exist or the account may not see it.
	ErrNotFound = errors.New("not found")
	// ErrUnauthorized means Jira answered 401: the credentials are wrong or
	// expired.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden means Jira answered 403.
	ErrForbidden = errors.New("forbidden")
	// ErrRateLimited means Jira kept answering 429 until the retries ran out.
	ErrRateLimited = errors.New("rate limited")
	// ErrUnavailable means Jira kept answering 5xx or 408, timing out or
	// dropping the connection until the retries ran out.
	ErrUnavailable = errors.New("jira unavailable")
)

// APIError is a non-success HTTP answer from Jira, returned by the client once
// retrying is over (or at once for answers that are not retried). It is
// matched to the error kinds above by its status.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Method is the HTTP method of the request.
	Method string
	// Endpoint is a label for the endpoint, such as "issue" or "search".
	Endpoint string
	// Messages are Jira's error messages (see ErrorMessages).
	Messages []string
	// RetryAfter is what the last answer's Retry-After header asked for.
	RetryAfter time.Duration
	// Credentials names the settings whose credentials the answered request
	// carried, such as "JIRA_EMAIL and JIRA_API_TOKEN"; empty when it
	// carried none.
	Credentials string
}

// Error implements error. The operation is named by whoever wraps the error.
// A 401 to a request that carried credentials names the settings to check,
// so that whoever reads a command's error or a log line knows which pair
// Jira refused.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "status %d", e.Status)
	if len(e.Messages) > 0 {
		b.WriteString(": ")
		b.WriteString(strings.Join(e.Messages, "; "))
	}
	if e.Status == 401 && e.Credentials != "" {
		b.WriteString(" (check ")
		b.WriteString(e.Credentials)
		b.WriteString(")")
	}
	return b.String()
}

// Is maps the status to the error kinds.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == 404
	case ErrUnauthorized:
		return e.Status == 401
	case ErrForbidden:
		return e.Status == 403
	case ErrRateLimited:
		return e.Status == 429
	case ErrUnavailable:
		return e.Status >= 500 || e.Status == 408
	}
	return false
}

// errorBody is the union of the error shapes Jira uses.
type errorBody struct {
	ErrorMessages   []string        `json:"errorMessages"`
	Errors          json.RawMessage `json:"errors"`
	WarningMessages []string        `json:"warningMessages"`
	Message         string          `json:"message"`
}

const maxMessageLen = 300

// ErrorMessages extracts the human-readable messages of an error body:
// errorMessages, the field errors as "field: message", warningMessages and
// message. Bodies that are not JSON (an HTML error page, plain text) give at
// most one short line of text.
func ErrorMessages(body []byte) []string {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	var eb errorBody
	if body[0] == '{' && json.Unmarshal(body, &eb) == nil {
		var out []string
		for _, m := range eb.ErrorMessages {
			if m != "" {
				out = append(out, clean(m))
			}
		}
		out = append(out, fieldErrors(eb.Errors)...)
		for _, m := range eb.WarningMessages {
			if m != "" {
				out = append(out, clean(m))
			}
		}
		if eb.Message != "" {
			out = append(out, clean(eb.Message))
		}
		return out
	}
	if body[0] == '<' || !utf8.Valid(body) {
		return nil
	}
	return []string{clean(string(body))}
}

// fieldErrors renders the "errors" map ({"field": "message"}) in key order.
func fieldErrors(raw json.RawMessage) []string {
	var m map[string]json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &m) != nil {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		var s string
		if json.Unmarshal(m[k], &s) != nil {
			s = string(m[k])
		}
		out = append(out, clean(k+": "+s))
	}
	return out
}

// clean collapses whitespace and bounds the length of a message.
func clean(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxMessageLen {
		cut := maxMessageLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}
