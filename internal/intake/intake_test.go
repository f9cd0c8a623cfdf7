package intake

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/store"
)

func TestAcceptedIDsIncrease(t *testing.T) {
	h := newHarness(t, Options{})
	var last int64
	for i, key := range []string{"SUP-1", "SUP-2", "OPS-3", "SUP-1"} {
		id := h.accepted(t, h.post(issueBody(key), header("X-Atlassian-Webhook-Identifier", fmt.Sprint("delivery-", i))))
		if id <= last {
			t.Fatalf("delivery %d: got id %d, want more than %d", i, id, last)
		}
		last = id
		if got := h.row(t, id).IssueKey; got != key {
			t.Errorf("event %d issue_key: got %q, want %q", id, got, key)
		}
	}

	// A restarted intake numbers after what is stored.
	h.in.Close()
	h2 := startIntake(t, h.s, Options{Secret: testSecret})
	if id := h2.accepted(t, h2.post(issueBody("SUP-9"), nil)); id != last+1 {
		t.Errorf("first id after restart: got %d, want %d", id, last+1)
	}
}

func TestDuplicateDelivery(t *testing.T) {
	h := newHarness(t, Options{})
	hdr := header("X-Atlassian-Webhook-Identifier", "6c8a2a5c-2f4e-4b36-9a0e-0d6b1f2e7b11")
	id := h.accepted(t, h.post(issueBody("SUP-1"), hdr))

	handed := len(h.events(t))
	retry := hdr.Clone()
	retry.Set("X-Atlassian-Webhook-Retry", "1")
	for _, tc := range []struct {
		name string
		h    *harness
	}{
		{"same intake", h},
		{"after restart", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hh := tc.h
			if hh == nil {
				h.in.Close()
				hh = startIntake(t, h.s, Options{Secret: testSecret})
			}
			w := hh.post(issueBody("SUP-1"), retry)
			if w.Code != http.StatusOK {
				t.Fatalf("status: got %d (%s), want 200", w.Code, w.Body.String())
			}
			if a := decodeAnswer(t, w); a.Status != "duplicate" {
				t.Errorf("answer status: got %q, want duplicate", a.Status)
			}
			if n := hh.rowCount(t); n != 1 {
				t.Errorf("rows: got %d, want 1", n)
			}
			if n := len(hh.events(t)); hh == h && n != handed || hh != h && n != 0 {
				t.Errorf("events handed over: got %d, want no new one", n)
			}
		})
	}
	if got := h.row(t, id).RetryCount; got != 0 {
		t.Errorf("retry_count of the first delivery: got %d, want 0", got)
	}
	if n := len(h.events(t)); n != 1 {
		t.Errorf("events handed over: got %d, want 1", n)
	}
}

func TestNoIdentifierIsNotDeduplicated(t *testing.T) {
	h := newHarness(t, Options{})
	for _, v := range []string{"", "has space", strings.Repeat("x", 201), "caf\u00e9"} {
		hdr := header("X-Atlassian-Webhook-Identifier", v)
		a, b := h.accepted(t, h.post(issueBody("SUP-1"), hdr)), h.accepted(t, h.post(issueBody("SUP-1"), hdr))
		if a == b {
			t.Errorf("identifier %q: both deliveries got id %d, want two ids", v, a)
		}
		if got := h.row(t, b).DeliveryID; got != "" {
			t.Errorf("identifier %q: stored delivery_id %q, want NULL", v, got)
		}
	}
}

// TestDuplicateInOneGroup sends two deliveries with the same identifier into
// the same group commit: one is stored, the other is a duplicate.
func TestDuplicateInOneGroup(t *testing.T) {
	h := newHarness(t, Options{})
	entered, release := h.sink.hold()
	blocker := make(chan *httptest.ResponseRecorder)
	go func() { blocker <- h.post(issueBody("BLOCK-1"), nil) }()
	<-entered
	commits := h.in.commits.Load()

	hdr := header("X-Atlassian-Webhook-Identifier", "same-delivery")
	codes := make([]int, 2)
	var wg sync.WaitGroup
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = h.post(issueBody("SUP-7"), hdr).Code
		}()
	}
	h.waitQueued(t, 2)
	release()
	wg.Wait()
	h.accepted(t, <-blocker)

	got := map[int]int{}
	for _, c := range codes {
		got[c]++
	}
	if got[http.StatusAccepted] != 1 || got[http.StatusOK] != 1 {
		t.Errorf("statuses: got %v, want one 202 and one 200", codes)
	}
	if n := h.in.commits.Load() - commits; n != 1 {
		t.Errorf("commits for the two deliveries: got %d, want 1", n)
	}
	if n := h.rowCount(t); n != 2 {
		t.Errorf("rows: got %d, want 2 (blocker and one SUP-7)", n)
	}
	var keys []string
	for _, e := range h.events(t) {
		keys = append(keys, e.IssueKey)
	}
	if want := []string{"BLOCK-1", "SUP-7"}; !equalStrings(keys, want) {
		t.Errorf("sink got keys %v, want %v", keys, want)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// refused is a request the intake must refuse without storing anything.
type refused struct {
	name string
	body []byte
	hdr  http.Header
	want int
}

func checkRefused(t *testing.T, h *harness, tests []refused) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows, handed := h.rowCount(t), len(h.events(t))
			w := h.post(tc.body, tc.hdr)
			if w.Code != tc.want {
				t.Fatalf("status: got %d (%s), want %d", w.Code, w.Body.String(), tc.want)
			}
			if a := decodeAnswer(t, w); a.Status != "error" || a.Error == "" {
				t.Errorf("answer: got %+v, want status error with a message", a)
			}
			if n := h.rowCount(t); n != rows {
				t.Errorf("rows: got %d, want %d", n, rows)
			}
			if n := len(h.events(t)); n != handed {
				t.Errorf("events handed over: got %d, want %d", n, handed)
			}
		})
	}
}

