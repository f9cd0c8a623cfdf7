package bench

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/intake"
)

// TestSendWebhooks checks P1's sender: every delivery arrives once, signed,
// with a body and a delivery id of its own that the body names, and each
// answer is recorded against its delivery.
func TestSendWebhooks(t *testing.T) {
	t.Parallel()
	bodies := [][]byte{[]byte(`{"webhookEvent":"jira:issue_updated","n":1}`), []byte(`{"webhookEvent":"jira:issue_updated","n":2}`)}
	cases := []struct {
		name        string
		rate, total int
	}{
		{"fewer than a second", 500, 40},
		{"more than the bodies ahead", 2000, 2500},
		{"one", 10, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			seen := map[string]int{}
			var bad []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				id := r.Header.Get("X-Atlassian-Webhook-Identifier")
				var named struct {
					Delivery string `json:"bench_delivery"`
				}
				err := json.Unmarshal(body, &named)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case intake.Verify([]byte(app.SiteSecret), body, r.Header.Get("X-Hub-Signature")) != nil:
					bad = append(bad, id+": bad signature")
				case err != nil || named.Delivery != id:
					bad = append(bad, id+": body names "+named.Delivery)
				}
				seen[id]++
				w.WriteHeader(http.StatusAccepted)
			}))
			defer srv.Close()
			l, err := sendWebhooks(context.Background(), strings.TrimPrefix(srv.URL, "http://"), bodies, c.rate, c.total, "t-")
			if err != nil {
				t.Fatalf("sendWebhooks: %v", err)
			}
			if got := l.accepted(); got != c.total {
				t.Errorf("got %d answered 202, want %d (failures %d, first: %s)", got, c.total, l.failures, l.firstErr)
			}
			if len(seen) != c.total {
				t.Errorf("got %d distinct delivery ids, want %d", len(seen), c.total)
			}
			for id, n := range seen {
				if n != 1 {
					t.Errorf("delivery %s: got %d requests, want 1", id, n)
				}
			}
			if len(bad) > 0 {
				t.Errorf("got %d wrong deliveries, want none; first: %s", len(bad), bad[0])
			}
		})
	}
}

// TestSendWebhooksRefusesNoLoad: a load without a rate, deliveries or
// bodies is an error, not a division by zero.
func TestSendWebhooksRefusesNoLoad(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		rate, total int
		bodies      [][]byte
	}{
		{"no rate", 0, 10, [][]byte{[]byte(`{}`)}},
		{"no deliveries", 10, 0, [][]byte{[]byte(`{}`)}},
		{"no bodies", 10, 10, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := sendWebhooks(context.Background(), "127.0.0.1:1", c.bodies, c.rate, c.total, "t-"); err == nil {
				t.Errorf("got no error, want one")
			}
		})
	}
}

// TestAckSizes: P1 sends at --rate for --rate-for, 1,000/s for 60 s (2 s
// with --quick) unless they are given.
func TestAckSizes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		o        Options
		rate     int
		duration time.Duration
	}{
		{"defaults", Options{Issues: 100000}, 1000, 60 * time.Second},
		{"quick", Options{Quick: true}, 1000, 2 * time.Second},
		{"rate given", Options{Issues: 20000, Rate: 200}, 200, 60 * time.Second},
		{"duration given", Options{Issues: 20000, Rate: 1500, RateFor: 10 * time.Second}, 1500, 10 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sz := sizesFor(c.o)
			if sz.ackRate != c.rate || sz.ackFor != c.duration {
				t.Errorf("got %d/s for %s, want %d/s for %s", sz.ackRate, sz.ackFor, c.rate, c.duration)
			}
		})
	}
}
