package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jiraduck/jiraduck/internal/jira"
	"github.com/jiraduck/jiraduck/internal/jira/client"
	"github.com/jiraduck/jiraduck/internal/logx"
	"github.com/jiraduck/jiraduck/internal/normalize"
	"github.com/jiraduck/jiraduck/internal/store"
	"github.com/sirupsen/logrus"
)

// Outcome says what processing an issue did.
type Outcome string

// Outcomes of Process.
const (
	Applied   Outcome = "applied"   // fetched and written
	Unchanged Outcome = "unchanged" // fetched; no analyst row changed
	Stale     Outcome = "stale"     // fetched, but the store already held a newer version
	Deleted   Outcome = "deleted"   // confirmed gone and removed
	Gone      Outcome = "gone"      // Jira says 404 but no deletion was asked: nothing removed
)

// Processor fetches one issue whole and writes it in one transaction: the one
// code path of webhooks, backfill, the SLA heal and reconcile.
type Processor struct {
	client  *client.Client
	store   *store.Store
	writer  *store.Writer
	catalog *Catalog
	dl      *downloader
	log     logrus.FieldLogger
	// OnRefreshNeeded is called when an issue carries an unknown field.
	onUnknownField func()
	// failures are the issues whose latest fetch failed (fetch_failures).
	failures failures
}

// ProcessorOptions configure a Processor.
type ProcessorOptions struct {
	DataDir            string
	AttachmentMaxBytes int64
	AttachmentParallel int
	Logger             logrus.FieldLogger
	// ObserveAttachment is told the bytes of each download, or why one was
	// skipped ("too_large", "foreign_host", "failed").
	ObserveAttachment func(bytes int64, skipped string)
	// OnUnknownField is called when an issue carries a field the catalog lacks.
	OnUnknownField func()
}

// NewProcessor wires a Processor.
func NewProcessor(jc *client.Client, s *store.Store, w *store.Writer, c *Catalog, opts ProcessorOptions) *Processor {
	log := opts.Logger
	if log == nil {
		log = logx.Discard()
	}
	return &Processor{client: jc, store: s, writer: w, catalog: c, log: log.WithField("component", "pipeline"),
		onUnknownField: opts.OnUnknownField,
		dl: &downloader{client: jc, dataDir: opts.DataDir, maxBytes: opts.AttachmentMaxBytes,
			parallel: max(opts.AttachmentParallel, 1), observe: opts.ObserveAttachment}}
}

// Request is one issue to process.
type Request struct {
	// KeyOrID names the issue for Jira.
	KeyOrID string
	// ID is the issue id when known; a deletion needs it or the key.
	ID, Key string
	// Delete asks to remove the issue if Jira confirms it is gone (404).
	Delete bool
	// Events are webhook events this processing completes, marked done in
	// the same transaction as the rows.
	Events []int64
	// Reason is recorded on a deletion.
	Reason string
	// Unstored says the store held no version of the issue when the work
	// was planned (a backfill knows it of every issue it lists), so there
	// are no kept attachment files to look up.
	Unstored bool
}

// Process fetches and writes one issue. A failed GET issue is an error (the
// caller retries); a failed sub-collection is recorded in the stored state.
func (p *Processor) Process(ctx context.Context, req Request) (Outcome, error) {
	rows, outcome, err := p.Prepare(ctx, req)
	if err != nil || rows == nil {
		return outcome, err
	}
	return p.Write(ctx, rows, req.Events)
}

// Prepare does everything of Process but the write: it fetches the issue,
// normalizes it and downloads its attachments. A 404 is handled at once (a
// requested deletion is written) and returns no rows. Batch jobs write the
// prepared rows of many issues in one transaction.
func (p *Processor) Prepare(ctx context.Context, req Request) (*normalize.Rows, Outcome, error) {
	b, err := p.client.FetchIssue(ctx, req.KeyOrID, p.FetchOptions())
	if errors.Is(err, jira.ErrNotFound) {
		p.fetched(ctx, req, nil)
		out, err := p.notFound(ctx, req)
		return nil, out, err
	}
	if err != nil {
		p.fetchFailed(ctx, req, err)
		return nil, "", err
	}
	rows, err := p.PrepareFetched(ctx, req, b)
	return rows, "", err
}

// PrepareBulk is Prepare of an issue a bulk fetch returned: what the bulk
// answer lacks (remote links, the pages of cut lists) is read, then the
// issue is prepared as fetched.
func (p *Processor) PrepareBulk(ctx context.Context, req Request, bi *client.BulkIssue) (*normalize.Rows, Outcome, error) {
	b, err := p.client.CompleteIssue(ctx, bi)
	if err != nil {
		p.fetchFailed(ctx, req, err)
		return nil, "", err
	}
	rows, err := p.PrepareFetched(ctx, req, b)
	return rows, "", err
}

