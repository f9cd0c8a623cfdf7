package emulator

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestAdminErrorReplies: an admin handler's returned error is answered
// with the status of its kind (404 ErrNotFound, 400 ErrInvalid, 504 for
// webhooks still pending) in Jira's error envelope, written byte for byte
// as the REST API writes its answers: no newline after the body.
func TestAdminErrorReplies(t *testing.T) {
	release := make(chan struct{})
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hooks.Close)
	_, c := newEmu(t, Options{Issues: 3, Seed: 5, Clock: frozen(time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)), WebhookURL: hooks.URL})
	t.Cleanup(func() { close(release) })

	cases := []struct {
		name, method, path string
		body               any
		status             int
		reply              string
	}{
		{name: "unknown issue", method: "GET", path: "/_emulator/issues/SUP-999",
			status: 404, reply: `{"errorMessages":["not found: issue SUP-999"],"errors":{}}`},
		{name: "body not JSON", method: "POST", path: "/_emulator/clock", body: "{",
			status: 400, reply: `{"errorMessages":["invalid: body: unexpected end of JSON input"],"errors":{}}`},
		{name: "bad duration", method: "POST", path: "/_emulator/clock", body: map[string]string{"advance": "-1h"},
			status: 400, reply: `{"errorMessages":["invalid: advance \"-1h\" is not a positive duration"],"errors":{}}`},
		{name: "no route", method: "GET", path: "/_emulator/nowhere",
			status: 404, reply: `{"errorMessages":["not found: no admin route GET /_emulator/nowhere"],"errors":{}}`},
		// The routes live on a subrouter, so a method no route takes is
		// answered as a path with no route.
		{name: "wrong method", method: "DELETE", path: "/_emulator/clock",
			status: 404, reply: `{"errorMessages":["not found: no admin route DELETE /_emulator/clock"],"errors":{}}`},
		{name: "created, its webhook held", method: "POST", path: "/_emulator/issues", body: map[string]any{"project": "SUP", "summary": "x"},
			status: 201},
		{name: "webhooks still pending", method: "POST", path: "/_emulator/webhooks/wait", body: map[string]string{"timeout": "20ms"},
			status: 504, reply: `{"errorMessages":["webhooks still pending: context deadline exceeded"],"errors":{}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := c.do(tc.method, tc.path, tc.body)
			if resp.StatusCode != tc.status {
				t.Errorf("status: got %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if tc.reply != "" && string(body) != tc.reply {
				t.Errorf("body: got %q, want %q", body, tc.reply)
			}
			if got := resp.Header.Get("Content-Type"); got != jsonContentType {
				t.Errorf("Content-Type: got %q, want %q", got, jsonContentType)
			}
		})
	}
}
