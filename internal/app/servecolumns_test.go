package app_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/export"
	"github.com/jiraduck/jiraduck/internal/store"
)

// TestServeRewritesPartitionsWhenIssueColumnsChange: serve started with a
// new JIRA_FIELD_MAP rewrites every issues partition from the stored
// payloads before it publishes anything else, with no Jira call needed.
func TestServeRewritesPartitionsWhenIssueColumnsChange(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator test skipped in -short mode")
	}
	t.Parallel()
	live, _ := apptest.PublishedSite(t, 40)
	restarted, err := app.StartSite(context.Background(), app.SiteOptions{
		Emulator: emulator.Options{Issues: 40, Months: 3, Seed: 11, Clock: apptest.Frozen()}, DataDir: live.Dir,
		Vars:   map[string]string{"JIRA_FIELD_MAP": emulator.FieldSeverity + ":severity", "JIRADUCK_LOG_LEVEL": "warn"},
		Logger: live.Service.Logger()})
	apptest.Must(t, err)
	defer restarted.Close()
	again := &apptest.LiveSite{Site: restarted, Dir: live.Dir}
	again.Settle(t)
	want := store.IssueColumns([]string{"first_response", "time_to_resolution"}, []string{"severity"})
	db := apptest.MemoryDB(t)
	m, err := export.ReadManifest(live.Dir)
	apptest.Must(t, err)
	n := 0
	for _, p := range m.Partitions {
		if p.Table != "issues" {
			continue
		}
		n++
		if got := apptest.ParquetColumns(t, db, export.PartitionPath(live.Dir, "issues", p.Month)); !slices.Equal(got, want) {
			t.Errorf("issues %s columns after serve started:\n got %v\nwant %v", p.Month, got, want)
		}
	}
	if n == 0 {
		t.Error("no issues partition published")
	}
	var values int
	q := fmt.Sprintf(`SELECT count(severity) FROM read_parquet('%s')`, filepath.Join(export.Root(live.Dir), "issues", "month=*", "*.parquet"))
	apptest.Must(t, db.QueryRow(q).Scan(&values))
	if values == 0 {
		t.Error("severity values in the files: got 0, want those of the stored payloads")
	}
}
