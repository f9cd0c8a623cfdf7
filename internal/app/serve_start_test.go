package app_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/internal/config"
)

// TestServeOwnsItsListener: serve answers on the listener it is given, and
// closes it both when it stops and when it fails to start, so that a caller
// never leaks the port it bound.
func TestServeOwnsItsListener(t *testing.T) {
	t.Parallel()
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
			ln := apptest.LoopbackListener(t)
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
