package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/jiraduck/jiraduck/internal/jira"
	"github.com/jiraduck/jiraduck/internal/normalize"
	"github.com/jiraduck/jiraduck/internal/pipeline"
	"github.com/jiraduck/jiraduck/internal/store"
)

// RebuildOptions shape a rebuild.
type RebuildOptions struct {
	// Batch is how many issues are normalized and written per transaction
	// (default 500): memory stays bounded whatever the store's size.
	Batch int
	// DataDir and AttachmentMaxBytes let a rebuild find the attachment files
	// already kept, and say why big ones are not.
	DataDir            string
	AttachmentMaxBytes int64
	// Progress is told after each batch.
	Progress func(done int)
	// RunID is the rebuild's sync_runs row: emptying the tables and ending
	// the rebuild are recorded there (store.CheckRebuild), so that nothing
	// publishes the tables while they are partial.
	RunID int64
	// CheckpointEvery is how many issues are written between two
	// checkpoints (default DefaultRebuildCheckpointEvery).
	CheckpointEvery int
}

// DefaultRebuildCheckpointEvery bounds what the written rows pin in DuckDB's
// memory. Until a checkpoint, the primary keys' indexes of the rows written
// stay in the pool, about 1 MB per 1,000 issues, and cannot be spilled; the
// rows themselves can. At DuckDB's own threshold (a 1 GB write-ahead log,
// about 190,000 issues), the indexes took 195 MB of a 1,000,000-issue
// rebuild's 256MB pool and its commit ran out of memory (DuckDB 1.5.6, on a
// store in storage format v1.5.0; the default format keeps the indexes the
// same way).
const DefaultRebuildCheckpointEvery = 50000

// RebuildResult counts a rebuild.
type RebuildResult struct {
	Issues  int
	Skipped int
	// Superseded counts stored payloads another payload under the same key
	// replaces (a stale copy of a moved issue, say): they add no rows.
	Superseded int
	Errors     []string
}

// Rebuild re-derives every analyst table from the stored raw payloads, with no
// Jira call: the tables are emptied, then every payload is normalized again
// and written in batches. What only a download knows (local_path, sha256) is
// kept from the rows being replaced, or read back from the file on disk.
func Rebuild(ctx context.Context, s *store.Store, w *store.Writer, opts normalize.Options, ro RebuildOptions) (RebuildResult, error) {
	var res RebuildResult
	if ro.Batch < 1 {
		ro.Batch = 500
	}
	if ro.CheckpointEvery < 1 {
		ro.CheckpointEvery = DefaultRebuildCheckpointEvery
	}
	kept, err := keptAttachments(ctx, s)
	if err != nil {
		return res, err
	}
	superseded, err := s.SupersededPayloads(ctx)
	if err != nil {
		return res, fmt.Errorf("rebuild: %w", err)
	}
	err = w.Do(ctx, func(ctx context.Context, tx *store.Tx) error {
		if err := store.EmptyTables(ctx, tx, normalize.Tables); err != nil {
			return err
		}
		if ro.RunID != 0 {
			if err := store.SetRunCursor(ctx, tx, ro.RunID, store.RebuildEmptied); err != nil {
				return err
			}
		}
		// The digests describe rows this rebuild replaces, and it writes
		// none (ApplyOptions.KeepPayload): the first apply of each issue
		// after it rewrites the issue's rows and stores them.
		return store.ForgetRowHashes(ctx, tx)
	})
	if err != nil {
		return res, fmt.Errorf("rebuild: %w", err)
	}
	// The emptied tables' blocks are free for the rows written next only
	// once a checkpoint has recorded them so. Without one the file grew by
	// every table's size: a 100,000-issue store in storage format v1.5.0
	// grew from 370 MB to 620 MB and was compacted after the rebuild, 27 s
	// of its 60 (TestRebuildCheckpoints).
	if err := s.Checkpoint(ctx); err != nil {
		return res, fmt.Errorf("rebuild: %w", err)
	}
	// Payloads are normalized on every core while the previous batch is
	// written: normalizing (JSON, ADF) and DuckDB's work then overlap.
	opts.Stored = true
	var writing chan error
	var count, checkpointed int
	wait := func() error {
		if writing == nil {
			return nil
		}
		err := <-writing
		writing = nil
		if err != nil {
			return fmt.Errorf("rebuild: write: %w", err)
		}
		res.Issues = count
		if ro.Progress != nil {
			ro.Progress(res.Issues)
		}
		return nil
	}
	// Keys written so far: a payload whose key an earlier one already took
	// (two ids whose payloads name one key while the store files them under
	// different ones) is written the usual way, deleting what that key holds
	// first; every other issue goes into tables the rebuild emptied, with
	// nothing to delete.
	//
	// The keys are kept as 64-bit hashes, half the memory of the strings
	// (the map and the key bytes it kept alive) at a million keys.
	// Two keys with one hash only make a batch take the usual way, which is
	// right for any batch, just slower.
	seed := maphash.MakeSeed()
	written := map[uint64]struct{}{}
	submit := func(batch []*normalize.Rows, fresh bool) error {
		if len(batch) == 0 {
			return nil
		}
		if err := wait(); err != nil {
			return err
		}
		// Between two writes, while the next batch is normalized.
		if count-checkpointed >= ro.CheckpointEvery {
			if err := s.Checkpoint(ctx); err != nil {
				return fmt.Errorf("rebuild: %w", err)
			}
			checkpointed = count
		}
		writing = make(chan error, 1)
		count += len(batch)
		go func(ch chan<- error) {
			ch <- w.Do(ctx, func(ctx context.Context, tx *store.Tx) error {
				_, err := s.ApplyBatch(ctx, tx, batch, store.ApplyOptions{KeepPayload: true, Fresh: fresh, DeferLinks: true})
				return err
			})
		}(writing)
		return nil
	}
	err = s.RawPayloads(ctx, ro.Batch, func(stored []store.RawPayload) error {
		payloads := make([][]byte, 0, len(stored))
		for _, p := range stored {
			if superseded[p.ID] {
				res.Superseded++
				continue
			}
			payloads = append(payloads, p.Payload)
		}
		rows, errs := normalizeStored(payloads, opts)
		var batch []*normalize.Rows
		fresh := true
		inBatch := map[string]bool{}
		for i, r := range rows {
			if errs[i] != nil {
				res.Skipped++
				if len(res.Errors) < 10 {
					res.Errors = append(res.Errors, errs[i].Error())
				}
				continue
			}
			restoreAttachments(r, kept, ro.DataDir, ro.AttachmentMaxBytes)
			key := r.Issue.IssueKey
			if inBatch[key] {
				// One transaction cannot insert a key twice.
				if err := submit(batch, fresh); err != nil {
					return err
				}
				batch, fresh, inBatch = nil, true, map[string]bool{}
			}
			h := maphash.String(seed, key)
			if _, ok := written[h]; ok {
				fresh = false
			}
			written[h], inBatch[key] = struct{}{}, true
			batch = append(batch, r)
		}
		if err := submit(batch, fresh); err != nil {
			return err
		}
		return ctx.Err()
	})
	if werr := wait(); err == nil {
		err = werr
	}
	if err != nil {
		return res, err
	}
	// Links and parent keys were written as their payloads saw the other
	// ends; they follow the stored issues now, as the live path keeps them.
	err = w.Do(ctx, func(ctx context.Context, tx *store.Tx) error {
		if _, err := store.ResolveAllLinks(ctx, tx); err != nil {
			return err
		}
		if _, err := store.ResolveAllParents(ctx, tx); err != nil {
			return err
		}
		if ro.RunID != 0 {
			return store.SetRunCursor(ctx, tx, ro.RunID, store.RebuildComplete)
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("rebuild: %w", err)
	}
	return res, nil
}

// normalizeStored normalizes stored payloads on every core, keeping their
// order; errs[i] says why payloads[i] was not usable.
func normalizeStored(payloads [][]byte, opts normalize.Options) ([]*normalize.Rows, []error) {
	rows := make([]*normalize.Rows, len(payloads))
	errs := make([]error, len(payloads))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(payloads)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(payloads) {
					return
				}
				b, err := jira.DecodeBundle(payloads[i])
				if err != nil {
					errs[i] = fmt.Errorf("stored payload: %w", err)
					continue
				}
				rows[i], errs[i] = normalize.FromBundle(b, opts)
			}
		})
	}
	wg.Wait()
	return rows, errs
}

