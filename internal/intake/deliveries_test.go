package intake

import (
	"fmt"
	"net/http"
	"testing"
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
	// At capacity about 1% of ids never added get a "maybe"; 3% would mean
	// the bits or the hashing are wrong.
	wrong := 0
	for i := range n {
		if f.mayHold(fmt.Sprintf("other-%d", i)) {
			wrong++
		}
	}
	if rate := float64(wrong) / n; rate > 0.03 {
		t.Errorf("false maybes: got %.2f%%, want about 1%%", 100*rate)
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
	if c := h.in.delivered.capacity; c < n {
		t.Errorf("filter capacity after %d deliveries: got %d, want it grown past them", n, c)
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
	// The filter is full: this group's reload fails. A new id is then
	// taken unless the filter answers "maybe" for it, which sends it to
	// the store, which fails: 503, and Jira would retry it.
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
