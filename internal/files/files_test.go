package files

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// withUmask runs the test under mask and restores the umask afterwards.
func withUmask(t *testing.T, mask int) {
	t.Helper()
	old := syscall.Umask(mask)
	t.Cleanup(func() { syscall.Umask(old) })
}

func perm(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

// TestModes: the group reads, only jiraduck writes, whatever the umask.
func TestModes(t *testing.T) {
	if DirMode != 0o750 || FileMode != 0o640 {
		t.Errorf("got modes %o/%o, want 750/640", DirMode, FileMode)
	}
	for _, mask := range []int{0o000, 0o002, 0o022, 0o077} {
		t.Run(fmt.Sprintf("umask %03o", mask), func(t *testing.T) {
			withUmask(t, mask)
			root := t.TempDir()
			dir := filepath.Join(root, "a", "b", "c")
			if err := MkdirAll(dir); err != nil {
				t.Fatal(err)
			}
			for _, d := range []string{filepath.Join(root, "a"), filepath.Join(root, "a", "b"), dir} {
				if got := perm(t, d); got != 0o750 {
					t.Errorf("%s: got mode %o, want 750", d, got)
				}
			}
			if err := MkdirAll(dir); err != nil {
				t.Errorf("second call: %v", err)
			}
			path := filepath.Join(dir, "manifest.json")
			if err := WriteAtomic(path, []byte("x")); err != nil {
				t.Fatal(err)
			}
			if got := perm(t, path); got != 0o640 {
				t.Errorf("published file: got mode %o, want 640", got)
			}
		})
	}
}

func TestMkdirAllOverAFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{path, filepath.Join(path, "sub")} {
		if err := MkdirAll(dir); err == nil {
			t.Errorf("MkdirAll(%s): got nil, want an error", dir)
		}
	}
}

// TestRestrictUmask: what DuckDB creates itself (0666 files, 0755
// directories) comes out 0640 and 0750; a stricter umask stays.
func TestRestrictUmask(t *testing.T) {
	tests := []struct {
		name              string
		before, after     int
		wantFile, wantDir os.FileMode
	}{
		{"group-writable", 0o002, 0o027, 0o640, 0o750},
		{"systemd unit of old", 0o007, 0o027, 0o640, 0o750},
		{"docker default", 0o022, 0o027, 0o640, 0o750},
		{"stricter kept", 0o077, 0o077, 0o600, 0o700},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			withUmask(t, tt.before)
			if got := RestrictUmask(); got != tt.before {
				t.Errorf("returned umask %o, want %o", got, tt.before)
			}
			if got := syscall.Umask(tt.after); got != tt.after {
				t.Errorf("umask: got %o, want %o", got, tt.after)
			}
			dir := t.TempDir()
			f, err := os.OpenFile(filepath.Join(dir, "store.wal"), os.O_CREATE|os.O_WRONLY, 0o666)
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
			if err := os.Mkdir(filepath.Join(dir, "store.tmp"), 0o755); err != nil {
				t.Fatal(err)
			}
			if got := perm(t, filepath.Join(dir, "store.wal")); got != tt.wantFile {
				t.Errorf("file: got mode %o, want %o", got, tt.wantFile)
			}
			if got := perm(t, filepath.Join(dir, "store.tmp")); got != tt.wantDir {
				t.Errorf("directory: got mode %o, want %o", got, tt.wantDir)
			}
		})
	}
}

func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "manifest.json")
	for _, content := range []string{"first", "second"} {
		if err := WriteAtomic(path, []byte(content)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != content {
			t.Errorf("got %q, want %q", got, content)
		}
	}
	if got := perm(t, path); got != FileMode {
		t.Errorf("got mode %o, want %o", got, FileMode)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("got %d entries, want only the file (no staging left behind)", len(entries))
	}
}