func TestBadRequest(t *testing.T) {
	h := newHarness(t, Options{})
	tests := []refused{
		{name: "malformed JSON", body: []byte(`{"webhookEvent":"jira:issue_updated",`)},
		{name: "trailing garbage", body: []byte(`{"webhookEvent":"jira:issue_updated"} x`)},
		{name: "array", body: []byte(`[]`)},
		{name: "string", body: []byte(`"x"`)},
		{name: "null", body: []byte(`null`)},
		{name: "empty body", body: []byte{}},
		{name: "only spaces", body: []byte(" \n\t ")},
		{name: "no webhookEvent", body: []byte(`{"timestamp":1,"issue":{"id":"1","key":"SUP-1"}}`)},
		{name: "invalid UTF-8", body: []byte("{\"webhookEvent\":\"jira:issue_updated\",\"x\":\"\xff\xfe\"}")},
		{name: "100000 levels of [", body: []byte(strings.Repeat("[", 100000))},
		{name: "100000 nested objects", body: []byte(`{"webhookEvent":"x","a":` + strings.Repeat(`{"a":`, 100000) +
			"1" + strings.Repeat("}", 100001))},
		{name: "key with ../", body: issueBody("../SUP-1")},
		{name: "key with ../ after", body: issueBody("SUP-1/../../etc")},
		{name: "key with NUL", body: issueBody("SUP-1\x00")},
		{name: "key with unicode digits", body: issueBody("SUP-١٢")},
		{name: "key with fullwidth letters", body: issueBody("ＳUP-12")},
		{name: "key with newline", body: issueBody("SUP-1\n")},
		{name: "lower-case key", body: issueBody("sup-1")},
		{name: "key number 0", body: issueBody("SUP-0")},
		{name: "33-letter project", body: issueBody(strings.Repeat("A", 33) + "-1")},
		{name: "13-digit number", body: issueBody("SUP-1234567890123")},
		{name: "non-numeric issue id", body: []byte(`{"webhookEvent":"jira:issue_updated","issue":{"id":"../1","key":"SUP-1"}}`)},
		{name: "non-numeric worklog issue id", body: []byte(`{"webhookEvent":"worklog_created","worklog":{"id":"1","issueId":"1/2"}}`)},
		{name: "non-numeric link end", body: []byte(`{"webhookEvent":"issuelink_created","issueLink":{"id":1,"sourceIssueId":1,"destinationIssueId":"x"}}`)},
		{name: "timestamp not a number", body: []byte(`{"webhookEvent":"jira:issue_updated","timestamp":"soon"}`)},
		// The store's JSON column refuses these although encoding/json reads
		// them; they used to fail the whole group commit with 503.
		{name: "vertical tab after the object", body: []byte(`{"webhookEvent":"jira:issue_updated"}` + "\v")},
		{name: "no-break space before the object", body: []byte("\u00a0" + `{"webhookEvent":"jira:issue_updated"}`)},
		{name: "NEL after the object", body: []byte(`{"webhookEvent":"jira:issue_updated"}` + "\u0085")},
		{name: "form feed before the object", body: []byte("\f" + `{"webhookEvent":"jira:issue_updated"}`)},
		{name: "unpaired high surrogate", body: []byte(`{"webhookEvent":"jira:issue_updated","x":"\ud800"}`)},
		{name: "unpaired low surrogate", body: []byte(`{"webhookEvent":"jira:issue_updated","x":"a\udc00b"}`)},
		{name: "reversed surrogate pair", body: []byte(`{"webhookEvent":"jira:issue_updated","x":"\ude00\ud83d"}`)},
		{name: "high surrogate at end of string", body: []byte(`{"webhookEvent":"jira:issue_updated","x":"\ud83d"}`)},
		{name: "surrogate in the event type", body: []byte(`{"webhookEvent":"\ud800"}`)},
	}
	for i := range tests {
		tests[i].want = http.StatusBadRequest
	}
	checkRefused(t, h, tests)
}

// TestKeyBoundaries shows the edges of the issue key rule that are accepted.
func TestKeyBoundaries(t *testing.T) {
	h := newHarness(t, Options{})
	for _, key := range []string{"A-1", strings.Repeat("A", 32) + "-1", "SUP-123456789012", "A_B9-10"} {
		t.Run(key, func(t *testing.T) {
			if got := h.row(t, h.accepted(t, h.post(issueBody(key), nil))).IssueKey; got != key {
				t.Errorf("issue_key: got %q, want %q", got, key)
			}
		})
	}
}

