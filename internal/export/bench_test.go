package export

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/jira"
	"github.com/jiraduck/jiraduck/internal/normalize"
	"github.com/jiraduck/jiraduck/internal/store"
)

// monthStore is a store holding n emulated issues, nearly all created in one
// month, and that month.
func monthStore(b *testing.B, n int) (*store.Store, *store.Writer, string, string) {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	s, err := store.Open(ctx, filepath.Join(dir, store.FileName), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	w := s.NewWriter(32, nil)
	b.Cleanup(func() { w.Close(); s.Close() })
	// Issues spread over the month before the end of June: June holds
	// nearly all of them.
	em, err := emulator.New(emulator.Options{Issues: n, Months: 1, Seed: 5, Now: time.Date(2025, 6, 30, 23, 0, 0, 0, time.UTC)})
	if err != nil {
		b.Fatal(err)
	}
	defer em.Close()
	opts := normalize.Options{
		BrowseBase: "https://acme.atlassian.net",
		SLAFields:  map[string]string{emulator.FieldTimeToFirstResp: "first_response", emulator.FieldTimeToResolution: "time_to_resolution"},
		SLANames:   []string{"first_response", "time_to_resolution"},
	}
	keys := em.Keys()
	for start := 0; start < len(keys); start += 500 {
		var batch []*normalize.Rows
		for _, k := range keys[start:min(start+500, len(keys))] {
			st, err := em.State(k)
			if err != nil {
				b.Fatal(err)
			}
			var links []json.RawMessage
			if err := json.Unmarshal(st.RemoteLinks, &links); err != nil {
				b.Fatal(err)
			}
			rows, err := normalize.FromBundle(&jira.Bundle{Issue: st.Issue, Comments: st.Comments, Histories: st.Changelog,
				RemoteLinks: links, State: jira.BundleState{Comments: jira.StateComplete, Changelog: jira.StateComplete,
					RemoteLinks: jira.StateComplete, SLA: jira.StateComplete}, FetchedAt: em.Now()}, opts)
			if err != nil {
				b.Fatal(err)
			}
			batch = append(batch, rows)
		}
		if err := s.WithTx(ctx, func(tx *store.Tx) error {
			_, err := s.ApplyBatch(ctx, tx, batch, store.ApplyOptions{})
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Checkpoint(ctx); err != nil {
		b.Fatal(err)
	}
	return s, w, dir, "2025-06"
}

// BenchmarkExportMonth publishes one month of 5,000 issues: the issues
// partition alone (what an edit of an issue field rewrites), and every
// table's partition of the month.
func BenchmarkExportMonth(b *testing.B) {
	s, w, dir, month := monthStore(b, 5000)
	ctx := context.Background()
	var inMonth int
	if err := s.DB().QueryRow(`SELECT count(*) FROM issues WHERE strftime(created_at, '%Y-%m') = ?`, month).Scan(&inMonth); err != nil {
		b.Fatal(err)
	}
	e := New(s, w, Options{DataDir: dir, IssueColumns: store.IssueColumns([]string{"first_response", "time_to_resolution"}, nil)})
	for _, c := range []struct {
		name   string
		tables []string
	}{{"issues", []string{"issues"}}, {"all-tables", nil}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := MarkAll(ctx, s, w, c.tables, []string{month}); err != nil {
					b.Fatal(err)
				}
				done, err := e.ExportDirty(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if len(done) == 0 {
					b.Fatal("nothing exported")
				}
			}
			b.ReportMetric(float64(inMonth), "issues/month")
		})
	}
}
