package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jiraduck/jiraduck/internal/errkind"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
)

// TestStatus is the one mapping from error kind to HTTP status.
func TestStatus(t *testing.T) {
	cases := []struct {
		kind errkind.Kind
		want int
	}{
		{errkind.Internal, http.StatusInternalServerError},
		{errkind.Invalid, http.StatusBadRequest},
		{errkind.Unauthorized, http.StatusUnauthorized},
		{errkind.Forbidden, http.StatusForbidden},
		{errkind.NotFound, http.StatusNotFound},
		{errkind.NotAllowed, http.StatusMethodNotAllowed},
		{errkind.Conflict, http.StatusConflict},
		{errkind.TooLarge, http.StatusRequestEntityTooLarge},
		{errkind.Upstream, http.StatusBadGateway},
		{errkind.UpstreamRefused, http.StatusFailedDependency},
		{errkind.Unavailable, http.StatusServiceUnavailable},
		{errkind.Unprocessable, http.StatusUnprocessableEntity},
		{errkind.Timeout, http.StatusGatewayTimeout},
	}
	if len(cases) != len(statuses) {
		t.Errorf("the table tests %d kinds, statuses maps %d", len(cases), len(statuses))
	}
	for _, c := range cases {
		t.Run(c.kind.String(), func(t *testing.T) {
			if got := Status(errkind.New(c.kind, "x")); got != c.want {
				t.Errorf("marked: got %d, want %d", got, c.want)
			}
			if got := Status(fmt.Errorf("context: %w", c.kind)); got != c.want {
				t.Errorf("kind as sentinel: got %d, want %d", got, c.want)
			}
		})
	}
	t.Run("unmarked", func(t *testing.T) {
		if got := Status(errors.New("disk full")); got != http.StatusInternalServerError {
			t.Errorf("got %d, want 500", got)
		}
	})
	t.Run("unknown kind", func(t *testing.T) {
		if got := Status(errkind.New(errkind.Kind(99), "x")); got != http.StatusInternalServerError {
			t.Errorf("got %d, want 500", got)
		}
	})
}

// TestHandleReplies: a handler's returned error becomes the reply of its
// kind in the format of the service; headers the handler set go with it,
// and only internal errors are logged.
func TestHandleReplies(t *testing.T) {
	jiraFormat := Format{
		ContentType: "application/json;charset=UTF-8",
		ErrorBody:   func(msg string) any { return json.RawMessage(`{"errorMessages":["` + msg + `"],"errors":{}}`) },
		NoNewline:   true,
	}
	cases := []struct {
		name     string
		format   Format
		handler  func(w http.ResponseWriter, r *http.Request) error
		status   int
		ctype    string
		body     string
		header   string // WWW-Authenticate
		logLines int
	}{
		{
			name:   "invalid",
			format: Format{},
			handler: func(http.ResponseWriter, *http.Request) error {
				return errkind.New(errkind.Invalid, `body must be {"ids": [event ids]}`)
			},
			status: http.StatusBadRequest, ctype: "application/json",
			body: `{"error":"body must be {\"ids\": [event ids]}","status":"error"}` + "\n",
		},
		{
			name:   "unauthorized with its header",
			format: Format{},
			handler: func(w http.ResponseWriter, _ *http.Request) error {
				w.Header().Set("WWW-Authenticate", `Bearer realm="jiraduck"`)
				return errkind.New(errkind.Unauthorized, "missing or wrong admin token")
			},
			status: http.StatusUnauthorized, ctype: "application/json",
			body:   `{"error":"missing or wrong admin token","status":"error"}` + "\n",
			header: `Bearer realm="jiraduck"`,
		},
		{
			name:   "internal is logged",
			format: Format{},
			handler: func(http.ResponseWriter, *http.Request) error {
				return fmt.Errorf("retry failed events: %w", io.ErrClosedPipe)
			},
			status: http.StatusInternalServerError, ctype: "application/json",
			body:     `{"error":"retry failed events: io: read/write on closed pipe","status":"error"}` + "\n",
			logLines: 1,
		},
		{
			name:   "jira's envelope, no newline",
			format: jiraFormat,
			handler: func(http.ResponseWriter, *http.Request) error {
				return fmt.Errorf("%w: issue SUP-404", errkind.NotFound)
			},
			status: http.StatusNotFound, ctype: "application/json;charset=UTF-8",
			body: `{"errorMessages":["not found: issue SUP-404"],"errors":{}}`,
		},
		{
			name:   "success replies itself",
			format: jiraFormat,
			handler: func(w http.ResponseWriter, _ *http.Request) error {
				jiraFormat.JSON(w, http.StatusCreated, map[string]string{"id": "10001"})
				return nil
			},
			status: http.StatusCreated, ctype: "application/json;charset=UTF-8",
			body: `{"id":"10001"}`,
		},
		{
			name:   "a value that cannot be encoded is internal",
			format: Format{},
			handler: func(w http.ResponseWriter, _ *http.Request) error {
				Format{}.JSON(w, http.StatusOK, map[string]any{"x": func() {}})
				return nil
			},
			status: http.StatusInternalServerError, ctype: "application/json",
			body: `{"error":"encode reply: json: unsupported type: func()","status":"error"}` + "\n",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			log, hook := logtest.NewNullLogger()
			f := c.format
			f.Log = log.WithField("component", "test")
			srv := httptest.NewServer(f.Handle(c.handler))
			defer srv.Close()
			resp, err := http.Post(srv.URL+"/x", "application/json", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != c.status {
				t.Errorf("status: got %d, want %d", resp.StatusCode, c.status)
			}
			if got := resp.Header.Get("Content-Type"); got != c.ctype {
				t.Errorf("Content-Type: got %q, want %q", got, c.ctype)
			}
			if string(b) != c.body {
				t.Errorf("body: got %q, want %q", b, c.body)
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != c.header {
				t.Errorf("WWW-Authenticate: got %q, want %q", got, c.header)
			}
			if got := len(hook.AllEntries()); got != c.logLines {
				t.Errorf("log lines: got %d, want %d", got, c.logLines)
			}
			for _, e := range hook.AllEntries() {
				if e.Level != logrus.ErrorLevel || e.Message != "request failed" || e.Data["path"] != "/x" || e.Data[logrus.ErrorKey] == nil {
					t.Errorf("log line: got %s %q %v, want an error line with the path and the error", e.Level, e.Message, e.Data)
				}
			}
		})
	}
}

// TestJSONLeavesRawBodiesAlone: a raw body is written byte for byte, and
// the newline added after it does not write into the caller's slice.
func TestJSONLeavesRawBodiesAlone(t *testing.T) {
	buf := make([]byte, 0, 64)
	buf = append(buf, `{"a":"<b>"}`...)
	raw := json.RawMessage(buf)
	rec := httptest.NewRecorder()
	JSON(rec, http.StatusOK, raw)
	if got, want := rec.Body.String(), `{"a":"<b>"}`+"\n"; got != want {
		t.Errorf("body: got %q, want %q", got, want)
	}
	if got := buf[:cap(buf)][len(buf)]; got != 0 {
		t.Errorf("the caller's slice was written past its end: got %q", got)
	}
}