// TestStrictJSONAccepted covers bodies close to the refused ones that the
// store takes and must therefore be accepted.
func TestStrictJSONAccepted(t *testing.T) {
	h := newHarness(t, Options{})
	for _, tc := range []struct{ name, body string }{
		{"JSON whitespace around", " \r\n\t" + `{"webhookEvent":"jira:issue_updated"}` + "\n"},
		{"surrogate pair", `{"webhookEvent":"jira:issue_updated","x":"\ud83d\ude00 \uD83D\uDE00"}`},
		{"escaped backslash before u", `{"webhookEvent":"jira:issue_updated","x":"\\ud800"}`},
		{"escaped NUL", `{"webhookEvent":"jira:issue_updated","x":"\u0000"}`},
		{"huge number", `{"webhookEvent":"jira:issue_updated","x":1e400,"y":123456789012345678901234567890}`},
		{"raw astral character", `{"webhookEvent":"jira:issue_updated","x":"😀"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := h.accepted(t, h.post([]byte(tc.body), nil))
			if got := h.row(t, id).Body; got != tc.body {
				t.Errorf("stored body: got %q, want %q", got, tc.body)
			}
		})
	}
}

func TestUnauthorized(t *testing.T) {
	h := newHarness(t, Options{})
	body := issueBody("SUP-1")
	mac := hmacHex(testSecret, body)
	sha1mac := hmac.New(sha1.New, testSecret)
	sha1mac.Write(body)
	tests := []refused{
		{name: "missing signature", hdr: header("X-Hub-Signature", "")},
		{name: "blank signature", hdr: header("X-Hub-Signature", "   ")},
		{name: "wrong signature", hdr: header("X-Hub-Signature", "sha256="+strings.Repeat("0", 64))},
		{name: "signature of another body", hdr: header("X-Hub-Signature", Sign(testSecret, issueBody("SUP-2")))},
		{name: "sha1 method", hdr: header("X-Hub-Signature", "sha1="+hex.EncodeToString(sha1mac.Sum(nil)))},
		{name: "sha512 method with the sha256 digest", hdr: header("X-Hub-Signature", "sha512="+mac)},
		{name: "empty method", hdr: header("X-Hub-Signature", "="+mac)},
		{name: "truncated hex", hdr: header("X-Hub-Signature", "sha256="+mac[:63])},
		{name: "hex cut to 62", hdr: header("X-Hub-Signature", "sha256="+mac[:62])},
		{name: "hex with extra byte", hdr: header("X-Hub-Signature", "sha256="+mac+"00")},
		{name: "not hex", hdr: header("X-Hub-Signature", "sha256="+strings.Repeat("zz", 32))},
		{name: "empty digest", hdr: header("X-Hub-Signature", "sha256=")},
		{name: "other secret", hdr: header("X-Hub-Signature", Sign([]byte("another secret"), body))},
		{name: "plain SHA-256 of the body", hdr: header("X-Hub-Signature", "sha256="+sha256Hex(body))},
		{name: "wrong X-Hub-Signature wins over a right X-Hub-Signature-256",
			hdr: header("X-Hub-Signature", "sha256="+strings.Repeat("0", 64), "X-Hub-Signature-256", Sign(testSecret, body))},
		{name: "missing signature on an invalid body", body: []byte("not json"), hdr: header("X-Hub-Signature", "")},
	}
	for i := range tests {
		if tests[i].body == nil {
			tests[i].body = body
		}
		tests[i].want = http.StatusUnauthorized
	}
	checkRefused(t, h, tests)

	// A signed body with a secret set and AllowUnsigned is still checked.
	h2 := newHarness(t, Options{Secret: testSecret, AllowUnsigned: true})
	checkRefused(t, h2, []refused{{name: "allow unsigned with a secret", body: body,
		hdr: header("X-Hub-Signature", ""), want: http.StatusUnauthorized}})
}

func TestSignatureForms(t *testing.T) {
	h := newHarness(t, Options{})
	for _, tc := range []struct {
		name string
		hdr  func(mac string) http.Header
	}{
		{"X-Hub-Signature", func(mac string) http.Header { return header("X-Hub-Signature", "sha256="+mac) }},
		{"X-Hub-Signature-256 alone", func(mac string) http.Header { return header("X-Hub-Signature-256", "sha256="+mac) }},
		{"bare hex digest", func(mac string) http.Header { return header("X-Hub-Signature", mac) }},
		{"upper-case hex", func(mac string) http.Header { return header("X-Hub-Signature", "sha256="+strings.ToUpper(mac)) }},
		{"upper-case method", func(mac string) http.Header { return header("X-Hub-Signature", "SHA256="+mac) }},
		{"surrounding spaces", func(mac string) http.Header { return header("X-Hub-Signature", "  sha256="+mac+" ") }},
		{"empty X-Hub-Signature, right X-Hub-Signature-256", func(mac string) http.Header {
			return header("X-Hub-Signature", "", "X-Hub-Signature-256", "sha256="+mac)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := issueBody("SUP-1")
			id := h.accepted(t, h.post(body, tc.hdr(hmacHex(testSecret, body))))
			if got := h.row(t, id).Body; got != string(body) {
				t.Errorf("stored body: got %q, want %q", got, body)
			}
		})
	}
}

func hmacHex(secret, body []byte) string {
	return strings.TrimPrefix(Sign(secret, body), "sha256=")
}

func TestBodyLimit(t *testing.T) {
	h := newHarness(t, Options{})
	pad := func(size int) []byte {
		head := `{"webhookEvent":"jira:issue_updated","issue":{"id":"10040","key":"SUP-1"},"pad":"`
		tail := `"}`
		return []byte(head + strings.Repeat("x", size-len(head)-len(tail)) + tail)
	}
	exact := pad(MaxBody)
	if len(exact) != MaxBody {
		t.Fatalf("padding: got %d bytes, want %d", len(exact), MaxBody)
	}
	id := h.accepted(t, h.post(exact, nil))
	if got := h.row(t, id).Body; got != string(exact) {
		t.Errorf("stored body of %d bytes differs from the posted one (%d bytes)", len(got), len(exact))
	}

	checkRefused(t, h, []refused{
		{name: "one byte over", body: pad(MaxBody + 1), want: http.StatusRequestEntityTooLarge},
		{name: "over and unsigned", body: pad(MaxBody + 1), hdr: header("X-Hub-Signature", ""),
			want: http.StatusRequestEntityTooLarge},
	})
}

func TestNotConfigured(t *testing.T) {
	h := newHarness(t, Options{Secret: []byte{}})
	h.secret = testSecret // sign anyway: the refusal must not depend on it
	checkRefused(t, h, []refused{
		{name: "signed", body: issueBody("SUP-1"), want: http.StatusServiceUnavailable},
		{name: "unsigned", body: issueBody("SUP-1"), hdr: header("X-Hub-Signature", ""), want: http.StatusServiceUnavailable},
	})
	if h.in.Configured() {
		t.Errorf("Configured: got true, want false")
	}

	u := newHarness(t, Options{AllowUnsigned: true})
	if !u.in.Configured() {
		t.Errorf("Configured with AllowUnsigned: got false, want true")
	}
	for _, tc := range []struct {
		name string
		hdr  http.Header
	}{
		{"no signature", nil},
		{"a meaningless signature", header("X-Hub-Signature", "sha1=beef")},
	} {
		t.Run("allow unsigned/"+tc.name, func(t *testing.T) {
			id := u.accepted(t, u.post(issueBody("SUP-1"), tc.hdr))
			if got := u.row(t, id).State; got != store.EventPending {
				t.Errorf("state: got %q, want pending", got)
			}
		})
	}
}

func TestRetryAndTimestamp(t *testing.T) {
	now := time.Date(2024, 3, 1, 11, 34, 49, 730e6, time.FixedZone("EET", 2*3600))
	h := newHarness(t, Options{Now: func() time.Time { return now }})
	t.Run("retry header", func(t *testing.T) {
		for _, tc := range []struct {
			header string
			want   int
		}{
			{"", 0},
			{"0", 0},
			{"1", 1},
			{" 5 ", 5},
			{"x", 0},
			{"-1", 0},
			{"2147483647", math.MaxInt32},
			// retry_count is an INTEGER: these used to fail the insert (503).
			{"3000000000", math.MaxInt32},
			{"99999999999999999999999", math.MaxInt32},
		} {
			t.Run(fmt.Sprintf("%q", tc.header), func(t *testing.T) {
				id := h.accepted(t, h.post(issueBody("SUP-1"), header("X-Atlassian-Webhook-Retry", tc.header)))
				if got := h.row(t, id).RetryCount; got != tc.want {
					t.Errorf("retry_count: got %d, want %d", got, tc.want)
				}
			})
		}
	})
	t.Run("timestamp", func(t *testing.T) {
		for _, tc := range []struct {
			name, timestamp string
			want            time.Time // zero: NULL
		}{
			{"epoch millis", `1550286113023`, time.Date(2019, 2, 16, 3, 1, 53, 23e6, time.UTC)},
			{"as a string", `"1594081854017"`, time.UnixMilli(1594081854017).UTC()},
			{"absent", ``, time.Time{}},
			{"zero", `0`, time.Time{}},
			{"negative", `-5`, time.Time{}},
			{"last millisecond of 9999", `253402300799999`, time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC)},
			// DuckDB cannot store these; they used to fail the insert (503).
			{"year 10000", `253402300800000`, time.Time{}},
			{"max int64", `9223372036854775807`, time.Time{}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				body := `{"webhookEvent":"jira:issue_updated","issue":{"id":"10040","key":"SUP-1"}}`
				if tc.timestamp != "" {
					body = `{"timestamp":` + tc.timestamp + "," + body[1:]
				}
				r := h.row(t, h.accepted(t, h.post([]byte(body), nil)))
				if tc.want.IsZero() {
					if r.JiraTimestamp.Valid {
						t.Errorf("jira_timestamp: got %v, want NULL", r.JiraTimestamp.Time)
					}
					return
				}
				if !r.JiraTimestamp.Valid || !r.JiraTimestamp.Time.Equal(tc.want) {
					t.Errorf("jira_timestamp: got %v (valid %v), want %v", r.JiraTimestamp.Time, r.JiraTimestamp.Valid, tc.want)
				}
				if _, off := r.JiraTimestamp.Time.Zone(); off != 0 {
					t.Errorf("jira_timestamp zone offset: got %d, want 0 (UTC)", off)
				}
			})
		}
	})
	t.Run("received_at", func(t *testing.T) {
		r := h.row(t, h.accepted(t, h.post(issueBody("SUP-1"), nil)))
		if !r.ReceivedAt.Equal(now) {
			t.Errorf("received_at: got %v, want %v", r.ReceivedAt, now)
		}
		if got := h.in.LastEventAt(); !got.Equal(now) || got.Location() != time.UTC {
			t.Errorf("LastEventAt: got %v, want %v in UTC", got, now.UTC())
		}
	})
}

