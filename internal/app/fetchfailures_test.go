package app_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/jobs"
	"github.com/jiraduck/jiraduck/internal/pipeline"
)

// TestFetchFailuresShowOnHealth: a fetch that fails outside the webhook
// queue (as reconcile and the SLA heal fetch) shows on serve's health,
// readiness and status page, and leaves them once a backfill fetches the
// issue again.
func TestFetchFailuresShowOnHealth(t *testing.T) {
	if testing.Short() {
		t.Skip("live site test skipped in -short mode")
	}
	t.Parallel()
	live := apptest.StartLiveSiteWith(t, emulator.Options{Issues: 3, Months: 1, Seed: 5, Clock: apptest.Frozen()}, nil)
	ctx := context.Background()
	s := live.Service
	base := "http://" + s.Addr()
	if _, err := jobs.Backfill(ctx, s.Client(), s.Store(), s.Processor(), jobs.BackfillOptions{Parallel: 3}); err != nil {
		t.Fatal(err)
	}
	// Reconcile and the SLA heal fetch an issue as this does.
	apptest.Must(t, live.Emulator.SetFaults(emulator.Faults{ErrorRate: 1}))
	pctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	key := live.Emulator.Keys()[0]
	if _, err := s.Processor().Process(pctx, pipeline.Request{KeyOrID: key, Key: key}); err == nil {
		t.Fatal("fetch while Jira fails: got no error")
	}
	cancel()
	apptest.Must(t, live.Emulator.SetFaults(emulator.Faults{}))

	_, health := getJSON(t, base+"/webhooks/jira/health")
	if n, _ := health["failed_fetches"].(float64); health["status"] != "degraded" || n < 1 {
		t.Errorf("health after a failing backfill: %s, want degraded with failed_fetches", compactJSON(health))
	}
	if _, page := getPage(t, base+"/"); !strings.Contains(page, key) || !strings.Contains(page, "jira unavailable") {
		t.Errorf("status page lacks the failed fetch of %s", key)
	}
	code, ready := getJSON(t, base+"/readyz")
	checks, _ := ready["checks"].(map[string]any)
	if code != http.StatusOK || checks["fetches"] == "ok" {
		t.Errorf("readyz after a failing backfill: %d %s, want 200 with the failed fetches", code, compactJSON(ready))
	}

	if _, err := jobs.Backfill(ctx, s.Client(), s.Store(), s.Processor(), jobs.BackfillOptions{Parallel: 3, Force: true}); err != nil {
		t.Fatal(err)
	}
	_, health = getJSON(t, base+"/webhooks/jira/health")
	if n, _ := health["failed_fetches"].(float64); n != 0 {
		t.Errorf("health after a backfill that succeeded: %s, want failed_fetches 0", compactJSON(health))
	}
}

func getPage(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
