package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/jiraduck/jiraduck/internal/files"
	"github.com/jiraduck/jiraduck/internal/jira"
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

// downloader fetches attachment bytes into the data directory.
type downloader struct {
	client   *jira.Client
	dataDir  string
	maxBytes int64
	parallel int
	observe  func(bytes int64, skipped string)

	// cleaned guards the removal of what a crash left in the staging folder,
	// done once before the first download.
	cleaned sync.Once
}

// downloadStaging is where downloads are written before they are published:
// one folder, outside attachments/, so that what a killed process left
// behind is found without walking every issue's folder, and never mistaken
// for an attachment.
func (d *downloader) downloadStaging() string {
	return filepath.Join(d.dataDir, ".staging", "downloads")
}

// removeLeftovers deletes the partial downloads of an earlier process. It
// runs before this process's first download, and only one process (the one
// holding the store) downloads into a data directory.
func (d *downloader) removeLeftovers() {
	old, err := filepath.Glob(filepath.Join(d.downloadStaging(), "download-*"))
	if err != nil {
		return
	}
	for _, p := range old {
		_ = os.Remove(p)
	}
}

// fetchAll downloads what is missing of an issue's attachments and fills each
// row's LocalPath, SHA256 or SkippedReason. It returns the state of the bytes:
// complete when every file is stored or deliberately skipped, partial when a
// download failed (the stored file, if any, is kept by the store).
func (d *downloader) fetchAll(ctx context.Context, rows []normalize.Attachment, stored map[string]store.StoredAttachment) normalize.State {
	d.cleaned.Do(d.removeLeftovers)
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
		if have, ok := stored[a.AttachmentID]; ok && have.LocalPath == rel && have.Size == size && fileHasSize(filepath.Join(d.dataDir, rel), size) {
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
			n, sum, err := d.download(ctx, *a.ContentURL, filepath.Join(d.dataDir, rel))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				a.LocalPath, a.SHA256 = ptr(rel), ptr(sum)
				d.note(n, "")
			case errors.Is(err, jira.ErrTooLarge):
				a.SkippedReason = ptr(fmt.Sprintf("larger than JIRADUCK_ATTACHMENT_MAX_BYTES (%d bytes)", d.maxBytes))
				d.note(0, "too_large")
			case errors.Is(err, jira.ErrForeignHost):
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

// download writes the bytes to a staging file and publishes it as dest.
func (d *downloader) download(ctx context.Context, url, dest string) (int64, string, error) {
	dir := d.downloadStaging()
	if err := files.MkdirAll(dir); err != nil {
		return 0, "", err
	}
	f, err := os.CreateTemp(dir, "download-*")
	if err != nil {
		return 0, "", err
	}
	tmp := f.Name()
	n, sum, err := d.client.DownloadAttachment(ctx, url, f, d.maxBytes)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return 0, "", err
	}
	if err := files.Publish(tmp, dest); err != nil {
		os.Remove(tmp)
		return 0, "", err
	}
	return n, sum, nil
}

func fileHasSize(path string, size int64) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && (size < 0 || st.Size() == size)
}

func ptr(s string) *string { return &s }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