// TestFixtures posts every webhook fixture and checks what is stored against
// routing worked out from the raw JSON.
func TestFixtures(t *testing.T) {
	root := filepath.Join(fixtureDir, "webhooks")
	if _, err := os.Stat(root); err != nil {
		t.Skipf("no webhook fixtures: %v", err)
	}
	h := newHarness(t, Options{})
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skip("no webhook fixtures")
	}
	pending := map[int64]bool{}
	for _, p := range files {
		name, _ := filepath.Rel(root, p)
		t.Run(filepath.ToSlash(name), func(t *testing.T) {
			body, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			want := expectedRoute(t, body)
			id := h.accepted(t, h.post(body, header("X-Atlassian-Webhook-Identifier", "fixture-"+filepath.ToSlash(name))))
			got := h.row(t, id)
			if got.Type != want.Type || got.IssueKey != want.IssueKey || got.IssueID != want.IssueID ||
				got.RelatedIssueID != want.RelatedIssueID || got.State != want.State {
				t.Errorf("stored (event, key, id, related, state): got (%q, %q, %q, %q, %q), want (%q, %q, %q, %q, %q)",
					got.Type, got.IssueKey, got.IssueID, got.RelatedIssueID, got.State,
					want.Type, want.IssueKey, want.IssueID, want.RelatedIssueID, want.State)
			}
			if !got.JiraTimestamp.Valid || !got.JiraTimestamp.Time.Equal(want.JiraTimestamp.Time) {
				t.Errorf("jira_timestamp: got %v, want %v", got.JiraTimestamp.Time, want.JiraTimestamp.Time)
			}
			if got.Body != string(body) {
				t.Errorf("stored body differs from the posted one (%d bytes, want %d)", len(got.Body), len(body))
			}
			if got.State == store.EventPending {
				pending[id] = true
			}
		})
	}
	for _, e := range h.events(t) {
		if !pending[e.ID] {
			t.Errorf("sink got event %d (%s), which is not a pending one", e.ID, e.Type)
		}
		delete(pending, e.ID)
	}
	for id := range pending {
		t.Errorf("pending event %d was not handed to the sink", id)
	}
}

