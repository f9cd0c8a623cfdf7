package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/jiraduck/jiraduck/internal/jira"
	"github.com/jiraduck/jiraduck/internal/normalize"
	"github.com/jiraduck/jiraduck/internal/pipeline"
	"github.com/jiraduck/jiraduck/internal/store"
)

// ImportOptions shape an import of the Python data broker's raw layout.
type ImportOptions struct {
	// RawDir holds issues/<KEY>.json and attachments/<KEY>/<id>_<name>.
	RawDir string
	// DataDir is jiraduck's data directory, where attachment files are copied.
	DataDir            string
	AttachmentMaxBytes int64
	Batch              int
	Progress           func(done int)
}

// ImportResult counts an import.
type ImportResult struct {
	Files       int
	Imported    int
	Deleted     int
	Attachments int
	// Refused counts the files not imported because of what they hold;
	// Refusals names each, "path: reason".
	Refused  int
	Refusals []string
	// Superseded counts the files left out because a newer file holds the
	// same issue (an issue kept under its old and its new key after a
	// move); Supersessions names both files of each.
	Superseded    int
	Supersessions []string
}

// Counts is the result as sync_runs stores it.
func (r ImportResult) Counts() map[string]int {
	return map[string]int{"files": r.Files, "imported": r.Imported, "deleted": r.Deleted, "attachments": r.Attachments,
		"refused": r.Refused, "superseded": r.Superseded}
}

// Import loads a raw layout written by the Python data broker, so that an
// existing installation moves over without fetching anything: each
// issues/<KEY>.json (the issue as GET issue answered it, comments and
// histories embedded, plus the broker's _remote_links, _deleted_at,
// _synced_at and _comments_incomplete keys) becomes a stored issue, and the
// attachment files are copied into place.
//
// One file never sinks the others. A file that cannot be read or stored
// (not JSON, not an issue, an id another issue holds) is refused and named
// with the reason; when several files hold one issue, the newest
// (fields.updated, then _synced_at) is imported and the others are named as
// superseded. The error returned is the import's own (the store failing),
// never a file's.
func Import(ctx context.Context, s *store.Store, w *store.Writer, opts normalize.Options, o ImportOptions) (ImportResult, error) {
	var res ImportResult
	if o.Batch < 1 {
		o.Batch = 500
	}
	dir := filepath.Join(o.RawDir, "issues")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return res, fmt.Errorf("import: %w", err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".json") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	res.Files = len(names)
	chosen, err := chooseBrokerFiles(ctx, dir, names, &res)
	if err != nil {
		return res, err
	}
	pathOf := map[string]string{}
	for _, f := range chosen {
		pathOf[f.key] = f.path
	}
	var batch []importItem
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := writeImport(ctx, s, w, batch, pathOf, &res)
		batch = batch[:0]
		if o.Progress != nil {
			o.Progress(res.Imported + res.Deleted + res.Refused + res.Superseded)
		}
		return err
	}
	for _, f := range chosen {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		item, err := readBrokerFile(f, opts, o)
		if err != nil {
			res.refuse(f.path, err.Error())
			continue
		}
		if item.rows != nil {
			res.Attachments += copyBrokerAttachments(item.rows, strings.TrimSuffix(filepath.Base(f.path), ".json"), o)
		}
		batch = append(batch, item)
		if len(batch) >= o.Batch {
			if err := flush(); err != nil {
				return res, err
			}
		}
	}
	return res, flush()
}

func (r *ImportResult) refuse(path, why string) {
	r.Refused++
	r.Refusals = append(r.Refusals, path+": "+why)
}

// brokerFile is what the first pass learns of a file: enough to choose
// between files that hold the same issue.
type brokerFile struct {
	path, key, id   string
	updated, synced time.Time
	named           bool // the file is named after the key it holds
}

