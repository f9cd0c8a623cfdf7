package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/internal/store"
)

func adminPost(t *testing.T, addr, path, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAdminRetryFailedEventsAndRunJob(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator test skipped in -short mode")
	}
	t.Parallel()
	live := apptest.StartLiveSite(t, 10, nil, nil)
	ctx := context.Background()
	key := live.Emulator.Keys()[0]
	is, _ := live.Emulator.Issue(key)
	// An event that failed for good (say, during an expired-token window).
	err := live.Service.Writer().Do(ctx, func(ctx context.Context, tx *store.Tx) error {
		next, err := live.Service.Store().NextEventID(ctx)
		if err != nil {
			return err
		}
		return store.InsertEvents(ctx, tx, []*store.Event{{ID: next + 1000, Type: "jira:issue_updated", IssueKey: key, IssueID: is.ID,
			ReceivedAt: time.Now().UTC(), State: store.EventFailed}})
	})
	apptest.Must(t, err)
	addr := live.Service.Addr()
	if code, _ := adminPost(t, addr, "/admin/events/retry", "", "{}"); code != http.StatusUnauthorized {
		t.Errorf("retry without a token: got %d, want 401", code)
	}
	code, body := adminPost(t, addr, "/admin/events/retry", app.SiteAdmin, "{}")
	if code != http.StatusAccepted || !strings.Contains(body, `"events":1`) {
		t.Fatalf("retry: got %d %s", code, body)
	}
	live.Settle(t)
	if n := apptest.StoredValue(t, live, "SELECT count(*) FROM webhook_events WHERE state = 'failed'"); n != "0" {
		t.Errorf("failed events after a retry: %s", n)
	}
	if n := apptest.StoredValue(t, live, "SELECT count(*) FROM issues WHERE issue_key = '"+key+"'"); n != "1" {
		t.Errorf("the retried event's issue was not fetched")
	}

	if code, _ := adminPost(t, addr, "/admin/jobs/nope/run", app.SiteAdmin, ""); code != http.StatusNotFound {
		t.Errorf("unknown job: got %d, want 404", code)
	}
	code, body = adminPost(t, addr, "/admin/jobs/reconcile/run", app.SiteAdmin, "")
	if code != http.StatusAccepted {
		t.Fatalf("run reconcile: got %d %s", code, body)
	}
	apptest.WaitFor(t, 30*time.Second, func() error {
		runs, err := live.Service.Store().LastRuns(ctx)
		apptest.Must(t, err)
		for _, r := range runs {
			if r.Job == "reconcile" && r.Status == store.RunOK {
				return nil
			}
		}
		return fmt.Errorf("reconcile started through the admin API has not finished: last runs %+v", runs)
	})
	live.Settle(t)
	if n := apptest.StoredValue(t, live, "SELECT count(*) FROM issues"); n != "10" {
		t.Errorf("issues after reconcile run through the admin API: %s, want 10", n)
	}
}