var commentSelf = regexp.MustCompile(`/rest/api/\d+/issue/(\d+)/comment/\d+$`)

// expectedRoute reads what a fixture is about straight from its JSON.
func expectedRoute(t *testing.T, body []byte) row {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatalf("fixture is not JSON: %v", err)
	}
	str := func(v any) string {
		if v == nil {
			return ""
		}
		return fmt.Sprint(v)
	}
	obj := func(k string) map[string]any { o, _ := m[k].(map[string]any); return o }
	r := row{Type: str(m["webhookEvent"]), State: store.EventPending}
	ts, _ := m["timestamp"].(json.Number).Int64()
	r.JiraTimestamp.Time, r.JiraTimestamp.Valid = time.UnixMilli(ts).UTC(), true
	switch issue, link, worklog, comment := obj("issue"), obj("issueLink"), obj("worklog"), obj("comment"); {
	case strings.HasPrefix(r.Type, "issuelink_") && link != nil:
		r.IssueID, r.RelatedIssueID = str(link["sourceIssueId"]), str(link["destinationIssueId"])
	case strings.HasPrefix(r.Type, "worklog_") && worklog != nil:
		r.IssueID = str(worklog["issueId"])
	case issue != nil:
		r.IssueKey, r.IssueID = str(issue["key"]), str(issue["id"])
	case strings.HasPrefix(r.Type, "comment_") && comment != nil && commentSelf.MatchString(str(comment["self"])):
		// Server and Data Center comment events name the issue only in the
		// comment's link.
		r.IssueID = commentSelf.FindStringSubmatch(str(comment["self"]))[1]
	default:
		r.State = store.EventIgnored
	}
	return r
}

