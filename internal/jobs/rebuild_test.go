package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jiraduck/jiraduck/internal/normalize"
)

// TestRebuildTwoIdsUnderOneKey: a store holding two payloads that claim one
// key (a stale copy of a moved issue) rebuilds: the later id's rows are
// kept, as an apply in that order would keep them, and nothing fails on the
// key.
func TestRebuildTwoIdsUnderOneKey(t *testing.T) {
	h := newImportStore(t)
	files := map[string]any{}
	for k := 1; k <= 3; k++ {
		key := fmt.Sprint("SUP-", k)
		files[key+".json"] = brokerIssue(fmt.Sprint(100+k), key, "2024-01-03T00:00:00.000+0000", []string{fmt.Sprint(1000 + k)}, nil)
	}
	if res := h.run(t, rawDir(t, files)); res.Imported != 3 {
		t.Fatalf("imported %d issues, want 3", res.Imported)
	}
	dir := t.TempDir()
	// 102 is stored under SUP-1 too, fetched later than 101: it holds the
	// key, and 101's payload is superseded.
	if _, err := h.s.DB().Exec(`UPDATE raw_issues SET payload = replace(payload::VARCHAR, '"key":"SUP-2"', '"key":"SUP-1"'),
		issue_key = 'SUP-1', fetched_at = fetched_at + INTERVAL 1 HOUR WHERE issue_id = '102'`); err != nil {
		t.Fatal(err)
	}
	// rebuilt rebuilds in batches of one issue with a checkpoint between
	// every two, then of 500, and checks each with check after the counts
	// every case shares.
	rebuilt := func(check func(batch int)) {
		t.Helper()
		for _, batch := range []int{1, 500} {
			res, err := Rebuild(context.Background(), h.s, h.w, normalize.Options{}, RebuildOptions{Batch: batch, DataDir: dir, CheckpointEvery: batch})
			if err != nil {
				t.Fatalf("rebuild in batches of %d: %v", batch, err)
			}
			if res.Issues != 2 || res.Superseded != 1 {
				t.Errorf("batches of %d: issues re-derived %d, superseded %d; want 2 and 1", batch, res.Issues, res.Superseded)
			}
			check(batch)
		}
	}
	rebuilt(func(batch int) {
		var id string
		if err := h.s.DB().QueryRow(`SELECT issue_id FROM issues WHERE issue_key = 'SUP-1'`).Scan(&id); err != nil || id != "102" {
			t.Errorf("batches of %d: SUP-1 is id %q (%v), want 102, the later fetched", batch, id, err)
		}
		if n := count(t, h.s, `SELECT count(*) FROM comments WHERE issue_key = 'SUP-1'`); n != 1 {
			t.Errorf("batches of %d: comments of SUP-1: got %d, want 1 (the later id's)", batch, n)
		}
		if n := count(t, h.s, `SELECT count(*) FROM issues`); n != 2 {
			t.Errorf("batches of %d: issues: got %d, want 2", batch, n)
		}
	})
	// Payloads that name one key while the store files them under two: both
	// are written, the second replacing the first, in one transaction or two.
	if _, err := h.s.DB().Exec(`UPDATE raw_issues SET payload = replace(payload::VARCHAR, '"key":"SUP-3"', '"key":"SUP-1"')
		WHERE issue_id = '103'`); err != nil {
		t.Fatal(err)
	}
	rebuilt(func(batch int) {
		if n := count(t, h.s, `SELECT count(*) FROM issues`); n != 1 {
			t.Errorf("batches of %d: issues: got %d, want 1", batch, n)
		}
		if n := count(t, h.s, `SELECT count(*) FROM comments WHERE issue_key = 'SUP-1'`); n != 1 {
			t.Errorf("batches of %d: comments of SUP-1: got %d, want 1 (one payload's, not both)", batch, n)
		}
	})
}

