package intake

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/store"
)

// failingStore makes the intake's mover fail until the returned func is
// called.
func failingStore(h *harness) (recover func(), attempts *atomic.Int64) {
	real := h.in.insert
	var broken atomic.Bool
	var n atomic.Int64
	broken.Store(true)
	h.in.insert = func(events []*store.Event) error {
		n.Add(1)
		if broken.Load() {
			return errors.New("IO Error: No space left on device")
		}
		return real(events)
	}
	return func() { broken.Store(false) }, &n
}

// TestJournalKeepsWhatTheStoreCannotTake: while the store refuses writes,
// deliveries are still acknowledged (they are in the journal), a repeated
// delivery is still a duplicate, AppendTrouble says so, and everything
// reaches the store once it recovers.
func TestJournalKeepsWhatTheStoreCannotTake(t *testing.T) {
	h := newHarness(t, Options{})
	recover, attempts := failingStore(h)
	hdr := header("X-Atlassian-Webhook-Identifier", "delivery-1")
	id := h.accepted(t, h.post(issueBody("SUP-1"), hdr))
	h.accepted(t, h.post(issueBody("SUP-2"), nil))
	if w := h.post(issueBody("SUP-1"), hdr); w.Code != http.StatusOK {
		t.Errorf("repeated delivery while unmoved: got %d, want 200 duplicate", w.Code)
	}
	deadline := time.Now().Add(time.Minute)
	for attempts.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if _, _, err := h.in.AppendTrouble(); err == nil {
		t.Error("AppendTrouble: got no error while the store refuses writes")
	}
	if n := len(h.sink.events()); n != 0 {
		t.Errorf("events handed to the queue before they are stored: got %d, want 0", n)
	}
	recover()
	if got := h.row(t, id).IssueKey; got != "SUP-1" {
		t.Errorf("event %d issue_key: got %q, want SUP-1", id, got)
	}
	if n := h.rowCount(t); n != 2 {
		t.Errorf("rows: got %d, want 2", n)
	}
	if n := len(h.events(t)); n != 2 {
		t.Errorf("events handed over: got %d, want 2", n)
	}
	if st, err := os.Stat(h.in.opts.Journal); err != nil || st.Size() != 0 {
		t.Errorf("journal after everything moved: %v, size %d, want empty", err, st.Size())
	}
}

// TestJournalReplayedAtStart: events acknowledged by an intake that stopped
// before the store took them are moved by the next one, under their ids,
// and handed to its sink; the ids that follow do not collide.
func TestJournalReplayedAtStart(t *testing.T) {
	h := newHarness(t, Options{})
	h.in.moveGrace = 50 * time.Millisecond
	failingStore(h)
	var ids []int64
	for i := range 3 {
		ids = append(ids, h.accepted(t, h.post(issueBody(fmt.Sprint("SUP-", i+1)),
			header("X-Atlassian-Webhook-Identifier", fmt.Sprint("d-", i)))))
	}
	if err := h.in.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.in.Flush(context.Background()); err == nil {
		t.Error("Flush of a closed intake with events left: got nil, want an error")
	}
	var n int
	if err := h.s.DB().QueryRow(`SELECT count(*) FROM webhook_events`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("rows before the restart: got %d (%v), want 0", n, err)
	}

	h2 := startIntake(t, h.s, Options{Secret: testSecret, Journal: h.in.opts.Journal})
	for i, id := range ids {
		if got, want := h2.row(t, id).IssueKey, fmt.Sprint("SUP-", i+1); got != want {
			t.Errorf("event %d issue_key: got %q, want %q", id, got, want)
		}
	}
	if n := len(h2.events(t)); n != 3 {
		t.Errorf("events handed over after the restart: got %d, want 3", n)
	}
	if w := h2.post(issueBody("SUP-1"), header("X-Atlassian-Webhook-Identifier", "d-0")); w.Code != http.StatusOK {
		t.Errorf("delivery replayed from the journal, sent again: got %d, want 200 duplicate", w.Code)
	}
	if id := h2.accepted(t, h2.post(issueBody("SUP-9"), nil)); id != ids[2]+1 {
		t.Errorf("first new id: got %d, want %d", id, ids[2]+1)
	}

	// A third start finds nothing left to move and stores nothing twice.
	h2.in.Close()
	h3 := startIntake(t, h.s, Options{Secret: testSecret, Journal: h.in.opts.Journal})
	if n := h3.rowCount(t); n != 4 {
		t.Errorf("rows after a third start: got %d, want 4", n)
	}
}