// TestGroupCommit posts 300 deliveries at once. The first one holds the
// appender inside the sink, so the other 299 queue up and must be committed in
// one transaction.
func TestGroupCommit(t *testing.T) {
	const n = 300
	h := newHarness(t, Options{})
	body := func(i int) []byte {
		return []byte(fmt.Sprintf(`{"timestamp":%d,"webhookEvent":"jira:issue_updated","issue":{"id":"%d","key":"SUP-%d"}}`,
			1700000000000+i, 10000+i, i+1))
	}
	post := func(i int) *httptest.ResponseRecorder {
		return h.post(body(i), header("X-Atlassian-Webhook-Identifier", fmt.Sprint("delivery-", i)))
	}
	answers := make([]*httptest.ResponseRecorder, n)
	entered, release := h.sink.hold()
	start := h.in.commits.Load()
	first := make(chan struct{})
	go func() { answers[0] = post(0); close(first) }()
	<-entered

	var wg sync.WaitGroup
	for i := 1; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = post(i)
		}()
	}
	h.waitQueued(t, n-1)
	release()
	wg.Wait()
	<-first
	ids := make([]int64, n)
	for i, w := range answers {
		ids[i] = h.accepted(t, w)
	}

	if got := h.in.commits.Load() - start; got != 2 {
		t.Errorf("transactions for %d deliveries: got %d, want 2 (the first alone, then the rest together)", n, got)
	}
	seen := map[int64]int{}
	for i, id := range ids {
		if j, dup := seen[id]; dup {
			t.Errorf("deliveries %d and %d both got id %d", j, i, id)
		}
		seen[id] = i
	}
	if got := h.rowCount(t); got != n {
		t.Errorf("rows: got %d, want %d", got, n)
	}
	var stored int
	if err := h.s.DB().QueryRow(`SELECT count(DISTINCT delivery_id) FROM webhook_events WHERE state = 'pending'`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != n {
		t.Errorf("distinct pending deliveries stored: got %d, want %d", stored, n)
	}

	events := h.events(t)
	if len(events) != n {
		t.Errorf("events handed over: got %d, want %d", len(events), n)
	}
	handed := map[int64]int{}
	var last int64
	for _, e := range events {
		handed[e.ID]++
		if e.ID <= last {
			t.Errorf("sink order: event %d after %d, want commit order", e.ID, last)
		}
		last = e.ID
		if e.State != store.EventPending {
			t.Errorf("event %d handed over in state %q, want pending", e.ID, e.State)
		}
		i, ok := seen[e.ID]
		if !ok {
			t.Errorf("sink got event %d, which no delivery was answered with", e.ID)
			continue
		}
		if want := fmt.Sprint("SUP-", i+1); e.IssueKey != want {
			t.Errorf("event %d issue_key: got %q, want %q", e.ID, e.IssueKey, want)
		}
		if want := body(i); !bytes.Equal(e.Body, want) {
			t.Errorf("event %d body: got %q, want %q", e.ID, e.Body, want)
		}
	}
	for id := range seen {
		if handed[id] != 1 {
			t.Errorf("event %d handed over %d times, want once", id, handed[id])
		}
	}
}

// TestConcurrentDeliveries posts deliveries concurrently without holding the
// appender, half of them twice.
func TestConcurrentDeliveries(t *testing.T) {
	const n = 200
	h := newHarness(t, Options{})
	codes := make([]int, 2*n)
	var wg sync.WaitGroup
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := i
			if i >= n && i%2 == 0 {
				d = i - n // a repeat of an earlier identifier
			}
			codes[i] = h.post(issueBody(fmt.Sprint("SUP-", d+1)), header("X-Atlassian-Webhook-Identifier", fmt.Sprint("d", d))).Code
		}()
	}
	wg.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	if want := map[int]int{http.StatusAccepted: n + n/2, http.StatusOK: n / 2}; count[http.StatusAccepted] != want[http.StatusAccepted] ||
		count[http.StatusOK] != want[http.StatusOK] {
		t.Errorf("statuses: got %v, want %v", count, want)
	}
	if got, want := h.rowCount(t), n+n/2; got != want {
		t.Errorf("rows: got %d, want %d", got, want)
	}
	if got, want := len(h.events(t)), n+n/2; got != want {
		t.Errorf("events handed over: got %d, want %d", got, want)
	}
	if c := h.in.commits.Load(); c > int64(n+n/2) {
		t.Errorf("transactions: got %d, want at most %d", c, n+n/2)
	}
}

// TestIgnoredEvents stores events about no issue without handing them over.
func TestIgnoredEvents(t *testing.T) {
	h := newHarness(t, Options{})
	for _, body := range []string{
		`{"timestamp":1594082533879,"webhookEvent":"board_created","board":{"id":1,"name":"B"}}`,
		`{"timestamp":1594082228717,"webhookEvent":"sprint_started","sprint":{"id":2}}`,
		`{"timestamp":1596040172744,"webhookEvent":"project_deleted","project":{"id":10000,"key":"SUP"}}`,
		`{"webhookEvent":"jira:issue_updated","issue":{"fields":{}}}`,
	} {
		id := h.accepted(t, h.post([]byte(body), nil))
		if r := h.row(t, id); r.State != store.EventIgnored || r.IssueKey != "" || r.IssueID != "" {
			t.Errorf("event %d: got state %q key %q id %q, want ignored with no issue", id, r.State, r.IssueKey, r.IssueID)
		}
	}
	if n := len(h.events(t)); n != 0 {
		t.Errorf("events handed over: got %d, want 0", n)
	}
}

// TestFailingEventStaysAlone puts an event the store refuses into a group with
// two good deliveries: only that event fails.
func TestFailingEventStaysAlone(t *testing.T) {
	h := newHarness(t, Options{})
	entered, release := h.sink.hold()
	first := make(chan *httptest.ResponseRecorder)
	go func() { first <- h.post(issueBody("BLOCK-1"), nil) }()
	<-entered

	var wg sync.WaitGroup
	var good [2]int
	var appendErr error
	wg.Add(3)
	go func() { defer wg.Done(); good[0] = h.post(issueBody("SUP-1"), nil).Code }()
	h.waitQueued(t, 1)
	go func() {
		defer wg.Done()
		// Not UTF-8: the body column refuses it.
		_, _, appendErr = h.in.Append(context.Background(), &store.Event{Type: "jira:issue_updated", IssueKey: "BAD-1",
			State: store.EventPending, ReceivedAt: time.Now(), Body: []byte{'{', 0xff, 0xfe, '}'}})
	}()
	h.waitQueued(t, 2)
	go func() { defer wg.Done(); good[1] = h.post(issueBody("SUP-2"), nil).Code }()
	h.waitQueued(t, 3)
	release()
	wg.Wait()
	h.accepted(t, <-first)

	for i, c := range good {
		if c != http.StatusAccepted {
			t.Errorf("good delivery %d: got status %d, want 202", i, c)
		}
	}
	if appendErr == nil {
		t.Errorf("append of an unstorable event: got nil error, want one")
	}
	var keys []string
	for _, e := range h.events(t) {
		keys = append(keys, e.IssueKey)
	}
	if want := []string{"BLOCK-1", "SUP-1", "SUP-2"}; !equalStrings(keys, want) {
		t.Errorf("sink got keys %v, want %v", keys, want)
	}
	if n := h.rowCount(t); n != 3 {
		t.Errorf("rows: got %d, want 3", n)
	}
}

