// Package files writes what readers outside the process see: directories
// group-shared with the analysts' sync account, and files that appear whole or
// not at all (write to a staging file, fsync, rename, fsync the folder).
package files

import (
	"fmt"
	"os"
	"path/filepath"
)

// Modes of everything jiraduck writes under its data directory.
const (
	DirMode  os.FileMode = 0o770
	FileMode os.FileMode = 0o660
)

// MkdirAll creates dir and its parents with DirMode, whatever the umask says,
// for the directories it creates.
func MkdirAll(dir string) error {
	var missing []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		missing = append(missing, d)
		if parent := filepath.Dir(d); parent == d {
			break
		}
	}
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return err
	}
	for _, d := range missing {
		if err := os.Chmod(d, DirMode); err != nil {
			return err
		}
	}
	return nil
}

// Publish makes staging visible as final in one step: it fsyncs the staging
// file, sets FileMode, renames it over final and fsyncs final's directory, so
// a reader sees either the old file or the new one, never a half-written one.
func Publish(staging, final string) error {
	if err := MkdirAll(filepath.Dir(final)); err != nil {
		return fmt.Errorf("publish %s: %w", final, err)
	}
	f, err := os.OpenFile(staging, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("publish %s: %w", final, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("publish %s: fsync: %w", final, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("publish %s: %w", final, err)
	}
	if err := os.Chmod(staging, FileMode); err != nil {
		return fmt.Errorf("publish %s: %w", final, err)
	}
	if err := os.Rename(staging, final); err != nil {
		return fmt.Errorf("publish %s: %w", final, err)
	}
	return SyncDir(filepath.Dir(final))
}

// WriteAtomic writes data to path through a staging file in the same folder.
func WriteAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := MkdirAll(dir); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := Publish(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// SyncDir fsyncs a directory so a rename in it survives a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}
