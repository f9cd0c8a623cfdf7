package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestPartialDownloadsOfACrashAreRemoved: a process killed in the middle of
// a download leaves its staging file. Downloads are staged in one folder
// outside attachments/ (never next to the attachments, where an analyst's
// sync would copy them), and the first download of the next process removes
// what is left there.
func TestPartialDownloadsOfACrashAreRemoved(t *testing.T) {
	h := newHarness(t, QueueOptions{Workers: 1})
	staging := filepath.Join(h.dir, ".staging", "downloads")
	if err := os.MkdirAll(staging, 0o750); err != nil {
		t.Fatal(err)
	}
	left := filepath.Join(staging, "download-123456")
	if err := os.WriteFile(left, []byte("half an attachment"), 0o640); err != nil {
		t.Fatal(err)
	}
	is := h.jira.add("100", "SUP-1", 0)
	h.jira.attachments["a1"] = []byte("hello")
	is.attach = []fakeAttachment{{id: "1", name: "report.txt", contentURL: h.jira.srv.URL + "/files/a1", size: 5}}
	if _, err := h.proc.Process(context.Background(), Request{KeyOrID: "SUP-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(left); !os.IsNotExist(err) {
		t.Errorf("partial download of an earlier process: got %v, want it removed", err)
	}
	if b, err := os.ReadFile(filepath.Join(h.dir, "attachments", "SUP-1", "1_report.txt")); err != nil || string(b) != "hello" {
		t.Errorf("attachment: got %q, %v", b, err)
	}
	entries, _ := os.ReadDir(filepath.Join(h.dir, "attachments", "SUP-1"))
	if len(entries) != 1 {
		t.Errorf("attachments/SUP-1 holds %d entries, want only the attachment", len(entries))
	}
	if rest, _ := os.ReadDir(staging); len(rest) != 0 {
		t.Errorf("staging folder keeps %d files after a download", len(rest))
	}
}
