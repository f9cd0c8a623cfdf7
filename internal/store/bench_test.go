package store

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/jira"
	"github.com/jiraduck/jiraduck/internal/normalize"
)

var benchNormalize = normalize.Options{
	BrowseBase: "https://acme.atlassian.net",
	SLAFields:  map[string]string{emulator.FieldTimeToFirstResp: "first_response", emulator.FieldTimeToResolution: "time_to_resolution"},
	SLANames:   []string{"first_response", "time_to_resolution"},
}

// emulatedRows normalizes the current state of an emulated issue.
func emulatedRows(b testing.TB, em *emulator.Emulator, key string) *normalize.Rows {
	b.Helper()
	st, err := em.State(key)
	if err != nil {
		b.Fatal(err)
	}
	var links []json.RawMessage
	if err := json.Unmarshal(st.RemoteLinks, &links); err != nil {
		b.Fatal(err)
	}
	bundle := &jira.Bundle{Issue: st.Issue, Comments: st.Comments, Histories: st.Changelog, RemoteLinks: links,
		State: jira.BundleState{Comments: jira.StateComplete, Changelog: jira.StateComplete, RemoteLinks: jira.StateComplete,
			SLA: jira.StateComplete}, FetchedAt: em.Now()}
	rows, err := normalize.FromBundle(bundle, benchNormalize)
	if err != nil {
		b.Fatal(err)
	}
	return rows
}

