package intake

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jiraduck/jiraduck/internal/emulator"
)

// webhookBodies returns n jira:issue_updated bodies as the emulator sends
// them (REST v2 issue, user, changelog), caught on a local server.
func webhookBodies(b *testing.B, n int) [][]byte {
	b.Helper()
	var mu sync.Mutex
	var bodies [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, body)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	em, err := emulator.New(emulator.Options{Issues: 200, Seed: 3, WebhookURL: srv.URL, WebhookSecret: "s"})
	if err != nil {
		b.Fatal(err)
	}
	defer em.Close()
	if _, err := em.Storm(context.Background(), emulator.StormOptions{Events: n, Issues: min(n, 200)}); err != nil {
		b.Fatal(err)
	}
	if err := em.WaitWebhooks(context.Background()); err != nil {
		b.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return bodies
}

// BenchmarkVerify is the signature check of one typical webhook body.
func BenchmarkVerify(b *testing.B) {
	body := webhookBodies(b, 1)[0]
	sig := Sign(testSecret, body)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := Verify(testSecret, body, sig); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDelivery is one acknowledged webhook through the handler on a
// real store: read, verify, decode, validate, the replay check and the
// durable append to the journal (the mover puts it into the store
// meanwhile). Serial deliveries each pay an fsync; parallel ones share them
// (group commit). Every delivery has a body of its own, as Jira's do (a
// repeated body is a replay): the emulator's bodies with a field added,
// signed in the loop, which the figures include (about 10 µs a body).
func BenchmarkDelivery(b *testing.B) {
	bodies := webhookBodies(b, 64)
	var seq atomic.Int64
	deliver := func(b *testing.B, h *harness) {
		i := int(seq.Add(1))
		orig := bodies[i%len(bodies)]
		body := append([]byte(fmt.Sprintf(`{"bench_seq":%d,`, i)), orig[1:]...)
		r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		r.Header.Set("X-Hub-Signature", Sign(testSecret, body))
		r.Header.Set("X-Atlassian-Webhook-Identifier", fmt.Sprintf("bench-%d", i))
		w := httptest.NewRecorder()
		h.in.ServeHTTP(w, r)
		if w.Code != http.StatusAccepted {
			b.Errorf("status %d: %s", w.Code, w.Body.String())
		}
	}
	b.Run("serial", func(b *testing.B) {
		h := newHarness(b, Options{})
		b.ReportAllocs()
		for b.Loop() {
			deliver(b, h)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		h := newHarness(b, Options{})
		b.ReportAllocs()
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				deliver(b, h)
			}
		})
		b.ReportMetric(float64(b.N)/float64(max(h.in.commits.Load(), 1)), "events/commit")
	})
}
