package export

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/normalize"
	"github.com/jiraduck/jiraduck/internal/store"
)

// TestOrder: a pass writes the issues table's partitions first, then the
// others, each group in the order the partitions became dirty.
func TestOrder(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := func(table, month string) store.DirtyPartition {
		return store.DirtyPartition{Partition: store.Partition{Table: table, Month: month}}
	}
	cases := []struct {
		name  string
		dirty []store.DirtyPartition
		since map[string]time.Duration // table/month -> after t0
		want  []string
	}{
		{"issues first", []store.DirtyPartition{p("comments", "2024-01"), p("issues", "2024-02")},
			map[string]time.Duration{"comments/2024-01": 0, "issues/2024-02": time.Second},
			[]string{"issues/2024-02", "comments/2024-01"}},
		{"the longest dirty first", []store.DirtyPartition{p("issues", "2024-01"), p("issues", "2024-02"), p("changelog", "2024-01"), p("comments", "2024-03")},
			map[string]time.Duration{"issues/2024-01": 2 * time.Second, "issues/2024-02": time.Second, "changelog/2024-01": 3 * time.Second, "comments/2024-03": 0},
			[]string{"issues/2024-02", "issues/2024-01", "comments/2024-03", "changelog/2024-01"}},
		{"ties by month, then table", []store.DirtyPartition{p("sla", "2024-02"), p("comments", "2024-02"), p("changelog", "2024-01")},
			map[string]time.Duration{},
			[]string{"changelog/2024-01", "comments/2024-02", "sla/2024-02"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			since := map[store.Partition]time.Time{}
			for _, d := range tc.dirty {
				since[d.Partition] = t0.Add(tc.since[d.Table+"/"+d.Month])
			}
			var got []string
			for _, d := range order(tc.dirty, since) {
				got = append(got, d.Table+"/"+d.Month)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestIssuesDirtiedDuringAPassGoNext: edits committed while a pass writes
// other tables' partitions reach the issues table's files before the rest
// of the pass; once a partition still to do has been dirty for MaxStale,
// the two take turns; one the pass wrote already goes again once its new
// mark is Fresh old.
func TestIssuesDirtiedDuringAPassGoNext(t *testing.T) {
	jan := time.Date(2024, 1, 10, 0, 0, 0, 0, time.UTC)
	feb := time.Date(2024, 2, 10, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name            string
		maxStale, fresh time.Duration
		// want are the partitions written right after the first one of
		// another table than issues.
		want []string
	}{
		{"the issues partitions dirtied during the pass go next", time.Hour, time.Nanosecond, []string{"issues/2024-01", "issues/2024-02", "comments/2024-02"}},
		{"after MaxStale, one issues partition, then one of another table", time.Nanosecond, time.Nanosecond, []string{"issues/2024-01", "comments/2024-02"}},
		{"one the pass wrote already waits until its new mark is Fresh old", time.Hour, time.Hour, []string{"comments/2024-02"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.apply(t, rows("SUP-1", "101", jan, 1))
			f.apply(t, rows("SUP-2", "102", feb, 1))
			var mu sync.Mutex
			var written []string
			edited := false
			e := New(f.s, f.w, Options{DataDir: f.dir, IssueColumns: f.e.opts.IssueColumns, MaxStale: tc.maxStale, Fresh: tc.fresh,
				Observe: func(p store.Partition, _ int64, _, _ time.Duration) {
					mu.Lock()
					written = append(written, p.Table+"/"+p.Month)
					edit := p.Table != "issues" && !edited
					edited = edited || edit
					mu.Unlock()
					if edit {
						for _, r := range []*normalize.Rows{rows("SUP-1", "101", jan, 1), rows("SUP-2", "102", feb, 1)} {
							r.Issue.Summary = sp("edited during the pass")
							f.apply(t, r)
						}
					}
				}})
			if _, err := e.ExportDirty(context.Background()); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			i := slices.IndexFunc(written, func(w string) bool { return !strings.HasPrefix(w, "issues/") })
			if i < 0 || i+len(tc.want) >= len(written) {
				t.Fatalf("written: got %v, want a partition of another table followed by %d more", written, len(tc.want))
			}
			if got := written[i+1 : i+1+len(tc.want)]; !slices.Equal(got, tc.want) {
				t.Errorf("after %s: got %v, want %v (all written: %v)", written[i], got, tc.want, written)
			}
			// What this pass left, the next writes.
			mu.Unlock()
			if _, err := e.ExportDirty(context.Background()); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			for _, m := range []string{"2024-01", "2024-02"} {
				if n := readParquet(t, `SELECT count(*) FROM '`+PartitionPath(f.dir, "issues", m)+`' WHERE summary = 'edited during the pass'`); n != 1 {
					t.Errorf("edited rows in issues/%s after the pass: got %d, want 1", m, n)
				}
			}
		})
	}
}
