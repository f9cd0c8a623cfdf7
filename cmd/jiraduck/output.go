package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/export"
	"github.com/jiraduck/jiraduck/internal/files"
	"github.com/jiraduck/jiraduck/internal/intake"
)

// outputTarget is a file a command writes with --out: checked against what
// jiraduck must never write over, then written through a temporary file next
// to it and put in place in one step.
type outputTarget struct {
	// Path is the absolute path written.
	Path string
	// Replace allows an existing file to be replaced.
	Replace bool
}

// protectedAreas are the data directory's own files and folders, which --out
// never writes: the store, its WAL and temp folder, the webhook journal, the
// published partitions, the attachments and the staging folder. Each is a
// path relative to the data directory; a folder covers everything below it,
// a file also the names it starts (the journal's rotations).
func protectedAreas(cfg *config.Config) []struct{ path, what string } {
	store := app.StorePath(cfg)
	return []struct{ path, what string }{
		{store, "the store"},
		{store + ".wal", "the store's write-ahead log"},
		{store + ".tmp", "the store's temp folder"},
		{filepath.Join(cfg.DataDir, intake.JournalName), "the webhook journal"},
		{filepath.Dir(export.Root(cfg.DataDir)), "the published Parquet tree"},
		{filepath.Join(cfg.DataDir, "attachments"), "the attachments"},
		{filepath.Join(cfg.DataDir, ".staging"), "the staging folder"},
	}
}

// checkOutput refuses an --out path that names one of the data directory's
// own files (through any spelling: relative, "..", a symbolic link, a hard
// link) and, unless replace is set, a file that exists.
func checkOutput(cfg *config.Config, command, path string, replace bool) (*outputTarget, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("%s: --out %s: %w", command, path, err)
	}
	resolved := resolvePath(abs)
	st, statErr := os.Stat(abs)
	for _, p := range protectedAreas(cfg) {
		area, err := filepath.Abs(p.path)
		if err != nil {
			continue
		}
		area = resolvePath(area)
		inside := resolved == area || strings.HasPrefix(resolved, area+string(filepath.Separator)) ||
			(p.what == "the webhook journal" && strings.HasPrefix(resolved, area))
		if !inside && statErr == nil {
			if ast, err := os.Stat(area); err == nil && os.SameFile(st, ast) {
				inside = true
			}
		}
		if inside {
			return nil, usagef("%s: --out %s would write over %s (%s); refused, choose a path outside the data directory's own files",
				command, path, p.what, area)
		}
	}
	if statErr == nil {
		if st.IsDir() {
			return nil, usagef("%s: --out %s is a folder; name a file", command, path)
		}
		if !replace {
			return nil, usagef("%s: --out %s exists; pass --force to replace it", command, path)
		}
	} else if !errors.Is(statErr, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: --out %s: %w", command, path, statErr)
	}
	return &outputTarget{Path: abs, Replace: replace}, nil
}

// resolvePath follows the symbolic links of path's deepest existing
// ancestor, so that two spellings of one file compare equal.
func resolvePath(path string) string {
	rest := ""
	for dir := path; ; dir = filepath.Dir(dir) {
		if r, err := filepath.EvalSymlinks(dir); err == nil {
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return path
		}
		rest = filepath.Join(filepath.Base(dir), rest)
	}
}

// staging is a new temporary name next to the target, hidden by its dot.
func (o *outputTarget) staging() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return filepath.Join(filepath.Dir(o.Path), fmt.Sprintf(".%s.%s.tmp", filepath.Base(o.Path), hex.EncodeToString(b[:])))
}

// publish puts the written staging file in place: renamed over the target
// when replacing is allowed, else linked to a name that must not exist yet
// (so a file that appeared since the check is not replaced either). The
// staging file is removed whatever happens.
func (o *outputTarget) publish(staging string) error {
	defer os.Remove(staging)
	if o.Replace {
		return files.Publish(staging, o.Path)
	}
	if err := files.PublishNew(staging, o.Path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return usagef("--out %s exists; pass --force to replace it", o.Path)
		}
		return err
	}
	return nil
}

// write writes the target through a staging file with fn.
func (o *outputTarget) write(fn func(w io.Writer) error) error {
	staging := o.staging()
	f, err := os.OpenFile(staging, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		f.Close()
		os.Remove(staging)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(staging)
		return err
	}
	return o.publish(staging)
}
