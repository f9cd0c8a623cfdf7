package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/internal/store"
)

// serveLog runs the serve command until it logs that it serves, stops it
// and returns what it logged.
func serveLog(t *testing.T, environ []string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &apptest.LockedBuffer{}
	e := &env{stdin: strings.NewReader(""), stdout: logs, stderr: logs, environ: environ}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, e) }()
	apptest.WaitFor(t, time.Minute, func() error {
		select {
		case err := <-done:
			t.Fatalf("serve stopped before serving: %v\n%s", err, logs.String())
		default:
		}
		if !strings.Contains(logs.String(), `"msg":"serving"`) {
			return fmt.Errorf("serve not serving:\n%s", logs.String())
		}
		return nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Errorf("shutdown: %v", err)
	}
	return logs.String()
}

// TestServeWarnsWithoutWebhookSecret: a serve that will refuse every webhook
// says so once at start, and only then.
func TestServeWarnsWithoutWebhookSecret(t *testing.T) {
	t.Parallel()
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
			environ := append(apptest.DataEnv(t), "JIRADUCK_LISTEN=127.0.0.1:0", "JIRADUCK_SLA_POLL_SCHEDULE=",
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
	t.Parallel()
	_, errOut, code := runCmd(t, nil, "serve", "-h")
	if code != 0 || !strings.Contains(errOut, "docs/configuration.md") {
		t.Errorf("got exit code %d, stderr %q, want 0 and a pointer to docs/configuration.md", code, errOut)
	}
}

// TestServeBindsBeforeOpeningTheStore: the serve command binds
// JIRADUCK_LISTEN first; a port held by someone else is an error naming the
// address, and the store is not even created.
func TestServeBindsBeforeOpeningTheStore(t *testing.T) {
	t.Parallel()
	held := apptest.LoopbackListener(t)
	dir := t.TempDir()
	environ := []string{"JIRADUCK_DATA_DIR=" + dir, "JIRADUCK_LISTEN=" + held.Addr().String()}
	_, errOut, code := runCmd(t, environ, "serve")
	if code != 1 || !strings.Contains(errOut, "listen on "+held.Addr().String()) {
		t.Errorf("got exit code %d, stderr %q, want 1 naming the address", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, store.FileName)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("got %v for the store file, want it not created", err)
	}
}

// TestServeExitsOneWhenStoreInvalidated: the error serve stops with once
// DuckDB has invalidated its store (TestServeStopsWhenStoreInvalidated in
// internal/app) is exit code 1, so systemd's Restart=on-failure restarts it,
// and the cause is printed.
func TestServeExitsOneWhenStoreInvalidated(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("serve: %w: Out of Memory Error: failed to pin block of size 256.0 KiB", store.ErrInvalidated)
	var printed strings.Builder
	if code := exitCode(err, &printed); code != 1 || !strings.Contains(printed.String(), "failed to pin block") {
		t.Errorf("exit code %d printing %q, want 1 (restarted by systemd's Restart=on-failure) and the cause", code, printed.String())
	}
}
