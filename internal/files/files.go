// Package files writes what readers outside the process see: directories and
// files the analysts' sync group may read but only jiraduck may write, and
// files that appear whole or not at all (write to a staging file, fsync,
// rename, fsync the folder).
package files

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Modes of everything jiraduck writes under its data directory: the group
// (the analysts' sync account) reads, only jiraduck writes, others see
// nothing. A group that could write could also replace or delete published
// partitions, since renaming in a directory needs only its write bit.
const (
	DirMode  os.FileMode = 0o750
	FileMode os.FileMode = 0o640
)

// Umask holds the bits the process umask always includes. DuckDB creates the
// store's WAL, its temporary directory (<store>.tmp) and spill files itself,
// with modes 0666 and 0755 less the umask, out of reach of a chmod; with
// these bits they come out 0640 and 0750 like everything else.
const Umask = 0o027

// RestrictUmask adds Umask's bits to the process umask, keeping any stricter
// bits already set, and returns the previous umask.
func RestrictUmask() int {
	old := syscall.Umask(Umask)
	syscall.Umask(old | Umask)
	return old
}

// tree is where files are written: the whole file system through package
// os, or an *os.Root, through which no name, and no symbolic link met on the
// way, leads outside the root.
type tree interface {
	Open(name string) (*os.File, error)
	OpenFile(name string, flag int, perm os.FileMode) (*os.File, error)
	Mkdir(name string, perm os.FileMode) error
	Stat(name string) (os.FileInfo, error)
	Rename(oldname, newname string) error
}

// osTree is the whole file system.
type osTree struct{}

func (osTree) Open(name string) (*os.File, error) { return os.Open(name) }

func (osTree) OpenFile(name string, flag int, perm os.FileMode) (*os.File, error) {
	return os.OpenFile(name, flag, perm)
}

func (osTree) Mkdir(name string, perm os.FileMode) error { return os.Mkdir(name, perm) }

func (osTree) Stat(name string) (os.FileInfo, error) { return os.Stat(name) }

func (osTree) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }

// MkdirAll creates dir and its parents with DirMode, whatever the umask says,
// for the directories it creates.
func MkdirAll(dir string) error { return mkdirAll(osTree{}, dir) }

// MkdirAllIn is MkdirAll inside root: dir is relative to it.
func MkdirAllIn(root *os.Root, dir string) error { return mkdirAll(root, dir) }

func mkdirAll(t tree, dir string) error {
	var missing []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if st, err := t.Stat(d); err == nil {
			if !st.IsDir() {
				return &fs.PathError{Op: "mkdir", Path: d, Err: syscall.ENOTDIR}
			}
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			// Not a directory on the way, or (in a root) a link that
			// leads out of it: creating below cannot work either.
			return err
		}
		missing = append(missing, d)
		if parent := filepath.Dir(d); parent == d {
			break
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		d := missing[i]
		if err := t.Mkdir(d, DirMode); err != nil {
			if errors.Is(err, fs.ErrExist) {
				// Made at the same moment by another writer.
				continue
			}
			return err
		}
		if err := chmod(t, d, DirMode); err != nil {
			return err
		}
	}
	return nil
}

// chmod sets the mode of name through an open handle, so that what is
// changed is what was opened: a name swapped for a link in between is not
// followed out of a root.
func chmod(t tree, name string, mode os.FileMode) error {
	f, err := t.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Chmod(mode)
}

// Publish makes staging visible as final in one step: it fsyncs the staging
// file, sets FileMode, renames it over final and fsyncs final's directory, so
// a reader sees either the old file or the new one, never a half-written one.
func Publish(staging, final string) error { return publish(osTree{}, staging, final) }

// PublishIn is Publish inside root: staging and final are relative to it.
// A symbolic link planted anywhere on final's path cannot lead the file out
// of root; one at final itself is replaced, not followed.
func PublishIn(root *os.Root, staging, final string) error { return publish(root, staging, final) }

func publish(t tree, staging, final string) error {
	if err := mkdirAll(t, filepath.Dir(final)); err != nil {
		return fmt.Errorf("publish %s: %w", final, err)
	}
	f, err := t.OpenFile(staging, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("publish %s: %w", final, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("publish %s: fsync: %w", final, err)
	}
	if err := f.Chmod(FileMode); err != nil {
		f.Close()
		return fmt.Errorf("publish %s: %w", final, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("publish %s: %w", final, err)
	}
	if err := t.Rename(staging, final); err != nil {
		return fmt.Errorf("publish %s: %w", final, err)
	}
	return syncDir(t, filepath.Dir(final))
}

// PublishNew is Publish for a final name that must not exist yet: the file
// is linked to it instead of renamed over it, so neither a file that was
// there nor one that appeared since the caller looked is ever replaced. An
// existing final gives an error that matches os.ErrExist.
func PublishNew(staging, final string) error {
	if err := syncFile(staging); err != nil {
		return fmt.Errorf("publish %s: %w", final, err)
	}
	if err := os.Link(staging, final); err != nil {
		return fmt.Errorf("publish %s: %w", final, err)
	}
	if err := os.Remove(staging); err != nil {
		return fmt.Errorf("publish %s: %w", final, err)
	}
	return SyncDir(filepath.Dir(final))
}

// syncFile fsyncs the file at path and gives it FileMode.
func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("fsync: %w", err)
	}
	if err := f.Chmod(FileMode); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// CreateTempIn creates a new file in dir inside root, named prefix followed
// by random characters, open for reading and writing with mode 0600 (Publish
// sets FileMode). It returns the file and its name relative to root.
func CreateTempIn(root *os.Root, dir, prefix string) (*os.File, string, error) {
	for range 100 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		name := filepath.Join(dir, prefix+hex.EncodeToString(b[:]))
		f, err := root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, name, err
	}
	return nil, "", fmt.Errorf("create a file in %s: no free name", dir)
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
func SyncDir(dir string) error { return syncDir(osTree{}, dir) }

func syncDir(t tree, dir string) error {
	d, err := t.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}
