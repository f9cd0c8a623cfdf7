package intake

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/jiraduck/jiraduck/internal/store"
)

// openEarly opens an intake on the journal at path, not attached to a store.
func openEarly(t *testing.T, path string) *harness {
	t.Helper()
	in, err := Open(Options{Secret: testSecret, Journal: path})
	if err != nil {
		t.Fatalf("open intake: %v", err)
	}
	t.Cleanup(func() { in.Close() })
	return &harness{in: in, sink: &recordingSink{}, secret: testSecret}
}

// attach attaches h's intake to s and waits until what it journaled is
// moved.
func (h *harness) attach(t *testing.T, s *store.Store) {
	t.Helper()
	h.s = s
	if err := h.in.Attach(context.Background(), s, h.sink); err != nil {
		t.Fatalf("attach: %v", err)
	}
	h.flush(t)
}

// earlyKeys are the issue keys of the stored events, by event id.
func earlyKeys(t *testing.T, s *store.Store) []string {
	t.Helper()
	rows, err := s.DB().Query(`SELECT issue_key FROM webhook_events ORDER BY event_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestAcceptedBeforeAttach: before the store is open, signed deliveries are
// acknowledged with 202 (without an id, given once the store is open), a
// repeat of one is a duplicate, and at Attach they are stored after the
// store's events, numbered in order, and handed to the sink; a delivery
// the store held already is dropped there, and a journal read again after a
// crash that followed the move stores nothing twice.
func TestAcceptedBeforeAttach(t *testing.T) {
	s := openStore(t)
	journal := filepath.Join(filepath.Dir(s.Path()), JournalName)
	before := startIntake(t, s, Options{Secret: testSecret, Journal: journal})
	first := before.accepted(t, before.post(issueBody("SUP-1"), header("X-Atlassian-Webhook-Identifier", "stored-before")))
	before.flush(t)
	before.in.Close()

	h := openEarly(t, journal)
	cases := []struct {
		name   string
		key    string
		id     string
		status int
	}{
		{"new delivery", "SUP-2", "early-1", http.StatusAccepted},
		{"second delivery", "SUP-3", "early-2", http.StatusAccepted},
		{"repeat of a delivery journaled meanwhile", "SUP-2", "early-1", http.StatusOK},
		{"repeat of a delivery stored before", "SUP-1", "stored-before", http.StatusAccepted},
		{"delivery without an id", "SUP-4", "", http.StatusAccepted},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var hdr http.Header
			if tc.id != "" {
				hdr = header("X-Atlassian-Webhook-Identifier", tc.id)
			}
			w := h.post(issueBody(tc.key), hdr)
			if w.Code != tc.status {
				t.Fatalf("status: got %d (%s), want %d", w.Code, w.Body.String(), tc.status)
			}
			if a := decodeAnswer(t, w); a.ID != 0 {
				t.Errorf("id before the store is open: got %d, want none", a.ID)
			}
		})
	}
	if n := len(h.sink.events()); n != 0 {
		t.Errorf("events handed over before the store is open: got %d, want 0", n)
	}
	saved, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	h.attach(t, s)
	want := []string{"SUP-1", "SUP-2", "SUP-3", "SUP-4"}
	if got := earlyKeys(t, s); !slices.Equal(got, want) {
		t.Errorf("stored events: got %v, want %v", got, want)
	}
	var handed []int64
	for _, e := range h.sink.events() {
		handed = append(handed, e.ID)
	}
	if want := []int64{first + 1, first + 2, first + 3}; !slices.Equal(handed, want) {
		t.Errorf("ids handed over: got %v, want %v", handed, want)
	}
	if w := h.post(issueBody("SUP-3"), header("X-Atlassian-Webhook-Identifier", "early-2")); w.Code != http.StatusOK {
		t.Errorf("repeat after attach of a delivery accepted before: got %d, want 200 duplicate", w.Code)
	}
	if id := h.accepted(t, h.post(issueBody("SUP-5"), nil)); id != first+4 {
		t.Errorf("id of the first delivery after attach: got %d, want %d", id, first+4)
	}
	h.flush(t)
	h.in.Close()

	// A crash after the move, before the journal was emptied: the
	// unnumbered records come back, and are found in the store.
	if err := os.WriteFile(journal, saved, 0o640); err != nil {
		t.Fatal(err)
	}
	again := openEarly(t, journal)
	again.attach(t, s)
	if got, want := earlyKeys(t, s), []string{"SUP-1", "SUP-2", "SUP-3", "SUP-4", "SUP-5"}; !slices.Equal(got, want) {
		t.Errorf("stored events after the journal was read again: got %v, want %v", got, want)
	}
	if n := len(again.sink.events()); n != 0 {
		t.Errorf("events handed over again: got %d, want 0", n)
	}
	if st, err := os.Stat(journal); err != nil || st.Size() != 0 {
		t.Errorf("journal after attach: %v, want it emptied", err)
	}
}

// TestClosedBeforeAttach: an intake closed before the store opened (serve
// failed to start) keeps what it acknowledged in the journal, and the next
// start moves it.
func TestClosedBeforeAttach(t *testing.T) {
	s := openStore(t)
	journal := filepath.Join(filepath.Dir(s.Path()), JournalName)
	h := openEarly(t, journal)
	if w := h.post(issueBody("SUP-1"), nil); w.Code != http.StatusAccepted {
		t.Fatalf("status: got %d, want 202", w.Code)
	}
	if err := h.in.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.in.Flush(context.Background()); err == nil {
		t.Error("Flush of an intake closed before attach: got nil, want an error")
	}
	next := openEarly(t, journal)
	next.attach(t, s)
	if got := earlyKeys(t, s); !slices.Equal(got, []string{"SUP-1"}) {
		t.Errorf("stored events: got %v, want [SUP-1]", got)
	}
	if n := len(next.sink.events()); n != 1 {
		t.Errorf("events handed over: got %d, want 1", n)
	}
}
