package intake

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/store"
)

// TestAcknowledgementsDoNotWaitForTheMover: while the store takes nothing
// (the mover is stuck in one insert), deliveries are still journaled and
// acknowledged, more groups than any channel between the appender and the
// mover held (4 x maxGroup), up to MaxUnmoved; once the store takes them
// again, every one is stored, once.
func TestAcknowledgementsDoNotWaitForTheMover(t *testing.T) {
	cases := []struct {
		name   string
		groups int
	}{
		{"a few groups", 10},
		{"more groups than the old channel held", 4*maxGroup + 50},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			real := h.in.insert
			entered, release := make(chan struct{}), make(chan struct{})
			var calls atomic.Int64
			h.in.insert = func(events []*store.Event) error {
				if calls.Add(1) == 1 {
					close(entered)
					<-release
				}
				return real(events)
			}
			h.accepted(t, h.post(issueBody("SUP-1"), nil))
			<-entered
			done := make(chan int)
			go func() {
				accepted := 0
				for range c.groups {
					if h.post(issueBody("SUP-2"), nil).Code == http.StatusAccepted {
						accepted++
					}
				}
				done <- accepted
			}()
			// The bound turns a hang into a failure; nothing is asserted on time.
			select {
			case n := <-done:
				if n != c.groups {
					t.Errorf("got %d deliveries accepted while the store was stuck, want %d", n, c.groups)
				}
			case <-time.After(3 * time.Minute):
				close(release)
				t.Fatalf("acknowledgements stopped while the mover was stuck in the store")
			}
			close(release)
			if got, want := h.rowCount(t), c.groups+1; got != want {
				t.Errorf("got %d events stored, want %d", got, want)
			}
		})
	}
}
