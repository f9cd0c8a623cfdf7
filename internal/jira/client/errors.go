package client

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Refusals of the client itself, usable with errors.Is on any error it
// returns. What Jira answered is matched with the kinds of package jira
// (jira.ErrNotFound, jira.ErrUnauthorized, jira.APIError...).
var (
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
