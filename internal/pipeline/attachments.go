package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/jiraduck/jiraduck/internal/files"
	"github.com/jiraduck/jiraduck/internal/jira"
	"github.com/jiraduck/jiraduck/internal/jira/client"
	"github.com/jiraduck/jiraduck/internal/normalize"
	"github.com/jiraduck/jiraduck/internal/store"
)

// maxNameBytes caps a stored file name; with the id prefix the name stays well
// under the 255 bytes file systems allow.
const maxNameBytes = 150

// SanitizeFilename turns an attachment name chosen by any Jira user into one
// safe to create in a single folder: no separators, no "." or "..", no control
// or invisible format characters, valid UTF-8, at most maxNameBytes bytes
// (cut at a character boundary, the extension kept when short), never empty.
func SanitizeFilename(name string) string {
	// Path segments become parts of one name; "." and ".." segments go.
	var parts []string
	for _, seg := range strings.FieldsFunc(name, func(r rune) bool { return r == '/' || r == '\\' }) {
		if seg != "." && seg != ".." {
			parts = append(parts, seg)
		}
	}
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(strings.Join(parts, "_"), "_") {
		switch {
		case r == ':' || r == 0:
			b.WriteRune('_')
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError:
			b.WriteRune('_')
		default:
			b.WriteRune(r)
		}
	}
	s := strings.TrimSpace(b.String())
	// Leading dots would make hidden files, or "." and ".." themselves.
	s = strings.TrimLeft(s, ".")
	s = strings.TrimRight(s, ". ")
	for strings.Contains(s, "..") {
		s = strings.ReplaceAll(s, "..", ".")
	}
	if len(s) > maxNameBytes {
		ext := filepath.Ext(s)
		if len(ext) > 16 || !utf8.ValidString(ext) {
			ext = ""
		}
		s = truncateUTF8(s[:len(s)-len(ext)], maxNameBytes-len(ext)) + ext
	}
	if s == "" {
		return "file"
	}
	return s
}

func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// AttachmentPath is where an attachment's bytes live, relative to the data
// directory: attachments/<KEY>/<id>_<sanitised name>. The key and id are
// checked before they reach the path.
func AttachmentPath(key, id, filename string) (string, error) {
	if !jira.ValidKey(key) {
		return "", fmt.Errorf("attachment path: invalid issue key %q", key)
	}
	if id == "" || strings.Trim(id, "0123456789") != "" || len(id) > 20 {
		return "", fmt.Errorf("attachment path: invalid attachment id %q", id)
	}
	return filepath.Join("attachments", key, id+"_"+SanitizeFilename(filename)), nil
}

// downloadStaging is where attachment bytes are written before they are
// published, relative to the data directory: one folder, outside
// attachments/, so that what a killed process left behind is found without
// walking every issue's folder, and never mistaken for an attachment (nor
// copied by an analyst's sync of attachments/).
var downloadStaging = filepath.Join(".staging", "downloads")

// stagingPrefix starts the name of every staging file.
const stagingPrefix = "download-"

// openDataRoot opens the data directory as an os.Root. Every attachment
// write and every check of a stored attachment goes through it: the issue
// key and the file name come from Jira, and a symbolic link planted under
// attachments/ (an issue's folder, a file name) must not lead a write, or a
// check, outside the data directory.
func openDataRoot(dataDir string) (*os.Root, error) {
	root, err := os.OpenRoot(dataDir)
	if err != nil {
		return nil, fmt.Errorf("open data directory: %w", err)
	}
	return root, nil
}

// writeAttachment stores at rel (relative to root) the bytes fill writes,
// through a staging file published whole; nothing is left behind on failure.
func writeAttachment(root *os.Root, rel string, fill func(w io.Writer) error) error {
	if err := files.MkdirAllIn(root, downloadStaging); err != nil {
		return fmt.Errorf("store %s: %w", rel, err)
	}
	f, tmp, err := files.CreateTempIn(root, downloadStaging, stagingPrefix)
	if err != nil {
		return fmt.Errorf("store %s: %w", rel, err)
	}
	err = fill(f)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("store %s: %w", rel, cerr)
	}
	if err == nil {
		err = files.PublishIn(root, tmp, rel)
	}
	if err != nil {
		_ = root.Remove(tmp)
		return err
	}
	return nil
}

// statAttachment reports whether rel is a regular file of the given size
// (any size when negative), following links only where they stay inside
// root.
func statAttachment(root *os.Root, rel string, size int64) bool {
	st, err := root.Stat(rel)
	return err == nil && st.Mode().IsRegular() && (size < 0 || st.Size() == size)
}

