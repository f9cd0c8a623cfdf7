package store

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jiraduck/jiraduck/internal/normalize"
)

// TestDownloadedAttachments reads back what downloads leave in the
// attachments table: kept bytes, a skipped file, one not downloaded yet.
func TestDownloadedAttachments(t *testing.T) {
	ctx := context.Background()
	s := migrated(t)
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO attachments (attachment_id, issue_key, local_path, size_bytes, sha256, skipped_reason) VALUES
		('1', 'SUP-1', 'attachments/SUP-1/1_a.png', 12, 'abc', NULL),
		('2', 'SUP-1', NULL, 99999999, NULL, 'larger than the cap'),
		('3', 'SUP-2', NULL, NULL, NULL, NULL)`); err != nil {
		t.Fatal(err)
	}
	got, err := s.DownloadedAttachments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]StoredAttachment{
		"1": {LocalPath: "attachments/SUP-1/1_a.png", SHA256: "abc", Size: 12},
		"2": {Size: 99999999, SkippedReason: "larger than the cap"},
		"3": {Size: -1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("attachments (-want +got):\n%s", diff)
	}
}

// TestForgetRowHashes checks that every stored issue loses its digests and
// nothing else.
func TestForgetRowHashes(t *testing.T) {
	ctx := context.Background()
	s := migrated(t)
	march := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	if err := s.WithTx(ctx, func(tx *Tx) error {
		_, err := s.ApplyBatch(ctx, tx, []*normalize.Rows{sampleRows("SUP-1", "1", march), sampleRows("SUP-2", "2", march)}, ApplyOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM raw_issues WHERE row_hashes IS NOT NULL`); n != 2 {
		t.Fatalf("got %d issues with digests before, want 2", n)
	}
	if err := s.WithTx(ctx, func(tx *Tx) error { return ForgetRowHashes(ctx, tx) }); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM raw_issues WHERE row_hashes IS NOT NULL`); n != 0 {
		t.Errorf("got %d issues with digests after, want 0", n)
	}
	if n := count(t, s, `SELECT count(*) FROM raw_issues WHERE payload IS NOT NULL`); n != 2 {
		t.Errorf("got %d payloads after, want 2", n)
	}
}
