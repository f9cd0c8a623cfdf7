// Package export publishes the analyst tables as monthly Parquet partitions,
// parquet/jira/<table>/month=YYYY-MM/data.parquet, rewriting only the months
// that changed. A partition is written by DuckDB to a staging file outside
// parquet/, fsynced and renamed into place, so a reader (rsync, a DuckDB glob)
// sees the old file or the new one, never half of one and never both.
package export

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jiraduck/jiraduck/internal/dimensions"
	"github.com/jiraduck/jiraduck/internal/files"
	"github.com/jiraduck/jiraduck/internal/logx"
	"github.com/jiraduck/jiraduck/internal/normalize"
	"github.com/jiraduck/jiraduck/internal/store"
	"github.com/sirupsen/logrus"
)

// Options configure an Exporter.
type Options struct {
	// DataDir is the root of the data directory.
	DataDir string
	// Site is the site's name (JIRADUCK_SITE), written into manifest.json
	// so that readers of a copy (the analysts' sync kit) can give their
	// views the site column the bucket's layout gives.
	Site string
	// IssueColumns is the column order of issues' files (store.IssueColumns).
	IssueColumns []string
	// Interval is how often the loop looks for dirty partitions without being
	// notified (default 1s).
	Interval time.Duration
	Logger   logrus.FieldLogger
	// Workers is how many partitions are written at once (default 1). The
	// batch commands, which may rewrite every partition, use two; serve
	// keeps one, so that its memory stays low beside its writes.
	Workers int
	// RowGroupRows is the most rows of a row group of the files (default
	// DefaultRowGroupRows).
	RowGroupRows int
	// MaxStale bounds how long a partition of another table waits while the
	// issues table's partitions keep going before it (default 10s): see
	// ExportDirty.
	MaxStale time.Duration
	// Fresh is how old the new mark of an issues partition that a pass has
	// written already must be before the partition goes again ahead of the
	// rest of the pass (default 1s).
	Fresh time.Duration
	// Observe, if set, is called after each partition is published with its
	// rows, how long writing it took and how long since the change that
	// dirtied it was committed; from several goroutines when Workers > 1.
	Observe func(p store.Partition, rows int64, took, sinceMarked time.Duration)
	// Published, if set, is called after each rewrite of the manifest: the
	// tree is consistent again (the bucket's publisher wakes on it).
	Published func()
}

// Exporter writes dirty partitions. Run it as a loop in serve, or call
// ExportDirty once from a command.
type Exporter struct {
	s      *store.Store
	w      *store.Writer
	opts   Options
	log    logrus.FieldLogger
	notify chan struct{}

	// backlog, once set (PutOffWhile), reports many writes still to come;
	// final is set for Run's last pass, which puts nothing off.
	backlog atomic.Pointer[func() bool]
	final   atomic.Bool

	mu sync.Mutex // serialises export passes
	// manifestBehind, under mu: a pass recorded partitions but failed to
	// rewrite manifest.json, which the next pass does even with nothing
	// dirty.
	manifestBehind bool
	// since is when each dirty partition was first seen dirty and not
	// exported since, under mu: what MaxStale is measured from. marked_at
	// cannot tell, as every mark moves it.
	since map[store.Partition]time.Time

	// beforeCopy, set by tests, runs before each partition's COPY; an error
	// it returns is the partition's.
	beforeCopy func(store.DirtyPartition) error

	stateMu    sync.Mutex
	lastExport time.Time
	lastErr    error
	failures   int
}

// New builds an Exporter that reads through s and records through w.
func New(s *store.Store, w *store.Writer, opts Options) *Exporter {
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.MaxStale <= 0 {
		opts.MaxStale = 10 * time.Second
	}
	if opts.RowGroupRows <= 0 {
		opts.RowGroupRows = DefaultRowGroupRows
	}
	if opts.Fresh <= 0 {
		opts.Fresh = time.Second
	}
	log := opts.Logger
	if log == nil {
		log = logx.Discard()
	}
	return &Exporter{s: s, w: w, opts: opts, log: log.WithField("component", "export"), notify: make(chan struct{}, 1),
		since: map[store.Partition]time.Time{}}
}

// Root is the folder of the published partitions.
func Root(dataDir string) string { return filepath.Join(dataDir, "parquet", "jira") }

