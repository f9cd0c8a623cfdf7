package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestSLACandidatesAtASmallPool: the SLA poll's candidates are listed at the
// smallest pool serve takes however large their payloads: 2,000 open issues
// of about 60 KB, twice the 64MB pool, once listed with their payloads in one
// sorted query and out of memory. Their payloads are read a few at a time.
func TestSLACandidatesAtASmallPool(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), FileName), Options{MemoryLimit: "64MB"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	const n = 2000
	for from := 1; from <= n; from += 100 {
		if _, err := s.DB().ExecContext(ctx, `INSERT INTO raw_issues (issue_id, issue_key, payload, fetched_at, updated_at, status_category_key)
			SELECT i::VARCHAR, 'SUP-' || i, ('{"issue":{"id":"' || i || '","text":"' || repeat(md5(i::VARCHAR), 1900) || '"}}')::JSON,
				now(), now(), 'indeterminate'
			FROM range(?, ?) t(i)`, from, from+100); err != nil {
			t.Fatal(err)
		}
		// What a write appended stays in the pool until a checkpoint.
		if err := s.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	cands, err := s.SLACandidates(ctx, time.Now().Add(-24*time.Hour), false)
	if err != nil {
		t.Fatalf("candidates at a 64MB pool: %v", err)
	}
	if len(cands) != n {
		t.Fatalf("candidates: got %d, want %d", len(cands), n)
	}
	ids := []string{cands[0].ID, cands[n-1].ID, "no such issue"}
	payloads, err := s.Payloads(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(payloads) != 2 || len(payloads[cands[0].ID]) < 60000 || len(payloads[cands[n-1].ID]) < 60000 {
		t.Errorf("payloads of %v: got %d, want the 2 stored, about 60 KB each", ids, len(payloads))
	}
}
