package intake

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
)

// TestReadingBound holds one delivery of MaxBody bytes half-read: with the
// bound at MaxBody, the next delivery is refused with 503 and Retry-After,
// and once the first is answered the bound is free again.
func TestReadingBound(t *testing.T) {
	h := newHarness(t, Options{MaxReading: MaxBody})
	pr, pw := io.Pipe()
	slow := httptest.NewRequest(http.MethodPost, path, pr)
	slow.ContentLength = MaxBody
	slow.Header.Set("X-Hub-Signature", Sign(testSecret, []byte("whatever")))
	done := make(chan int, 1)
	go func() {
		w := httptest.NewRecorder()
		h.in.ServeHTTP(w, slow)
		done <- w.Code
	}()
	if _, err := pw.Write([]byte(`{"webhookEvent":`)); err != nil {
		t.Fatal(err)
	}
	// Send all but the last byte: the bound is then taken whole.
	if _, err := pw.Write(bytes.Repeat([]byte("x"), MaxBody-len(`{"webhookEvent":`)-1)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for h.in.reading.held() < MaxBody {
		if time.Now().After(deadline) {
			t.Fatalf("bytes being read: got %d, want %d", h.in.reading.held(), MaxBody)
		}
		time.Sleep(time.Millisecond)
	}
	w := h.post(issueBody("SUP-1"), nil)
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("delivery while the bound is taken: status %d (%s), want 503", w.Code, w.Body.String())
	}
	if got := w.Header().Get("Retry-After"); got == "" {
		t.Errorf("Retry-After: got none, want one")
	}
	pw.CloseWithError(io.ErrUnexpectedEOF)
	if code := <-done; code != http.StatusBadRequest {
		t.Errorf("cut delivery: status %d, want 400", code)
	}
	if got := h.in.reading.held(); got != 0 {
		t.Errorf("bytes being read after both answers: got %d, want 0", got)
	}
	h.accepted(t, h.post(issueBody("SUP-1"), nil))
}

// TestReadBodyLengths reads bodies with and without a Content-Length, up to
// MaxBody and past it.
func TestReadBodyLengths(t *testing.T) {
	h := newHarness(t, Options{})
	for _, tc := range []struct {
		name    string
		size    int
		chunked bool
		want    error
	}{
		{"empty", 0, false, nil},
		{"small", 100, false, nil},
		{"small chunked", 100, true, nil},
		{"one chunk exactly", readChunk, false, nil},
		{"one chunk and a byte", readChunk + 1, true, nil},
		{"MaxBody chunked", MaxBody, true, nil},
		{"MaxBody", MaxBody, false, nil},
		{"over MaxBody chunked", MaxBody + 1, true, errTooBig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := make([]byte, tc.size)
			for i := range body {
				body[i] = byte('a' + i%26)
			}
			r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
			if tc.chunked {
				r.ContentLength = -1
			}
			got, held, err := h.in.readBody(r)
			h.in.reading.give(held)
			if err != tc.want {
				t.Fatalf("error: got %v, want %v", err, tc.want)
			}
			if err != nil {
				return
			}
			if b := got.bytes(); !bytes.Equal(b, body) {
				t.Errorf("body: got %d bytes, want %d the same", len(b), len(body))
			}
			got.release()
			if held > MaxBody+readChunk {
				t.Errorf("bytes taken: got %d, want at most %d", held, MaxBody+readChunk)
			}
		})
	}
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestMalformedSignatureIsRefusedUnread: a delivery without a well-formed
// signature is refused before its body is read.
func TestMalformedSignatureIsRefusedUnread(t *testing.T) {
	h := newHarness(t, Options{})
	for _, tc := range []struct{ name, sig string }{
		{"none", ""},
		{"sha1", "sha1=0123"},
		{"not hex", "sha256=zz"},
		{"short", "sha256=abcd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := &countingReader{r: bytes.NewReader(issueBody("SUP-1"))}
			r := httptest.NewRequest(http.MethodPost, path, body)
			r.ContentLength = -1
			r.Header.Set("X-Hub-Signature", tc.sig)
			w := httptest.NewRecorder()
			h.in.ServeHTTP(w, r)
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("status: got %d, want 401", w.Code)
			}
			if n := body.n.Load(); n != 0 {
				t.Errorf("body bytes read: got %d, want 0", n)
			}
		})
	}
}

// TestRefusalWarningsAreRateLimited sends 100 deliveries with a wrong
// signature and 20 replays: one warning line each at first, then one line
// an interval with the count since the previous line.
func TestRefusalWarningsAreRateLimited(t *testing.T) {
	log, hook := logtest.NewNullLogger()
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	h := newHarness(t, Options{Logger: log, Now: clock, WarnEvery: time.Minute})
	bad := header("X-Hub-Signature", Sign([]byte("wrong"), issueBody("SUP-1")))
	for range 100 {
		if w := h.post(issueBody("SUP-1"), bad); w.Code != http.StatusUnauthorized {
			t.Fatalf("status: got %d, want 401", w.Code)
		}
	}
	body := issueBody("SUP-2")
	h.accepted(t, h.post(body, header("X-Atlassian-Webhook-Identifier", "d-0")))
	for i := range 20 {
		h.post(body, header("X-Atlassian-Webhook-Identifier", "d-"+string(rune('a'+i))))
	}
	count := func(msg string) (lines int, total int) {
		for _, e := range hook.AllEntries() {
			if e.Message == msg {
				lines++
				total += e.Data["count"].(int)
			}
		}
		return lines, total
	}
	if lines, total := count(msgBadSignatures); lines != 1 || total != 1 {
		t.Errorf("signature warnings within the interval: got %d lines counting %d, want 1 line counting 1", lines, total)
	}
	if lines, total := count(msgReplays); lines != 1 || total != 1 {
		t.Errorf("replay warnings within the interval: got %d lines counting %d, want 1 line counting 1", lines, total)
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	h.post(issueBody("SUP-1"), bad)
	if lines, total := count(msgBadSignatures); lines != 2 || total != 101 {
		t.Errorf("signature warnings after the interval: got %d lines counting %d, want 2 lines counting 101", lines, total)
	}
	h.in.Close()
	if lines, total := count(msgReplays); lines != 2 || total != 20 {
		t.Errorf("replay warnings after Close: got %d lines counting %d, want 2 lines counting 20", lines, total)
	}
	for _, e := range hook.AllEntries() {
		if e.Level != logrus.WarnLevel {
			t.Errorf("entry %q at level %s, want warn", e.Message, e.Level)
		}
	}
}

// TestUnsignedRefusesBrowsers: without a secret, a request with an Origin
// header (any browser's POST) is refused and nothing is stored; with a
// secret the signature decides.
func TestUnsignedRefusesBrowsers(t *testing.T) {
	u := newHarness(t, Options{AllowUnsigned: true})
	for _, origin := range []string{"https://evil.example", "null", "http://127.0.0.1:8080"} {
		t.Run(origin, func(t *testing.T) {
			w := u.post(issueBody("SUP-1"), header("Origin", origin))
			if w.Code != http.StatusForbidden {
				t.Fatalf("status: got %d (%s), want 403", w.Code, w.Body.String())
			}
		})
	}
	if n := u.rowCount(t); n != 0 {
		t.Errorf("rows: got %d, want 0", n)
	}
	u.accepted(t, u.post(issueBody("SUP-1"), nil))

	s := newHarness(t, Options{})
	s.accepted(t, s.post(issueBody("SUP-1"), header("Origin", "https://jira.example")))
}