// PartitionPath is the published file of a partition; a dimension table
// (month "") has one file, parquet/jira/<table>/data.parquet.
func PartitionPath(dataDir, table, month string) string {
	if month == "" {
		return filepath.Join(Root(dataDir), table, "data.parquet")
	}
	return filepath.Join(Root(dataDir), table, "month="+month, "data.parquet")
}

// PutOffWhile makes the exporter put partitions off while backlog reports
// that many issue writes are still to come (a storm's or a bulk edit's
// issues waiting for the workers and the writer): they will dirty the same
// months again, and a partition written now is written again after them
// while its CPU and disk were the writer's. A partition is put off until it
// has been dirty for MaxStale, so freshness stays bounded however long the
// backlog lasts; the loop's tick resumes the rest within Interval of the
// backlog's end.
func (e *Exporter) PutOffWhile(backlog func() bool) {
	e.backlog.Store(&backlog)
}

// puttingOff reports whether d is to wait: a backlog and d not yet dirty
// for MaxStale. Called under e.mu.
func (e *Exporter) puttingOff(d store.DirtyPartition) bool {
	fn := e.backlog.Load()
	if fn == nil || e.final.Load() || !(*fn)() {
		return false
	}
	since, ok := e.since[d.Partition]
	return ok && time.Since(since) < e.opts.MaxStale
}

// Notify wakes the loop: something was committed.
func (e *Exporter) Notify() {
	select {
	case e.notify <- struct{}{}:
	default:
	}
}

// Run exports dirty partitions until ctx ends, then makes a last pass so that
// everything committed before shutdown is published.
func (e *Exporter) Run(ctx context.Context) {
	if err := e.cleanStaging(); err != nil {
		e.log.WithError(err).Warn("could not remove staging files left by an earlier run")
	}
	if err := e.repairManifest(ctx); err != nil {
		e.log.WithError(err).Warn("could not check the manifest against the published partitions")
	}
	t := time.NewTicker(e.opts.Interval)
	defer t.Stop()
	backoff := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			// Everything committed is published before the process ends,
			// backlog or not: the queue keeps what it did not write for
			// the next start.
			e.final.Store(true)
			final, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if _, err := e.ExportDirty(final); err != nil {
				e.log.WithError(err).Error("final export failed")
			}
			cancel()
			return
		case <-e.notify:
		case <-t.C:
		}
		if backoff > 0 {
			select {
			case <-ctx.Done():
				continue
			case <-time.After(backoff):
			}
		}
		_, err := e.ExportDirty(ctx)
		if err != nil && ctx.Err() == nil {
			backoff = min(max(2*backoff, 500*time.Millisecond), 30*time.Second)
			e.stateMu.Lock()
			e.failures++
			n := e.failures
			e.stateMu.Unlock()
			// One line per failure streak step, not one per tick.
			if n <= 3 || n%20 == 0 {
				e.log.WithError(err).WithField("failures", n).Error("export failed")
			}
			continue
		}
		backoff = 0
	}
}

// cleanStaging removes what a crash in the middle of an export left: the
// partition staging files under .staging/ and the manifest's temporary file
// in parquet/jira. Nothing else writes them: only the process that holds the
// store exports, and Run starts before its first export.
func (e *Exporter) cleanStaging() error {
	leftovers, err := filepath.Glob(filepath.Join(e.opts.DataDir, ".staging", "*.parquet"))
	if err != nil {
		return err
	}
	manifests, err := filepath.Glob(filepath.Join(Root(e.opts.DataDir), ".manifest.json.*.tmp"))
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range append(leftovers, manifests...) {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if n := len(leftovers) + len(manifests); n > 0 {
		e.log.WithField("files", n).Info("removed staging files left by an interrupted export")
	}
	return errors.Join(errs...)
}

// repairManifest rewrites the manifest when it disagrees with the partitions
// the store records as published: a crash between publishing a partition
// (recorded in the same step) and rewriting the manifest leaves the old one,
// which would otherwise stay until the next change.
func (e *Exporter) repairManifest(ctx context.Context) error {
	parts, err := e.s.Partitions(ctx)
	if err != nil {
		return err
	}
	m, err := ReadManifest(e.opts.DataDir)
	switch {
	case errors.Is(err, os.ErrNotExist) && len(parts) == 0:
		return nil
	case err == nil && samePartitions(m.Partitions, parts):
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.log.Info("manifest disagrees with the published partitions; rewriting it")
	return e.writeManifest(ctx)
}

func samePartitions(a, b []store.PublishedPartition) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Table != y.Table || x.Month != y.Month || x.Rows != y.Rows || x.Bytes != y.Bytes || x.SHA256 != y.SHA256 || !x.WrittenAt.Equal(y.WrittenAt) {
			return false
		}
	}
	return true
}

