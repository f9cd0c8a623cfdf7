package app_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/internal/config"
)

// idleConnsGet sends a keep-alive GET /healthz on c and reads the answer,
// within a minute.
func idleConnsGet(c net.Conn, r *bufio.Reader) error {
	if err := c.SetDeadline(time.Now().Add(time.Minute)); err != nil {
		return err
	}
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: jiraduck\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// TestServeAdmitsPastIdleConnections: a client holding
// JIRADUCK_MAX_CONNECTIONS kept-alive connections idle does not keep a new
// connection waiting in the listen backlog: serve closes an idle one to
// answer it.
func TestServeAdmitsPastIdleConnections(t *testing.T) {
	t.Parallel()
	const limit = 8
	cfg, err := config.FromMap(map[string]string{"JIRADUCK_DATA_DIR": t.TempDir(), "JIRADUCK_LOG_LEVEL": "error",
		"JIRADUCK_MAX_CONNECTIONS":   fmt.Sprint(limit),
		"JIRADUCK_SLA_POLL_SCHEDULE": "", "JIRADUCK_RECONCILE_SCHEDULE": "", "JIRADUCK_SNAPSHOT_SCHEDULE": ""})
	if err != nil {
		t.Fatal(err)
	}
	ln := apptest.LoopbackListener(t)
	svc, err := app.StartService(context.Background(), cfg, ln, app.NewLogger(cfg, io.Discard), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	for i := range limit {
		c, err := net.Dial("tcp", svc.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := idleConnsGet(c, bufio.NewReader(c)); err != nil {
			t.Fatalf("kept-alive connection %d: %v", i+1, err)
		}
	}
	c, err := net.Dial("tcp", svc.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := idleConnsGet(c, bufio.NewReader(c)); err != nil {
		t.Errorf("connection past %d idle ones: got %v, want 200", limit, err)
	}
}
