package gather

import (
	"slices"
	"testing"
)

func TestWaiting(t *testing.T) {
	cases := []struct {
		name   string
		queued []int
		close  bool
		limit  int
		want   []int
		left   int
	}{
		{"takes what waits", []int{2, 3}, false, 10, []int{1, 2, 3}, 0},
		{"stops at the limit", []int{2, 3, 4, 5}, false, 3, []int{1, 2, 3}, 2},
		{"stops at a closed channel", []int{2}, true, 10, []int{1, 2}, 0},
		{"nothing waiting", nil, false, 10, []int{1}, 0},
		{"full already", []int{2}, false, 1, []int{1}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ch := make(chan int, 8)
			for _, v := range c.queued {
				ch <- v
			}
			if c.close {
				close(ch)
			}
			got := Waiting(ch, []int{1}, c.limit)
			if !slices.Equal(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
			if len(ch) != c.left {
				t.Errorf("got %d values left on the channel, want %d", len(ch), c.left)
			}
		})
	}
}

// TestWaitingFunc checks that the limit counts the batch's items, not the
// values received: a value that passes it is taken whole.
func TestWaitingFunc(t *testing.T) {
	ch := make(chan []string, 4)
	ch <- []string{"b", "c"}
	ch <- []string{"d", "e"}
	ch <- []string{"f"}
	got := WaitingFunc(ch, []string{"a"}, 4, func(b, more []string) []string { return append(b, more...) })
	if want := []string{"a", "b", "c", "d", "e"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if len(ch) != 1 {
		t.Errorf("got %d values left on the channel, want 1", len(ch))
	}
}