func TestClose(t *testing.T) {
	h := newHarness(t, Options{})
	h.accepted(t, h.post(issueBody("SUP-1"), nil))
	if err := h.in.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := h.in.Close(); err != nil {
		t.Errorf("second Close: got %v, want nil", err)
	}
	checkRefused(t, h, []refused{
		{name: "delivery after close", body: issueBody("SUP-2"), want: http.StatusServiceUnavailable},
	})
	if _, _, err := h.in.Append(context.Background(), &store.Event{Type: "x", State: store.EventPending,
		ReceivedAt: time.Now()}); err == nil {
		t.Errorf("Append after Close: got nil error, want one")
	}
	if n := h.rowCount(t); n != 1 {
		t.Errorf("rows: got %d, want 1", n)
	}
}

// TestCloseWaitsForQueued closes while deliveries wait in the queue: each is
// either stored and answered 202 or refused with 503, never lost in between.
func TestCloseWaitsForQueued(t *testing.T) {
	h := newHarness(t, Options{})
	entered, release := h.sink.hold()
	go h.post(issueBody("BLOCK-1"), nil)
	<-entered
	const n = 20
	codes := make([]int, n)
	ids := make([]int64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := h.post(issueBody(fmt.Sprint("SUP-", i+1)), nil)
			codes[i] = w.Code
			if w.Code == http.StatusAccepted {
				ids[i] = decodeAnswer(t, w).ID
			}
		}()
	}
	h.waitQueued(t, n)
	closed := make(chan error)
	go func() { closed <- h.in.Close() }()
	release()
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusAccepted {
			t.Errorf("queued delivery %d: got %d, want 202 (it was queued before Close)", i, c)
			continue
		}
		if got, want := h.row(t, ids[i]).IssueKey, fmt.Sprint("SUP-", i+1); got != want {
			t.Errorf("event %d issue_key: got %q, want %q", ids[i], got, want)
		}
	}
}

func TestObserve(t *testing.T) {
	type seen struct {
		event  string
		status int
	}
	var mu sync.Mutex
	var got []seen
	observe := func(event string, status int) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, seen{event, status})
	}
	h := newHarness(t, Options{Observe: observe})
	dup := header("X-Atlassian-Webhook-Identifier", "d1")
	steps := []struct {
		name string
		body []byte
		hdr  http.Header
		want seen
	}{
		{"accepted", issueBody("SUP-1"), dup, seen{"jira:issue_updated", http.StatusAccepted}},
		{"duplicate", issueBody("SUP-1"), dup, seen{"jira:issue_updated", http.StatusOK}},
		{"ignored", []byte(`{"webhookEvent":"sprint_started"}`), nil, seen{"sprint_started", http.StatusAccepted}},
		{"unsigned", issueBody("SUP-1"), header("X-Hub-Signature", ""), seen{"", http.StatusUnauthorized}},
		{"malformed", []byte("{"), nil, seen{"", http.StatusBadRequest}},
		{"bad key", issueBody("sup-1"), nil, seen{"", http.StatusBadRequest}},
		{"too large", make([]byte, MaxBody+1), nil, seen{"", http.StatusRequestEntityTooLarge}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			mu.Lock()
			got = nil
			mu.Unlock()
			h.post(s.body, s.hdr)
			mu.Lock()
			defer mu.Unlock()
			if len(got) != 1 || got[0] != s.want {
				t.Errorf("observed: got %v, want [%v]", got, s.want)
			}
		})
	}
	t.Run("not configured", func(t *testing.T) {
		got = nil
		u := newHarness(t, Options{Secret: []byte{}, Observe: observe})
		u.post(issueBody("SUP-1"), nil)
		if want := (seen{"", http.StatusServiceUnavailable}); len(got) != 1 || got[0] != want {
			t.Errorf("observed: got %v, want [%v]", got, want)
		}
	})
	t.Run("closed", func(t *testing.T) {
		got = nil
		h.in.Close()
		h.post(issueBody("SUP-1"), nil)
		if want := (seen{"jira:issue_updated", http.StatusServiceUnavailable}); len(got) != 1 || got[0] != want {
			t.Errorf("observed: got %v, want [%v]", got, want)
		}
	})
}

