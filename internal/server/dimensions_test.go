package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/store"
)

// TestStatusPageDimensionTables: the status page lists every dimension
// table with its rows, its last refresh and its state, a skipped or failed
// one with its note (escaped), and keeps their files out of the month grid;
// health stays ok with a table skipped.
func TestStatusPageDimensionTables(t *testing.T) {
	f := newStatusFixture(t)
	ctx := context.Background()
	now := time.Now().UTC()
	table := store.DimensionTable{Name: "projects", Columns: []store.Column{{Name: "id", Type: "VARCHAR"}}, Key: []string{"id"}}
	if _, err := f.store.EnsureDimensionTables(ctx, []store.DimensionTable{table}); err != nil {
		t.Fatal(err)
	}
	mustTx(t, f.store, func(tx *store.Tx) error {
		if _, err := f.store.WriteDimension(ctx, tx, store.DimensionWrite{Table: table, Rows: [][]any{{"1"}, {"2"}, {"3"}},
			RowsSHA256: "r", ObjectsSHA256: "o", At: now, Fetched: true}); err != nil {
			return err
		}
		if err := store.RecordDimensionTrouble(ctx, tx, "boards", store.DimensionSkipped, "Jira Software's API answered 404 <none>", now); err != nil {
			return err
		}
		if err := store.RecordDimensionTrouble(ctx, tx, "users", store.DimensionFailed, "refresh failed; status 503", now); err != nil {
			return err
		}
		return store.RecordExport(ctx, tx, store.DirtyPartition{Partition: store.Partition{Table: "projects"}},
			&store.PublishedPartition{Table: "projects", Rows: 3, Bytes: 900, SHA256: "x", WrittenAt: now})
	})
	res, body := f.get(t, "/")
	if res.StatusCode != 200 {
		t.Fatalf("got %d, want 200", res.StatusCode)
	}
	for _, want := range []string{
		`id="rows-projects">3<`,
		`id="dimension-projects">ok<`,
		`id="dimension-boards" title="Jira Software&#39;s API answered 404 &lt;none&gt;">skipped<`,
		`id="dimension-users" title="refresh failed; status 503">failed (1 in a row)`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(body, `<td class="nowrap"></td>`) {
		t.Error("a dimension file shows as a month of the partition grid")
	}
	_, health := f.get(t, "/webhooks/jira/health")
	if !strings.Contains(health, `"status":"ok"`) {
		t.Errorf("got health %s, want ok with a table skipped", health)
	}
}
