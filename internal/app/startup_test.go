package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/intake"
	"github.com/jiraduck/jiraduck/internal/server"
	"github.com/sirupsen/logrus"
)

// startupGet answers GET url: its status and its body decoded into v.
func startupGet(url string, v any) (int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			return resp.StatusCode, fmt.Errorf("body %q: %w", b, err)
		}
	}
	return resp.StatusCode, nil
}

// startupPost delivers a signed jira:issue_updated webhook about the issue
// and returns the answer's status and body.
func startupPost(url, delivery string, issue *emulator.Issue) (int, string, error) {
	body := fmt.Sprintf(`{"timestamp":%d,"webhookEvent":"jira:issue_updated","issue":{"id":%q,"key":%q,"fields":{}}}`,
		time.Now().UnixMilli(), issue.ID, issue.Key)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader([]byte(body)))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Atlassian-Webhook-Identifier", delivery)
	req.Header.Set("X-Hub-Signature", intake.Sign([]byte(app.SiteSecret), []byte(body)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// TestStartupAcknowledgesWebhooks: while serve's start is held in one of
// its long phases (a compaction or migrations of a large store take
// minutes), serve listens: a signed webhook is acknowledged with 202,
// /healthz answers 200, /readyz answers 503 naming the phase, and routes
// that need the store answer 503 with Retry-After. Once the store is open,
// the event is processed: the issue is fetched and stored.
func TestStartupAcknowledgesWebhooks(t *testing.T) {
	for _, phase := range []string{server.PhaseCompacting, server.PhaseMigrating} {
		t.Run(phase, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			log := logrus.New()
			log.SetOutput(io.Discard)
			em, err := emulator.New(emulator.Options{Issues: 5, Months: 2, Seed: 5, Email: app.SiteEmail, APIToken: app.SiteToken})
			if err != nil {
				t.Fatal(err)
			}
			defer em.Close()
			jiraURL, err := em.Start(ctx, "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ln := apptest.LoopbackListener(t)
			base := "http://" + ln.Addr().String()
			cfg, err := config.FromMap(map[string]string{"JIRA_BASE_URL": jiraURL, "JIRA_EMAIL": app.SiteEmail, "JIRA_API_TOKEN": app.SiteToken,
				"JIRA_WEBHOOK_SECRET": app.SiteSecret, "JIRADUCK_DATA_DIR": t.TempDir(), "JIRADUCK_LOG_LEVEL": "error",
				"JIRADUCK_SLA_POLL_SCHEDULE": "", "JIRADUCK_RECONCILE_SCHEDULE": "", "JIRADUCK_SNAPSHOT_SCHEDULE": ""})
			if err != nil {
				t.Fatal(err)
			}
			key := em.Keys()[0]
			const summary = "edited while serve was starting"
			if err := em.Silent().Update(key, func(is *emulator.Issue) { is.Summary = summary }); err != nil {
				t.Fatal(err)
			}
			issue, err := em.Issue(key)
			if err != nil {
				t.Fatal(err)
			}

			held, release := make(chan struct{}), make(chan struct{})
			hooks := &app.Hooks{OnPhase: func(p string) {
				if p == phase {
					close(held)
					<-release
				}
			}}
			type started struct {
				svc *app.Service
				err error
			}
			done := make(chan started, 1)
			go func() {
				svc, err := app.StartService(ctx, cfg, ln, log, hooks)
				done <- started{svc, err}
			}()
			released := false
			defer func() {
				if !released {
					close(release)
				}
				if st := <-done; st.svc != nil {
					st.svc.Close()
				}
			}()
			select {
			case <-held:
			case st := <-done:
				t.Fatalf("serve started without entering %s: %v", phase, st.err)
			}

			status, body, err := startupPost(base+"/webhooks/jira", "startup-1", issue)
			if err != nil || status != http.StatusAccepted {
				t.Fatalf("webhook while %s: got %d %s (%v), want 202", phase, status, body, err)
			}
			if status, body, err := startupPost(base+"/webhooks/jira", "startup-1", issue); err != nil || status != http.StatusOK {
				t.Errorf("repeated webhook while %s: got %d %s (%v), want 200 duplicate", phase, status, body, err)
			}
			var ready struct {
				Ready  bool              `json:"ready"`
				Checks map[string]string `json:"checks"`
			}
			if status, err := startupGet(base+"/readyz", &ready); err != nil || status != http.StatusServiceUnavailable ||
				ready.Ready || ready.Checks["start"] != phase {
				t.Errorf("/readyz while %s: got %d %+v (%v), want 503 naming %q", phase, status, ready, err, phase)
			}
			if status, err := startupGet(base+"/healthz", nil); err != nil || status != http.StatusOK {
				t.Errorf("/healthz while %s: got %d (%v), want 200", phase, status, err)
			}
			resp, err := http.Get(base + "/webhooks/jira/health")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
				t.Errorf("/webhooks/jira/health while %s: got %d, Retry-After %q, want 503 with Retry-After", phase, resp.StatusCode,
					resp.Header.Get("Retry-After"))
			}

			close(release)
			released = true
			st := <-done
			if st.err != nil {
				t.Fatalf("start: %v", st.err)
			}
			done <- st
			apptest.WaitFor(t, 2*time.Minute, func() error {
				var got string
				err := st.svc.Store().DB().QueryRowContext(ctx, `SELECT summary FROM issues WHERE issue_key = ?`, key).Scan(&got)
				if err != nil || got != summary {
					return fmt.Errorf("issue %s: summary %q (%v), want %q", key, got, err, summary)
				}
				return nil
			})
			var events int
			if err := st.svc.Store().DB().QueryRowContext(ctx, `SELECT count(*) FROM webhook_events`).Scan(&events); err != nil {
				t.Fatal(err)
			}
			if events != 1 {
				t.Errorf("webhook events stored: got %d, want 1 (the repeat is a duplicate)", events)
			}
			if status, err := startupGet(base+"/readyz", &ready); err != nil || status != http.StatusOK {
				t.Errorf("/readyz once started: got %d %+v (%v), want 200", status, ready, err)
			}
		})
	}
}
