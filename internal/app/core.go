package app

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/dimensions"
	"github.com/jiraduck/jiraduck/internal/export"
	"github.com/jiraduck/jiraduck/internal/jira/client"
	"github.com/jiraduck/jiraduck/internal/pipeline"
	"github.com/jiraduck/jiraduck/internal/store"
	"github.com/sirupsen/logrus"
)

// core is what serve (Service) and the one-shot commands that write the
// store (Batch) wire the same way: the store and its writer, the exporter,
// the field catalog, the Jira client and the processor.
type core struct {
	store  *store.Store
	writer *store.Writer
	// writeBatch is the most issues one of the writer's transactions
	// holds (config.MemoryPlan.WriteBatch), which serve's queue hands it
	// at once.
	writeBatch int
	exporter   *export.Exporter
	client     *client.Client // nil unless Jira is configured and asked for
	catalog    *pipeline.Catalog
	proc       *pipeline.Processor
	// dims keeps the dimension tables (projects, users, versions...).
	dims *dimensions.Refresher
}

// coreOptions are where serve and the batch commands differ.
type coreOptions struct {
	// command names the store's memory limit (config.MemoryLimitFor).
	command string
	// notifyExporter wakes the exporter after each write, for a running
	// exporter (serve's); a batch command exports once, at its end.
	notifyExporter bool
	// exportWorkers and exportObserve go to the exporter.
	exportWorkers int
	exportObserve func(p store.Partition, rows int64, took, sinceMarked time.Duration)
	// jira builds the Jira client, when Jira is configured; observer
	// watches its calls.
	jira     bool
	observer client.Observer
	// observeAttachment and onUnknownField go to the processor.
	observeAttachment func(bytes int64, skipped string)
	onUnknownField    func()
	// published is called after each rewrite of the manifest (the bucket's
	// publisher).
	published func()
	// relieveIndexes makes the writer checkpoint when the primary keys'
	// indexes fill a third of DuckDB's pool (config.IndexCheckpoint): the
	// batch commands, which write keys the store did not hold, so that a
	// checkpoint releases them for good. Not serve: edits spread over the
	// store look its keys up again, and under P8 the indexes were back at
	// the limit within 15 to 35 s of each checkpoint, which took 7.5 to 11 s
	// of the writer's time (docs/benchmarks.md, P7).
	relieveIndexes bool
	// phase, if set, is told each phase of opening the store
	// (server.Phase*).
	phase func(string)
}

// openCore opens the store, bringing its schema up to date, with its writer
// and an exporter that is not started. The caller aligns the issue columns
// (AlignIssueColumns) before the exporter runs, and then calls wire.
func openCore(ctx context.Context, cfg *config.Config, log logrus.FieldLogger, o coreOptions) (*core, error) {
	s, err := openStore(ctx, cfg, log, o.command, o.phase)
	if err != nil {
		return nil, err
	}
	c := &core{store: s}
	var notify func(int)
	if o.notifyExporter {
		// c.exporter is set below, before the first write.
		notify = func(int) {
			if c.exporter != nil {
				c.exporter.Notify()
			}
		}
	}
	c.writeBatch = cfg.MemoryPlanFor(o.command).WriteBatch()
	c.writer = s.NewWriter(c.writeBatch, notify)
	if o.relieveIndexes {
		c.writer.CheckpointAbove(cfg.MemoryPlanFor(o.command).IndexCheckpoint())
	}
	c.exporter = export.New(s, c.writer, export.Options{DataDir: cfg.DataDir, Site: cfg.Site, IssueColumns: ExportIssueColumns(cfg), Logger: log,
		Workers: o.exportWorkers, Observe: o.exportObserve, Published: o.published})
	return c, nil
}

// wire builds the Jira client (with o.jira, when Jira is configured), loads
// the field catalog from the store and builds the processor on them.
func (c *core) wire(ctx context.Context, cfg *config.Config, log logrus.FieldLogger, o coreOptions) error {
	if o.jira {
		var err error
		if c.client, err = jiraClient(cfg, log, o.observer); err != nil {
			return err
		}
	}
	c.catalog = pipeline.NewCatalog(cfg)
	if err := c.catalog.Load(ctx, c.store); err != nil {
		return err
	}
	c.proc = pipeline.NewProcessor(c.client, c.store, c.writer, c.catalog, pipeline.ProcessorOptions{
		DataDir: cfg.DataDir, AttachmentMaxBytes: cfg.AttachmentMaxBytes, AttachmentParallel: 4, Logger: log,
		ObserveAttachment: o.observeAttachment, OnUnknownField: o.onUnknownField})
	c.dims = dimensions.NewRefresher(dimensions.Deps{Client: c.client, Store: c.store, Writer: c.writer, Logger: log}, nil)
	if err := c.dims.Ensure(ctx); err != nil {
		return fmt.Errorf("dimension tables: %w", err)
	}
	return nil
}

// close flushes the writer, then checkpoints and closes the store: closing
// is what checkpoints DuckDB's WAL, the explicit checkpoint first says when
// that failed.
func (c *core) close() error {
	if c.writer != nil {
		c.writer.Close()
	}
	// The checkpoint rewrites what the last writes touched, with memory of
	// its own; the Go heap the work left behind goes back first, so that the
	// process's peak is the larger of the two, not their sum.
	debug.FreeOSMemory()
	return errors.Join(c.store.Checkpoint(context.Background()), c.store.Close())
}