// Status is what health and the status page show of the exporter.
type Status struct {
	LastExport time.Time
	LastError  string
	Failures   int
}

// Status reports the last successful pass and the current failure streak.
func (e *Exporter) Status() Status {
	e.stateMu.Lock()
	defer e.stateMu.Unlock()
	st := Status{LastExport: e.lastExport, Failures: e.failures}
	if e.lastErr != nil {
		st.LastError = e.lastErr.Error()
	}
	return st
}

// ExportDirty exports every dirty partition once and rewrites the manifest.
// It returns the partitions it published or removed.
//
// The issues table's partitions go first, each month in the order it became
// dirty: an edit reaches the table analysts read first before the rows it
// adds elsewhere. With one worker (serve), an issues partition dirtied while
// the pass writes the other tables' is written next, before the rest of the
// pass: under a sustained load every month is dirty again within a second,
// and a pass that wrote every table's partitions before looking again kept
// an edit from the issues table's files for as long as the whole pass took.
// So that the other tables are not put off for ever, once a partition has
// been dirty for MaxStale the two take turns, one partition each.
//
// The pass records what it published in one transaction at its end, not one
// per partition: each record waited for the writer, busy with the issues
// whose edits the exporter is to publish.
func (e *Exporter) ExportDirty(ctx context.Context) ([]store.Partition, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.s.CheckRebuild(ctx); err != nil {
		return nil, e.fail(err)
	}
	pass := map[store.Partition]store.ExportRecord{}
	dirty, err := e.listDirty(ctx, pass)
	if err != nil {
		return nil, e.fail(err)
	}
	if len(dirty) == 0 {
		if e.manifestBehind {
			// The last pass recorded what it published but could not
			// rewrite the manifest: nothing is dirty, so nothing else
			// would.
			if err := e.writeManifest(ctx); err != nil {
				return nil, e.fail(err)
			}
			e.manifestBehind = false
		}
		return nil, nil
	}
	var firstErr error
	if e.opts.Workers > 1 {
		firstErr = e.exportAll(ctx, dirty, pass)
	} else {
		firstErr = e.exportInTurn(ctx, dirty, pass)
	}
	var done []store.Partition
	for _, x := range pass {
		done = append(done, x.Dirty.Partition)
	}
	slices.SortFunc(done, func(a, b store.Partition) int { return strings.Compare(a.Table+"/"+a.Month, b.Table+"/"+b.Month) })
	if len(pass) > 0 {
		// The files are in place: their record and the manifest follow
		// even when ctx ends meanwhile (a shutdown), or the manifest would
		// name rows the files no longer hold until the next start.
		bookkeeping := context.WithoutCancel(ctx)
		err := e.record(bookkeeping, pass)
		if err == nil {
			err = e.writeManifest(bookkeeping)
			e.manifestBehind = err != nil
		}
		firstErr = cmpOr(firstErr, err)
	}
	if firstErr != nil {
		return done, e.fail(firstErr)
	}
	e.stateMu.Lock()
	e.lastExport, e.lastErr, e.failures = time.Now().UTC(), nil, 0
	e.stateMu.Unlock()
	return done, nil
}

// record clears the marks the pass has seen and records what it published,
// in one transaction. Until then the marks stay: a crash re-exports them.
func (e *Exporter) record(ctx context.Context, pass map[store.Partition]store.ExportRecord) error {
	xs := slices.SortedFunc(maps.Values(pass), func(a, b store.ExportRecord) int {
		return strings.Compare(a.Dirty.Table+"/"+a.Dirty.Month, b.Dirty.Table+"/"+b.Dirty.Month)
	})
	err := e.w.Do(ctx, func(ctx context.Context, tx *store.Tx) error {
		return store.RecordExports(ctx, tx, xs)
	})
	if err != nil {
		return fmt.Errorf("export: record %d partitions: %w", len(xs), err)
	}
	for _, x := range xs {
		delete(e.since, x.Dirty.Partition)
	}
	return nil
}

