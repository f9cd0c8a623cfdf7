package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestWriterCheckpointsWhenIndexesFillThePool checks CheckpointAbove: past
// the limit, each commit is followed by a checkpoint, which empties the
// write-ahead log and releases the indexes from the pool; below it, or off,
// the writer leaves checkpoints to DuckDB.
func TestWriterCheckpointsWhenIndexesFillThePool(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		limit int64
		want  bool
	}{
		{"past the limit", 1, true},
		{"below the limit", 1 << 40, false},
		{"off", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := migrated(t)
			ctx := context.Background()
			w := s.NewWriter(8, nil)
			w.CheckpointAbove(tc.limit)
			march := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
			for i := range 20 {
				if _, err := w.Apply(ctx, sampleRows(fmt.Sprintf("SUP-%d", i+1), fmt.Sprint(100+i), march), nil); err != nil {
					t.Fatal(err)
				}
			}
			// Close waits for the writer's goroutine, and so for a
			// checkpoint after the last commit.
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			_, wal, err := s.FileSizes()
			if err != nil {
				t.Fatal(err)
			}
			var index int64
			if err := s.DB().QueryRow(`SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory() WHERE tag = 'ART_INDEX'`).Scan(&index); err != nil {
				t.Fatal(err)
			}
			got := w.Checkpoints()
			if tc.want {
				// One after each of the 20 commits.
				if got != 20 || wal != 0 || index != 0 {
					t.Errorf("got %d checkpoints, a %d-byte log and %d bytes of indexes in the pool; want 20, 0 and 0", got, wal, index)
				}
				return
			}
			if got != 0 || wal == 0 || index == 0 {
				t.Errorf("got %d checkpoints, a %d-byte log and %d bytes of indexes in the pool; want none and both above 0", got, wal, index)
			}
		})
	}
}
