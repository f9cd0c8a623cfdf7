package pipeline

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/jira"
	"github.com/jiraduck/jiraduck/internal/store"
)

// TestFetchFailuresRecorded: a failed fetch is recorded whatever asked for
// it (a direct Process as reconcile, the SLA heal and the debug endpoint
// do; the queue of webhook events), with a short reason and the whole
// error, and a later successful fetch of the issue ends it.
func TestFetchFailuresRecorded(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, QueueOptions{Workers: 1, MaxAttempts: 2})
	h.jira.add("100", "SUP-1", 0)
	h.jira.add("200", "SUP-2", 0)
	failures := func() map[string]store.FetchFailure {
		t.Helper()
		list, total, err := h.s.FetchFailures(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		if total != len(list) {
			t.Fatalf("failures: got %d listed of %d", len(list), total)
		}
		out := map[string]store.FetchFailure{}
		for _, f := range list {
			out[f.Issue] = f
		}
		return out
	}

	h.jira.failIssue = 1000
	if _, err := h.proc.Process(ctx, Request{KeyOrID: "100", ID: "100"}); err == nil {
		t.Fatal("process while Jira fails: got no error")
	}
	if err := h.queue.Start(ctx); err != nil {
		t.Fatal(err)
	}
	h.queue.Accept([]*store.Event{h.event(t, "jira:issue_updated", "SUP-2", "200")})
	h.drain(t)
	deadline := time.Now().Add(10 * time.Second)
	for len(failures()) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := failures()
	for _, issue := range []string{"100", "200"} {
		f, ok := got[issue]
		if !ok {
			t.Fatalf("failures: got %v, want one for %s", got, issue)
		}
		if f.Reason != "jira unavailable" || f.Error == "" || f.Failures < 1 {
			t.Errorf("failure of %s: got %+v, want reason jira unavailable with the error", issue, f)
		}
	}
	if f := got["200"]; f.IssueKey != "SUP-2" {
		t.Errorf("failure of 200: key %q, want SUP-2", f.IssueKey)
	}

	// An issue that is gone (404) is not a failed fetch.
	if _, err := h.proc.Process(ctx, Request{KeyOrID: "SUP-404", Key: "SUP-404"}); err != nil {
		t.Fatal(err)
	}
	h.jira.mu.Lock()
	h.jira.failIssue = 0
	h.jira.mu.Unlock()
	if _, err := h.proc.Process(ctx, Request{KeyOrID: "SUP-2", Key: "SUP-2"}); err != nil {
		t.Fatal(err)
	}
	if got := failures(); len(got) != 1 || got["100"].Issue != "100" {
		t.Errorf("after SUP-2 (id 200) fetched by key: got %v, want only 100 left", got)
	}
	// A new processor (another command) knows the failures from the store.
	p2 := NewProcessor(h.proc.client, h.s, h.w, h.proc.catalog, ProcessorOptions{DataDir: h.dir})
	if _, err := p2.Process(ctx, Request{KeyOrID: "100", ID: "100"}); err != nil {
		t.Fatal(err)
	}
	if got := failures(); len(got) != 0 {
		t.Errorf("after every issue fetched: got %v, want none", got)
	}
}

// TestFetchCancelledIsNoFailure: a fetch its caller stopped is not recorded.
func TestFetchCancelledIsNoFailure(t *testing.T) {
	h := newHarness(t, QueueOptions{})
	h.jira.add("100", "SUP-1", 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.proc.Process(ctx, Request{KeyOrID: "SUP-1", Key: "SUP-1"}); err == nil {
		t.Fatal("cancelled process: got no error")
	}
	if _, n, err := h.s.FetchFailures(context.Background(), 10); err != nil || n != 0 {
		t.Errorf("failures: got %d (%v), want 0", n, err)
	}
}

func TestFailureReason(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&jira.APIError{Status: 401}, "jira: unauthorized (401)"},
		{fmt.Errorf("fetch SUP-1: %w", &jira.APIError{Status: 403}), "jira: forbidden (403)"},
		{&jira.APIError{Status: 429}, "jira: rate limited (429)"},
		{&jira.APIError{Status: 502}, "jira unavailable"},
		{&jira.APIError{Status: 400}, "jira: status 400"},
		{&PermanentError{Err: errors.New("normalize: bad")}, "payload not usable"},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), "timed out"},
		{errors.New("open /var/lib/jiraduck/x: no space left on device"), "internal error"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			if got := FailureReason(tc.err); got != tc.want {
				t.Errorf("FailureReason(%v): got %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}
