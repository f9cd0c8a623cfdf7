package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/intake"
	"github.com/sirupsen/logrus"
)

// Known secret values: none may ever appear in a log line, an error, a
// command's output or an HTTP answer.
const (
	secretAPIToken   = "sekrit-api-token-1f4c9d"
	secretSLAToken   = "sekrit-sla-token-8e2a55"
	secretWebhook    = "sekrit-webhook-secret-77aa01"
	secretAdminToken = "sekrit-admin-token-3b1d90"
	secretEmail      = "bot@example.test"
	secretSLAEmail   = "agent@example.test"
)

// secretNeedles are the values to look for, and the forms they take on the
// wire (basic auth headers).
func secretNeedles() []string {
	basic := func(user, token string) string {
		return base64.StdEncoding.EncodeToString([]byte(user + ":" + token))
	}
	return []string{secretAPIToken, secretSLAToken, secretWebhook, secretAdminToken,
		basic(secretEmail, secretAPIToken), basic(secretSLAEmail, secretSLAToken)}
}

// TestSecretsNeverLeak runs every command and calls every endpoint, on the
// good paths and the failing ones, with known secrets configured and debug
// logging, and looks for the secrets in everything that comes out.
func TestSecretsNeverLeak(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator test skipped in -short mode")
	}
	t.Parallel()
	var outputs []struct{ what, text string }
	record := func(what, text string) { outputs = append(outputs, struct{ what, text string }{what, text}) }

	root := t.TempDir()
	dir := filepath.Join(root, "data")
	ln := apptest.LoopbackListener(t)
	addr := ln.Addr().String()
	emLog := logrus.New()
	emLog.SetOutput(io.Discard)
	em, err := emulator.New(emulator.Options{Issues: 12, Months: 2, Seed: 61, Clock: apptest.Frozen(),
		Email: secretEmail, APIToken: secretAPIToken, SLAEmail: secretSLAEmail, SLAAPIToken: secretSLAToken,
		WebhookURL: "http://" + addr + "/webhooks/jira", WebhookSecret: secretWebhook, Logger: emLog})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	url, err := em.Start(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{
		"JIRA_BASE_URL": url, "JIRA_CLOUD_API_URL": url, "JIRA_EMAIL": secretEmail, "JIRA_API_TOKEN": secretAPIToken,
		"JIRA_SLA_EMAIL": secretSLAEmail, "JIRA_SLA_API_TOKEN": secretSLAToken, "JIRA_WEBHOOK_SECRET": secretWebhook,
		"JIRADUCK_ADMIN_TOKEN": secretAdminToken, "JIRADUCK_DATA_DIR": dir, "JIRADUCK_LISTEN": addr,
		"JIRADUCK_LOG_LEVEL": "debug", "JIRADUCK_LOG_FORMAT": "json", "JIRADUCK_DEBUG": "true",
		"JIRADUCK_SLA_POLL_SCHEDULE": "", "JIRADUCK_RECONCILE_SCHEDULE": "", "JIRADUCK_SNAPSHOT_SCHEDULE": "",
	}
	environ := func(over ...string) []string {
		var out []string
		for k, v := range vars {
			out = append(out, k+"="+v)
		}
		return append(out, over...)
	}
	command := func(name string, env []string, args ...string) int {
		t.Helper()
		start := time.Now()
		out, errOut, code := runCmd(t, env, args...)
		if os.Getenv("JIRADUCK_TEST_LOG") != "" {
			t.Logf("%s: code %d in %v: %s", name, code, time.Since(start), apptest.LastBytes(errOut, 300))
		}
		record(name+" stdout", out)
		record(name+" stderr", errOut)
		return code
	}

	// A broker layout for import.
	raw := filepath.Join(root, "raw")
	apptest.Must(t, os.MkdirAll(filepath.Join(raw, "issues"), 0o755))
	for _, key := range em.Keys()[:3] {
		st, err := em.State(key)
		apptest.Must(t, err)
		apptest.Must(t, os.WriteFile(filepath.Join(raw, "issues", key+".json"), st.Issue, 0o644))
	}
	apptest.Must(t, os.WriteFile(filepath.Join(raw, "issues", "SUP-99999.json"), []byte(`{"key":`), 0o644))

	// Every command, on its good path.
	for _, c := range [][]string{
		{"version"}, {"config"}, {"migrate"}, {"backfill", "--parallel", "4"}, {"poll-sla"}, {"poll-sla", "--dry-run"},
		{"reconcile"}, {"reconcile", "--dry-run"}, {"export"}, {"rebuild"}, {"snapshot"},
		{"query", "SELECT count(*) FROM jira_issues"}, {"sql", "SELECT count(*) FROM raw_issues"},
		{"sql", "SELECT * FROM no_such_table"}, {"query", "SELECT * FROM no_such_view"},
	} {
		if code := command(strings.Join(c, " "), environ(), c...); code != 0 && !strings.Contains(strings.Join(c, " "), "no_such") {
			t.Errorf("%v: exit code %d", c, code)
		}
	}
	command("import", environ("JIRADUCK_DATA_DIR="+filepath.Join(root, "imported")), "import", "--raw-dir", raw)

	// Failing paths: wrong credentials, unreachable Jira, bad settings.
	command("backfill with a wrong token", environ("JIRA_API_TOKEN=wrong-"+secretAPIToken[:4]), "backfill")
	command("backfill with a wrong SLA token", environ("JIRA_SLA_API_TOKEN=wrong-token"), "poll-sla")
	if apptest.LongRun() {
		// Connection refused: retried with backoff for a few seconds.
		command("backfill with Jira down", environ("JIRA_BASE_URL=http://127.0.0.1:1", "JIRA_CLOUD_API_URL=http://127.0.0.1:1"), "backfill")
		command("reconcile with Jira down", environ("JIRA_BASE_URL=http://127.0.0.1:1", "JIRA_CLOUD_API_URL=http://127.0.0.1:1"), "reconcile")
	}
	command("sla token without its email", environ("JIRA_SLA_EMAIL="), "migrate")
	command("base url with credentials", environ("JIRA_BASE_URL=https://"+secretEmail+":"+secretAPIToken+"@example.atlassian.net"), "config")
	command("cloud url with credentials", environ("JIRA_CLOUD_API_URL=https://x:"+secretSLAToken+"@api.example.test"), "backfill")
	if apptest.LongRun() {
		apptest.Must(t, em.SetFaults(emulator.Faults{ErrorRate: 1}))
		command("backfill with Jira failing", environ(), "backfill", "--force")
		apptest.Must(t, em.SetFaults(emulator.Faults{}))
	}

	// serve, in-process, with its logger captured.
	logs := &apptest.LockedBuffer{}
	cfg, err := config.FromMap(vars)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := app.StartService(context.Background(), cfg, ln, app.NewLogger(cfg, logs), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	base := "http://" + svc.Addr()
	call := func(method, path, auth, body string, hdr http.Header) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		for k, v := range hdr {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var h bytes.Buffer
		resp.Header.Write(&h)
		record(method+" "+path, fmt.Sprintf("%d\n%s\n%s", resp.StatusCode, h.String(), b))
	}
	// Webhooks: signed, badly signed, and Jira failing while they are
	// processed (retries are logged with their errors).
	for _, key := range em.Keys()[:3] {
		apptest.Must(t, em.Update(key, func(i *emulator.Issue) { i.Summary = "edited while serve runs" }))
	}
	body := []byte(`{"webhookEvent":"jira:issue_updated","issue":{"id":"10001","key":"SUP-1"}}`)
	call("POST", "/webhooks/jira", "", string(body), http.Header{"X-Hub-Signature": {intake.Sign([]byte("guess"), body)}})
	call("POST", "/webhooks/jira", "", string(body), http.Header{"X-Hub-Signature": {intake.Sign([]byte(secretWebhook), body)}})
	apptest.Must(t, em.SetFaults(emulator.Faults{ErrorRate: 0.3, ThrottleRate: 0.1}))
	for _, key := range em.Keys()[3:6] {
		apptest.Must(t, em.Update(key, func(i *emulator.Issue) { i.Summary = "edited while Jira fails" }))
	}
	s := &app.Site{Emulator: em, Service: svc, Config: cfg}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := s.Settle(ctx); err != nil {
		t.Fatal(err)
	}
	apptest.Must(t, em.SetFaults(emulator.Faults{}))
	for _, path := range []string{"/", "/healthz", "/readyz", "/metrics", "/webhooks/jira/health", "/no/such/page"} {
		call("GET", path, "", "", nil)
	}
	call("POST", "/admin/sql", "", `{"sql":"SELECT 1"}`, nil)
	call("POST", "/admin/sql", "Bearer wrong", `{"sql":"SELECT 1"}`, nil)
	call("POST", "/admin/sql", "Bearer "+secretAdminToken, `{"sql":"SELECT * FROM no_such_table"}`, nil)
	call("POST", "/admin/sql", "Bearer "+secretAdminToken, `{"sql":"SELECT current_setting('TimeZone')"}`, nil)
	call("POST", "/webhooks/jira/test", "Bearer wrong", `{"issue_key":"SUP-1"}`, nil)
	call("POST", "/webhooks/jira/test", "Bearer "+secretAdminToken, `{"issue_key":"SUP-1"}`, nil)
	call("POST", "/webhooks/jira/test", "Bearer "+secretAdminToken, `{"issue_key":"SUP-999999"}`, nil)
	// From another process, sql goes through the admin API while serve
	// holds the store (with a wrong token too), and snapshot is refused.
	for _, c := range []struct {
		name string
		env  []string
		args []string
		code int
	}{
		{"sql during serve", environ(), []string{"sql", "SELECT count(*) FROM issues"}, 0},
		{"sql during serve with a wrong token", environ("JIRADUCK_ADMIN_TOKEN=wrong"), []string{"sql", "SELECT 1"}, 1},
		{"sql during serve, failing", environ(), []string{"sql", "SELECT * FROM no_such_table"}, 1},
		{"snapshot during serve", environ(), []string{"snapshot"}, 1},
	} {
		out, errOut, code := runProcess(t, c.env, c.args...)
		record(c.name+" stdout", out)
		record(c.name+" stderr", errOut)
		if code != c.code {
			t.Errorf("%s: exit code %d, want %d: %s", c.name, code, c.code, apptest.LastBytes(errOut, 300))
		}
	}
	apptest.Must(t, svc.Close())
	record("serve log", logs.String())
	if !strings.Contains(logs.String(), `"level":"debug"`) {
		t.Errorf("serve wrote no debug line: the test would not see what debug logging leaks")
	}

	checked := 0
	for _, o := range outputs {
		checked += len(o.text)
		for _, needle := range secretNeedles() {
			if i := strings.Index(o.text, needle); i >= 0 {
				from, to := max(i-120, 0), min(i+len(needle)+40, len(o.text))
				t.Errorf("%s shows a secret: ...%s...", o.what, o.text[from:to])
			}
		}
	}
	lines := strings.Count(logs.String(), "\n")
	apptest.Figures(t, "secrets", "outputs_checked", len(outputs), "bytes_checked", checked, "serve_log_lines", lines, "needles", len(secretNeedles()))
	var health map[string]any
	for _, o := range outputs {
		if o.what == "GET /webhooks/jira/health" {
			parts := strings.SplitN(o.text, "\n\n", 2)
			if len(parts) == 2 {
				json.Unmarshal([]byte(parts[1]), &health)
			}
		}
	}
	if health["webhook_secret_set"] != true {
		t.Errorf("health does not say the secret is set: %v", health)
	}
}