// filledStore is a migrated store holding every issue of an emulated site
// of n issues, written in batches of 500 as rebuild writes them.
func filledStore(b *testing.B, em *emulator.Emulator) *Store {
	b.Helper()
	ctx := context.Background()
	s := migrated(b)
	keys := em.Keys()
	for start := 0; start < len(keys); start += 500 {
		var batch []*normalize.Rows
		for _, k := range keys[start:min(start+500, len(keys))] {
			batch = append(batch, emulatedRows(b, em, k))
		}
		if err := s.WithTx(ctx, func(tx *Tx) error {
			_, err := s.ApplyBatch(ctx, tx, batch, ApplyOptions{})
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Checkpoint(ctx); err != nil {
		b.Fatal(err)
	}
	return s
}

// edited returns, for count issues of the site, two successive edits (each
// with its changelog entry) normalized: applying them in turn always changes
// the issue, as a stream of webhooks does.
func edited(b *testing.B, em *emulator.Emulator, count int) [][2]*normalize.Rows {
	b.Helper()
	keys := em.Keys()
	step := max(len(keys)/count, 1)
	var out [][2]*normalize.Rows
	for i := 0; i < len(keys) && len(out) < count; i += step {
		var pair [2]*normalize.Rows
		for v := range pair {
			if err := em.Silent().Update(keys[i], func(is *emulator.Issue) { is.Summary = fmt.Sprintf("edit %d of %s", v, keys[i]) }); err != nil {
				b.Fatal(err)
			}
			pair[v] = emulatedRows(b, em, keys[i])
		}
		out = append(out, pair)
	}
	return out
}

// BenchmarkApplyIssue writes one edited issue in its own transaction, the
// way a lone webhook is written, into stores of growing size: the cost per
// issue should not grow with the store.
func BenchmarkApplyIssue(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("stored=%d", n), func(b *testing.B) {
			em, err := emulator.New(emulator.Options{Issues: n, Seed: 5})
			if err != nil {
				b.Fatal(err)
			}
			defer em.Close()
			s := filledStore(b, em)
			edits := edited(b, em, 200)
			ctx := context.Background()
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				r := edits[i%len(edits)][(i/len(edits))%2]
				i++
				if err := s.WithTx(ctx, func(tx *Tx) error {
					_, err := s.ApplyBatch(ctx, tx, []*normalize.Rows{r}, ApplyOptions{})
					return err
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkApplyBatch writes 64 edited issues per transaction, as the writer
// does under load; the time is per issue.
func BenchmarkApplyBatch(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("stored=%d", n), func(b *testing.B) {
			em, err := emulator.New(emulator.Options{Issues: n, Seed: 5})
			if err != nil {
				b.Fatal(err)
			}
			defer em.Close()
			s := filledStore(b, em)
			edits := edited(b, em, 256)
			ctx := context.Background()
			const size = 64
			round := 0
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			issues := 0
			for issues < b.N {
				for off := 0; off < len(edits) && issues < b.N; off += size {
					var batch []*normalize.Rows
					for _, p := range edits[off:min(off+size, len(edits))] {
						batch = append(batch, p[round%2])
					}
					if err := s.WithTx(ctx, func(tx *Tx) error {
						_, err := s.ApplyBatch(ctx, tx, batch, ApplyOptions{})
						return err
					}); err != nil {
						b.Fatal(err)
					}
					issues += len(batch)
				}
				round++
			}
			b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(issues), "ns/issue")
		})
	}
}

// eventBody is about the size of an emulated jira:issue_updated body.
var eventBody = []byte(`{"timestamp":1,"webhookEvent":"jira:issue_updated","issue":{"id":"10001","key":"SUP-1","fields":{"summary":"` +
	strings.Repeat("x", 15000) + `"}}}`)

// appendEvent is the intake's durable append of one event: the duplicate
// check and the insert, in one transaction.
func appendEvent(ctx context.Context, s *Store, i int) error {
	e := &Event{ID: int64(i), DeliveryID: fmt.Sprintf("d-%d", i), Type: "jira:issue_updated", IssueKey: "SUP-1", IssueID: "10001",
		ReceivedAt: time.Now().UTC(), State: EventPending, Body: eventBody}
	return s.WithTx(ctx, func(tx *Tx) error {
		if _, err := KnownDeliveries(ctx, tx, []string{e.DeliveryID}); err != nil {
			return err
		}
		return InsertEvents(ctx, tx, []*Event{e})
	})
}

// BenchmarkInsertEvent is the durable append of one webhook event in its
// own transaction: what a lone delivery waits for before its 202.
func BenchmarkInsertEvent(b *testing.B) {
	ctx := context.Background()
	s := migrated(b)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		if err := appendEvent(ctx, s, i); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInsertEventUnderLoad is the same append while the write path
// works on the same store: one goroutine applying batches of 64 edited
// issues (as the writer does) and one exporting a month to Parquet (as the
// exporter does). The p50 and p99 of the append are reported: what they add
// to the serial figure is what sharing the store costs an acknowledgement.
func BenchmarkInsertEventUnderLoad(b *testing.B) {
	em, err := emulator.New(emulator.Options{Issues: 2000, Seed: 5})
	if err != nil {
		b.Fatal(err)
	}
	defer em.Close()
	s := filledStore(b, em)
	edits := edited(b, em, 256)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, work := range []func(round int) error{
		func(round int) error {
			var batch []*normalize.Rows
			for _, p := range edits[(round*64)%len(edits) : (round*64)%len(edits)+64] {
				batch = append(batch, p[(round/4)%2])
			}
			return s.WithTx(ctx, func(tx *Tx) error {
				_, err := s.ApplyBatch(ctx, tx, batch, ApplyOptions{})
				return err
			})
		},
		func(int) error {
			_, err := s.DB().ExecContext(ctx, fmt.Sprintf(`COPY (SELECT * FROM issues WHERE created_at >= TIMESTAMPTZ '2025-01-01'
				ORDER BY issue_key) TO '%s' (FORMAT parquet, COMPRESSION zstd)`, filepath.Join(b.TempDir(), "month.parquet")))
			return err
		},
	} {
		wg.Go(func() {
			for round := 0; ctx.Err() == nil; round++ {
				if err := work(round); err != nil && ctx.Err() == nil {
					b.Error(err)
					return
				}
			}
		})
	}
	var took []time.Duration
	i := 0
	b.ResetTimer()
	for b.Loop() {
		i++
		start := time.Now()
		if err := appendEvent(context.Background(), s, i); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
	}
	b.StopTimer()
	cancel()
	wg.Wait()
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkMoveEvents is the intake's move of journaled events into the
// store: deliveries of about 15 KB, in groups of one (a quiet site) and of
// 64 (a storm), each group in one transaction, inserted with bound
// parameters and appended.
func BenchmarkMoveEvents(b *testing.B) {
	ctx := context.Background()
	s := migrated(b)
	id := 0
	batch := func(n int) []*Event {
		events := make([]*Event, n)
		for i := range events {
			id++
			events[i] = &Event{ID: int64(id), DeliveryID: fmt.Sprintf("d-%d", id), Type: "jira:issue_updated", IssueKey: "SUP-1",
				IssueID: "10001", ReceivedAt: time.Now().UTC(), State: EventPending, Body: eventBody}
		}
		return events
	}
	for _, group := range []int{1, 64} {
		b.Run(fmt.Sprintf("group=%d/insert", group), func(b *testing.B) {
			b.SetBytes(int64(group * len(eventBody)))
			for b.Loop() {
				events := batch(group)
				if err := s.WithTx(ctx, func(tx *Tx) error { return InsertEvents(ctx, tx, events) }); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("group=%d/append", group), func(b *testing.B) {
			b.SetBytes(int64(group * len(eventBody)))
			for b.Loop() {
				events := batch(group)
				if err := s.WithBulkTx(ctx, func(tx *Tx) error { return InsertEvents(ctx, tx, events) }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRecordExports records an export pass of 30 partitions, as serve
// does after each pass, one partition at a time and in one batch; the time
// is per pass, during which the writer waits.
func BenchmarkRecordExports(b *testing.B) {
	s := migrated(b)
	ctx := context.Background()
	var parts []Partition
	for i := range 30 {
		parts = append(parts, Partition{Table: []string{"issues", "comments", "changelog"}[i%3], Month: fmt.Sprintf("2024-%02d", 1+i/3)})
	}
	pass := func(b *testing.B) []ExportRecord {
		if err := s.WithTx(ctx, func(tx *Tx) error { return s.MarkDirty(ctx, tx, parts...) }); err != nil {
			b.Fatal(err)
		}
		seen, err := s.DirtyPartitions(ctx)
		if err != nil {
			b.Fatal(err)
		}
		recs := make([]ExportRecord, len(seen))
		for i, d := range seen {
			recs[i] = ExportRecord{Dirty: d, Published: &PublishedPartition{Table: d.Table, Month: d.Month, Rows: 100, SHA256: "x", WrittenAt: time.Now()}}
		}
		return recs
	}
	for _, c := range []struct {
		name   string
		record func(tx *Tx, recs []ExportRecord) error
	}{
		{"one_by_one", func(tx *Tx, recs []ExportRecord) error {
			for _, r := range recs {
				if err := RecordExport(ctx, tx, r.Dirty, r.Published); err != nil {
					return err
				}
			}
			return nil
		}},
		{"batch", func(tx *Tx, recs []ExportRecord) error { return RecordExports(ctx, tx, recs) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				recs := pass(b)
				b.StartTimer()
				if err := s.WithTx(ctx, func(tx *Tx) error { return c.record(tx, recs) }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
