package adf

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzText feeds arbitrary bytes to Text. Seeds are the fixture documents
// (when the shared fixtures are present), the documents of the unit tests'
// shapes and the committed corpus in testdata/fuzz/FuzzText.
func FuzzText(f *testing.F) {
	for _, s := range []string{
		"", "null", `"h1. wiki *markup*"`, "[]", "{}",
		doc(p(txt("a"), hardBreak, link("b", "https://x.example/?token=t")), bullets(li(p(txt("c"))))),
		doc(node("orderedList", `{"order":"3"}`, li(p(txt("x")), node("codeBlock", "", txt("  y\n\n\nz  "))))),
		doc(node("table", "", row(cell("tableHeader", p(txt("h"))), cell("tableCell", p(node("date", `{"timestamp":"0"}`)))))),
		doc(node("expand", `{"title":"t"}`, node("mediaSingle", "", node("media", "{}"), node("caption", "", txt("c"))))),
		doc(p(node("mention", `"x"`), node("emoji", `{"shortName":1}`), node("inlineCard", `{"data":{"url":"u"}}`))),
	} {
		f.Add([]byte(s))
	}
	if _, err := os.Stat(fixtureDir); err == nil {
		files, _ := filepath.Glob(filepath.Join(fixtureDir, "adf", "examples", "*.json"))
		for _, rel := range restFixtures {
			files = append(files, filepath.Join(fixtureDir, rel))
		}
		for _, file := range files {
			raw, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				f.Fatalf("fixture %s: %v", file, err)
			}
			for _, d := range findDocs(v, "$") {
				b, err := json.Marshal(d.doc)
				if err != nil {
					f.Fatal(err)
				}
				f.Add(b)
			}
		}
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		got := Text(data)
		if utf8.Valid(data) && !utf8.ValidString(got) {
			t.Fatalf("got invalid UTF-8 %q from valid input", got)
		}
		if again := Text(data); again != got {
			t.Fatalf("got %q then %q, want the same text twice", got, again)
		}
		v := decode(data)
		if s, ok := v.(string); ok {
			if want := RedactText(s); got != want {
				t.Fatalf("got %q, want the JSON string with its URLs redacted %q", got, want)
			}
			return
		}
		if got != strings.TrimRightFunc(got, unicode.IsSpace) {
			t.Fatalf("got trailing whitespace in %q", got)
		}
		for _, l := range render(v) {
			if l.code {
				return // code is verbatim; the clean-up rules do not apply
			}
		}
		if got != strings.TrimSpace(got) {
			t.Fatalf("got leading whitespace in %q", got)
		}
		if strings.Contains(got, "\n\n\n") || strings.Contains(got, "\r") {
			t.Fatalf("got more than one blank line in a row or a carriage return in %q", got)
		}
		for _, l := range strings.Split(got, "\n") {
			if l != strings.TrimRightFunc(l, unicode.IsSpace) {
				t.Fatalf("got trailing whitespace on line %q", l)
			}
		}
	})
}
