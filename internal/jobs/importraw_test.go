package jobs

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jiraduck/jiraduck/internal/normalize"
	"github.com/jiraduck/jiraduck/internal/store"
)

// brokerIssue is an issue as the Python broker kept it: GET issue's answer
// with comments embedded, plus the broker's own keys in extra.
func brokerIssue(id, key, updated string, commentIDs []string, extra map[string]any) map[string]any {
	comments := []any{}
	for _, c := range commentIDs {
		comments = append(comments, map[string]any{"id": c, "body": "comment " + c, "created": "2024-01-02T00:00:00.000+0000"})
	}
	issue := map[string]any{"id": id, "key": key, "fields": map[string]any{
		"summary": "summary of " + key, "created": "2024-01-01T00:00:00.000+0000", "updated": updated,
		"comment": map[string]any{"total": len(comments), "comments": comments}}}
	for k, v := range extra {
		issue[k] = v
	}
	return issue
}

// rawDir writes a broker layout: issues/<name> for each file, given as a
// JSON value or as the bytes to write.
func rawDir(t *testing.T, files map[string]any) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "issues"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, v := range files {
		b, ok := v.([]byte)
		if !ok {
			var err error
			if b, err = json.Marshal(v); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "issues", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

type importStore struct {
	s *store.Store
	w *store.Writer
}

func newImportStore(t *testing.T) *importStore {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(t.TempDir(), store.FileName), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	is := &importStore{s: s, w: s.NewWriter(16, nil)}
	t.Cleanup(func() {
		is.w.Close()
		s.Close()
	})
	return is
}

func (is *importStore) run(t *testing.T, raw string) ImportResult {
	t.Helper()
	res, err := Import(context.Background(), is.s, is.w, normalize.Options{}, ImportOptions{RawDir: raw, DataDir: t.TempDir(), AttachmentMaxBytes: 1 << 20})
	if err != nil {
		t.Fatalf("import: got error %v, want the bad files refused and the rest imported", err)
	}
	return res
}

func (is *importStore) keys(t *testing.T, query string) string {
	t.Helper()
	rows, err := is.s.DB().Query(query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		out = append(out, k)
	}
	return strings.Join(out, ",")
}

// TestImportTwoFilesOneIssue: the broker kept a moved issue under its old
// and its new key. The newest file (fields.updated, then _synced_at) is
// imported, the other is reported with both paths, nothing is refused and
// the other issues of the batch are imported.
func TestImportTwoFilesOneIssue(t *testing.T) {
	const jan, feb = "2024-01-05T00:00:00.000+0000", "2024-02-05T00:00:00.000+0000"
	tests := []struct {
		name           string
		old, moved     map[string]any
		wantKey        string
		kept, left     string
		wantReasonPart string
	}{
		{name: "new key updated later",
			old: brokerIssue("100", "SUP-1", jan, []string{"7"}, nil), moved: brokerIssue("100", "NEW-5", feb, []string{"7"}, nil),
			wantKey: "NEW-5", kept: "NEW-5.json", left: "SUP-1.json", wantReasonPart: "updated 2024-02-05"},
		{name: "old key updated later",
			old: brokerIssue("100", "SUP-1", feb, []string{"7"}, nil), moved: brokerIssue("100", "NEW-5", jan, []string{"7"}, nil),
			wantKey: "SUP-1", kept: "SUP-1.json", left: "NEW-5.json", wantReasonPart: "updated 2024-02-05"},
		{name: "same updated, synced later decides",
			old:     brokerIssue("100", "SUP-1", jan, []string{"7"}, map[string]any{"_synced_at": "2024-03-01T10:00:00.123456+00:00"}),
			moved:   brokerIssue("100", "NEW-5", jan, []string{"7"}, map[string]any{"_synced_at": "2024-03-01T09:00:00"}),
			wantKey: "SUP-1", kept: "SUP-1.json", left: "NEW-5.json", wantReasonPart: "synced 2024-03-01T10:00:00.123456Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is := newImportStore(t)
			raw := rawDir(t, map[string]any{"SUP-1.json": tc.old, "NEW-5.json": tc.moved,
				"SUP-2.json": brokerIssue("200", "SUP-2", jan, []string{"8"}, nil)})
			res := is.run(t, raw)
			if res.Imported != 2 || res.Superseded != 1 || res.Refused != 0 {
				t.Errorf("got %d imported, %d superseded, %d refused, want 2, 1, 0", res.Imported, res.Superseded, res.Refused)
			}
			if got := is.keys(t, `SELECT issue_key FROM issues ORDER BY 1`); got != tc.wantKey+",SUP-2" {
				t.Errorf("issues: got %s, want %s,SUP-2", got, tc.wantKey)
			}
			if got := is.keys(t, `SELECT issue_key FROM comments WHERE comment_id = '7'`); got != tc.wantKey {
				t.Errorf("comment 7: got it under %q, want %s", got, tc.wantKey)
			}
			if len(res.Supersessions) != 1 {
				t.Fatalf("got supersessions %q, want one", res.Supersessions)
			}
			msg := res.Supersessions[0]
			for _, want := range []string{filepath.Join(raw, "issues", tc.left), filepath.Join(raw, "issues", tc.kept), tc.wantReasonPart} {
				if !strings.Contains(msg, want) {
					t.Errorf("got %q, want it to contain %q", msg, want)
				}
			}
		})
	}
}

// TestImportRefusesOnlyTheBadFiles: two issues whose comments share an id,
// a file that is not JSON, one that is not an issue and one whose name is
// not a key. Each bad file is refused with its path and reason, the first
// issue holding the comment id keeps it, and the rest is imported.
func TestImportRefusesOnlyTheBadFiles(t *testing.T) {
	const jan = "2024-01-05T00:00:00.000+0000"
	for _, batch := range []int{1, 500} {
		t.Run(map[int]string{1: "one issue a batch", 500: "one batch"}[batch], func(t *testing.T) {
			is := newImportStore(t)
			raw := rawDir(t, map[string]any{
				"SUP-1.json":    brokerIssue("100", "SUP-1", jan, []string{"500", "501"}, nil),
				"SUP-2.json":    brokerIssue("200", "SUP-2", jan, []string{"502", "500"}, nil),
				"SUP-3.json":    brokerIssue("300", "SUP-3", jan, []string{"503"}, nil),
				"SUP-4.json":    []byte(`{"id": "400", "key": "SUP-`),
				"SUP-6.json":    map[string]any{"hello": "world"},
				"notakey.json":  map[string]any{},
				"SUP-10.json":   brokerIssue("1000", "SUP-10", jan, nil, nil),
				"README.md.txt": []byte("not considered"),
			})
			res, err := Import(context.Background(), is.s, is.w, normalize.Options{}, ImportOptions{RawDir: raw, DataDir: t.TempDir(), Batch: batch})
			if err != nil {
				t.Fatalf("import: got error %v, want the bad files refused and the rest imported", err)
			}
			if res.Files != 7 || res.Imported != 3 || res.Refused != 4 || res.Superseded != 0 {
				t.Errorf("got %d files, %d imported, %d refused, %d superseded, want 7, 3, 4, 0", res.Files, res.Imported, res.Refused, res.Superseded)
			}
			if got := is.keys(t, `SELECT issue_key FROM issues ORDER BY 1`); got != "SUP-1,SUP-10,SUP-3" {
				t.Errorf("issues: got %s, want SUP-1,SUP-10,SUP-3", got)
			}
			if got := is.keys(t, `SELECT comment_id || '@' || issue_key FROM comments ORDER BY 1`); got != "500@SUP-1,501@SUP-1,503@SUP-3" {
				t.Errorf("comments: got %s, want 500@SUP-1,501@SUP-1,503@SUP-3", got)
			}
			path := func(name string) string { return filepath.Join(raw, "issues", name) }
			want := map[string][]string{
				path("SUP-2.json"):   {"comment id 500", "SUP-1", path("SUP-1.json")},
				path("SUP-4.json"):   {"not an issue as JSON"},
				path("SUP-6.json"):   {"not an issue"},
				path("notakey.json"): {"not an issue key"},
			}
			for file, parts := range want {
				var found string
				for _, r := range res.Refusals {
					if strings.HasPrefix(r, file+": ") {
						found = r
					}
				}
				if found == "" {
					t.Errorf("got refusals %q, want one for %s", res.Refusals, file)
					continue
				}
				for _, p := range parts {
					if !strings.Contains(found, p) {
						t.Errorf("got %q, want it to contain %q", found, p)
					}
				}
			}
		})
	}
}

// TestImportAbsentIsNotEmpty: `_remote_links: null` or absent, and an
// absent changelog or comment list, say nothing of the collection: what is
// stored is kept. An empty list says there is none.
func TestImportAbsentIsNotEmpty(t *testing.T) {
	const jan, feb = "2024-01-05T00:00:00.000+0000", "2024-02-05T00:00:00.000+0000"
	link := map[string]any{"id": 1, "globalId": "g1", "object": map[string]any{"url": "https://docs.example/1", "title": "doc"}}
	history := map[string]any{"id": "900", "created": jan, "author": map[string]any{"accountId": "a1"},
		"items": []any{map[string]any{"field": "status", "fromString": "Open", "toString": "Done"}}}
	first := brokerIssue("100", "SUP-1", jan, []string{"7"}, map[string]any{"_remote_links": []any{link},
		"changelog": map[string]any{"total": 1, "histories": []any{history}}})
	tests := []struct {
		name                       string
		edit                       func(issue map[string]any)
		links, changelog, comments int
	}{
		{"remote links null, changelog absent", func(i map[string]any) { i["_remote_links"] = nil }, 1, 1, 1},
		{"remote links and changelog absent", func(map[string]any) {}, 1, 1, 1},
		{"comment list absent", func(i map[string]any) {
			i["_remote_links"] = []any{link}
			delete(i["fields"].(map[string]any), "comment")
		}, 1, 1, 1},
		{"empty lists wipe", func(i map[string]any) {
			i["_remote_links"] = []any{}
			i["changelog"] = map[string]any{"total": 0, "histories": []any{}}
			i["fields"].(map[string]any)["comment"] = map[string]any{"total": 0, "comments": []any{}}
		}, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is := newImportStore(t)
			if res := is.run(t, rawDir(t, map[string]any{"SUP-1.json": first})); res.Imported != 1 {
				t.Fatalf("first import: got %+v, want 1 imported", res)
			}
			later := brokerIssue("100", "SUP-1", feb, []string{"7"}, nil)
			tc.edit(later)
			if res := is.run(t, rawDir(t, map[string]any{"SUP-1.json": later})); res.Imported != 1 {
				t.Fatalf("second import: got %+v, want 1 imported", res)
			}
			for _, c := range []struct {
				table string
				want  int
			}{{"remote_links", tc.links}, {"changelog", tc.changelog}, {"comments", tc.comments}} {
				if got := count(t, is.s, `SELECT count(*) FROM `+c.table); got != c.want {
					t.Errorf("%s: got %d rows, want %d", c.table, got, c.want)
				}
			}
		})
	}
}

func count(t *testing.T, s *store.Store, query string) int {
	t.Helper()
	var n int
	if err := s.DB().QueryRow(query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}
