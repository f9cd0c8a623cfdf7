package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// serveLog runs the serve command until it logs that it serves, stops it
// and returns what it logged.
func serveLog(t *testing.T, environ []string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &lockedBuffer{}
	e := &env{stdin: strings.NewReader(""), stdout: logs, stderr: logs, environ: environ}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, e) }()
	for deadline := time.Now().Add(time.Minute); !strings.Contains(logs.String(), `"msg":"serving"`); {
		select {
		case err := <-done:
			t.Fatalf("serve stopped before serving: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not serving after a minute:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("shutdown: %v", err)
	}
	return logs.String()
}

// TestServeWarnsWithoutWebhookSecret: a serve that will refuse every webhook
// says so once at start, and only then.
func TestServeWarnsWithoutWebhookSecret(t *testing.T) {
	const warning = "JIRA_WEBHOOK_SECRET is not set"
	cases := []struct {
		name  string
		extra []string
		want  int
	}{
		{"no secret", nil, 1},
		{"secret set", []string{"JIRA_WEBHOOK_SECRET=s3cret-hook"}, 0},
		{"unsigned allowed", []string{"JIRADUCK_ALLOW_UNSIGNED=true"}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			environ := append(dataEnv(t), "JIRADUCK_LISTEN=127.0.0.1:0", "JIRADUCK_SLA_POLL_SCHEDULE=",
				"JIRADUCK_RECONCILE_SCHEDULE=", "JIRADUCK_SNAPSHOT_SCHEDULE=")
			logs := serveLog(t, append(environ, tc.extra...))
			if got := strings.Count(logs, warning); got != tc.want {
				t.Errorf("got the warning %d time(s), want %d:\n%s", got, tc.want, logs)
			}
		})
	}
}

// TestServeHelpPointsToSettings: serve has no flags; its help says where its
// settings are described.
func TestServeHelpPointsToSettings(t *testing.T) {
	_, errOut, code := runCmd(t, nil, "serve", "-h")
	if code != 0 || !strings.Contains(errOut, "docs/configuration.md") {
		t.Errorf("got exit code %d, stderr %q, want 0 and a pointer to docs/configuration.md", code, errOut)
	}
}
