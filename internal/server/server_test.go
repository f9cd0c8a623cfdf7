package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/store"
)

// TestHealthAndReadinessWhileWritesFail: while appends of webhook events
// fail (on a full disk every delivery is refused with 503), health says
// degraded with the error and readiness fails its store check; the next
// append that succeeds clears both.
func TestHealthAndReadinessWhileWritesFail(t *testing.T) {
	f := newStatusFixture(t)
	ctx := context.Background()
	health := func() Health {
		t.Helper()
		resp, body := f.get(t, "/webhooks/jira/health")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("health: status %d, want 200", resp.StatusCode)
		}
		for name, secret := range testSecrets {
			if strings.Contains(body, secret) {
				t.Errorf("health shows %s", name)
			}
		}
		var h Health
		if err := json.Unmarshal([]byte(body), &h); err != nil {
			t.Fatal(err)
		}
		return h
	}
	ready := func() (int, map[string]string) {
		t.Helper()
		resp, body := f.get(t, "/readyz")
		var r struct {
			Checks map[string]string `json:"checks"`
		}
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, r.Checks
	}
	if h := health(); h.Status != "ok" || h.StoreError != "" {
		t.Fatalf("before: health %+v, want ok", h)
	}

	// An event the store refuses (its body is not UTF-8) stands for a disk
	// that refuses every write: the append fails.
	_, _, err := f.intake.Append(ctx, &store.Event{Type: "jira:issue_updated", IssueKey: "SUP-1", State: store.EventPending,
		ReceivedAt: time.Now(), Body: []byte{'{', 0xff, 0xfe, '}'}})
	if err == nil {
		t.Fatal("append of an unstorable event: got nil error")
	}
	h := health()
	if h.Status != "degraded" || !strings.HasPrefix(h.StoreError, "webhook events not stored since ") {
		t.Errorf("while appends fail: health status %q store_error %q, want degraded and what is not stored", h.Status, h.StoreError)
	}
	if len(h.StoreError) > 300 || strings.Contains(h.StoreError, "\n") {
		t.Errorf("store_error is not short: %q", h.StoreError)
	}
	if code, checks := ready(); code != http.StatusServiceUnavailable || checks["store"] != "not writable" {
		t.Errorf("while appends fail: readyz %d %v, want 503 with store: not writable", code, checks)
	}
	if _, page := f.get(t, "/"); !strings.Contains(page, "store not writable") {
		t.Errorf("the status page does not say why it is degraded")
	}
	_, at, _ := f.intake.AppendTrouble()
	if msg := StoreTrouble(f.intake, f.queue, at.Add(storeTroubleWindow)); msg != "" {
		t.Errorf("a failed append with no delivery since counts for %v only: got %q", storeTroubleWindow, msg)
	}

	if _, _, err := f.intake.Append(ctx, &store.Event{Type: "jira:issue_updated", IssueKey: "SUP-1", State: store.EventIgnored,
		ReceivedAt: time.Now(), Body: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	// The trouble clears once an event reaches the store, just after the
	// journal acknowledged it.
	if err := f.intake.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if h := health(); h.Status != "ok" || h.StoreError != "" {
		t.Errorf("after an append succeeded: health status %q store_error %q, want ok", h.Status, h.StoreError)
	}
	if code, checks := ready(); code != http.StatusOK || checks["store"] != "ok" {
		t.Errorf("after an append succeeded: readyz %d %v, want 200", code, checks)
	}
}

func TestShortError(t *testing.T) {
	cases := []struct {
		name, err, want string
	}{
		{"one line", "IO Error: No space left on device", "IO Error: No space left on device"},
		{"first line only", "IO Error: Could not write file\nstack and details", "IO Error: Could not write file"},
		{"long", strings.Repeat("x", 300), strings.Repeat("x", 200) + "..."},
		{"cut on a rune", strings.Repeat("x", 199) + "é" + strings.Repeat("y", 10), strings.Repeat("x", 199) + "..."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := shortError(errString(c.err)); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

type errString string

func (e errString) Error() string { return string(e) }
