package app

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/server"
	"github.com/jiraduck/jiraduck/internal/store"
	"github.com/sirupsen/logrus"
)

// StorePath is the canonical store of the settings.
func StorePath(cfg *config.Config) string { return filepath.Join(cfg.DataDir, store.FileName) }

// StoreOptions are the settings the command opens the store with.
func StoreOptions(cfg *config.Config, log logrus.FieldLogger, command string) store.Options {
	return store.Options{Logger: log, MemoryLimit: cfg.MemoryLimitFor(command), ReleaseMemory: cfg.MemoryPlanFor(command).ReleaseMemory,
		CheckpointThreshold: checkpointThresholds[command]}
}

// checkpointThresholds are the commands whose store checkpoints later than
// DuckDB's 1GB of write-ahead log (store.Options.CheckpointThreshold).
// A backfill loads the site: each automatic checkpoint rewrote the row
// groups and indexes it had written so far, and a 100,000-issue backfill
// left a 3.9 GB store for 2.3 GB of data, which its compaction then copied
// for 22 s of its 140. Checkpointed once, before its export, the same
// backfill took 112 s and left 2.3 GB; its peak memory was the same (906
// against 917 MB), and the log grows on disk to about the data loaded
// (docs/operations.md).
var checkpointThresholds = map[string]string{"backfill": "16GB"}

// OpenStore opens the canonical store for the command and brings its schema
// up to date, as every writer does before its first statement. DuckDB may
// write files in the data directory and in allowedDirs.
func OpenStore(ctx context.Context, cfg *config.Config, log logrus.FieldLogger, command string, allowedDirs ...string) (*store.Store, error) {
	return openStore(ctx, cfg, log, command, nil, allowedDirs...)
}

// openStore is OpenStore for serve when phase is set: it tells phase as it
// compacts and migrates, and derives the tables again, when the issue
// columns changed, under the maintenance pool (migrateWithRoom). The batch
// commands derive them under their own (a rebuild's is smaller by design).
func openStore(ctx context.Context, cfg *config.Config, log logrus.FieldLogger, command string, phase func(string), allowedDirs ...string) (*store.Store, error) {
	var deriving func()
	if phase != nil {
		deriving = func() { phase(server.PhaseDeriving) }
	} else {
		phase = func(string) {}
	}
	opts := StoreOptions(cfg, log, command)
	phase(server.PhaseCompacting)
	if err := compactStore(ctx, cfg, log); errors.Is(err, store.ErrLocked) {
		return nil, err
	}
	phase(server.PhaseMigrating)
	if err := migrateWithRoom(ctx, cfg, log, command, deriving); err != nil {
		return nil, err
	}
	opts.AllowedDirs = allowedDirs
	s, err := store.Open(ctx, StorePath(cfg), opts)
	if err != nil {
		return nil, err
	}
	if _, _, err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.EnsureIssueColumns(ctx, PromotedColumns(cfg)); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// PromotedColumns are the issues columns that the settings add: one per
// JIRA_FIELD_MAP entry and four per SLA metric beyond the default two.
func PromotedColumns(cfg *config.Config) []store.Column {
	var cols []store.Column
	for _, name := range cfg.SLANames() {
		cols = append(cols,
			store.Column{Name: name + "_breached", Type: "BOOLEAN"},
			store.Column{Name: name + "_goal_millis", Type: "BIGINT"},
			store.Column{Name: name + "_elapsed_millis", Type: "BIGINT"},
			store.Column{Name: name + "_remaining_millis", Type: "BIGINT"})
	}
	for _, f := range cfg.FieldMap {
		cols = append(cols, store.Column{Name: f.Name, Type: "VARCHAR"})
	}
	return cols
}

// LimitGoMemory gives Go's heap the soft limit of the command's memory plan
// when GOMEMLIMIT is not set: the collector then works harder as the heap
// nears it instead of letting it grow to twice what is live. The limit is
// the process's, so only main sets it, never a test running commands in
// its own process.
func LimitGoMemory(cfg *config.Config, command string) {
	if p := cfg.MemoryPlanFor(command); p.GoLimit > 0 {
		debug.SetMemoryLimit(p.GoLimit)
	}
}

// maintenance is the command whose memory plan compaction and migrations
// run with: the other commands' larger buffer pool. Both stay within any
// pool (a migration statement that parses payloads runs on a few MB of them
// at a time, the compaction copies one table at a time), but a larger one
// speeds them: the 100,000-issue store compacted in 52 s within 96MB and in
// 30 s within 128MB, and migrated in 17 s and 9 s.
const maintenance = "migrate"

// migrateWithRoom applies pending migrations under the maintenance plan's
// pool when the command's own is another, before the command opens the
// store with its own; with deriving set, it there too derives the tables
// again from the stored payloads when a release or the settings changed the
// issue columns (AlignIssueColumns, calling deriving first). Serve's 128MB
// ran out of memory committing that pass on the 100,000-issue store after
// an upgrade, and failed again at every restart; serve's own
// AlignIssueColumns then finds nothing to do.
func migrateWithRoom(ctx context.Context, cfg *config.Config, log logrus.FieldLogger, command string, deriving func()) error {
	if cfg.MemoryLimitFor(command) == cfg.MemoryLimitFor(maintenance) {
		return nil
	}
	if _, err := os.Stat(StorePath(cfg)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	s, err := store.Open(ctx, StorePath(cfg), StoreOptions(cfg, log, maintenance))
	if err != nil {
		return err
	}
	err = func() error {
		if _, _, err := s.Migrate(ctx); err != nil {
			return err
		}
		if deriving == nil {
			return nil
		}
		if err := s.EnsureIssueColumns(ctx, PromotedColumns(cfg)); err != nil {
			return err
		}
		w := s.NewWriter(64, nil)
		defer w.Close()
		return alignIssueColumns(ctx, cfg, log, s, w, deriving)
	}()
	return errors.Join(err, s.Close())
}

// compactStore copies the closed store into a compact file when deleted
// rows and free blocks waste more than store.CompactRatio of it (see
// store.CompactIfWasteful). Writers do it before they open the store: only
// then is the file free, and a copy takes too long for a shutdown's time
// limit (94 s for a 440 MB store on a busy machine). A compaction that
// fails, for lack of disk space for the copy for instance, is logged and leaves the store as it was, which
// still works; only ErrLocked is returned, for the caller to report.
func compactStore(ctx context.Context, cfg *config.Config, log logrus.FieldLogger) error {
	_, err := store.CompactIfWasteful(ctx, StorePath(cfg), StoreOptions(cfg, log, maintenance), false)
	if err != nil && !errors.Is(err, store.ErrLocked) && !errors.Is(err, store.ErrShared) && log != nil {
		log.WithError(err).Warn("store not compacted; it is kept as it was")
	}
	return err
}