// FetchOptions are the options every fetch of the processor's issues takes:
// a batch job that fetches issues itself (a bulk fetch) passes them too.
func (p *Processor) FetchOptions() client.FetchOptions {
	return client.FetchOptions{SLAFieldIDs: p.catalog.SLAFieldIDs()}
}

// PrepareFetched is Prepare of an issue already fetched whole (a bundle a
// bulk fetch and client.CompleteIssue made): it normalizes the bundle and
// downloads the attachments.
func (p *Processor) PrepareFetched(ctx context.Context, req Request, b *jira.Bundle) (*normalize.Rows, error) {
	rows, err := normalize.FromBundle(b, p.catalog.Options())
	if err != nil {
		// A payload we cannot use will not get better by asking again soon.
		err = &PermanentError{Err: fmt.Errorf("normalize %s: %w", req.KeyOrID, err)}
		p.fetchFailed(ctx, req, err)
		return nil, err
	}
	p.fetched(ctx, req, rows)
	if p.onUnknownField != nil {
		var ids []string
		for _, f := range rows.Fields {
			ids = append(ids, f.FieldID)
		}
		if !p.catalog.Knows(ids) {
			p.onUnknownField()
		}
	}
	if len(rows.Attachments) > 0 {
		var stored map[string]store.StoredAttachment
		if !req.Unstored {
			stored, err = p.store.StoredAttachments(ctx, rows.Issue.IssueKey)
			if err != nil {
				return nil, err
			}
		}
		rows.Raw.AttachmentsState = p.dl.fetchAll(ctx, rows.Attachments, stored)
	}
	return rows, nil
}

// WriteBatch writes prepared issues in one transaction (each issue at most
// once), skipping those the store holds newer, and returns each issue's
// error, nil where it was written. When the transaction fails, every issue
// is written again alone, so that one issue at fault (an id another issue
// holds) fails alone and the others of its batch are stored.
func (p *Processor) WriteBatch(ctx context.Context, batch []*normalize.Rows) []error {
	errs := make([]error, len(batch))
	err := p.writeBatch(ctx, batch)
	if err == nil {
		return errs
	}
	if len(batch) == 1 || ctx.Err() != nil {
		for i, r := range batch {
			errs[i] = p.store.ExplainConflict(ctx, r, err)
		}
		return errs
	}
	for i, r := range batch {
		if err := p.writeBatch(ctx, batch[i:i+1]); err != nil {
			errs[i] = p.store.ExplainConflict(ctx, r, err)
		}
	}
	return errs
}

func (p *Processor) writeBatch(ctx context.Context, batch []*normalize.Rows) error {
	return p.writer.Do(ctx, func(ctx context.Context, tx *store.Tx) error {
		_, err := p.store.ApplyBatch(ctx, tx, batch, store.ApplyOptions{SkipStale: true})
		return err
	})
}

// Write applies normalized rows and completes events in one transaction,
// unless the store already holds a newer version of the issue.
func (p *Processor) Write(ctx context.Context, rows *normalize.Rows, events []int64) (Outcome, error) {
	res, err := p.writer.Apply(ctx, rows, events)
	switch {
	case err != nil:
		return "", err
	case res.Stale:
		return Stale, nil
	case len(res.Changed) == 0:
		return Unchanged, nil
	}
	return Applied, nil
}

// notFound handles a 404: a requested deletion is carried out; otherwise the
// issue is gone or hidden from the account and nothing stored is removed
// (reconcile confirms deletions).
func (p *Processor) notFound(ctx context.Context, req Request) (Outcome, error) {
	if !req.Delete {
		err := p.writer.Do(ctx, func(ctx context.Context, tx *store.Tx) error {
			return store.FinishEvents(ctx, tx, req.Events, store.EventDone, "issue not found in jira (deleted or not visible to the account)", 1)
		})
		return Gone, err
	}
	reason := req.Reason
	if reason == "" {
		reason = "jira:issue_deleted"
	}
	err := p.writer.Do(ctx, func(ctx context.Context, tx *store.Tx) error {
		if _, err := p.store.DeleteIssue(ctx, tx, req.ID, req.Key, reason, time.Now().UTC()); err != nil {
			return err
		}
		return store.FinishEvents(ctx, tx, req.Events, store.EventDone, "", 1)
	})
	if err != nil {
		return "", err
	}
	return Deleted, nil
}

// PermanentError is a failure that retrying soon will not fix.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// retryable reports whether a failed processing is worth another attempt.
func retryable(err error) bool {
	var pe *PermanentError
	if errors.As(err, &pe) {
		return false
	}
	return !errors.Is(err, jira.ErrUnauthorized) && !errors.Is(err, jira.ErrForbidden) && !errors.Is(err, jira.ErrInvalidKey)
}
