package files

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestMkdirAllModes(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	root := t.TempDir()
	dir := filepath.Join(root, "a", "b", "c")
	if err := MkdirAll(dir); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Join(root, "a"), filepath.Join(root, "a", "b"), dir} {
		st, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Mode().Perm(); got != DirMode {
			t.Errorf("%s: got mode %o, want %o", d, got, DirMode)
		}
	}
	if err := MkdirAll(dir); err != nil {
		t.Errorf("second call: %v", err)
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
	st, _ := os.Stat(path)
	if st.Mode().Perm() != FileMode {
		t.Errorf("got mode %o, want %o", st.Mode().Perm(), FileMode)
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