// TestJournalTornTail: a record cut short by a crash, and bytes that are no
// record, are dropped at start; the whole records before them are kept and
// new records follow them.
func TestJournalTornTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), JournalName)
	j, left, err := openJournal(path)
	if err != nil || len(left) != 0 {
		t.Fatalf("new journal: %v, %d events", err, len(left))
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	events := []*store.Event{
		{ID: 1, DeliveryID: "a", Type: "jira:issue_updated", IssueKey: "SUP-1", IssueID: "10", ReceivedAt: at, State: store.EventPending, Body: []byte(`{"a":1}`)},
		{ID: 2, Type: "comment_created", IssueID: "11", RelatedIssueID: "12", RetryCount: 3, JiraTimestamp: at, ReceivedAt: at, State: store.EventPending, Body: []byte(`{}`)},
	}
	if err := j.append(events); err != nil {
		t.Fatal(err)
	}
	j.close()
	whole, _ := os.ReadFile(path)
	third, _ := encodeRecord(nil, &store.Event{ID: 3, Type: "x", ReceivedAt: at, State: store.EventPending, Body: []byte(`{"b":2}`)})

	for _, tc := range []struct {
		name string
		tail []byte
	}{
		{"torn header", third[:7]},
		{"torn record", third[:len(third)-2]},
		{"bad checksum", append(append([]byte(nil), third[:len(third)-1]...), third[len(third)-1]^1)},
		{"huge length", []byte{0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(path, append(append([]byte(nil), whole...), tc.tail...), 0o660); err != nil {
				t.Fatal(err)
			}
			j, left, err := openJournal(path)
			if err != nil {
				t.Fatal(err)
			}
			defer j.close()
			if len(left) != 2 || left[0].DeliveryID != "a" || string(left[0].Body) != `{"a":1}` ||
				left[1].RelatedIssueID != "12" || left[1].RetryCount != 3 || !left[1].JiraTimestamp.Equal(at) {
				t.Fatalf("events read back: got %d %+v", len(left), left)
			}
			if err := j.append([]*store.Event{{ID: 4, Type: "y", ReceivedAt: at, State: store.EventPending, Body: []byte(`[]`)}}); err != nil {
				t.Fatal(err)
			}
			j.close()
			j2, again, err := openJournal(path)
			if err != nil {
				t.Fatal(err)
			}
			j2.close()
			if len(again) != 3 || again[2].ID != 4 {
				t.Errorf("after a new record: got %d events, want 3 ending with id 4", len(again))
			}
		})
	}
}

// TestUnmovedBytesBounded: while the store refuses writes, deliveries past
// MaxUnmoved bytes are refused with 503 (Jira retries them) instead of
// piling up in memory.
func TestUnmovedBytesBounded(t *testing.T) {
	h := newHarness(t, Options{MaxUnmoved: 200})
	recover, _ := failingStore(h)
	h.accepted(t, h.post(issueBody("SUP-1"), nil))
	if w := h.post(issueBody("SUP-2"), nil); w.Code != http.StatusServiceUnavailable {
		t.Errorf("delivery past the bound: got %d, want 503", w.Code)
	}
	recover()
	h.flush(t)
	h.accepted(t, h.post(issueBody("SUP-3"), nil))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := h.in.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := h.rowCount(t); n != 2 {
		t.Errorf("rows: got %d, want 2", n)
	}
}

// TestRetryAfterAFailureThatTookEffect: an insert reported as failed that
// committed all the same (as DuckDB can answer when it runs out of memory)
// is not inserted again on retry, which would fail on the primary key for
// ever; every event is stored once and handed over once.
func TestRetryAfterAFailureThatTookEffect(t *testing.T) {
	h := newHarness(t, Options{})
	real := h.in.insert
	var attempts atomic.Int64
	h.in.insert = func(events []*store.Event) error {
		if attempts.Add(1) == 1 {
			if err := real(events); err != nil {
				return err
			}
			return errors.New("Out of Memory Error: failed to pin block (reported after the commit)")
		}
		return real(events)
	}
	first := h.accepted(t, h.post(issueBody("SUP-1"), nil))
	h.flush(t)
	second := h.accepted(t, h.post(issueBody("SUP-2"), nil))
	if n := h.rowCount(t); n != 2 {
		t.Errorf("rows: got %d, want 2", n)
	}
	for _, id := range []int64{first, second} {
		if got := h.row(t, id).State; got != store.EventPending {
			t.Errorf("event %d: state %q, want pending", id, got)
		}
	}
	if n := len(h.events(t)); n != 2 {
		t.Errorf("events handed over: got %d, want 2", n)
	}
	// The retry of the first event finds it stored and inserts nothing; the
	// second event takes one insert.
	if n := attempts.Load(); n != 2 {
		t.Errorf("inserts: got %d, want 2", n)
	}
	if _, _, err := h.in.AppendTrouble(); err != nil {
		t.Errorf("AppendTrouble after the retry: %v, want none", err)
	}
}