// TestRebuildDoesNotTakeALinkForAnAttachment: a rebuild that finds an
// attachment's file on disk records its digest; a link at that name leading
// out of the data directory is not taken for it.
func TestRebuildDoesNotTakeALinkForAnAttachment(t *testing.T) {
	tests := []struct {
		name      string
		plant     func(t *testing.T, file, outside string)
		wantFound bool
	}{
		{"regular file", func(t *testing.T, file, _ string) {
			if err := os.WriteFile(file, []byte("hello"), 0o640); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"link out of the data directory", func(t *testing.T, file, outside string) {
			link(t, filepath.Join(outside, "victim"), file)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			data, outside := filepath.Join(base, "data"), filepath.Join(base, "outside")
			mkdir(t, filepath.Join(data, "attachments", "SUP-1"))
			mkdir(t, outside)
			// Same size as the attachment.
			if err := os.WriteFile(filepath.Join(outside, "victim"), []byte("keep!"), 0o640); err != nil {
				t.Fatal(err)
			}
			tt.plant(t, filepath.Join(data, "attachments", "SUP-1", "1_a.txt"), outside)
			name, size := "a.txt", int64(5)
			rows := &normalize.Rows{Attachments: []normalize.Attachment{{IssueKey: "SUP-1", AttachmentID: "1", Filename: &name, SizeBytes: &size}}}
			restoreAttachments(rows, nil, data, 1000)
			a := rows.Attachments[0]
			if found := a.LocalPath != nil; found != tt.wantFound {
				t.Errorf("got local path %v, want found %v", deref(a.LocalPath), tt.wantFound)
			}
		})
	}
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
}

func link(t *testing.T, target, name string) {
	t.Helper()
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
}

// TestRebuildCheckpoints: the blocks of the tables a rebuild empties hold
// the rows it writes next, so the file does not grow by the tables' size
// (they are free for that only once a checkpoint has recorded them so,
// which the rebuild makes after emptying them); and the rebuild checkpoints
// again every CheckpointEvery issues.
func TestRebuildCheckpoints(t *testing.T) {
	h := newImportStore(t)
	files := map[string]any{}
	for k := 1; k <= 200; k++ {
		key := fmt.Sprint("SUP-", k)
		var ids []string
		for c := range 80 {
			ids = append(ids, fmt.Sprint(k*100+c))
		}
		is := brokerIssue(fmt.Sprint(1000+k), key, "2024-01-03T00:00:00.000+0000", ids, nil)
		// Bodies of 1 KB that do not compress: the comments take most blocks.
		for _, c := range is["fields"].(map[string]any)["comment"].(map[string]any)["comments"].([]any) {
			sum := sha256.Sum256([]byte(fmt.Sprint(c)))
			c.(map[string]any)["body"] = strings.Repeat(hex.EncodeToString(sum[:]), 16)
		}
		files[key+".json"] = is
	}
	if res := h.run(t, rawDir(t, files)); res.Imported != 200 {
		t.Fatalf("imported %d issues, want 200", res.Imported)
	}
	ctx := context.Background()
	blocks := func() int64 {
		t.Helper()
		if err := h.s.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		var n int64
		if err := h.s.DB().QueryRow(`SELECT total_blocks FROM pragma_database_size() WHERE database_name = current_database()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := blocks()
	if _, err := Rebuild(ctx, h.s, h.w, normalize.Options{}, RebuildOptions{DataDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	after := blocks()
	t.Logf("%d blocks before the rebuild, %d after", before, after)
	// The analyst tables take about 50 of the store's 122 blocks: without
	// the checkpoint the file grew by all of them, with it by 5 (the rows'
	// last, partly filled blocks). With half the comments the growth with
	// it ranged from 3 to 16 blocks, too near the 18 without it.
	if after > before+before/4 {
		t.Errorf("the rebuild grew the store from %d to %d blocks, want the emptied tables' blocks reused", before, after)
	}

	// Checkpoints every CheckpointEvery issues: what the write-ahead log
	// holds at the end is only what the last ones left out.
	walAfter := func(every int) int64 {
		t.Helper()
		if _, err := Rebuild(ctx, h.s, h.w, normalize.Options{}, RebuildOptions{Batch: 20, CheckpointEvery: every, DataDir: t.TempDir()}); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(h.s.Path() + ".wal")
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	once, often := walAfter(1000), walAfter(40)
	t.Logf("log after a rebuild: %d bytes checkpointing at its start only, %d every 40 issues", once, often)
	if often*2 > once {
		t.Errorf("log after a rebuild checkpointing every 40 of 200 issues: got %d bytes, want under half of %d (one checkpoint)", often, once)
	}
}
