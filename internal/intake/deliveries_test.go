package intake

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

func TestDeliveryFilter(t *testing.T) {
	const n = 100000
	f := newDeliveryFilter(n)
	for i := range n {
		f.add(fmt.Sprintf("delivery-%d", i))
	}
	if f.full() {
		t.Errorf("full at its capacity (%d held)", f.held)
	}
	for i := range n {
		if id := fmt.Sprintf("delivery-%d", i); !f.mayHold(id) {
			t.Fatalf("%s was added, but the filter says it was not", id)
		}
	}
	// At capacity about 0.05% of ids never added get a "maybe"; 0.2% would
	// mean the bits or the hashing are wrong.
	wrong := 0
	for i := range n {
		if f.mayHold(fmt.Sprintf("other-%d", i)) {
			wrong++
		}
	}
	if rate := float64(wrong) / n; rate > 0.002 {
		t.Errorf("false maybes: got %.3f%%, want about 0.05%%", 100*rate)
	}
	f.add("one-more")
	if !f.full() {
		t.Errorf("not full past its capacity (%d held of %d)", f.held, f.capacity)
	}
}

// TestDeliveryFilterReloads runs an intake whose delivery filter starts with
// room for 4 ids: it is reloaded from the store several times, and every
// delivery is still recognised when it comes again, including those that
// were only journaled while it was reloaded.
func TestDeliveryFilterReloads(t *testing.T) {
	h := newHarness(t, Options{filterCapacity: 4})
	const n = 40
	for i := range n {
		h.accepted(t, h.post(issueBody("SUP-1"), header("X-Atlassian-Webhook-Identifier", fmt.Sprint("delivery-", i))))
	}
	for i := range n {
		w := h.post(issueBody("SUP-1"), header("X-Atlassian-Webhook-Identifier", fmt.Sprint("delivery-", i)))
		if w.Code != http.StatusOK {
			t.Fatalf("delivery-%d again: status %d (%s), want 200 duplicate", i, w.Code, w.Body.String())
		}
	}
	if n := h.rowCount(t); n != 40 {
		t.Errorf("rows: got %d, want 40", n)
	}
	h.in.Close()
	if c := h.in.delivered.capacity(); c <= 4 {
		t.Errorf("filter capacity after %d deliveries: got %d, want it grown past 4", n, c)
	}
}

// TestDeliveryFilterReloadDoesNotHoldDeliveries: while a full filter is
// reloaded (held here in its read of the store), deliveries are still
// acknowledged, and every one, accepted before, during or after the
// reload, is recognised when it comes again.
func TestDeliveryFilterReloadDoesNotHoldDeliveries(t *testing.T) {
	cases := []struct {
		name          string
		before, while int
	}{
		{"a few during the reload", 5, 3},
		{"more during the reload than the filter held", 5, 40},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, Options{filterCapacity: 4})
			real := h.in.load
			entered, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			h.in.load = func(ctx context.Context, atLeast int) (*deliveryFilter, *deliveryFilter, error) {
				once.Do(func() {
					close(entered)
					<-release
				})
				return real(ctx, atLeast)
			}
			id := func(i int) http.Header { return header("X-Atlassian-Webhook-Identifier", fmt.Sprint("delivery-", i)) }
			// The group after the fifth delivery starts the reload.
			for i := range c.before + 1 {
				h.accepted(t, h.post(issueBody("SUP-1"), id(i)))
			}
			select {
			case <-entered:
			case <-time.After(time.Minute):
				t.Fatal("no reload started after the filter filled")
			}
			done := make(chan int)
			go func() {
				accepted := 0
				for i := c.before + 1; i < c.before+1+c.while; i++ {
					if h.post(issueBody("SUP-1"), id(i)).Code == http.StatusAccepted {
						accepted++
					}
				}
				done <- accepted
			}()
			// The bound turns a hang into a failure; nothing is asserted on time.
			select {
			case n := <-done:
				if n != c.while {
					t.Errorf("got %d deliveries accepted during the reload, want %d", n, c.while)
				}
			case <-time.After(3 * time.Minute):
				close(release)
				t.Fatal("acknowledgements stopped while the delivery filter was reloaded")
			}
			close(release)
			h.in.delivered.wg.Wait()
			total := c.before + 1 + c.while
			for i := range total {
				if w := h.post(issueBody("SUP-1"), id(i)); w.Code != http.StatusOK {
					t.Errorf("delivery-%d again: got status %d (%s), want 200 duplicate", i, w.Code, w.Body.String())
				}
			}
			if got := h.rowCount(t); got != total {
				t.Errorf("got %d events stored, want %d", got, total)
			}
		})
	}
}

