package intake

import (
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzWebhookHandler posts arbitrary bodies through decoding, routing and the
// store. Every body is either accepted and stored verbatim or refused with 400
// and not stored: a body the store refuses must never turn into a 503 (Jira
// would retry it for half an hour, and it would fail the deliveries sharing
// its group commit).
func FuzzWebhookHandler(f *testing.F) {
	for _, s := range []string{
		`{"webhookEvent":"jira:issue_updated","timestamp":1550286113023,"issue":{"id":"10040","key":"SUP-1"}}`,
		`{"webhookEvent":"issuelink_created","issueLink":{"id":1,"sourceIssueId":2,"destinationIssueId":3}}`,
		`{"webhookEvent":"worklog_created","worklog":{"id":"1","issueId":"10014"}}`,
		`{"webhookEvent":"comment_created","comment":{"self":"https://x/rest/api/2/issue/10013/comment/1"}}`,
		`{"webhookEvent":"sprint_started","sprint":{"id":1}}`,
		`{"webhookEvent":"x","timestamp":9223372036854775807}`,
		`{"webhookEvent":"x","y":"\ud83d\ude00\ud800"}` + "\u00a0",
		"[]", `"x"`, "", "{\"webhookEvent\":\"x\",\"y\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	root := filepath.Join(fixtureDir, "webhooks")
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
		return nil
	})
	h := newHarness(f, Options{AllowUnsigned: true})
	f.Fuzz(func(t *testing.T, body []byte) {
		rows := h.rowCount(t)
		w := h.post(body, nil)
		switch w.Code {
		case http.StatusAccepted:
			if got := h.row(t, h.accepted(t, w)).Body; got != string(body) {
				t.Fatalf("stored body: got %q, want %q", got, body)
			}
		case http.StatusBadRequest:
			if n := h.rowCount(t); n != rows {
				t.Fatalf("rows after a 400: got %d, want %d", n, rows)
			}
		default:
			t.Fatalf("status: got %d (%s), want 202 or 400", w.Code, w.Body.String())
		}
	})
}
