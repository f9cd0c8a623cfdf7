package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/export"
	"github.com/jiraduck/jiraduck/internal/store"
	"github.com/sirupsen/logrus"
)

// Snapshot writes a snapshot of the store to path (absolute), replacing a
// file there only when replace is set, and records the run in sync_runs: the
// snapshot command. A file it may not replace is export.ErrExists.
func Snapshot(ctx context.Context, cfg *config.Config, log logrus.FieldLogger, path string, replace bool) (*export.SnapshotResult, error) {
	// DuckDB writes the snapshot, next to its target: that folder joins
	// the data directory in what the store may write.
	s, err := OpenStore(ctx, cfg, log, "snapshot", filepath.Dir(path))
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("snapshot: %s is held by a running jiraduck serve, which writes %s on its JIRADUCK_SNAPSHOT_SCHEDULE", StorePath(cfg), export.SnapshotPath(cfg.DataDir))
	}
	if err != nil {
		return nil, err
	}
	defer s.Close()
	id, err := s.StartRun(ctx, "snapshot", map[string]any{"out": path})
	if err != nil {
		return nil, err
	}
	res, err := export.SnapshotTo(ctx, s, path, export.SnapshotOptions{Replace: replace, Site: cfg.Site})
	status := store.RunOK
	counts := map[string]int{}
	if err != nil {
		status = store.RunFailed
	} else {
		for t, n := range res.Rows {
			counts[t] = int(n)
		}
	}
	_ = s.FinishRun(context.Background(), id, status, counts, err)
	return res, err
}
