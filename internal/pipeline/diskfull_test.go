package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/jira"
	"github.com/jiraduck/jiraduck/internal/jira/client"
	"github.com/jiraduck/jiraduck/internal/store"
)

// TestFullDiskDoesNotFailEvents: while the disk under the store is full,
// every try to write an issue fails. That is not the event's fault: the
// queue keeps trying for as long as it lasts, beyond MaxAttempts, and the
// events are done once space returns, without a restart. (Counted as
// attempts, they used to be marked failed for good, or, when even that could
// not be written, left pending in the store but dropped from the queue.)
func TestFullDiskDoesNotFailEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("disk test skipped in -short mode")
	}
	disk := filepath.Join(t.TempDir(), "disk")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(disk, 0o755))
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", disk).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs here (needs root): %v %s", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() { exec.Command("umount", "-l", disk).Run() })

	ctx := context.Background()
	h := &harness{dir: disk, jira: newFakeJira(t)}
	var err error
	h.s, err = store.Open(ctx, filepath.Join(disk, store.FileName), store.Options{})
	must(err)
	_, _, err = h.s.Migrate(ctx)
	must(err)
	h.w = h.s.NewWriter(16, nil)
	jc, err := client.New(client.Options{BaseURL: h.jira.srv.URL, Email: "bot@test", APIToken: "tok", MaxAttempts: 1,
		Sleep: func(context.Context, time.Duration) error { return nil }})
	must(err)
	cfg, _ := config.FromMap(map[string]string{})
	h.proc = NewProcessor(jc, h.s, h.w, NewCatalog(cfg), ProcessorOptions{DataDir: disk, AttachmentMaxBytes: 1000})
	h.queue = NewQueue(h.proc, h.s, h.w, QueueOptions{Workers: 2, MaxAttempts: 2, RetryBase: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond})
	t.Cleanup(func() { h.queue.Close(); h.w.Close(); h.s.Close() })

	var events []*store.Event
	for i := 1; i <= 3; i++ {
		h.jira.add(fmt.Sprint(100+i), fmt.Sprint("SUP-", i), 2)
		events = append(events, h.event(t, "jira:issue_created", fmt.Sprint("SUP-", i), fmt.Sprint(100+i)))
	}
	// Fill the disk.
	filler := filepath.Join(disk, "filler")
	f, err := os.Create(filler)
	must(err)
	chunk := make([]byte, 1<<16)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	for n := 1 << 15; n >= 512; n /= 2 {
		for {
			if _, err := f.Write(chunk[:n]); err != nil {
				break
			}
		}
	}
	f.Close()

	must(h.queue.Start(ctx))
	h.queue.Accept(events)
	// Far more tries than MaxAttempts fail while the disk is full.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && h.jira.count("SUP-1") < 4*2 {
		time.Sleep(20 * time.Millisecond)
	}
	if n := h.jira.count("SUP-1"); n < 4*2 {
		t.Fatalf("SUP-1 fetched %d times while the disk was full, want at least %d", n, 4*2)
	}
	if d := h.queue.Depth(); d != 3 {
		t.Errorf("queue depth while the disk is full: got %d, want the 3 issues kept", d)
	}
	must(os.Remove(filler))
	h.drain(t)
	if st := h.eventStates(t); st[store.EventDone] != 3 {
		t.Errorf("events after space returned: got %v, want 3 done", st)
	}
	if n := h.count(t, `SELECT count(*) FROM issues`); n != 3 {
		t.Errorf("issues stored: got %d, want 3", n)
	}
}

func TestStorageFailure(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"wrapped ENOSPC", fmt.Errorf("write: %w", &os.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}), true},
		{"DuckDB out of space", errors.New(`commit: TransactionContext Error: Failed to commit: Could not write file "/d/jiraduck.duckdb.wal": No space left on device`), true},
		{"read-only file system", fmt.Errorf("publish: %w", syscall.EROFS), true},
		{"constraint error", errors.New(`Constraint Error: Duplicate key "comment_id: 1"`), false},
		{"Jira answering with such a message", fmt.Errorf("fetch: %w", &jira.APIError{Status: 500, Messages: []string{"IO Error: No space left on device"}}), false},
		{"Jira unavailable", fmt.Errorf("%w after 5 attempts: read: no space left", jira.ErrUnavailable), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := storageFailure(tc.err); got != tc.want {
				t.Errorf("storageFailure(%v): got %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
