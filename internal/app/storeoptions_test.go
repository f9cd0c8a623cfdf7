package app_test

import (
	"testing"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/internal/config"
)

// TestBackfillCheckpointsLate: a backfill's store checkpoints on its own
// only at 16GB of write-ahead log, so that the load is written out once;
// every other command keeps the store's default.
func TestBackfillCheckpointsLate(t *testing.T) {
	cfg, err := config.Load(apptest.DataEnv(t), "")
	if err != nil {
		t.Fatal(err)
	}
	for command, want := range map[string]string{"backfill": "16GB", "serve": "", "rebuild": "", "import": "", "migrate": ""} {
		if got := app.StoreOptions(cfg, nil, command).CheckpointThreshold; got != want {
			t.Errorf("%s: checkpoint threshold %q, want %q", command, got, want)
		}
	}
}
