package app_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/store"
)

// watchedService starts serve on an empty store with its store probe
// replaced by usable, asked every 10 ms.
func watchedService(t *testing.T, usable func(context.Context) error) (*app.Service, *apptest.LockedBuffer) {
	t.Helper()
	cfg, err := config.FromMap(map[string]string{
		"JIRADUCK_DATA_DIR": t.TempDir(), "JIRADUCK_LISTEN": "127.0.0.1:0", "JIRA_WEBHOOK_SECRET": "watch-secret",
		"JIRADUCK_SLA_POLL_SCHEDULE": "", "JIRADUCK_RECONCILE_SCHEDULE": "", "JIRADUCK_SNAPSHOT_SCHEDULE": "",
	})
	if err != nil {
		t.Fatal(err)
	}
	logs := &apptest.LockedBuffer{}
	svc, err := app.StartService(context.Background(), cfg, apptest.LoopbackListener(t), app.NewLogger(cfg, logs),
		&app.Hooks{StoreUsable: usable, StoreWatchEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return svc, logs
}

// TestServeStopsWhenStoreInvalidated: once DuckDB has invalidated the open
// store, serve stops with an error naming the cause (exit code 1, so its
// supervisor restarts it: TestServeExitsOneWhenStoreInvalidated in
// cmd/jiraduck) and lets go of the file, instead of acknowledging
// webhooks it can never process.
func TestServeStopsWhenStoreInvalidated(t *testing.T) {
	t.Parallel()
	var asked atomic.Int32
	svc, logs := watchedService(t, func(context.Context) error {
		if asked.Add(1) < 3 {
			return nil
		}
		return fmt.Errorf("%w: Out of Memory Error: failed to pin block of size 256.0 KiB", store.ErrInvalidated)
	})
	addr := svc.Addr()
	done := make(chan error, 1)
	go func() { done <- svc.Wait(context.Background()) }()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("serve still running 30 s after the store was invalidated")
	}
	if !errors.Is(err, store.ErrInvalidated) || !strings.Contains(err.Error(), "failed to pin block") {
		t.Errorf("serve returned %v, want ErrInvalidated with DuckDB's cause", err)
	}
	if !strings.Contains(logs.String(), "the store can no longer be used") {
		t.Errorf("nothing logged about the store:\n%s", logs.String())
	}
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("serve still answers on %s after stopping", addr)
	}
	// The file is free for the next serve.
	s, err := store.Open(context.Background(), filepath.Join(svc.Config().DataDir, store.FileName), store.Options{})
	if err != nil {
		t.Fatalf("opening the store after serve stopped: %v", err)
	}
	s.Close()
}

// TestServeOutlivesOtherProbeErrors: an error that is not an invalidation (a
// busy pool, a timeout) does not stop serve.
func TestServeOutlivesOtherProbeErrors(t *testing.T) {
	t.Parallel()
	var asked atomic.Int32
	svc, _ := watchedService(t, func(context.Context) error {
		asked.Add(1)
		return context.DeadlineExceeded
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Wait(ctx) }()
	apptest.WaitFor(t, 30*time.Second, func() error {
		if n := asked.Load(); n < 20 {
			return fmt.Errorf("the probe was asked %d times, want 20", n)
		}
		return nil
	})
	select {
	case err := <-done:
		t.Fatalf("serve stopped on a probe error that is not an invalidation: %v", err)
	default:
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// TestServeUnsignedMode: serve started with JIRADUCK_ALLOW_UNSIGNED and no
// secret warns at start, refuses a browser's request, and counts made-up
// event types under one metric label.
func TestServeUnsignedMode(t *testing.T) {
	t.Parallel()
	cfg, err := config.FromMap(map[string]string{
		"JIRADUCK_DATA_DIR": t.TempDir(), "JIRADUCK_LISTEN": "127.0.0.1:0", "JIRADUCK_ALLOW_UNSIGNED": "true",
		"JIRADUCK_SLA_POLL_SCHEDULE": "", "JIRADUCK_RECONCILE_SCHEDULE": "", "JIRADUCK_SNAPSHOT_SCHEDULE": "",
	})
	if err != nil {
		t.Fatal(err)
	}
	logs := &apptest.LockedBuffer{}
	svc, err := app.StartService(context.Background(), cfg, apptest.LoopbackListener(t), app.NewLogger(cfg, logs), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	if !strings.Contains(logs.String(), "unsigned webhooks are accepted") {
		t.Errorf("no warning at start:\n%s", logs.String())
	}
	base := "http://" + svc.Addr()
	post := func(body, origin string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+"/webhooks/jira", strings.NewReader(body))
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(`{"timestamp":1,"webhookEvent":"jira:issue_updated","issue":{"id":"1","key":"SUP-1"}}`, "https://evil.example"); code != http.StatusForbidden {
		t.Errorf("a browser's request: got %d, want 403", code)
	}
	for i := range 20 {
		if code := post(fmt.Sprintf(`{"timestamp":%d,"webhookEvent":"made-up-%d"}`, i, i), ""); code != http.StatusAccepted {
			t.Fatalf("made-up type %d: got %d, want 202", i, code)
		}
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	if _, err := io.Copy(&b, resp.Body); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "made-up") || !strings.Contains(b.String(), `jiraduck_webhooks_received_total{code="202",event_type="other"} 20`) {
		t.Errorf("metrics: made-up types not folded into other")
	}
}
