//go:build unix

package publish

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/jiraduck/jiraduck/internal/files"
)

// lockFile takes an exclusive lock on path, waiting while another process
// (serve's publisher, a publish command) holds it, until ctx ends. The lock
// goes with the process, so a crash leaves none behind.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	if err := files.MkdirAll(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("publish lock: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("publish lock: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("publish lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("publish lock %s: another pass holds it: %w", path, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
