package export

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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

// TestPutOffWhileBacklog: while many issue writes are still to come, a
// pass writes nothing that has been dirty for less than MaxStale; what has
// been dirty longer goes, and once the backlog is gone everything does.
func TestPutOffWhileBacklog(t *testing.T) {
	jan := time.Date(2024, 1, 10, 0, 0, 0, 0, time.UTC)
	f := newFixture(t)
	var backlog atomic.Bool
	backlog.Store(true)
	var mu sync.Mutex
	var written []string
	e := New(f.s, f.w, Options{DataDir: f.dir, IssueColumns: f.e.opts.IssueColumns, MaxStale: 300 * time.Millisecond,
		Observe: func(p store.Partition, _ int64, _, _ time.Duration) {
			mu.Lock()
			written = append(written, p.Table+"/"+p.Month)
			mu.Unlock()
		}})
	e.PutOffWhile(backlog.Load)
	pass := func() []string {
		t.Helper()
		mu.Lock()
		written = nil
		mu.Unlock()
		if _, err := e.ExportDirty(context.Background()); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(written)
	}

	f.apply(t, rows("SUP-1", "101", jan, 1))
	if got := pass(); len(got) != 0 {
		t.Errorf("during a backlog, fresh partitions: written %v, want none", got)
	}
	time.Sleep(350 * time.Millisecond)
	if got := pass(); !slices.Equal(got, []string{"issues/2024-01", "comments/2024-01"}) {
		t.Errorf("during a backlog, partitions dirty for MaxStale: written %v, want issues/2024-01 and comments/2024-01", got)
	}

	r := rows("SUP-1", "101", jan, 1)
	r.Issue.Summary = sp("edited during the backlog")
	f.apply(t, r)
	if got := pass(); len(got) != 0 {
		t.Errorf("during a backlog, a partition dirtied again: written %v, want none", got)
	}
	backlog.Store(false)
	if got := pass(); !slices.Equal(got, []string{"issues/2024-01"}) {
		t.Errorf("after the backlog: written %v, want issues/2024-01", got)
	}
	if n := readParquet(t, `SELECT count(*) FROM '`+PartitionPath(f.dir, "issues", "2024-01")+`' WHERE summary = 'edited during the backlog'`); n != 1 {
		t.Errorf("edited rows after the backlog: got %d, want 1", n)
	}
}

// TestPassCutShortKeepsManifest: a pass whose context ends after it wrote a
// partition (a shutdown) still records it and rewrites the manifest, so the
// manifest never names fewer rows than the file holds.
func TestPassCutShortKeepsManifest(t *testing.T) {
	jan := time.Date(2024, 1, 10, 0, 0, 0, 0, time.UTC)
	f := newFixture(t)
	f.apply(t, rows("SUP-1", "101", jan, 1))
	if _, err := f.e.ExportDirty(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.apply(t, rows("SUP-2", "102", jan, 2))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := New(f.s, f.w, Options{DataDir: f.dir, IssueColumns: f.e.opts.IssueColumns,
		Observe: func(store.Partition, int64, time.Duration, time.Duration) { cancel() }})
	if _, err := e.ExportDirty(ctx); err == nil {
		t.Fatal("a pass cut short: got no error, want the context's")
	}
	m, err := ReadManifest(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Partitions {
		if p.Table != "issues" && p.Table != "comments" {
			continue
		}
		path := PartitionPath(f.dir, p.Table, p.Month)
		if n := readParquet(t, `SELECT count(*) FROM '`+path+`'`); int64(n) != p.Rows {
			t.Errorf("%s/%s: the manifest says %d rows, the file holds %d", p.Table, p.Month, p.Rows, n)
		}
	}
	// What the cut pass left, the next one writes.
	if _, err := e.ExportDirty(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := readParquet(t, `SELECT count(*) FROM '`+PartitionPath(f.dir, "comments", "2024-01")+`'`); n != 3 {
		t.Errorf("comments after the next pass: got %d, want 3", n)
	}
}