// TestDeliveryFilterReloadFails: when the store cannot be read to reload a
// full filter, deliveries are still taken (into the journal), and once the
// store is back every one of them is recognised when it comes again.
func TestDeliveryFilterReloadFails(t *testing.T) {
	h := newHarness(t, Options{filterCapacity: 4})
	id := func(i int) http.Header { return header("X-Atlassian-Webhook-Identifier", fmt.Sprint("delivery-", i)) }
	for i := range 5 {
		h.accepted(t, h.post(issueBody("SUP-1"), id(i)))
	}
	h.flush(t)
	// DuckDB renames no table that has an index.
	if _, err := h.s.DB().Exec(`DROP INDEX webhook_events_body_sha256; ALTER TABLE webhook_events RENAME TO webhook_events_away`); err != nil {
		t.Fatal(err)
	}
	// The filter is full: the reload this group starts fails, unless it
	// runs after the table is back. A new id is then taken unless the
	// filter answers "maybe" for it, which sends it to the store, which
	// fails: 503, and Jira would retry it.
	w := h.post(issueBody("SUP-1"), id(5))
	if w.Code != http.StatusAccepted && w.Code != http.StatusServiceUnavailable {
		t.Fatalf("delivery-5 while the store is away: status %d (%s), want 202 or 503", w.Code, w.Body.String())
	}
	taken := w.Code == http.StatusAccepted
	if _, err := h.s.DB().Exec(`ALTER TABLE webhook_events_away RENAME TO webhook_events;
		CREATE INDEX webhook_events_body_sha256 ON webhook_events (body_sha256)`); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		if i == 5 && !taken {
			continue
		}
		if w := h.post(issueBody("SUP-1"), id(i)); w.Code != http.StatusOK {
			t.Errorf("delivery-%d again: status %d (%s), want 200 duplicate", i, w.Code, w.Body.String())
		}
	}
}

// TestCloseEndsADeliveryFilterReload: Close does not wait for a reload to
// read the whole store; it ends it, and what was accepted stays stored.
func TestCloseEndsADeliveryFilterReload(t *testing.T) {
	h := newHarness(t, Options{filterCapacity: 4})
	entered := make(chan struct{})
	var once sync.Once
	h.in.load = func(ctx context.Context, atLeast int) (*deliveryFilter, *deliveryFilter, error) {
		once.Do(func() { close(entered) })
		<-ctx.Done()
		return nil, nil, ctx.Err()
	}
	for i := range 6 {
		h.accepted(t, h.post(issueBody("SUP-1"), header("X-Atlassian-Webhook-Identifier", fmt.Sprint("delivery-", i))))
	}
	select {
	case <-entered:
	case <-time.After(time.Minute):
		t.Fatal("no reload started after the filter filled")
	}
	closed := make(chan error, 1)
	go func() { closed <- h.in.Close() }()
	// The bound turns a hang into a failure; nothing is asserted on time.
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("close: %v", err)
		}
	case <-time.After(3 * time.Minute):
		t.Fatal("Close waited for the reload of the delivery filter")
	}
	var n int
	if err := h.s.DB().QueryRow(`SELECT count(*) FROM webhook_events`).Scan(&n); err != nil || n != 6 {
		t.Errorf("got %d events stored (%v), want 6", n, err)
	}
}
