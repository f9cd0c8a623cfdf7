package store

import (
	"context"
	"path/filepath"
	"testing"
)

// TestCompactWithinASmallPool: a store whose payloads take twice DuckDB's
// buffer pool, half of them deleted, is compacted within that pool, and
// the copy holds every live row. Copied with one COPY FROM DATABASE, every
// table in one statement, it ran out of memory.
func TestCompactWithinASmallPool(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Migrate(ctx); err != nil {
		s.Close()
		t.Fatal(err)
	}
	// Payloads of about 30 KB, and 1,000,000 keys in the indexes of
	// changelog and issue_fields: each part fits in the pool, not together.
	const n = 2000
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO raw_issues (issue_id, issue_key, payload, fetched_at)
			SELECT i::VARCHAR, 'SUP-' || i, '{"issue":{"id":"' || i || '","fields":{"comment":{"comments":[' ||
				repeat('{"id":"' || i || '","body":{"type":"doc","content":[{"type":"text","text":"fine"}]}},', 400) ||
				'{"id":"0"}]}}}}', now()
			FROM range(1, ?) t(i)`, []any{n + 1}},
		{`INSERT INTO issue_fields (issue_key, field_id, field_name, value_text, value_json) SELECT 'SUP-' || (i % ?), 'customfield_' || i, 'field', 'value ' || i, NULL
			FROM range(400000) t(i)`, []any{n}},
		{`INSERT INTO changelog (change_id, item_index, issue_key, field, from_string, to_string, changed_at)
			SELECT (100000 + i)::VARCHAR, 0, 'SUP-' || (i % ?), 'status', 'Open', 'Done', now() FROM range(600000) t(i)`, []any{n}},
		{`CHECKPOINT`, nil},
		{`DELETE FROM raw_issues WHERE issue_id::INTEGER % 2 = 0`, nil},
	} {
		if _, err := s.DB().ExecContext(ctx, q.sql, q.args...); err != nil {
			s.Close()
			t.Fatalf("%.60s: %v", q.sql, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	res, err := CompactIfWasteful(ctx, path, Options{MemoryLimit: "64MB"}, true)
	if err != nil {
		t.Fatalf("compact within 64MB: %v", err)
	}
	if !res.Compacted || res.AfterBytes >= res.Before.FileBytes {
		t.Errorf("got %+v, want the store compacted into a smaller file", res)
	}
	s, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var issues, fields, changes int
	if err := s.DB().QueryRowContext(ctx, `SELECT (SELECT count(*) FROM raw_issues), (SELECT count(*) FROM issue_fields),
		(SELECT count(*) FROM changelog)`).Scan(&issues, &fields, &changes); err != nil {
		t.Fatal(err)
	}
	if issues != n/2 || fields != 400000 || changes != 600000 {
		t.Errorf("rows after compaction: got %d raw issues, %d fields, %d changes; want %d, 400000, 600000", issues, fields, changes, n/2)
	}
}
