package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/jobs"
	"github.com/jiraduck/jiraduck/internal/store"
)

// mountSmallDisk mounts a tmpfs of the given size in a new folder, or skips
// the test where that is not allowed (not root, no mount in the container).
func mountSmallDisk(t *testing.T, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "disk")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs here (needs root): %v %s", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Logf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// fillDisk writes a file until the disk is full and returns its path.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	// The last partial chunks, so that not even a page is left.
	for n := 1 << 19; n >= 512; n /= 2 {
		for {
			if _, err := f.Write(chunk[:n]); err != nil {
				break
			}
		}
	}
	return path
}

// getJSON fetches a serve endpoint.
func getJSON(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v map[string]any
	json.Unmarshal(b, &v)
	return resp.StatusCode, v
}

// adminGetJSON GETs an admin route with the site's admin token.
func adminGetJSON(t *testing.T, url string) map[string]any {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+app.SiteAdmin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	return v
}

// TestDiskFull fills the data directory's disk while serve works: events
// accepted before stay pending, deliveries that cannot be stored are refused
// (so Jira retries them), the failure shows on health, readiness and
// /metrics, and once space returns everything is processed and exported
// without a restart, and they say ok again.
func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("disk full test skipped in -short mode")
	}
	t.Parallel()
	disk := mountSmallDisk(t, "96m")
	live := apptest.StartLiveSiteWith(t, emulator.Options{Issues: 20, Months: 3, Seed: 71, Clock: apptest.Frozen(),
		WebhookRetries: 10, WebhookBackoff: 100 * time.Millisecond}, map[string]string{"JIRADUCK_DATA_DIR": filepath.Join(disk, "data")})
	live.Dir = filepath.Join(disk, "data")
	ctx := context.Background()
	s := live.Service
	if _, err := jobs.Backfill(ctx, s.Client(), s.Store(), s.Processor(), jobs.BackfillOptions{Parallel: 4}); err != nil {
		t.Fatal(err)
	}
	live.Settle(t)
	base := "http://" + s.Addr()
	keys := live.Emulator.Keys()

	// Accepted while Jira fails: these events wait, pending.
	apptest.Must(t, live.Emulator.SetFaults(emulator.Faults{ErrorRate: 1}))
	for _, k := range keys[:5] {
		apptest.Must(t, live.Emulator.Update(k, func(i *emulator.Issue) { i.Summary = "accepted before the disk filled" }))
	}
	waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	apptest.Must(t, live.Emulator.WaitWebhooks(waitCtx))
	cancel()
	pendingBefore := apptest.StoredValue(t, live, "SELECT count(*) FROM webhook_events WHERE state = 'pending'")

	filler := fillDisk(t, disk)
	apptest.Must(t, live.Emulator.SetFaults(emulator.Faults{}))
	live.Emulator.ResetStats()
	// Changed while the disk is full: their deliveries cannot be stored.
	for _, k := range keys[5:10] {
		apptest.Must(t, live.Emulator.Update(k, func(i *emulator.Issue) { i.Summary = "changed while the disk was full" }))
	}
	_, err := live.Emulator.AddComment(keys[10], emulator.Comment{Body: emulator.Text("a comment while the disk was full")})
	apptest.Must(t, err)
	// Until a delivery was refused and a write to the store failed too (the
	// journal's write fails first); the checks below say what was missing
	// when it never happens. The long variant then stays full for most of a
	// minute.
	_ = apptest.Poll(30*time.Second, func() error {
		st := live.Emulator.Stats().Webhooks
		writable := scrape(t, s.Addr()).sum("jiraduck_store_writable")
		h, _ := adminGetJSON(t, base+"/admin/health")["health"].(map[string]any)
		if st.Attempts == st.Delivered || writable != 0 || !strings.Contains(fmt.Sprint(h["store_error"]), "No space left on device") {
			return errors.New("not full yet")
		}
		return nil
	})
	if apptest.LongRun() {
		time.Sleep(50 * time.Second)
	}
	full := live.Emulator.Stats().Webhooks
	healthStatus, health := getJSON(t, base+"/webhooks/jira/health")
	readyStatus, ready := getJSON(t, base+"/readyz")
	adminHealth := adminGetJSON(t, base+"/admin/health")
	writableFull := scrape(t, s.Addr()).sum("jiraduck_store_writable")
	pendingFull, _ := s.Store().EventCounts(ctx)

	// Space returns: no restart.
	apptest.Must(t, os.Remove(filler))
	freed := time.Now()
	live.Settle(t)
	healed := time.Since(freed)
	_, healthAfter := getJSON(t, base+"/webhooks/jira/health")
	readyAfter, _ := getJSON(t, base+"/readyz")
	writableAfter := scrape(t, s.Addr()).sum("jiraduck_store_writable")

	for _, k := range keys[:10] {
		want := "changed while the disk was full"
		if k == keys[0] || k == keys[1] || k == keys[2] || k == keys[3] || k == keys[4] {
			want = "accepted before the disk filled"
		}
		if got := apptest.StoredValue(t, live, "SELECT summary FROM issues WHERE issue_key = '"+k+"'"); got != want {
			t.Errorf("%s: summary %q, want %q", k, got, want)
		}
	}
	apptest.CompareExports(t, live.Dir, live.Reference(t, keys))
	apptest.CheckPartitions(t, live.Dir, s.Store().DB())
	states := eventStates(t, s.Store().DB())
	if states[store.EventFailed] != 0 || states[store.EventPending] != 0 {
		t.Errorf("events after space returned: %v, want all done", states)
	}
	if full.Attempts == full.Delivered {
		t.Errorf("every delivery was acknowledged while the disk was full (%+v): nothing was refused", full)
	}
	// Deliveries are refused with 503 and every write fails: health, readiness
	// and the metric say so; the disk's error is for the admin token holder.
	if storeErr, _ := health["store_error"].(string); health["status"] != "degraded" || !strings.Contains(storeErr, "not stored since") ||
		strings.Contains(storeErr, "No space left on device") {
		t.Errorf("health while the disk was full: %s, want degraded with what is not stored, without the error's text", compactJSON(health))
	}
	if h, _ := adminHealth["health"].(map[string]any); h == nil || !strings.Contains(fmt.Sprint(h["store_error"]), "No space left on device") {
		t.Errorf("admin health while the disk was full: %s, want the disk's error in store_error", compactJSON(adminHealth))
	}
	if checks, _ := ready["checks"].(map[string]any); readyStatus != http.StatusServiceUnavailable || checks["store"] != "not writable" {
		t.Errorf("readiness while the disk was full: %d %s, want 503 with store: not writable", readyStatus, compactJSON(ready))
	}
	if writableFull != 0 {
		t.Errorf("jiraduck_store_writable while the disk was full: %v, want 0", writableFull)
	}
	if healthAfter["status"] != "ok" || healthAfter["store_error"] != nil || readyAfter != http.StatusOK || writableAfter != 1 {
		t.Errorf("after space returned: health %s, readiness %d, jiraduck_store_writable %v; want ok, 200, 1", compactJSON(healthAfter), readyAfter, writableAfter)
	}
	apptest.Figures(t, "disk-full", "pending_before", pendingBefore, "events_while_full", full.Events, "delivery_attempts_while_full", full.Attempts,
		"acknowledged_while_full", full.Delivered, "health_while_full", healthStatus, "health_body", compactJSON(health),
		"readyz_while_full", readyStatus, "readyz_body", compactJSON(ready), "store_writable_while_full", writableFull,
		"event_states_while_full", pendingFull,
		"events_after", states, "healed_in", healed.Round(100*time.Millisecond))
}

func compactJSON(v any) string {
	b, _ := json.Marshal(v)
	return strings.ReplaceAll(string(b), " ", "")
}
