package app

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/dimensions"
	"github.com/jiraduck/jiraduck/internal/export"
	"github.com/jiraduck/jiraduck/internal/jira/client"
	"github.com/jiraduck/jiraduck/internal/jobs"
	"github.com/jiraduck/jiraduck/internal/pipeline"
	"github.com/jiraduck/jiraduck/internal/publish"
	"github.com/jiraduck/jiraduck/internal/store"
	"github.com/sirupsen/logrus"
)

// Batch is what a one-shot command that writes the store needs: the store,
// its writer, the Jira client, the field catalog, the processor and an
// exporter, wired as serve's (Service) are, with the exporter run once at
// the end instead of in the background.
type Batch struct {
	cfg       *config.Config
	log       logrus.FieldLogger
	core      *core
	Store     *store.Store
	Writer    *store.Writer
	Client    *client.Client // nil unless the command needs Jira
	Catalog   *pipeline.Catalog
	Processor *pipeline.Processor
	Exporter  *export.Exporter
	// Dimensions refreshes the dimension tables (projects, users...).
	Dimensions *dimensions.Refresher
	// Publisher copies the tree to the bucket after the export; nil when
	// publishing is off.
	Publisher *publish.Publisher
}

// BatchExportWorkers is how many partitions a batch command writes at once.
// A rebuild rewrites every partition, and one COPY of a month keeps about one
// core busy, so two at once shorten a full export on two cores. Serve
// writes one at a time.
const BatchExportWorkers = 2

// BatchOptions say what a batch command needs beyond the store.
type BatchOptions struct {
	// Jira builds the client and loads the field list from Jira.
	Jira bool
	// Held ends the error given when serve holds the store, after
	// "<command>: <store> is held by a running jiraduck serve". The default
	// asks the operator to stop serve first; export, which serve does by
	// itself, says so instead.
	Held string
}

// heldByServe is how a batch command's error about a store held by serve
// ends unless BatchOptions.Held says otherwise.
const heldByServe = "; stop it first (serve keeps the store fresh by itself)"

