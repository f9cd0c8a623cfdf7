package jira

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Error kinds, usable with errors.Is on any error the client returns.
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
	// ErrForeignHost means an attachment URL leads outside the Jira site and
	// the cloud gateway, or a redirect of any call went from https to http
	// or to a scheme other than http(s).
	ErrForeignHost = errors.New("url outside the jira site")
	// ErrTooLarge means an answer or an attachment is larger than allowed.
	ErrTooLarge = errors.New("too large")
	// ErrWaitAborted means a call gave up a wait before a retry because its
	// caller asked for that with StopWaits (a service shutting down).
	ErrWaitAborted = errors.New("retry wait aborted")
)

// APIError is a non-success HTTP answer from Jira, returned once retrying is
// over (or at once for answers that are not retried).
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Method is the HTTP method of the request.
	Method string
	// Endpoint is a label for the endpoint, such as "issue" or "search".
	Endpoint string
	// Messages are Jira's error messages: errorMessages, the field errors as
	// "field: message", or message.
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
	if e.Status == http.StatusUnauthorized && e.Credentials != "" {
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
		return e.Status == http.StatusNotFound
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrForbidden:
		return e.Status == http.StatusForbidden
	case ErrRateLimited:
		return e.Status == http.StatusTooManyRequests
	case ErrUnavailable:
		return e.Status >= 500 || e.Status == http.StatusRequestTimeout
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

// errorMessages extracts the human-readable messages of an error body. Bodies
// that are not JSON (an HTML error page, plain text) give at most one short
// line of text.
func errorMessages(body []byte) []string {
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

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date.
// It reports false when the header is absent or unreadable.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, true
		}
		// Beyond this the multiplication overflows; anything that large is
		// capped by the caller anyway.
		if secs > int64(100*365*24*time.Hour/time.Second) {
			return 100 * 365 * 24 * time.Hour, true
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}
