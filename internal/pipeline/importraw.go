package pipeline

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/jiraduck/jiraduck/internal/jira"
	"github.com/jiraduck/jiraduck/internal/normalize"
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
	Malformed   int
	// Problems names each file skipped and why (the first hundred).
	Problems []string
}

// Counts is the result as sync_runs stores it.
func (r ImportResult) Counts() map[string]int {
	return map[string]int{"files": r.Files, "imported": r.Imported, "deleted": r.Deleted, "attachments": r.Attachments, "malformed": r.Malformed}
}

// Import loads a raw layout written by the Python data broker, so that an
// existing installation moves over without fetching anything: each
// issues/<KEY>.json (the issue as GET issue answered it, comments and
// histories embedded, plus the broker's _remote_links, _deleted_at and
// _comments_incomplete keys) becomes a stored issue, and the attachment
// files are copied into place. A malformed file is reported and skipped.
func Import(ctx context.Context, s *store.Store, w *store.Writer, opts normalize.Options, o ImportOptions) (ImportResult, error) {
	var res ImportResult
	if o.Batch < 1 {
		o.Batch = 500
	}
	entries, err := os.ReadDir(filepath.Join(o.RawDir, "issues"))
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
	problem := func(name, why string) {
		res.Malformed++
		if len(res.Problems) < 100 {
			res.Problems = append(res.Problems, name+": "+why)
		}
	}
	var batch []*normalize.Rows
	var deletions []deletion
	flush := func() error {
		if len(batch) == 0 && len(deletions) == 0 {
			return nil
		}
		err := w.Do(ctx, func(ctx context.Context, tx *sql.Tx) error {
			if _, err := s.ApplyBatch(ctx, tx, batch, store.ApplyOptions{SkipStale: true}); err != nil {
				return err
			}
			for _, d := range deletions {
				if _, err := s.DeleteIssue(ctx, tx, d.id, d.key, "imported: deleted in the previous data broker", d.at); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("import: write: %w", err)
		}
		res.Imported += len(batch)
		res.Deleted += len(deletions)
		batch, deletions = batch[:0], deletions[:0]
		if o.Progress != nil {
			o.Progress(res.Imported + res.Deleted + res.Malformed)
		}
		return nil
	}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		res.Files++
		key := strings.TrimSuffix(name, ".json")
		if !jira.ValidKey(key) {
			problem(name, "not an issue key")
			continue
		}
		path := filepath.Join(o.RawDir, "issues", name)
		raw, err := os.ReadFile(path)
		if err != nil {
			problem(name, err.Error())
			continue
		}
		b, deletedAt, err := brokerBundle(raw)
		if err != nil {
			problem(name, err.Error())
			continue
		}
		if st, err := os.Stat(path); err == nil {
			b.FetchedAt = st.ModTime().UTC()
		}
		if !deletedAt.IsZero() {
			var ref struct {
				ID  jira.ID `json:"id"`
				Key string  `json:"key"`
			}
			_ = json.Unmarshal(b.Issue, &ref)
			deletions = append(deletions, deletion{id: string(ref.ID), key: key, at: deletedAt})
			continue
		}
		rows, err := normalize.FromBundle(b, opts)
		if err != nil {
			problem(name, err.Error())
			continue
		}
		if rows.Issue.IssueKey != key {
			problem(name, fmt.Sprintf("file holds issue %s", rows.Issue.IssueKey))
			continue
		}
		res.Attachments += copyBrokerAttachments(rows, o)
		batch = append(batch, rows)
		if len(batch) >= o.Batch {
			if err := flush(); err != nil {
				return res, err
			}
		}
	}
	return res, flush()
}

type deletion struct {
	id, key string
	at      time.Time
}

// brokerBundle turns one broker file into the bundle a fetch would have made.
func brokerBundle(raw []byte) (*jira.Bundle, time.Time, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, time.Time{}, fmt.Errorf("not a JSON object: %v", err)
	}
	var deletedAt time.Time
	if v, ok := top["_deleted_at"]; ok && string(v) != "null" {
		var s string
		if err := json.Unmarshal(v, &s); err == nil && s != "" {
			if t, err := jira.ParseTime(s); err == nil {
				deletedAt = t
			} else if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
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
	links, hasLinks := top["_remote_links"]
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
	b := &jira.Bundle{Issue: issueJSON, State: jira.BundleState{Comments: jira.StateComplete, Changelog: jira.StateComplete,
		RemoteLinks: jira.StateUnknown, SLA: jira.StateComplete}}
	if c := embedded.Fields.Comment; c != nil {
		b.Comments = c.Comments
		if incomplete || c.Total > len(c.Comments) {
			b.State.Comments = jira.StatePartial
		}
	}
	if c := embedded.Changelog; c != nil {
		b.Histories = c.Histories
		if c.Total > len(c.Histories) {
			b.State.Changelog = jira.StatePartial
		}
	} else {
		b.State.Changelog = jira.StateUnknown
	}
	if hasLinks {
		if err := json.Unmarshal(links, &b.RemoteLinks); err != nil {
			return nil, time.Time{}, fmt.Errorf("_remote_links is not a list: %v", err)
		}
		b.State.RemoteLinks = jira.StateComplete
	}
	return b, deletedAt, nil
}

// copyBrokerAttachments copies the files the broker kept,
// attachments/<KEY>/<id>_<name>, into jiraduck's layout and fills the rows;
// it returns how many were copied.
func copyBrokerAttachments(rows *normalize.Rows, o ImportOptions) int {
	dir := filepath.Join(o.RawDir, "attachments", rows.Issue.IssueKey)
	entries, _ := os.ReadDir(dir)
	byID := map[string]string{}
	for _, e := range entries {
		if id, _, ok := strings.Cut(e.Name(), "_"); ok && e.Type().IsRegular() {
			byID[id] = filepath.Join(dir, e.Name())
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
		rel, err := AttachmentPath(a.IssueKey, a.AttachmentID, deref(a.Filename))
		if err != nil {
			continue
		}
		sum, err := importAttachment(o.DataDir, rel, src)
		if err != nil {
			a.SkippedReason = ptr("import failed: " + err.Error())
			continue
		}
		a.LocalPath, a.SHA256 = ptr(rel), ptr(sum)
		n++
	}
	return n
}
