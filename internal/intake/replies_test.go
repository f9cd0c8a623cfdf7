package intake

import (
	"fmt"
	"net/http"
	"testing"
)

// TestRefusalReplies: every refused delivery is answered with the status of
// its error's kind, jiraduck's error body, and Retry-After on exactly the
// refusals that pass (503); the event type, once read, still goes to
// Observe.
func TestRefusalReplies(t *testing.T) {
	type seen struct {
		event  string
		status int
	}
	var got []seen
	observe := func(event string, status int) { got = append(got, seen{event, status}) }
	signed := newHarness(t, Options{Observe: observe})
	unsigned := newHarness(t, Options{AllowUnsigned: true, Observe: observe})
	unconfigured := newHarness(t, Options{Secret: []byte{}, Observe: observe})
	closed := newHarness(t, Options{Observe: observe})
	closed.in.Close()

	notStrict := []byte(`{"webhookEvent":"jira:issue_updated","issue":{"id":"10040","key":"SUP-1","fields":{"summary":"\ud83d"}}}`)
	cases := []struct {
		name       string
		h          *harness
		body       []byte
		hdr        http.Header
		status     int
		reply      string
		retryAfter string
		event      string
	}{
		{name: "not configured", h: unconfigured, body: issueBody("SUP-1"),
			status: 503, reply: `{"error":"webhook secret not configured (set JIRA_WEBHOOK_SECRET)","status":"error"}`, retryAfter: "5"},
		{name: "browser", h: unsigned, body: issueBody("SUP-1"), hdr: header("Origin", "https://evil.example"),
			status: 403, reply: `{"error":"requests from a browser (with an Origin header) are refused","status":"error"}`},
		{name: "too large", h: signed, body: make([]byte, MaxBody+1),
			status: 413, reply: fmt.Sprintf(`{"error":"body over %d bytes","status":"error"}`, MaxBody)},
		{name: "bad signature", h: signed, body: issueBody("SUP-1"), hdr: header("X-Hub-Signature", "sha256=00"),
			status: 401, reply: `{"error":"` + ErrBadSignature.Error() + `","status":"error"}`},
		{name: "not valid UTF-8", h: signed, body: []byte("{\"webhookEvent\":\"\xff\"}"),
			status: 400, reply: `{"error":"body is not valid UTF-8","status":"error"}`},
		{name: "not strict JSON", h: signed, body: notStrict,
			status: 400, reply: `{"error":"body is not strict JSON (space other than JSON whitespace around it, or an unpaired \\u surrogate escape)","status":"error"}`,
			event: "jira:issue_updated"},
		{name: "not stored", h: closed, body: issueBody("SUP-2"),
			status: 503, reply: `{"error":"event could not be stored; retry","status":"error"}`, retryAfter: "5", event: "jira:issue_updated"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got = nil
			w := c.h.post(c.body, c.hdr)
			if w.Code != c.status {
				t.Errorf("status: got %d, want %d", w.Code, c.status)
			}
			if got, want := w.Body.String(), c.reply+"\n"; got != want {
				t.Errorf("body: got %q, want %q", got, want)
			}
			if got := w.Header().Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type: got %q, want application/json", got)
			}
			if got := w.Header().Get("Retry-After"); got != c.retryAfter {
				t.Errorf("Retry-After: got %q, want %q", got, c.retryAfter)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != "" {
				t.Errorf("WWW-Authenticate: got %q, want none (Jira sends no credentials to ask for)", got)
			}
			if want := (seen{c.event, c.status}); len(got) != 1 || got[0] != want {
				t.Errorf("observed: got %v, want [%v]", got, want)
			}
		})
	}
}