// keptAttachment is what a download left in the attachments table.
type keptAttachment struct {
	path, sum, skipped string
	size               int64
}

func keptAttachments(ctx context.Context, s *store.Store) (map[string]keptAttachment, error) {
	stored, err := s.DownloadedAttachments(ctx)
	if err != nil {
		return nil, fmt.Errorf("rebuild: %w", err)
	}
	out := make(map[string]keptAttachment, len(stored))
	for id, a := range stored {
		out[id] = keptAttachment{path: a.LocalPath, sum: a.SHA256, skipped: a.SkippedReason, size: a.Size}
	}
	return out, nil
}

// restoreAttachments fills what only a download knows: from the row being
// replaced when there is one, else from the file on disk (its digest is
// computed), else the reason a big file is not kept.
func restoreAttachments(rows *normalize.Rows, kept map[string]keptAttachment, dataDir string, maxBytes int64) {
	for i := range rows.Attachments {
		a := &rows.Attachments[i]
		size := int64(-1)
		if a.SizeBytes != nil {
			size = *a.SizeBytes
		}
		if k, ok := kept[a.AttachmentID]; ok && (k.size == size || size < 0) {
			if k.path != "" {
				a.LocalPath, a.SHA256 = ptr(k.path), ptr(k.sum)
			}
			if k.skipped != "" {
				a.SkippedReason = ptr(k.skipped)
			}
			continue
		}
		if size > maxBytes {
			a.SkippedReason = ptr(fmt.Sprintf("larger than JIRADUCK_ATTACHMENT_MAX_BYTES (%d bytes)", maxBytes))
			continue
		}
		rel, err := pipeline.AttachmentPath(a.IssueKey, a.AttachmentID, deref(a.Filename))
		if err != nil || dataDir == "" {
			continue
		}
		if sum, ok := digestIfSize(dataDir, rel, size); ok {
			a.LocalPath, a.SHA256 = ptr(rel), ptr(sum)
		}
	}
}

// digestIfSize returns the SHA-256 of the regular file of the given size at
// rel under dataDir. It reads through an os.Root, like every attachment
// write: a link planted at rel that leads out of the data directory is not
// taken for the attachment.
func digestIfSize(dataDir, rel string, size int64) (string, bool) {
	root, err := os.OpenRoot(dataDir)
	if err != nil {
		return "", false
	}
	defer root.Close()
	f, err := root.Open(rel)
	if err != nil {
		return "", false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || (size >= 0 && st.Size() != size) {
		return "", false
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", false
	}
	return hex.EncodeToString(h.Sum(nil)), true
}
