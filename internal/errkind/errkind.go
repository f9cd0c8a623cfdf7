// Package errkind sorts errors into the few kinds that decide how a failure
// is answered: the HTTP status of a reply, whether asking again can help.
// A kind travels with the error it marks and leaves its text alone, so that
// whoever returns an error says what kind it is, and the one place that
// answers for it (package httpx for HTTP) needs no matching of messages.
package errkind

import (
	"errors"
	"fmt"
)

// Kind is what sort of failure an error is. A Kind is itself an error, so
// that it can serve as a sentinel: fmt.Errorf("%w: issue %s", errkind.NotFound,
// key) and errors.Is(err, errkind.NotFound) both work.
type Kind int

// The kinds. Internal is the zero value: an error nobody marked is a fault of
// the program, not of the request.
const (
	// Internal is a fault of the program or of its own storage.
	Internal Kind = iota
	// Invalid is a request that is malformed or asks for the impossible.
	Invalid
	// Unauthorized is a request without valid credentials.
	Unauthorized
	// Forbidden is a request refused whatever its credentials.
	Forbidden
	// NotFound is a request for something that does not exist.
	NotFound
	// NotAllowed is a method the resource does not take.
	NotAllowed
	// Conflict is a request at odds with the current state, such as a run
	// of a job that is running already.
	Conflict
	// TooLarge is a request whose body is over its bound.
	TooLarge
	// Unprocessable is a well-formed request that cannot be carried out as
	// asked, such as a statement whose answer is over its cap.
	Unprocessable
	// Upstream is a failure of a service depended on (Jira).
	Upstream
	// UpstreamRefused is a service depended on (Jira) refusing the
	// credentials it was asked with: retrying cannot help until they change.
	UpstreamRefused
	// Unavailable is a failure that passes: asking again later can succeed.
	Unavailable
	// Timeout is work that did not finish in the time it was given.
	Timeout
)

var names = [...]string{
	Internal:        "internal",
	Invalid:         "invalid",
	Unauthorized:    "unauthorized",
	Forbidden:       "forbidden",
	NotFound:        "not found",
	NotAllowed:      "not allowed",
	Conflict:        "conflict",
	TooLarge:        "too large",
	Unprocessable:   "unprocessable",
	Upstream:        "upstream failed",
	UpstreamRefused: "upstream refused",
	Unavailable:     "unavailable",
	Timeout:         "timeout",
}

// String names the kind in lower case.
func (k Kind) String() string {
	if k < 0 || int(k) >= len(names) {
		return fmt.Sprintf("kind %d", int(k))
	}
	return names[k]
}

// Error implements error with the kind's name.
func (k Kind) Error() string { return k.String() }

// New is an error of kind k whose text is msg.
func New(k Kind, msg string) error { return &kindError{kind: k, err: errors.New(msg)} }

// Errorf is an error of kind k whose text, and what it wraps, are those of
// fmt.Errorf(format, args...).
func Errorf(k Kind, format string, args ...any) error {
	return &kindError{kind: k, err: fmt.Errorf(format, args...)}
}

// Mark gives err the kind k and keeps its text and what it wraps; nil stays
// nil. A mark outside an error's own kind wins over it (see Of).
func Mark(k Kind, err error) error {
	if err == nil {
		return nil
	}
	return &kindError{kind: k, err: err}
}

// Of is the kind of err: that of the outermost mark or Kind in its chain, or
// Internal when it has none.
func Of(err error) Kind {
	var k Kind
	if errors.As(err, &k) {
		return k
	}
	return Internal
}

// kindError marks an error with a kind without changing its text.
type kindError struct {
	kind Kind
	err  error
}

func (e *kindError) Error() string { return e.err.Error() }

func (e *kindError) Unwrap() error { return e.err }

// Is makes errors.Is(err, errkind.NotFound) true for an error marked so.
func (e *kindError) Is(target error) bool {
	k, ok := target.(Kind)
	return ok && k == e.kind
}

// As lets errors.As find the kind of the outermost mark (see Of).
func (e *kindError) As(target any) bool {
	p, ok := target.(*Kind)
	if ok {
		*p = e.kind
	}
	return ok
}
