// Package httpx writes the JSON replies of jiraduck's HTTP handlers, those
// of the server, the webhook intake and the emulator's admin API, and turns
// the errors they return into replies: the kind of an error (package
// errkind) decides the status in one table, Status, and only internal errors
// are logged, with their detail.
package httpx

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/jiraduck/jiraduck/internal/errkind"
	"github.com/sirupsen/logrus"
)

// statuses is the one mapping from error kind to HTTP status.
var statuses = map[errkind.Kind]int{
	errkind.Internal:        http.StatusInternalServerError,
	errkind.Invalid:         http.StatusBadRequest,
	errkind.Unauthorized:    http.StatusUnauthorized,
	errkind.Forbidden:       http.StatusForbidden,
	errkind.NotFound:        http.StatusNotFound,
	errkind.NotAllowed:      http.StatusMethodNotAllowed,
	errkind.Conflict:        http.StatusConflict,
	errkind.TooLarge:        http.StatusRequestEntityTooLarge,
	errkind.Unprocessable:   http.StatusUnprocessableEntity,
	errkind.Upstream:        http.StatusBadGateway,
	errkind.UpstreamRefused: http.StatusFailedDependency,
	errkind.Unavailable:     http.StatusServiceUnavailable,
	errkind.Timeout:         http.StatusGatewayTimeout,
}

// Status is the HTTP status that answers err, by its kind; an error of no
// known kind is internal (500).
func Status(err error) int {
	if s, ok := statuses[errkind.Of(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Format is how a service writes its replies. The zero Format writes
// jiraduck's: Content-Type application/json, a newline after the body, and
// errors as {"status": "error", "error": "..."}.
type Format struct {
	// ContentType of every reply; application/json when empty.
	ContentType string
	// ErrorBody is the body of an error reply with the error's text;
	// {"status": "error", "error": msg} when nil. A json.RawMessage is
	// written as it is.
	ErrorBody func(msg string) any
	// NoNewline leaves out the newline after the body (Jira writes none).
	NoNewline bool
	// Log receives internal errors with their detail; nil logs none.
	Log logrus.FieldLogger
}

// JSON replies with status and v as JSON; a json.RawMessage is written as
// it is. A v that cannot be encoded is answered as an internal error.
func (f Format) JSON(w http.ResponseWriter, status int, v any) {
	b, err := encode(v)
	if err != nil {
		f.Error(w, nil, fmt.Errorf("encode reply: %w", err))
		return
	}
	f.write(w, status, b)
}

// Error replies to a request that failed with err: the status of its kind
// and its text in the error body. An internal error is logged with the
// request's method and path (r may be nil). Headers set before the call,
// such as Retry-After or WWW-Authenticate, go with the reply.
func (f Format) Error(w http.ResponseWriter, r *http.Request, err error) {
	status := Status(err)
	if status == http.StatusInternalServerError && f.Log != nil {
		log := f.Log.WithError(err)
		if r != nil {
			log = log.WithField("method", r.Method).WithField("path", r.URL.Path)
		}
		log.Error("request failed")
	}
	var body any = ErrorBody(err.Error())
	if f.ErrorBody != nil {
		body = f.ErrorBody(err.Error())
	}
	b, eerr := encode(body)
	if eerr != nil {
		// A body that cannot be encoded is a bug of ErrorBody; the
		// request still gets its answer.
		b, status = []byte(`{"status":"error","error":"internal error"}`), http.StatusInternalServerError
	}
	f.write(w, status, b)
}

// Handle adapts a handler that returns an error: on nil it has replied
// itself; any other error is answered by Error.
func (f Format) Handle(h func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			f.Error(w, r, err)
		}
	}
}

// write sends an encoded body with the format's content type and newline.
func (f Format) write(w http.ResponseWriter, status int, b []byte) {
	ct := f.ContentType
	if ct == "" {
		ct = "application/json"
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(status)
	if !f.NoNewline {
		// A raw body belongs to the caller: append to a copy.
		b = append(b[:len(b):len(b)], '\n')
	}
	_, _ = w.Write(b)
}

// ErrorBody is jiraduck's error body: {"status": "error", "error": msg}.
func ErrorBody(msg string) map[string]string {
	return map[string]string{"status": "error", "error": msg}
}

// JSON replies with status and v as JSON in jiraduck's format.
func JSON(w http.ResponseWriter, status int, v any) { Format{}.JSON(w, status, v) }

// encode is json.Marshal, with a json.RawMessage kept as it is: the
// emulator's bodies are written by its own encoder, byte for byte as Jira's.
func encode(v any) ([]byte, error) {
	if raw, ok := v.(json.RawMessage); ok {
		return raw, nil
	}
	return json.Marshal(v)
}