// TestUnpairedSurrogate covers the escapes of valid JSON that a strict
// parser refuses; bodies that are not JSON are DecodeWebhook's to refuse
// (TestBadRequest).
func TestUnpairedSurrogate(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want bool
	}{
		{"no escape", `{}`, false},
		{"pair, escaped backslash, spaces", ` {"a":"\u00e9\ud83d\ude00\\u"} `, false},
		{"escaped backslash before a pair", `{"a":"\\\ud83d\ude00"}`, false},
		{"escaped backslash before a high half", `{"a":"\\\ud83d"}`, true},
		{"high half, then an escaped backslash", `{"a":"\ud83d\\ude00"}`, true},
		{"high half, then a letter", `{"a":"\ud83d\u0041"}`, true},
		{"high half alone", `{"a":"\ud83d"}`, true},
		{"low half alone", `{"a":"\udfff"}`, true},
		{"around the halves", `{"a":"\uD7FF\uE000"}`, false},
		{"other escapes first", `{"a":"\n\t\"\/","b":"\udc00"}`, true},
		{"escape at the end", `{"a":"x\n"}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := unpairedSurrogate([]byte(tc.in)); got != tc.want {
				t.Errorf("unpairedSurrogate(%q): got %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

// TestAppendTrouble: an append that fails is kept (the first and the latest
// failure, the latest error) until an event reaches the store again.
func TestAppendTrouble(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func() { mu.Lock(); now = now.Add(time.Minute); mu.Unlock() }
	h := newHarness(t, Options{Now: clock})
	if since, last, err := h.in.AppendTrouble(); err != nil || !since.IsZero() || !last.IsZero() {
		t.Fatalf("before any append: got %v %v %v, want nothing", since, last, err)
	}
	unstorable := func() {
		t.Helper()
		// Not UTF-8: the body column refuses it.
		_, _, err := h.in.Append(context.Background(), &store.Event{Type: "jira:issue_updated", IssueKey: "BAD-1",
			State: store.EventPending, ReceivedAt: clock(), Body: []byte{'{', 0xff, 0xfe, '}'}})
		if err == nil {
			t.Fatal("append of an unstorable event: got nil error")
		}
	}
	first := clock()
	unstorable()
	advance()
	unstorable()
	since, last, err := h.in.AppendTrouble()
	if err == nil || !since.Equal(first) || !last.Equal(clock()) {
		t.Errorf("after two failures: got since %v last %v err %v, want since %v last %v and the error", since, last, err, first, clock())
	}
	h.accepted(t, h.post(issueBody("SUP-1"), nil))
	h.flush(t)
	if since, last, err := h.in.AppendTrouble(); err != nil || !since.IsZero() || !last.IsZero() {
		t.Errorf("after an event reached the store: got %v %v %v, want nothing", since, last, err)
	}
}

// TestReplayedBody sends one signed delivery again under new
// X-Atlassian-Webhook-Identifier values, as a replay of a captured delivery
// would: it is stored and handed over once, whether the first copy is still
// journaled, in the store, or known only from the store after a restart.
func TestReplayedBody(t *testing.T) {
	h := newHarness(t, Options{})
	body := issueBody("SUP-1")
	id := func(i int) http.Header { return header("X-Atlassian-Webhook-Identifier", fmt.Sprint("replay-", i)) }
	h.accepted(t, h.post(body, id(0)))
	for _, tc := range []struct {
		name  string
		flush bool
		h     func() *harness
	}{
		{"journaled", false, func() *harness { return h }},
		{"stored", true, func() *harness { return h }},
		{"after restart", true, func() *harness {
			h.in.Close()
			return startIntake(t, h.s, Options{Secret: testSecret})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.flush {
				h.flush(t)
			}
			hh := tc.h()
			for i := 1; i <= 50; i++ {
				w := hh.post(body, id(i))
				if w.Code != http.StatusOK {
					t.Fatalf("replay %d: status %d (%s), want 200", i, w.Code, w.Body.String())
				}
				if a := decodeAnswer(t, w); a.Status != "duplicate" {
					t.Fatalf("replay %d: answer %q, want duplicate", i, a.Status)
				}
			}
			if n := hh.rowCount(t); n != 1 {
				t.Errorf("rows: got %d, want 1", n)
			}
		})
	}
	if n := len(h.sink.events()); n != 1 {
		t.Errorf("events handed over: got %d, want 1", n)
	}
	var sum string
	if err := h.s.DB().QueryRow(`SELECT body_sha256 FROM webhook_events`).Scan(&sum); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%x", sha256.Sum256(body)); sum != want {
		t.Errorf("body_sha256: got %s, want %s", sum, want)
	}
}

// TestReplayInOneGroup: two copies of a body in the same group commit.
func TestReplayInOneGroup(t *testing.T) {
	h := newHarness(t, Options{})
	entered, release := h.sink.hold()
	first := make(chan *httptest.ResponseRecorder, 1)
	go func() { first <- h.post(issueBody("BLOCK-1"), nil) }()
	<-entered
	body := issueBody("SUP-1")
	answers := make(chan int, 2)
	for i := range 2 {
		go func() {
			answers <- h.post(body, header("X-Atlassian-Webhook-Identifier", fmt.Sprint("copy-", i))).Code
		}()
	}
	h.waitQueued(t, 2)
	release()
	<-first
	codes := map[int]int{}
	for range 2 {
		codes[<-answers]++
	}
	if codes[http.StatusAccepted] != 1 || codes[http.StatusOK] != 1 {
		t.Errorf("answers: got %v, want one 202 and one 200", codes)
	}
	if n := h.rowCount(t); n != 2 {
		t.Errorf("rows: got %d, want 2", n)
	}
}