// ImportAttachment copies the file at src to rel under dataDir and returns
// its SHA-256.
func ImportAttachment(dataDir, rel, src string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	root, err := openDataRoot(dataDir)
	if err != nil {
		return "", err
	}
	defer root.Close()
	h := sha256.New()
	err = writeAttachment(root, rel, func(w io.Writer) error {
		_, err := io.Copy(io.MultiWriter(w, h), in)
		return err
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// downloader fetches attachment bytes into the data directory.
type downloader struct {
	client   *client.Client
	dataDir  string
	maxBytes int64
	parallel int
	observe  func(bytes int64, skipped string)

	// cleaned guards the removal of what a crash left in the staging folder,
	// done once before the first download.
	cleaned sync.Once
}

// removeLeftovers deletes the partial downloads of an earlier process. It
// runs before this process's first download, and only one process (the one
// holding the store) downloads into a data directory.
func (d *downloader) removeLeftovers(root *os.Root) {
	dir, err := root.Open(downloadStaging)
	if err != nil {
		return
	}
	names, _ := dir.Readdirnames(-1)
	dir.Close()
	for _, name := range names {
		if strings.HasPrefix(name, stagingPrefix) {
			_ = root.Remove(filepath.Join(downloadStaging, name))
		}
	}
}

// fetchAll downloads what is missing of an issue's attachments and fills each
// row's LocalPath, SHA256 or SkippedReason. It returns the state of the bytes:
// complete when every file is stored or deliberately skipped, partial when a
// download failed (the stored file, if any, is kept by the store).
func (d *downloader) fetchAll(ctx context.Context, rows []normalize.Attachment, stored map[string]store.StoredAttachment) normalize.State {
	if len(rows) == 0 {
		return normalize.Complete
	}
	root, err := openDataRoot(d.dataDir)
	if err != nil {
		for i := range rows {
			rows[i].SkippedReason = ptr("download failed: " + err.Error())
		}
		d.note(0, "failed")
		return normalize.Partial
	}
	defer root.Close()
	d.cleaned.Do(func() { d.removeLeftovers(root) })
	state := normalize.Complete
	var mu sync.Mutex
	sem := make(chan struct{}, max(d.parallel, 1))
	var wg sync.WaitGroup
	for i := range rows {
		a := &rows[i]
		rel, err := AttachmentPath(a.IssueKey, a.AttachmentID, deref(a.Filename))
		if err != nil {
			a.SkippedReason = ptr("refused: " + err.Error())
			continue
		}
		size := int64(-1)
		if a.SizeBytes != nil {
			size = *a.SizeBytes
		}
		if have, ok := stored[a.AttachmentID]; ok && have.LocalPath == rel && have.Size == size && statAttachment(root, rel, size) {
			a.LocalPath, a.SHA256 = ptr(rel), ptr(have.SHA256)
			continue
		}
		if d.maxBytes == 0 || size > d.maxBytes {
			a.SkippedReason = ptr(fmt.Sprintf("larger than JIRADUCK_ATTACHMENT_MAX_BYTES (%d bytes)", d.maxBytes))
			d.note(0, "too_large")
			continue
		}
		if a.ContentURL == nil {
			a.SkippedReason = ptr("no content url")
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			n, sum, err := d.download(ctx, root, *a.ContentURL, rel)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				a.LocalPath, a.SHA256 = ptr(rel), ptr(sum)
				d.note(n, "")
			case errors.Is(err, client.ErrTooLarge):
				a.SkippedReason = ptr(fmt.Sprintf("larger than JIRADUCK_ATTACHMENT_MAX_BYTES (%d bytes)", d.maxBytes))
				d.note(0, "too_large")
			case errors.Is(err, client.ErrForeignHost):
				a.SkippedReason = ptr("refused: content url is not on the jira site or gateway")
				d.note(0, "foreign_host")
			default:
				a.SkippedReason = ptr("download failed: " + err.Error())
				d.note(0, "failed")
				state = normalize.Partial
			}
		}()
	}
	wg.Wait()
	return state
}

func (d *downloader) note(n int64, skipped string) {
	if d.observe != nil {
		d.observe(n, skipped)
	}
}

// download writes the bytes at url to rel under root.
func (d *downloader) download(ctx context.Context, root *os.Root, url, rel string) (int64, string, error) {
	var (
		n   int64
		sum string
	)
	err := writeAttachment(root, rel, func(w io.Writer) error {
		var err error
		n, sum, err = d.client.DownloadAttachment(ctx, url, w, d.maxBytes)
		return err
	})
	if err != nil {
		return 0, "", err
	}
	return n, sum, nil
}

func ptr(s string) *string { return &s }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
