package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/store"
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
	waitFor(t, time.Minute, func() error {
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
	t.Parallel()
	_, errOut, code := runCmd(t, nil, "serve", "-h")
	if code != 0 || !strings.Contains(errOut, "docs/configuration.md") {
		t.Errorf("got exit code %d, stderr %q, want 0 and a pointer to docs/configuration.md", code, errOut)
	}
}

// TestServeOwnsItsListener: serve answers on the listener it is given, and
// closes it both when it stops and when it fails to start, so that a caller
// never leaks the port it bound.
func TestServeOwnsItsListener(t *testing.T) {
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		dataDir string
		starts  bool
	}{
		{"started then closed", t.TempDir(), true},
		{"failed to start", notADir, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.FromMap(map[string]string{"JIRADUCK_DATA_DIR": tc.dataDir, "JIRADUCK_LOG_LEVEL": "error",
				"JIRADUCK_SLA_POLL_SCHEDULE": "", "JIRADUCK_RECONCILE_SCHEDULE": "", "JIRADUCK_SNAPSHOT_SCHEDULE": ""})
			if err != nil {
				t.Fatal(err)
			}
			ln := loopbackListener(t)
			addr := ln.Addr().String()
			svc, err := app.StartService(context.Background(), cfg, ln, app.NewLogger(cfg, io.Discard), nil)
			if (err == nil) != tc.starts {
				t.Fatalf("start: got error %v, want started %v", err, tc.starts)
			}
			if svc != nil {
				if svc.Addr() != addr {
					t.Errorf("got address %s, want the listener's %s", svc.Addr(), addr)
				}
				resp, err := http.Get("http://" + addr + "/healthz")
				if err != nil {
					t.Fatalf("serve does not answer on its listener: %v", err)
				}
				resp.Body.Close()
				if err := svc.Close(); err != nil {
					t.Fatal(err)
				}
			}
			if c, err := net.Dial("tcp", addr); err == nil {
				c.Close()
				t.Errorf("got a connection to %s, want the listener closed", addr)
			}
		})
	}
}

// TestServeBindsBeforeOpeningTheStore: the serve command binds
// JIRADUCK_LISTEN first; a port held by someone else is an error naming the
// address, and the store is not even created.
func TestServeBindsBeforeOpeningTheStore(t *testing.T) {
	held := loopbackListener(t)
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