// newer reports whether f is a later copy of the issue than g: by
// fields.updated, then _synced_at (deletions by _deleted_at when later),
// then the file named after its key.
func (f brokerFile) newer(g brokerFile) bool {
	switch {
	case !f.updated.Equal(g.updated):
		return f.updated.After(g.updated)
	case !f.synced.Equal(g.synced):
		return f.synced.After(g.synced)
	}
	return f.named && !g.named
}

// chooseBrokerFiles reads the head of every file and keeps one file per
// issue id, in name order; the others are recorded as superseded or refused.
func chooseBrokerFiles(ctx context.Context, dir string, names []string, res *ImportResult) ([]brokerFile, error) {
	var files []brokerFile
	byID := map[string]int{}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		path := filepath.Join(dir, name)
		if !jira.ValidKey(strings.TrimSuffix(name, ".json")) {
			res.refuse(path, "the name is not an issue key")
			continue
		}
		f, err := readBrokerHead(path)
		if err != nil {
			res.refuse(path, err.Error())
			continue
		}
		f.named = f.key == strings.TrimSuffix(name, ".json")
		i, seen := byID[f.id]
		if !seen {
			byID[f.id] = len(files)
			files = append(files, f)
			continue
		}
		kept, left := files[i], f
		if f.newer(kept) {
			kept, left = f, kept
			files[i] = f
		}
		res.Superseded++
		res.Supersessions = append(res.Supersessions, fmt.Sprintf("%s: issue id %s is also in %s, which is newer (%s); that one is imported",
			left.path, f.id, kept.path, why(kept, left)))
	}
	return files, nil
}

