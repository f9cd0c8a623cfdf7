package emulator

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/jiraduck/jiraduck/internal/adf"
)

func collectTypes(v any, types, marks map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		if t, ok := x["type"].(string); ok {
			types[t] = true
		}
		if ms, ok := x["marks"].([]any); ok {
			for _, m := range ms {
				if mm, ok := m.(map[string]any); ok {
					marks[mm["type"].(string)] = true
				}
			}
		}
		for k, c := range x {
			if k != "marks" {
				collectTypes(c, types, marks)
			}
		}
	case []any:
		for _, c := range x {
			collectTypes(c, types, marks)
		}
	}
}

func TestGeneratedRichTextUsesManyNodes(t *testing.T) {
	e, _ := newEmu(t, Options{Issues: 150, Seed: 10})
	types, marks := map[string]bool{}, map[string]bool{}
	docs := 0
	check := func(d Doc) {
		if d.IsZero() {
			return
		}
		docs++
		raw := d.JSON()
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("generated ADF is not JSON: %v", err)
		}
		collectTypes(v, types, marks)
		if strings.TrimSpace(adf.Text(raw)) == "" {
			t.Errorf("document renders as empty text: %s", raw)
		}
		if d.Wiki() == "" || d.HTML() == "" {
			t.Errorf("document has no wiki or HTML form: %s", raw)
		}
	}
	for _, k := range e.Keys() {
		is, _ := e.Issue(k)
		check(is.Description)
		for _, c := range is.Comments {
			check(c.Body)
		}
		if d, ok := is.Custom[FieldRootCause].(Doc); ok {
			check(d)
		}
	}
	for _, want := range []string{"doc", "paragraph", "text", "heading", "bulletList", "orderedList", "listItem", "table", "tableRow",
		"tableHeader", "tableCell", "codeBlock", "panel", "blockquote", "rule", "mention", "emoji", "date", "status", "inlineCard",
		"blockCard", "hardBreak", "mediaSingle", "mediaGroup", "media", "expand"} {
		if !types[want] {
			t.Errorf("no %s node in %d generated documents", want, docs)
		}
	}
	for _, want := range []string{"strong", "em", "code", "link", "strike"} {
		if !marks[want] {
			t.Errorf("no %s mark in %d generated documents", want, docs)
		}
	}
}

func TestDocForms(t *testing.T) {
	d := Text("Hello *world*\nsecond line\n\nNext paragraph")
	want := `{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"Hello *world*"},{"type":"hardBreak"},{"type":"text","text":"second line"}]},{"type":"paragraph","content":[{"type":"text","text":"Next paragraph"}]}]}`
	if string(d.JSON()) != want {
		t.Errorf("Text: got %s", d.JSON())
	}
	if got := d.Wiki(); got != "Hello *world*\nsecond line\n\nNext paragraph" {
		t.Errorf("Wiki: got %q", got)
	}
	if !strings.HasPrefix(d.HTML(), "<p>Hello *world*<br/>") {
		t.Errorf("HTML: got %q", d.HTML())
	}
	if !Text("  ").IsZero() || string((Doc{}).JSON()) != "null" {
		t.Error("empty text is not the empty Doc")
	}
	rich := []byte(`{"type":"doc","version":1,"content":[
		{"type":"heading","attrs":{"level":2},"content":[{"type":"text","text":"Title"}]},
		{"type":"bulletList","content":[{"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"one","marks":[{"type":"link","attrs":{"href":"https://example.com"}}]}]}]}]},
		{"type":"codeBlock","attrs":{"language":"go"},"content":[{"type":"text","text":"x := 1"}]},
		{"type":"paragraph","content":[{"type":"mention","attrs":{"id":"abc","text":"@Ann"}},{"type":"text","text":" hi","marks":[{"type":"strong"}]}]}]}`)
	d, err := ParseADF(rich)
	if err != nil {
		t.Fatal(err)
	}
	wiki := d.Wiki()
	for _, want := range []string{"h2. Title", "* [one|https://example.com]", "{code:go}x := 1{code}", "[~accountid:abc]* hi*"} {
		if !strings.Contains(wiki, want) {
			t.Errorf("wiki %q lacks %q", wiki, want)
		}
	}
	if !d.Equal(d) || d.Equal(Text("other")) {
		t.Error("Equal")
	}
	for _, bad := range []string{`{"type":"paragraph"}`, `[1]`, `{`} {
		if _, err := ParseADF([]byte(bad)); err == nil {
			t.Errorf("ParseADF(%s) succeeded", bad)
		}
	}
}