// OpenBatch opens the store for a batch command, and with opts.Jira builds
// the client and loads the field list from Jira.
func OpenBatch(ctx context.Context, cfg *config.Config, log logrus.FieldLogger, name string, opts BatchOptions) (*Batch, error) {
	if opts.Jira && !cfg.JiraConfigured() {
		return nil, &config.Error{Var: "JIRA_BASE_URL", Problem: name + " needs Jira: set JIRA_DOMAIN or JIRA_BASE_URL, JIRA_EMAIL and JIRA_API_TOKEN"}
	}
	o := coreOptions{command: name, exportWorkers: BatchExportWorkers, jira: opts.Jira, relieveIndexes: true}
	c, err := openCore(ctx, cfg, log, o)
	if errors.Is(err, store.ErrLocked) {
		held := opts.Held
		if held == "" {
			held = heldByServe
		}
		return nil, fmt.Errorf("%s: %s is held by a running jiraduck serve%s", name, StorePath(cfg), held)
	}
	if err != nil {
		return nil, err
	}
	b := &Batch{cfg: cfg, log: log, core: c}
	if b.Publisher, err = NewPublisher(ctx, cfg, log, nil); err != nil {
		b.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := AlignIssueColumns(ctx, cfg, log, c.store, c.writer); err != nil {
		b.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := c.wire(ctx, cfg, log, o); err != nil {
		b.Close()
		return nil, err
	}
	b.Store, b.Writer, b.Client, b.Catalog, b.Processor, b.Exporter = c.store, c.writer, c.client, c.catalog, c.proc, c.exporter
	b.Dimensions = c.dims
	if b.Client != nil {
		if err := b.Catalog.Refresh(ctx, b.Client, b.Writer); err != nil {
			b.Close()
			return nil, fmt.Errorf("%s: read Jira's field list: %w", name, err)
		}
	}
	return b, nil
}

// ExportDirty publishes every partition the command changed, even when the
// command itself was interrupted. It checkpoints first: what a load appended
// since DuckDB's last checkpoint, and the index entries it added, stay pinned
// in memory until a checkpoint writes them out, and the exports after a
// 1,000,000-issue rebuild ran out of memory at the 512MB cap when the last
// automatic checkpoint was long before. The checkpoint at Close has that
// much less to do. The memory Go's collector holds for the command's own
// work (a rebuild's map of the keys it wrote, its batches) is handed back to
// the system first: the exports are where a large rebuild peaks, and Go
// would otherwise return it only gradually.
func (b *Batch) ExportDirty() (int, error) {
	ctx := context.Background()
	if err := b.Store.Checkpoint(ctx); err != nil {
		b.log.WithError(err).Warn("checkpoint before exporting failed; exporting all the same")
	}
	debug.FreeOSMemory()
	done, err := b.Exporter.ExportDirty(ctx)
	if _, perr := b.Publish(ctx); perr != nil {
		// The command's own work is done and stored; the backlog waits
		// in the data directory for serve or jiraduck publish.
		b.log.WithError(perr).Error("publish failed; the backlog is kept: serve or jiraduck publish uploads it")
	}
	return len(done), err
}

// Publish makes one publish pass when publishing is configured.
func (b *Batch) Publish(ctx context.Context) (publish.Result, error) {
	if b.Publisher == nil {
		return publish.Result{}, nil
	}
	return b.Publisher.Pass(ctx, publish.PassOptions{})
}

// Close flushes the writer, closes the store and compacts it when it is
// wasteful (see compactStore).
func (b *Batch) Close() {
	if err := b.core.close(); err == nil {
		// A batch command has no shutdown limit, and its checkpoints
		// rewrote the row groups it wrote to: a 100,000-issue backfill
		// left 3.84 GB for 2.19 GB written once. Compacting now spares
		// serve's next start the copy (2 min 38 s for that store).
		_ = compactStore(context.Background(), b.cfg, b.log)
	}
}

// JobDeps are a batch command's dependencies for the scheduled jobs: a healed
// issue is fetched and written at once through the processor.
func (b *Batch) JobDeps() jobs.Deps {
	return jobs.Deps{Client: b.Client, Store: b.Store, Writer: b.Writer, Options: b.Catalog.Options,
		SLAFields: b.Catalog.SLAFieldIDs,
		Heal: func(ctx context.Context, id, key string) error {
			_, err := b.Processor.Process(ctx, pipeline.Request{KeyOrID: id, ID: id, Key: key})
			return err
		}}
}

// Run is how a job recorded in sync_runs ended.
type Run struct {
	// Status is store.RunOK, store.RunFailed or store.RunInterrupted.
	Status string
	// Counts are the job's counts and partitions_exported.
	Counts map[string]int
	// Exported is how many partitions the run published.
	Exported int
	// JobErr is the job's own error, ExportErr the publishing's.
	JobErr, ExportErr error
	// FinishErr is the failure to record the end of the run.
	FinishErr error
}

// Record runs fn as a job recorded in sync_runs and exports the partitions
// it changed. A job that fails still publishes what it wrote (each issue it
// wrote is whole), unless publishPartial is false: a rebuild that fails
// leaves tables it emptied partly filled, and exporting them would take rows
// away from the analysts' files. The error is the failure to record the
// start, when fn did not run.
func (b *Batch) Record(ctx context.Context, job string, args map[string]any, publishPartial bool, fn func(runID int64) (map[string]int, error)) (Run, error) {
	id, err := b.Store.StartRun(ctx, job, args)
	if err != nil {
		return Run{}, err
	}
	var r Run
	r.Counts, r.JobErr = fn(id)
	if r.JobErr == nil || publishPartial {
		r.Exported, r.ExportErr = b.ExportDirty()
	}
	if r.Counts == nil {
		r.Counts = map[string]int{}
	}
	r.Counts["partitions_exported"] = r.Exported
	r.Status = store.RunOK
	switch {
	case errors.Is(r.JobErr, context.Canceled):
		r.Status = store.RunInterrupted
	case r.JobErr != nil || r.ExportErr != nil:
		r.Status = store.RunFailed
	}
	r.FinishErr = b.Store.FinishRun(context.Background(), id, r.Status, r.Counts, errors.Join(r.JobErr, r.ExportErr))
	return r, nil
}

// RecordRun is Record for a command that reports one error: the failure to
// record the run, or else the job's and the export's.
func (b *Batch) RecordRun(ctx context.Context, job string, args map[string]any, publishPartial bool, fn func(runID int64) (map[string]int, error)) (map[string]int, error) {
	r, err := b.Record(ctx, job, args, publishPartial, fn)
	if err != nil {
		return nil, err
	}
	if r.FinishErr != nil {
		return r.Counts, r.FinishErr
	}
	return r.Counts, errors.Join(r.JobErr, r.ExportErr)
}