// why says what made kept newer than left.
func why(kept, left brokerFile) string {
	switch {
	case !kept.updated.Equal(left.updated):
		return fmt.Sprintf("updated %s, against %s", stamp(kept.updated), stamp(left.updated))
	case !kept.synced.Equal(left.synced):
		return fmt.Sprintf("same updated, synced %s, against %s", stamp(kept.synced), stamp(left.synced))
	}
	return "same updated and synced, named after its key"
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// readBrokerHead reads the identity and dates of one broker file.
func readBrokerHead(path string) (brokerFile, error) {
	f := brokerFile{path: path}
	raw, err := os.ReadFile(path)
	if err != nil {
		return f, err
	}
	var head struct {
		ID     jira.ID `json:"id"`
		Key    string  `json:"key"`
		Fields struct {
			Updated string `json:"updated"`
		} `json:"fields"`
		SyncedAt  string `json:"_synced_at"`
		DeletedAt string `json:"_deleted_at"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return f, fmt.Errorf("not an issue as JSON: %v", err)
	}
	if head.ID == "" || !jira.ValidKey(head.Key) {
		return f, fmt.Errorf("not an issue: no id, or no valid key (%q)", head.Key)
	}
	f.id, f.key = string(head.ID), head.Key
	f.updated, _ = brokerTime(head.Fields.Updated)
	f.synced, _ = brokerTime(head.SyncedAt)
	if at, ok := brokerTime(head.DeletedAt); ok {
		if at.After(f.updated) {
			f.updated = at
		}
	}
	return f, nil
}

// brokerTime parses a time the broker wrote: Jira's format, RFC 3339, or
// Python's isoformat without an offset (UTC).
func brokerTime(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	if t, err := jira.ParseTime(s); err == nil {
		return t, true
	}
	if t, err := time.Parse("2006-01-02T15:04:05.999999999", s); err == nil {
		return t.UTC(), true
	}
	return time.Time{}, false
}

// importItem is one chosen file, read: an issue's rows or a deletion.
type importItem struct {
	path string
	rows *normalize.Rows
	del  *deletion
}

type deletion struct {
	id, key string
	at      time.Time
}

// readBrokerFile reads and normalizes a chosen file.
func readBrokerFile(f brokerFile, opts normalize.Options, o ImportOptions) (importItem, error) {
	item := importItem{path: f.path}
	raw, err := os.ReadFile(f.path)
	if err != nil {
		return item, err
	}
	b, deletedAt, err := brokerBundle(raw)
	if err != nil {
		return item, err
	}
	if !deletedAt.IsZero() {
		item.del = &deletion{id: f.id, key: f.key, at: deletedAt}
		return item, nil
	}
	if st, err := os.Stat(f.path); err == nil {
		b.FetchedAt = st.ModTime().UTC()
	}
	rows, err := normalize.FromBundle(b, opts)
	if err != nil {
		return item, err
	}
	item.rows = rows
	return item, nil
}

// writeImport writes a batch in one transaction. When that fails, each item
// is written alone, so that only the files at fault are refused, with the
// reason (the other issue named when one holds an id of theirs). A failure
// of the store itself (the disk, the writer closing) stops the import.
func writeImport(ctx context.Context, s *store.Store, w *store.Writer, batch []importItem, pathOf map[string]string, res *ImportResult) error {
	err := w.Do(ctx, func(ctx context.Context, tx *store.Tx) error { return applyImport(ctx, s, tx, batch) })
	if err == nil {
		for _, it := range batch {
			res.count(it)
		}
		return nil
	}
	if fatalImportError(ctx, err) {
		return fmt.Errorf("import: write: %w", err)
	}
	if len(batch) == 1 {
		res.refuse(batch[0].path, explainImport(ctx, s, batch[0], err, pathOf))
		return nil
	}
	for _, it := range batch {
		err := w.Do(ctx, func(ctx context.Context, tx *store.Tx) error { return applyImport(ctx, s, tx, []importItem{it}) })
		switch {
		case err == nil:
			res.count(it)
		case fatalImportError(ctx, err):
			return fmt.Errorf("import: write: %w", err)
		default:
			res.refuse(it.path, explainImport(ctx, s, it, err, pathOf))
		}
	}
	return nil
}

func applyImport(ctx context.Context, s *store.Store, tx *store.Tx, batch []importItem) error {
	var rows []*normalize.Rows
	for _, it := range batch {
		if it.rows != nil {
			rows = append(rows, it.rows)
		}
	}
	if _, err := s.ApplyBatch(ctx, tx, rows, store.ApplyOptions{SkipStale: true}); err != nil {
		return err
	}
	for _, it := range batch {
		if d := it.del; d != nil {
			if _, err := s.DeleteIssue(ctx, tx, d.id, d.key, "imported: deleted in the previous data broker", d.at); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *ImportResult) count(it importItem) {
	if it.del != nil {
		r.Deleted++
	} else {
		r.Imported++
	}
}

// fatalImportError reports a failure that is the store's or the caller's,
// not a file's.
func fatalImportError(ctx context.Context, err error) bool {
	return ctx.Err() != nil || errors.Is(err, store.ErrClosed) || store.IsStorageFailure(err)
}

// explainImport is the reason a file's issue could not be written, naming
// the file of the other issue when one holds an id of this one.
func explainImport(ctx context.Context, s *store.Store, it importItem, err error, pathOf map[string]string) string {
	if it.rows == nil {
		return err.Error()
	}
	err = s.ExplainConflict(ctx, it.rows, err)
	var kc *store.KeyConflictError
	if errors.As(err, &kc) {
		if p, ok := pathOf[kc.Other]; ok {
			return fmt.Sprintf("%v (issue %s is in %s)", err, kc.Other, p)
		}
	}
	return err.Error()
}

// brokerBundle turns one broker file into the bundle a fetch would have made.
// A collection the file does not hold (no changelog, _remote_links absent or
// null) is unknown, so what the store holds of it is kept; an empty list is
// an empty collection.
func brokerBundle(raw []byte) (*jira.Bundle, time.Time, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, time.Time{}, fmt.Errorf("not a JSON object: %v", err)
	}
	var deletedAt time.Time
	if v, ok := top["_deleted_at"]; ok && string(v) != "null" {
		var s string
		if err := json.Unmarshal(v, &s); err == nil && s != "" {
			if t, ok := brokerTime(s); ok {
				deletedAt = t
			} else {
				deletedAt = time.Now().UTC()
			}
		}
	}
	incomplete := false
	if v, ok := top["_comments_incomplete"]; ok {
		_ = json.Unmarshal(v, &incomplete)
	}
	links := top["_remote_links"]
	for k := range top {
		if strings.HasPrefix(k, "_") {
			delete(top, k)
		}
	}
	issueJSON, err := json.Marshal(top)
	if err != nil {
		return nil, time.Time{}, err
	}
	var embedded struct {
		Fields struct {
			Comment *struct {
				Total    int               `json:"total"`
				Comments []json.RawMessage `json:"comments"`
			} `json:"comment"`
		} `json:"fields"`
		Changelog *struct {
			Total     int               `json:"total"`
			Histories []json.RawMessage `json:"histories"`
		} `json:"changelog"`
	}
	if err := json.Unmarshal(issueJSON, &embedded); err != nil {
		return nil, time.Time{}, fmt.Errorf("not an issue: %v", err)
	}
	b := &jira.Bundle{Issue: issueJSON, State: jira.BundleState{Comments: jira.StateUnknown, Changelog: jira.StateUnknown,
		RemoteLinks: jira.StateUnknown, SLA: jira.StateComplete}}
	if c := embedded.Fields.Comment; c != nil {
		b.Comments = c.Comments
		b.State.Comments = jira.StateComplete
		if incomplete || c.Total > len(c.Comments) {
			b.State.Comments = jira.StatePartial
		}
	}
	if c := embedded.Changelog; c != nil {
		b.Histories = c.Histories
		b.State.Changelog = jira.StateComplete
		if c.Total > len(c.Histories) {
			b.State.Changelog = jira.StatePartial
		}
	}
	if len(links) > 0 && string(links) != "null" {
		if err := json.Unmarshal(links, &b.RemoteLinks); err != nil {
			return nil, time.Time{}, fmt.Errorf("_remote_links is not a list: %v", err)
		}
		if b.RemoteLinks == nil {
			b.RemoteLinks = []json.RawMessage{}
		}
		b.State.RemoteLinks = jira.StateComplete
	}
	return b, deletedAt, nil
}

// copyBrokerAttachments copies the files the broker kept,
// attachments/<KEY>/<id>_<name>, into jiraduck's layout and fills the rows;
// it returns how many were copied. The folder is the issue's key, else the
// key the file is named after (a file kept under a moved issue's old key).
func copyBrokerAttachments(rows *normalize.Rows, fileKey string, o ImportOptions) int {
	byID := map[string]string{}
	for _, key := range []string{fileKey, rows.Issue.IssueKey} {
		dir := filepath.Join(o.RawDir, "attachments", key)
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if id, _, ok := strings.Cut(e.Name(), "_"); ok && e.Type().IsRegular() {
				byID[id] = filepath.Join(dir, e.Name())
			}
		}
	}
	n := 0
	for i := range rows.Attachments {
		a := &rows.Attachments[i]
		src, ok := byID[a.AttachmentID]
		if !ok {
			if a.SizeBytes != nil && *a.SizeBytes > o.AttachmentMaxBytes {
				a.SkippedReason = ptr(fmt.Sprintf("larger than JIRADUCK_ATTACHMENT_MAX_BYTES (%d bytes)", o.AttachmentMaxBytes))
			}
			continue
		}
		rel, err := pipeline.AttachmentPath(a.IssueKey, a.AttachmentID, deref(a.Filename))
		if err != nil {
			continue
		}
		sum, err := pipeline.ImportAttachment(o.DataDir, rel, src)
		if err != nil {
			a.SkippedReason = ptr("import failed: " + err.Error())
			continue
		}
		a.LocalPath, a.SHA256 = ptr(rel), ptr(sum)
		n++
	}
	return n
}
