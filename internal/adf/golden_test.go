package adf

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// fixtureDir holds the Jira captures shared by the project's tests, next to
// the repository.
const fixtureDir = "../../../shared/jira-fixtures"

// restFixtures are REST answers whose ADF fields get a golden file: comment
// bodies, issue descriptions (plus the comments and worklogs they embed) and
// a search page.
var restFixtures = []string{
	"rest/comment/get_issue_comment_single__openapi_example.json",
	"rest/comment/get_issue_comments_expand_renderedBody__xsoar_real_anonymised.json",
	"rest/issue/get_issue__openapi_example.json",
	"rest/issue/get_issue_v3_default_fields__mtroja98_real.json",
	"rest/issue/get_issue_v3_expand_renderedFields_names_transitions__xsoar_real_anonymised.json",
	"rest/search/post_search_jql_page1_nextPageToken_isLast_false__mtroja98_real.json",
	"rest/worklog/get_issue_worklogs_paged__openapi_example.json",
}

// requireFixtures skips the test when the shared fixtures are not there, as
// in a copy of the repository on its own.
func requireFixtures(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(fixtureDir); err != nil {
		t.Skipf("skipping: Jira fixtures not found at %s (the shared folder next to the repository): %v", fixtureDir, err)
	}
}

// found is an ADF document inside a fixture.
type found struct {
	path string // where it sits, as $.fields.description
	doc  any
}

// findDocs returns every ADF document in v, in a stable order. Fixtures
// either are a document or carry documents in their fields.
func findDocs(v any, path string) []found {
	switch x := v.(type) {
	case map[string]any:
		if x["type"] == "doc" {
			return []found{{path: path, doc: x}}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var out []found
		for _, k := range keys {
			out = append(out, findDocs(x[k], path+"."+k)...)
		}
		return out
	case []any:
		var out []found
		for i, e := range x {
			out = append(out, findDocs(e, fmt.Sprintf("%s[%d]", path, i))...)
		}
		return out
	}
	return nil
}

// readDocs reads a fixture and returns the raw JSON of each document in it.
// A file that is a document itself is passed on byte for byte.
func readDocs(t *testing.T, file string) ([]found, [][]byte) {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("fixture %s: %v", file, err)
	}
	docs := findDocs(v, "$")
	out := make([][]byte, len(docs))
	for i, d := range docs {
		if d.path == "$" {
			out[i] = raw
			continue
		}
		if out[i], err = json.Marshal(d.doc); err != nil {
			t.Fatal(err)
		}
	}
	return docs, out
}

// checkGolden compares got with testdata/golden/name, or rewrites the file
// under -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("got text that differs from %s (-want +got); if the change is intended, run go test -update and review the file:\n%s", path, diff)
	}
}

func TestGoldenExamples(t *testing.T) {
	requireFixtures(t)
	files, err := filepath.Glob(filepath.Join(fixtureDir, "adf", "examples", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("got no files in %s/adf/examples, want the ADF examples", fixtureDir)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		t.Run(name, func(t *testing.T) {
			docs, raws := readDocs(t, file)
			if len(docs) != 1 {
				t.Fatalf("got %d ADF documents in %s, want 1", len(docs), file)
			}
			checkGolden(t, name+".txt", Text(raws[0])+"\n")
		})
	}
}

func TestGoldenREST(t *testing.T) {
	requireFixtures(t)
	for _, rel := range restFixtures {
		name := "rest_" + strings.TrimSuffix(strings.ReplaceAll(strings.TrimPrefix(rel, "rest/"), "/", "_"), ".json")
		t.Run(name, func(t *testing.T) {
			docs, raws := readDocs(t, filepath.Join(fixtureDir, rel))
			if len(docs) == 0 {
				t.Fatalf("got no ADF documents in %s, want at least one", rel)
			}
			sections := make([]string, len(docs))
			for i, d := range docs {
				sections[i] = "# " + d.path + "\n" + Text(raws[i])
			}
			checkGolden(t, name+".txt", strings.Join(sections, "\n\n")+"\n")
		})
	}
}

// TestWebhookStrings checks that the wiki-markup strings of REST v2 payloads
// (webhook bodies) come back unchanged.
func TestWebhookStrings(t *testing.T) {
	requireFixtures(t)
	files, err := filepath.Glob(filepath.Join(fixtureDir, "webhooks", "*", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			continue // not every capture is JSON the tests care about
		}
		for _, s := range textFields(v) {
			quoted, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			if got := Text(quoted); got != s {
				t.Errorf("%s: got %q, want the string unchanged %q", filepath.Base(file), got, s)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("got no description or body strings in the webhook fixtures, want some")
	}
}

// textFields returns the string values of "description" and "body" keys.
func textFields(v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && (k == "description" || k == "body") {
				out = append(out, s)
				continue
			}
			out = append(out, textFields(e)...)
		}
	case []any:
		for _, e := range x {
			out = append(out, textFields(e)...)
		}
	}
	return out
}

// BenchmarkText renders the largest ADF example.
func BenchmarkText(b *testing.B) {
	requireFixtures(b)
	files, err := filepath.Glob(filepath.Join(fixtureDir, "adf", "examples", "*.json"))
	if err != nil {
		b.Fatal(err)
	}
	var largest []byte
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		if len(raw) > len(largest) {
			largest = raw
		}
	}
	if largest == nil {
		b.Skip("skipping: no ADF examples")
	}
	b.SetBytes(int64(len(largest)))
	b.ReportAllocs()
	for b.Loop() {
		Text(largest)
	}
}

// TestGoldenEdgeCases renders the documents in testdata/edge, each a shape
// that once rendered wrong: links on whitespace, blank hrefs, smart cards
// whose target is only in their JSON-LD data, labels of links whose scheme
// Jira inferred.
func TestGoldenEdgeCases(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "edge", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("got no files in testdata/edge, want the edge-case documents")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "edge_"+name+".txt", Text(raw)+"\n")
		})
	}
}