// listDirty lists the dirty partitions but those pass has exported since
// their latest mark, notes since when each is dirty, and orders them: see
// order.
func (e *Exporter) listDirty(ctx context.Context, pass map[store.Partition]store.ExportRecord) ([]store.DirtyPartition, error) {
	all, err := e.s.DirtyPartitions(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	seen := make(map[store.Partition]bool, len(all))
	var dirty []store.DirtyPartition
	for _, d := range all {
		seen[d.Partition] = true
		if x, ok := pass[d.Partition]; ok && d.Generation <= x.Dirty.Generation {
			continue
		}
		dirty = append(dirty, d)
		if _, ok := e.since[d.Partition]; !ok {
			e.since[d.Partition] = earliestOf(now, d.MarkedAt)
		}
	}
	for p := range e.since {
		if !seen[p] {
			delete(e.since, p) // cleared by an export of another pass or command
		}
	}
	return order(dirty, e.since), nil
}

// order sorts dirty partitions for a pass: the issues table's first, then
// the others; within each, the one dirty the longest (since) first.
func order(dirty []store.DirtyPartition, since map[store.Partition]time.Time) []store.DirtyPartition {
	out := slices.Clone(dirty)
	slices.SortStableFunc(out, func(a, b store.DirtyPartition) int {
		if ai, bi := a.Table == "issues", b.Table == "issues"; ai != bi {
			if ai {
				return -1
			}
			return 1
		}
		if c := since[a.Partition].Compare(since[b.Partition]); c != 0 {
			return c
		}
		return strings.Compare(a.Month+a.Table, b.Month+b.Table)
	})
	return out
}

func earliestOf(a, b time.Time) time.Time {
	if !b.IsZero() && b.Before(a) {
		return b
	}
	return a
}

// exportInTurn exports dirty one partition after the other into pass. After
// each of another table than issues, the issues partitions dirtied since go
// next (one this pass wrote already, once its new mark is Fresh old); only
// the one dirty the longest once the next of the others has been dirty for
// MaxStale. A pass ends: each step writes one partition of the
// list it started with, or issues partitions that go before the next of
// those or end the pass.
func (e *Exporter) exportInTurn(ctx context.Context, dirty []store.DirtyPartition, pass map[store.Partition]store.ExportRecord) error {
	var firstErr error
	todo := dirty
	for len(todo) > 0 {
		if err := ctx.Err(); err != nil {
			return errors.Join(firstErr, err)
		}
		d := todo[0]
		todo = todo[1:]
		if e.puttingOff(d) {
			continue
		}
		if err := e.exportPartition(ctx, d, pass, false); err != nil {
			firstErr = cmpOr(firstErr, err)
		} else {
			delete(e.since, d.Partition) // dirty again from its next mark
		}
		if d.Table == "issues" {
			continue
		}
		now, err := e.listDirty(ctx, pass)
		if err != nil {
			return errors.Join(firstErr, err)
		}
		queued := make(map[store.Partition]bool, len(todo))
		for _, t := range todo {
			queued[t.Partition] = true
		}
		var first []store.DirtyPartition
		for _, n := range now {
			if n.Table != "issues" || queued[n.Partition] {
				continue
			}
			if _, again := pass[n.Partition]; again && time.Since(e.since[n.Partition]) < e.opts.Fresh {
				// Written in this pass and marked again since: while
				// commits stream into one month, writing it after every
				// other partition doubled the exporter's work for
				// nothing the next write would not show.
				continue
			}
			first = append(first, n)
		}
		if len(first) > 1 && len(todo) > 0 && time.Since(e.since[todo[0].Partition]) >= e.opts.MaxStale {
			first = first[:1]
		}
		todo = append(first, todo...)
	}
	return firstErr
}

// exportAll exports dirty into pass with Workers partitions at once, each on
// its own connection, for the batch commands that rewrite many. Once one
// runs out of DuckDB's memory beside the others, the rest are written one at
// a time, and those that ran out are written again alone: a 1,000,000-issue
// rebuild's largest months did not fit twice in its 256MB pool.
func (e *Exporter) exportAll(ctx context.Context, dirty []store.DirtyPartition, pass map[store.Partition]store.ExportRecord) error {
	errs := make([]error, len(dirty))
	outs := make([]map[store.Partition]store.ExportRecord, len(dirty))
	var next atomic.Int64
	var short atomic.Bool // out of memory: one worker only from now on
	var wg sync.WaitGroup
	for w := range max(1, min(e.opts.Workers, len(dirty))) {
		wg.Go(func() {
			for w == 0 || !short.Load() {
				i := int(next.Add(1)) - 1
				if i >= len(dirty) {
					return
				}
				if errs[i] = ctx.Err(); errs[i] != nil {
					continue
				}
				outs[i] = map[store.Partition]store.ExportRecord{}
				if errs[i] = e.exportPartition(ctx, dirty[i], outs[i], true); store.OutOfMemory(errs[i]) {
					short.Store(true)
				}
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if !store.OutOfMemory(err) || ctx.Err() != nil {
			continue
		}
		e.log.WithFields(logrus.Fields{"table": dirty[i].Table, "month": dirty[i].Month}).Info("partition export ran out of memory beside another; writing it alone")
		errs[i] = e.exportPartition(ctx, dirty[i], outs[i], false)
	}
	for _, out := range outs {
		maps.Copy(pass, out)
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// exportPartition exports d and adds it to pass, logging a failure with its
// partition; with retryOOM, not one for want of memory, which exportAll
// writes again alone.
func (e *Exporter) exportPartition(ctx context.Context, d store.DirtyPartition, pass map[store.Partition]store.ExportRecord, retryOOM bool) error {
	published, err := e.exportOne(ctx, d)
	if err != nil {
		if !retryOOM || !store.OutOfMemory(err) {
			e.log.WithError(err).WithField("table", d.Table).WithField("month", d.Month).Error("partition export failed")
		}
		return err
	}
	pass[d.Partition] = store.ExportRecord{Dirty: d, Published: published}
	return nil
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func (e *Exporter) fail(err error) error {
	e.stateMu.Lock()
	e.lastErr = err
	e.stateMu.Unlock()
	return err
}

// DefaultRowGroupRows is the most rows of a Parquet row group. DuckDB's
// writer holds a whole row group in memory, beside the ordered rows it is
// fed: a month of issue_fields of a 1,000,000-issue store (183,000 rows) ran
// out of a 256MB pool in half the tries at 100,000 rows a group, at 50,000
// or 20,000 never, and was written as fast. A month of a 100,000-issue store
// is one group.
const DefaultRowGroupRows = 32768

var monthPattern = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`)

// exportOne writes one partition. A month with no rows loses its file and
// folder: DuckDB writes no file for an empty partitioned export, and an empty
// single-file export would leave a stale-looking file behind.
func (e *Exporter) exportOne(ctx context.Context, d store.DirtyPartition) (*store.PublishedPartition, error) {
	start := time.Now()
	var query string
	var err error
	if d.Month == "" {
		query, err = dimensionQuery(d.Table)
	} else {
		query, err = e.selectQuery(d.Table, d.Month)
	}
	if err != nil {
		return nil, err
	}
	if e.beforeCopy != nil {
		if err := e.beforeCopy(d); err != nil {
			return nil, fmt.Errorf("export %s %s: %w", d.Table, d.Month, err)
		}
	}
	stagingDir := filepath.Join(e.opts.DataDir, ".staging")
	if err := files.MkdirAll(stagingDir); err != nil {
		return nil, fmt.Errorf("export %s %s: %w", d.Table, d.Month, err)
	}
	staging := filepath.Join(stagingDir, fmt.Sprintf("%s-%s-%s.parquet", d.Table, d.Month, randomSuffix()))
	defer os.Remove(staging)
	final := PartitionPath(e.opts.DataDir, d.Table, d.Month)

	res, err := e.s.DB().ExecContext(ctx, fmt.Sprintf(
		`COPY (%s) TO %s (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE %d)`, query, store.Quote(staging), e.opts.RowGroupRows))
	if err != nil {
		return nil, fmt.Errorf("export %s %s: %w", d.Table, d.Month, err)
	}
	rows, _ := res.RowsAffected()
	var published *store.PublishedPartition
	// A dimension table is published even when empty: its file says that
	// the site has none of these, where a missing one says nothing.
	if rows == 0 && d.Month != "" {
		if err := removePartition(final); err != nil {
			return nil, fmt.Errorf("export %s %s: %w", d.Table, d.Month, err)
		}
	} else {
		sum, size, err := fileDigest(staging)
		if err != nil {
			return nil, fmt.Errorf("export %s %s: %w", d.Table, d.Month, err)
		}
		if err := files.Publish(staging, final); err != nil {
			return nil, fmt.Errorf("export %s %s: %w", d.Table, d.Month, err)
		}
		published = &store.PublishedPartition{Table: d.Table, Month: d.Month, Path: store.PartitionFile(d.Table, d.Month), Rows: rows, Bytes: size, SHA256: sum, WrittenAt: time.Now().UTC()}
	}
	if e.opts.Observe != nil {
		e.opts.Observe(d.Partition, rows, time.Since(start), time.Since(d.MarkedAt))
	}
	e.log.WithFields(logrus.Fields{"table": d.Table, "month": d.Month, "rows": rows, "duration_ms": time.Since(start).Milliseconds()}).Debug("partition exported")
	return published, nil
}

// selectQuery is the SELECT whose result is one partition's file: explicit
// columns in table order, rows of issues created in the month, in a stable
// order so that the same data gives the same file.
func (e *Exporter) selectQuery(table, month string) (string, error) {
	if !monthPattern.MatchString(month) {
		return "", fmt.Errorf("export %s: invalid month %q", table, month)
	}
	t, err := time.Parse("2006-01", month)
	if err != nil {
		return "", err
	}
	from := t.UTC().Format("2006-01-02 15:04:05+00")
	to := t.AddDate(0, 1, 0).UTC().Format("2006-01-02 15:04:05+00")
	inMonth := fmt.Sprintf("created_at >= TIMESTAMPTZ '%s' AND created_at < TIMESTAMPTZ '%s'", from, to)
	if table == "issues" {
		cols := e.opts.IssueColumns
		if len(cols) == 0 {
			return "", errors.New("export issues: no column list configured")
		}
		return fmt.Sprintf(`SELECT %s FROM issues WHERE %s ORDER BY issue_key`, strings.Join(cols, ", "), inMonth), nil
	}
	cols := store.TableColumns(table)
	if cols == nil {
		return "", fmt.Errorf("export: unknown table %q", table)
	}
	qualified := make([]string, len(cols))
	for i, c := range cols {
		qualified[i] = "t." + c
	}
	// A child row carries its issue's month (migration 0009): a filter on it
	// reads the other columns only where it matched, where a semi join with
	// the month's issues read the whole table for every month.
	return fmt.Sprintf(`SELECT %s FROM %s t WHERE t.issue_month = DATE '%s-01' ORDER BY %s`,
		strings.Join(qualified, ", "), table, month, orderBy[table]), nil
}

// dimensionQuery is the SELECT whose result is a dimension table's file:
// its columns in order, rows in key order.
func dimensionQuery(table string) (string, error) {
	src, ok := dimensions.Lookup(table)
	if !ok {
		return "", fmt.Errorf("export: unknown table %q", table)
	}
	st := dimensions.StoreTable(src)
	cols := st.QuotedColumns()
	order := make([]string, len(src.Key))
	for i, k := range src.Key {
		order[i] = store.Ident(k)
	}
	if len(order) == 0 {
		order = cols
	}
	return fmt.Sprintf(`SELECT %s FROM %s ORDER BY %s`, strings.Join(cols, ", "), store.DimensionTableName(table), strings.Join(order, ", ")), nil
}

// orderBy gives each child table a stable row order: its primary key.
var orderBy = map[string]string{
	"comments":     "t.issue_key, t.created_at, t.comment_id",
	"attachments":  "t.issue_key, t.attachment_id",
	"changelog":    "t.issue_key, t.changed_at, t.change_id, t.item_index",
	"issuelinks":   "t.issue_key, t.link_id",
	"remote_links": "t.issue_key, t.remote_link_id",
	"sla":          "t.issue_key, t.field_id, t.cycle, t.cycle_index",
	"issue_fields": "t.issue_key, t.field_id",
	"worklogs":     "t.issue_key, t.started_at, t.worklog_id",
	"inline_media": "t.issue_key, t.comment_id NULLS FIRST, t.media_index",

	"issue_sprints":       "t.issue_key, t.sprint_id",
	"issue_organizations": "t.issue_key, t.organization_id",
}

// MarkAll marks every partition of the given tables (all analyst tables when
// none) for the months that hold issues, plus the months already published, so
// that a following ExportDirty rewrites them all and removes stale ones.
func MarkAll(ctx context.Context, s *store.Store, w *store.Writer, tables []string, months []string) error {
	// Every table, with no month named, takes the dimension tables too.
	all := len(tables) == 0 && len(months) == 0
	if len(tables) == 0 {
		tables = normalize.Tables
	}
	if len(months) == 0 {
		var err error
		months, err = s.IssueMonths(ctx)
		if err != nil {
			return err
		}
		published, err := s.Partitions(ctx)
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, m := range months {
			seen[m] = true
		}
		for _, p := range published {
			// A dimension table's file (month "") is marked below.
			if p.Month != "" && !seen[p.Month] {
				seen[p.Month] = true
				months = append(months, p.Month)
			}
		}
	}
	var parts []store.Partition
	for _, m := range months {
		if !monthPattern.MatchString(m) {
			return fmt.Errorf("invalid month %q (want YYYY-MM)", m)
		}
		for _, t := range tables {
			if _, dim := dimensions.Lookup(t); !dim {
				parts = append(parts, store.Partition{Table: t, Month: m})
			}
		}
	}
	dims, err := dimensionParts(ctx, s, tables, all)
	if err != nil {
		return err
	}
	parts = append(parts, dims...)
	for chunk := range slices.Chunk(parts, 500) {
		if err := w.Do(ctx, func(ctx context.Context, tx *store.Tx) error { return s.MarkDirty(ctx, tx, chunk...) }); err != nil {
			return err
		}
	}
	return nil
}

// dimensionParts are the files of the dimension tables among tables (every
// one with all) that have been fetched: a table of a product the site lacks
// has no file to write.
func dimensionParts(ctx context.Context, s *store.Store, tables []string, all bool) ([]store.Partition, error) {
	states, err := s.DimensionStates(ctx)
	if err != nil {
		return nil, err
	}
	var out []store.Partition
	for _, src := range dimensions.Sources() {
		if !all && !slices.Contains(tables, src.Table) {
			continue
		}
		if states[src.Table].RowsSHA256 != "" {
			out = append(out, store.Partition{Table: src.Table})
		}
	}
	return out, nil
}

// Manifest is parquet/jira/manifest.json.
type Manifest struct {
	GeneratedAt time.Time `json:"generated_at"`
	// Site is the site's name (JIRADUCK_SITE); absent when it has none.
	Site       string                     `json:"site,omitempty"`
	Partitions []store.PublishedPartition `json:"partitions"`
}

func (e *Exporter) writeManifest(ctx context.Context) error {
	parts, err := e.s.Partitions(ctx)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(Manifest{GeneratedAt: time.Now().UTC(), Site: e.opts.Site, Partitions: parts}, "", "  ")
	if err != nil {
		return err
	}
	if err := files.WriteAtomic(filepath.Join(Root(e.opts.DataDir), "manifest.json"), append(b, '\n')); err != nil {
		return err
	}
	if e.opts.Published != nil {
		e.opts.Published()
	}
	return nil
}

// ReadManifest reads the published manifest.
func ReadManifest(dataDir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(Root(dataDir), "manifest.json"))
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	return &m, nil
}

func removePartition(final string) error {
	if err := os.Remove(final); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	dir := filepath.Dir(final)
	if err := os.Remove(dir); err != nil {
		// Absent, or something else lives in the folder: leave it.
		return nil
	}
	return files.SyncDir(filepath.Dir(dir))
}

func fileDigest(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// quote makes a SQL string literal.

func randomSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
