package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAttachmentWritesStayInTheDataDir: a symbolic link planted in the data
// directory (at an issue's folder, at a file name, at the staging folder)
// never leads a download outside it, nor makes a file outside it count as
// stored.
func TestAttachmentWritesStayInTheDataDir(t *testing.T) {
	tests := []struct {
		name string
		// plant prepares the data directory; stored first processes the
		// issue once, before planting.
		plant  func(t *testing.T, data, outside string)
		stored bool
		// wantStored: the attachment ends up stored, as a regular file
		// inside the data directory; else refused with wantReason.
		wantStored bool
		wantReason string
		wantState  string
	}{
		{"link at the issue's folder", func(t *testing.T, data, outside string) {
			mkdir(t, filepath.Join(data, "attachments"))
			link(t, outside, filepath.Join(data, "attachments", "SUP-1"))
		}, false, false, "path escapes", "partial"},
		{"relative link at the issue's folder", func(t *testing.T, data, outside string) {
			mkdir(t, filepath.Join(data, "attachments"))
			link(t, filepath.Join("..", "..", "outside"), filepath.Join(data, "attachments", "SUP-1"))
		}, false, false, "path escapes", "partial"},
		{"link at the file name", func(t *testing.T, data, outside string) {
			mkdir(t, filepath.Join(data, "attachments", "SUP-1"))
			link(t, filepath.Join(outside, "victim"), filepath.Join(data, "attachments", "SUP-1", "1_report.txt"))
		}, false, true, "", "complete"},
		{"stored file replaced by a link", func(t *testing.T, data, outside string) {
			p := filepath.Join(data, "attachments", "SUP-1", "1_report.txt")
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			// Same size as the attachment: the old check took it as stored.
			if err := os.WriteFile(filepath.Join(outside, "victim"), []byte("keep!"), 0o640); err != nil {
				t.Fatal(err)
			}
			link(t, filepath.Join(outside, "victim"), p)
		}, true, true, "", "complete"},
		{"link at the staging folder", func(t *testing.T, data, outside string) {
			mkdir(t, filepath.Join(outside, "downloads"))
			if err := os.WriteFile(filepath.Join(outside, "downloads", "download-victim"), []byte("keep"), 0o640); err != nil {
				t.Fatal(err)
			}
			link(t, outside, filepath.Join(data, ".staging"))
		}, false, false, "path escapes", "partial"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, QueueOptions{Workers: 1})
			outside := filepath.Join(filepath.Dir(h.dir), "outside")
			mkdir(t, outside)
			t.Cleanup(func() { os.RemoveAll(outside) })
			if err := os.WriteFile(filepath.Join(outside, "victim"), []byte("keep"), 0o640); err != nil {
				t.Fatal(err)
			}
			is := h.jira.add("100", "SUP-1", 0)
			h.jira.attachments["a1"] = []byte("hello")
			is.attach = []fakeAttachment{{id: "1", name: "report.txt", contentURL: h.jira.srv.URL + "/files/a1", size: 5}}
			if tt.stored {
				if _, err := h.proc.Process(context.Background(), Request{KeyOrID: "SUP-1"}); err != nil {
					t.Fatal(err)
				}
			}
			tt.plant(t, h.dir, outside)
			planted := listTree(t, outside)
			if _, err := h.proc.Process(context.Background(), Request{KeyOrID: "SUP-1"}); err != nil {
				t.Fatal(err)
			}

			if got := listTree(t, outside); got != planted {
				t.Errorf("outside the data directory: got\n%s\nwant\n%s", got, planted)
			}
			var path, reason, state string
			if err := h.s.DB().QueryRow(`SELECT coalesce(local_path, ''), coalesce(skipped_reason, '') FROM attachments`).Scan(&path, &reason); err != nil {
				t.Fatal(err)
			}
			if err := h.s.DB().QueryRow(`SELECT attachments_state FROM raw_issues`).Scan(&state); err != nil {
				t.Fatal(err)
			}
			if state != tt.wantState {
				t.Errorf("attachments_state: got %q, want %q", state, tt.wantState)
			}
			if !tt.wantStored {
				if path != "" || !strings.Contains(reason, tt.wantReason) {
					t.Errorf("got path %q, reason %q; want no path and a reason containing %q", path, reason, tt.wantReason)
				}
				return
			}
			if path != filepath.Join("attachments", "SUP-1", "1_report.txt") || reason != "" {
				t.Fatalf("got path %q, reason %q; want the attachment stored", path, reason)
			}
			st, err := os.Lstat(filepath.Join(h.dir, path))
			if err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != 0o640 {
				t.Fatalf("stored file: got %v, %v; want a regular file with mode 0640", st, err)
			}
			if b, _ := os.ReadFile(filepath.Join(h.dir, path)); string(b) != "hello" {
				t.Errorf("stored bytes: got %q, want %q", b, "hello")
			}
		})
	}
}

// TestImportAttachmentStaysInTheDataDir: the import of the broker's layout
// writes attachments the same confined way.
func TestImportAttachmentStaysInTheDataDir(t *testing.T) {
	base := t.TempDir()
	data, outside := filepath.Join(base, "data"), filepath.Join(base, "outside")
	mkdir(t, filepath.Join(data, "attachments"))
	mkdir(t, outside)
	link(t, outside, filepath.Join(data, "attachments", "SUP-1"))
	src := filepath.Join(base, "src.txt")
	if err := os.WriteFile(src, []byte("hello"), 0o640); err != nil {
		t.Fatal(err)
	}
	_, err := ImportAttachment(data, filepath.Join("attachments", "SUP-1", "1_a.txt"), src)
	if err == nil || !strings.Contains(err.Error(), "path escapes") {
		t.Errorf("got %v, want a refusal", err)
	}
	if got := listTree(t, outside); got != "" {
		t.Errorf("outside the data directory: got %q, want nothing", got)
	}
	sum, err := ImportAttachment(data, filepath.Join("attachments", "SUP-2", "1_a.txt"), src)
	if err != nil || len(sum) != 64 {
		t.Fatalf("got %q, %v; want a digest", sum, err)
	}
	if st, err := os.Stat(filepath.Join(data, "attachments", "SUP-2", "1_a.txt")); err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("imported file: got %v, %v; want mode 0640", st, err)
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

// listTree lists the files under dir with their contents, one a line.
func listTree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		content, _ := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		b.WriteString(rel + ": " + string(content) + "\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
