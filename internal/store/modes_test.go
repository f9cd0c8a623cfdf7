package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/jiraduck/jiraduck/internal/files"
)

// TestStoreFileModesUnderUmask: the store, and the WAL DuckDB creates
// itself, are 0640 in a 0750 folder under the process umask jiraduck sets,
// whatever umask it was started with (0002 on many desktops, 0007 in the
// systemd unit of old, 0022 in Docker).
func TestStoreFileModesUnderUmask(t *testing.T) {
	for _, mask := range []int{0o002, 0o007, 0o022} {
		t.Run(fmt.Sprintf("umask %03o", mask), func(t *testing.T) {
			old := syscall.Umask(mask)
			defer syscall.Umask(old)
			files.RestrictUmask()

			dir := filepath.Join(t.TempDir(), "data")
			path := filepath.Join(dir, FileName)
			s, err := Open(context.Background(), path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, _, err := s.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				path string
				want os.FileMode
			}{
				{dir, 0o750},
				{path, 0o640},
				{path + ".wal", 0o640},
			} {
				st, err := os.Stat(c.path)
				if err != nil {
					t.Fatal(err)
				}
				if got := st.Mode().Perm(); got != c.want {
					t.Errorf("%s: got mode %o, want %o", filepath.Base(c.path), got, c.want)
				}
			}
		})
	}
}