func TestPublishMissingStaging(t *testing.T) {
	dir := t.TempDir()
	final := filepath.Join(dir, "x")
	if err := os.WriteFile(final, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Publish(filepath.Join(dir, "missing"), final); err == nil {
		t.Fatal("got nil, want an error")
	}
	got, _ := os.ReadFile(final)
	if string(got) != "old" {
		t.Errorf("final changed to %q after a failed publish", got)
	}
}

// TestPublishInConfined: links planted in the tree cannot carry a published
// file out of the root; a link inside the root is followed.
func TestPublishInConfined(t *testing.T) {
	tests := []struct {
		name    string
		plant   func(t *testing.T, data, outside string)
		final   string
		wantErr bool
		// inside is where the file must be, relative to data ("" when refused).
		inside string
	}{
		{"link to a folder outside, on the way", func(t *testing.T, data, outside string) {
			must(t, os.MkdirAll(filepath.Join(data, "attachments"), 0o750))
			must(t, os.Symlink(outside, filepath.Join(data, "attachments", "SUP-1")))
		}, "attachments/SUP-1/10000_a.txt", true, ""},
		{"link to a folder outside, relative", func(t *testing.T, data, outside string) {
			must(t, os.MkdirAll(filepath.Join(data, "attachments"), 0o750))
			rel, _ := filepath.Rel(filepath.Join(data, "attachments"), outside)
			must(t, os.Symlink(rel, filepath.Join(data, "attachments", "SUP-1")))
		}, "attachments/SUP-1/10000_a.txt", true, ""},
		{"link to a file outside, at the name", func(t *testing.T, data, outside string) {
			must(t, os.MkdirAll(filepath.Join(data, "attachments", "SUP-1"), 0o750))
			must(t, os.Symlink(filepath.Join(outside, "victim"), filepath.Join(data, "attachments", "SUP-1", "10000_a.txt")))
		}, "attachments/SUP-1/10000_a.txt", false, "attachments/SUP-1/10000_a.txt"},
		{"link to a folder inside", func(t *testing.T, data, outside string) {
			must(t, os.MkdirAll(filepath.Join(data, "attachments", "SUP-2"), 0o750))
			must(t, os.Symlink("SUP-2", filepath.Join(data, "attachments", "SUP-1")))
		}, "attachments/SUP-1/10000_a.txt", false, "attachments/SUP-2/10000_a.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			data, outside := filepath.Join(base, "data"), filepath.Join(base, "outside")
			must(t, os.MkdirAll(data, 0o750))
			must(t, os.MkdirAll(outside, 0o750))
			must(t, os.WriteFile(filepath.Join(outside, "victim"), []byte("keep"), 0o640))
			tt.plant(t, data, outside)
			root, err := os.OpenRoot(data)
			must(t, err)
			defer root.Close()
			if _, _, err := CreateTempIn(root, ".staging", "download-"); !os.IsNotExist(err) {
				t.Fatalf("create in a missing folder: got %v, want not exist", err)
			}
			must(t, MkdirAllIn(root, ".staging"))
			f, staging, err := CreateTempIn(root, ".staging", "download-")
			must(t, err)
			_, _ = f.WriteString("attachment bytes")
			must(t, f.Close())

			err = PublishIn(root, staging, tt.final)
			if (err != nil) != tt.wantErr {
				t.Fatalf("got %v, want an error: %v", err, tt.wantErr)
			}
			entries, _ := os.ReadDir(outside)
			if len(entries) != 1 {
				t.Errorf("outside the root: got %d entries, want only the victim", len(entries))
			}
			if b, _ := os.ReadFile(filepath.Join(outside, "victim")); string(b) != "keep" {
				t.Errorf("file outside the root: got %q, want %q", b, "keep")
			}
			if tt.inside == "" {
				return
			}
			st, err := os.Lstat(filepath.Join(data, filepath.FromSlash(tt.inside)))
			if err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != FileMode {
				t.Fatalf("got %v, %v; want a regular file with mode %o at %s", st, err, FileMode, tt.inside)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestPublishNew: a new name gets the file with FileMode; an existing one is
// kept as it was, the error says it exists, and the staging file is left
// for the caller to remove.
func TestPublishNew(t *testing.T) {
	dir := t.TempDir()
	staging := filepath.Join(dir, ".out.tmp")
	final := filepath.Join(dir, "out")
	if err := os.WriteFile(staging, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := PublishNew(staging, final); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(final); string(b) != "new" {
		t.Errorf("final holds %q, want %q", b, "new")
	}
	if got := perm(t, final); got != FileMode {
		t.Errorf("mode of final: got %v, want %v", got, FileMode)
	}
	if _, err := os.Stat(staging); !os.IsNotExist(err) {
		t.Errorf("staging after publish: got %v, want it gone", err)
	}

	if err := os.WriteFile(staging, []byte("newer"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := PublishNew(staging, final)
	if !errors.Is(err, os.ErrExist) {
		t.Fatalf("publish over an existing file: got %v, want an error matching os.ErrExist", err)
	}
	if b, _ := os.ReadFile(final); string(b) != "new" {
		t.Errorf("final after a refused publish holds %q, want %q", b, "new")
	}
}
