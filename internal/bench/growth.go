package bench

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/jiraduck/jiraduck/internal/store"
)

// P7's store growth: a storm re-fetches the same issues many times, and every
// re-fetch deletes an issue's rows and appends new ones. After P3's storm, with
// serve stopped, the store file is compared with the same data written once
// (a copy of that store into a new file, which holds what a rebuild from
// scratch writes): as serve left it, and after the compaction the next start
// of serve makes (store.CompactIfWasteful, as app.OpenStore calls it), which
// is what the target judges. The data directory is then counted per issue.

// growthLimit is the most the store may hold after a storm, as a multiple of
// the same data written once.
const growthLimit = 1.3

// measureGrowth records the store growth of the storm run whose data
// directory is dir, serve stopped; label names the run's measures.
func (b *bench) measureGrowth(ctx context.Context, dir, label string) error {
	path := filepath.Join(dir, store.FileName)
	after, err := fileBytes(path)
	if err != nil {
		return fmt.Errorf("P7 store growth: %w", err)
	}
	// The reference: the same store copied into a new file, on a copy of
	// the directory so that the run's own store stays as serve left it.
	ref := filepath.Join(b.dir, "growth-reference")
	os.RemoveAll(ref)
	defer os.RemoveAll(ref)
	if err := os.MkdirAll(ref, 0o750); err != nil {
		return err
	}
	refPath := filepath.Join(ref, store.FileName)
	if err := copyFile(path, refPath); err != nil {
		return fmt.Errorf("P7 store growth: %w", err)
	}
	if _, err := store.CompactIfWasteful(ctx, refPath, store.Options{MemoryLimit: "512MB"}, true); err != nil {
		return fmt.Errorf("P7 store growth: rewrite the store once: %w", err)
	}
	once, err := fileBytes(refPath)
	if err != nil {
		return fmt.Errorf("P7 store growth: %w", err)
	}
	// Serve's next start compacts under the other commands' cap, 512MB on
	// any machine with 2 GiB or more.
	if _, err := store.CompactIfWasteful(ctx, path, store.Options{MemoryLimit: "512MB"}, false); err != nil {
		return fmt.Errorf("P7 store growth: compact as serve's next start does: %w", err)
	}
	next, err := fileBytes(path)
	if err != nil {
		return fmt.Errorf("P7 store growth: %w", err)
	}
	dirBytes, err := treeBytes(dir)
	if err != nil {
		return fmt.Errorf("P7 store growth: %w", err)
	}
	b.rep.info("P7", "store after the storm, serve stopped / the same data written once"+label, "", float64(after)/float64(once))
	b.rep.add("P7", "store after serve's next start / the same data written once"+label, "", goalAtMost, growthLimit, float64(next)/float64(once))
	b.rep.info("P7", "store after the storm, serve stopped"+label, "MB", megabytes(after))
	b.rep.info("P7", "data directory bytes per issue"+label, "", float64(dirBytes)/float64(b.sz.big))
	b.progress("P7 store growth%s: %.0f MB after the storm, %.0f MB after the next start, %.0f MB written once (%.2fx, %.2fx); data directory %.0f bytes per issue",
		label, megabytes(after), megabytes(next), megabytes(once), float64(after)/float64(once), float64(next)/float64(once), float64(dirBytes)/float64(b.sz.big))
	return nil
}

func fileBytes(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// treeBytes adds the sizes of the regular files under dir.
func treeBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		n += fi.Size()
		return nil
	})
	return n, err
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
