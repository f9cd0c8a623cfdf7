package adf

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// Builders for ADF JSON, so that each test case shows the shape it is about.

func doc(blocks ...string) string {
	return `{"type":"doc","version":1,"content":[` + strings.Join(blocks, ",") + `]}`
}

func node(typ, attrs string, content ...string) string {
	s := `{"type":` + quote(typ)
	if attrs != "" {
		s += `,"attrs":` + attrs
	}
	if content != nil {
		s += `,"content":[` + strings.Join(content, ",") + `]`
	}
	return s + `}`
}

func p(inlines ...string) string { return node("paragraph", "", inlines...) }

func txt(s string) string { return `{"type":"text","text":` + quote(s) + `}` }

func link(s, href string) string {
	return `{"type":"text","text":` + quote(s) + `,"marks":[{"type":"link","attrs":{"href":` + quote(href) + `}}]}`
}

func li(blocks ...string) string { return node("listItem", "", blocks...) }

func bullets(items ...string) string { return node("bulletList", "", items...) }

func cell(typ string, blocks ...string) string { return node(typ, "{}", blocks...) }

func row(cells ...string) string { return node("tableRow", "", cells...) }

const hardBreak = `{"type":"hardBreak"}`

func quote(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

type textCase struct {
	name string
	in   string
	want string
}

func runTextCases(t *testing.T, cases []textCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Text(json.RawMessage(tc.in)); got != tc.want {
				t.Errorf("Text(%s)\ngot  %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestTextInputs(t *testing.T) {
	runTextCases(t, []textCase{
		{name: "nil", in: "", want: ""},
		{name: "whitespace only", in: " \n\t ", want: ""},
		{name: "json null", in: "null", want: ""},
		{name: "number", in: "42", want: ""},
		{name: "boolean", in: "true", want: ""},
		{name: "empty object", in: "{}", want: ""},
		{name: "empty doc", in: `{"type":"doc","version":1,"content":[]}`, want: ""},
		{name: "plain string is returned as is", in: `"*Creating Quick Filters*\n\n{code}x  \n{code}  "`,
			want: "*Creating Quick Filters*\n\n{code}x  \n{code}  "},
		{name: "plain string has its urls redacted", in: `"see [reset|https://id.example/r?token=s3cret&u=1] or https://x.example/?PWD=p."`,
			want: "see [reset|https://id.example/r?token=REDACTED&u=1] or https://x.example/?PWD=REDACTED."},
		{name: "empty string", in: `""`, want: ""},
		{name: "array of nodes", in: `[` + p(txt("one")) + `,` + p(txt("two")) + `]`, want: "one\n\ntwo"},
		{name: "single node without doc", in: p(txt("bare paragraph")), want: "bare paragraph"},
		{name: "not json", in: "h1. Wiki markup", want: ""},
		{name: "unterminated string", in: `"abc`, want: ""},
		{name: "truncated document keeps what was read",
			in:   `{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"kept"}]},{"type":"paragraph","content":[{"type":"text","text":"lo`,
			want: "kept"},
		{name: "garbage after a node", in: `{"type":"doc","content":[` + p(txt("before")) + `,}`, want: "before"},
		{name: "trailing garbage after document", in: doc(p(txt("x"))) + `}}}`, want: "x"},
		{name: "key without value", in: `{"type":"doc","content":[` + p(txt("a")) + `],"attrs":`, want: "a"},
	})
}

func TestTextBlocks(t *testing.T) {
	runTextCases(t, []textCase{
		{name: "paragraphs are separated by a blank line",
			in: doc(p(txt("first")), p(txt("second"))), want: "first\n\nsecond"},
		{name: "heading", in: doc(node("heading", `{"level":2}`, txt("Title")), p(txt("body"))), want: "Title\n\nbody"},
		{name: "blockquote", in: doc(p(txt("said:")), node("blockquote", "", p(txt("quoted")))), want: "said:\n\nquoted"},
		{name: "panel", in: doc(node("panel", `{"panelType":"info"}`, p(txt("a")), p(txt("b")))), want: "a\n\nb"},
		{name: "rule", in: doc(p(txt("above")), node("rule", ""), p(txt("below"))), want: "above\n\n---\n\nbelow"},
		{name: "expand with title", in: doc(node("expand", `{"title":"Details"}`, p(txt("hidden")))), want: "Details\n\nhidden"},
		{name: "expand without title", in: doc(node("expand", `{"title":""}`, p(txt("hidden")))), want: "hidden"},
		{name: "nested expand", in: doc(node("expand", `{"title":"Outer"}`, node("nestedExpand", `{"title":"Inner"}`, p(txt("deep"))))),
			want: "Outer\n\nInner\n\ndeep"},
		{name: "layout columns", in: doc(node("layoutSection", "", node("layoutColumn", `{"width":50}`, p(txt("left"))), node("layoutColumn", `{"width":50}`, p(txt("right"))))),
			want: "left\n\nright"},
		{name: "decision list", in: doc(node("decisionList", `{"localId":"l"}`,
			node("decisionItem", `{"localId":"a","state":"DECIDED"}`, txt("Ship it")),
			node("decisionItem", `{"localId":"b","state":"DECIDED"}`, txt("Tell support")))),
			want: "- Ship it\n- Tell support"},
		{name: "task list with states and nesting", in: doc(node("taskList", `{"localId":"l"}`,
			node("taskItem", `{"localId":"a","state":"DONE"}`, txt("Reproduce")),
			node("taskItem", `{"localId":"b","state":"TODO"}`, txt("Fix")),
			node("taskList", `{"localId":"m"}`, node("taskItem", `{"localId":"c","state":"TODO"}`, txt("Add a test"))))),
			want: "[x] Reproduce\n[ ] Fix\n    [ ] Add a test"},
		{name: "bodied extension content", in: doc(node("bodiedExtension", `{"extensionType":"x","extensionKey":"y"}`, p(txt("inside")))), want: "inside"},
		{name: "extension without text", in: doc(p(txt("a")), node("extension", `{"extensionType":"x","extensionKey":"y"}`), p(txt("b"))), want: "a\n\nb"},
		{name: "extension fallback text", in: doc(node("extension", `{"extensionKey":"y","text":"Macro text"}`)), want: "Macro text"},
		{name: "inline extension", in: doc(p(txt("a "), node("inlineExtension", `{"extensionKey":"y"}`), txt("b"))), want: "a b"},
		{name: "empty paragraphs do not pile up blank lines",
			in: doc(p(txt("a")), p(), p(), `{"type":"paragraph"}`, p(txt("  ")), p(txt("b"))), want: "a\n\nb"},
		{name: "trailing whitespace and outer blank lines are trimmed",
			in: doc(p(), p(txt("  lead and trail  "), hardBreak, txt("next line \t")), p()), want: "lead and trail\nnext line"},
		{name: "windows line ends in text", in: doc(p(txt("one\r\ntwo\rthree"))), want: "one\ntwo\nthree"},
	})
}

func TestTextLists(t *testing.T) {
	runTextCases(t, []textCase{
		{name: "bullet list", in: doc(bullets(li(p(txt("a"))), li(p(txt("b"))))), want: "- a\n- b"},
		{name: "ordered list starts at 1",
			in: doc(node("orderedList", "", li(p(txt("a"))), li(p(txt("b"))))), want: "1. a\n2. b"},
		{name: "ordered list honours order",
			in: doc(node("orderedList", `{"order":3}`, li(p(txt("c"))), li(p(txt("d"))))), want: "3. c\n4. d"},
		{name: "ordered list order zero",
			in: doc(node("orderedList", `{"order":0}`, li(p(txt("z"))))), want: "0. z"},
		{name: "ordered list order as string",
			in: doc(node("orderedList", `{"order":"7"}`, li(p(txt("g"))))), want: "7. g"},
		{name: "ordered list negative order falls back to 1",
			in: doc(node("orderedList", `{"order":-4}`, li(p(txt("x"))))), want: "1. x"},
		{name: "ordered list huge order falls back to 1",
			in: doc(node("orderedList", `{"order":1e300}`, li(p(txt("x"))))), want: "1. x"},
		{name: "continuation lines align with the text after the marker",
			in:   doc(node("orderedList", `{"order":9}`, li(p(txt("nine"), hardBreak, txt("more"))), li(p(txt("ten")), p(txt("second paragraph"))))),
			want: "9. nine\n   more\n10. ten\n    second paragraph"},
		{name: "nested lists are indented",
			in: doc(bullets(
				li(p(txt("top")), node("orderedList", "", li(p(txt("one")), bullets(li(p(txt("deep"))))), li(p(txt("two"))))),
				li(p(txt("next"))))),
			want: "- top\n  1. one\n     - deep\n  2. two\n- next"},
		{name: "code block in a list item is indented",
			in: doc(bullets(li(p(txt("run:")), node("codeBlock", "", txt("make\n  test"))))), want: "- run:\n  make\n    test"},
		{name: "empty list item keeps its number",
			in: doc(node("orderedList", "", li(p(txt("a"))), li(p()), li(p(txt("c"))))), want: "1. a\n2.\n3. c"},
		{name: "list separated from paragraphs",
			in: doc(p(txt("Steps:")), bullets(li(p(txt("a")))), p(txt("Done."))), want: "Steps:\n\n- a\n\nDone."},
	})
}

func TestTextTable(t *testing.T) {
	runTextCases(t, []textCase{
		{name: "header and rows",
			in: doc(node("table", `{"layout":"default"}`,
				row(cell("tableHeader", p(txt("Key"))), cell("tableHeader", p(txt("Status")))),
				row(cell("tableCell", p(txt("SUP-1"))), cell("tableCell", p(txt("Open")))),
				row(cell("tableCell", p(txt("SUP-2"))), cell("tableCell", p(txt("Done")))))),
			want: "Key | Status\nSUP-1 | Open\nSUP-2 | Done"},
		{name: "empty cells and empty rows",
			in: doc(node("table", "",
				row(cell("tableCell", p(txt("a"))), cell("tableCell", p()), cell("tableCell", p(txt("c")))),
				row(cell("tableCell", p()), cell("tableCell", p())),
				row(cell("tableCell", p()), cell("tableCell", p(txt("b")))))),
			want: "a | | c\n| b"},
		{name: "cell blocks share one line",
			in: doc(node("table", "", row(
				cell("tableCell", p(txt("first")), p(txt("second"), hardBreak, txt("third"))),
				cell("tableCell", bullets(li(p(txt("x"))), li(p(txt("y")))))))),
			want: "first second third | - x - y"},
		{name: "table between paragraphs",
			in:   doc(p(txt("before")), node("table", "", row(cell("tableCell", p(txt("x"))))), p(txt("after"))),
			want: "before\n\nx\n\nafter"},
	})
}

func TestTextCodeBlock(t *testing.T) {
	code := "func main() {\n\tfmt.Println(\"hi\")  \n\n\n}\n"
	runTextCases(t, []textCase{
		{name: "verbatim without language or markup",
			in:   doc(p(txt("Code:")), node("codeBlock", `{"language":"go"}`, txt(code)), p(txt("end"))),
			want: "Code:\n\nfunc main() {\n\tfmt.Println(\"hi\")  \n\n\n}\n\nend"},
		{name: "leading indentation kept at the start",
			in: doc(node("codeBlock", "", txt("    indented\nnot"))), want: "    indented\nnot"},
		{name: "several text nodes", in: doc(node("codeBlock", "", txt("a"), txt("b\n"), txt("c"))), want: "ab\nc"},
		{name: "marks are ignored",
			in: doc(node("codeBlock", "", `{"type":"text","text":"x := 1","marks":[{"type":"code"}]}`)), want: "x := 1"},
		{name: "empty code block", in: doc(p(txt("a")), node("codeBlock", ""), p(txt("b"))), want: "a\n\nb"},
	})
}

func TestTextInline(t *testing.T) {
	runTextCases(t, []textCase{
		{name: "hard break", in: doc(p(txt("one"), hardBreak, txt("two"), hardBreak)), want: "one\ntwo"},
		{name: "marks other than link are dropped",
			in:   doc(p(`{"type":"text","text":"bold","marks":[{"type":"strong"},{"type":"textColor","attrs":{"color":"#ff0000"}}]}`, txt(" plain"))),
			want: "bold plain"},
		{name: "mention with @", in: doc(p(txt("cc "), node("mention", `{"id":"557058:1","text":"@Ann Lee"}`))), want: "cc @Ann Lee"},
		{name: "mention without @", in: doc(p(node("mention", `{"id":"557058:1","text":"Ann Lee"}`), txt(" please look"))), want: "@Ann Lee please look"},
		{name: "mention falls back to id", in: doc(p(node("mention", `{"id":"5fb82376aca10c006949f35b"}`))), want: "@5fb82376aca10c006949f35b"},
		{name: "mention with empty text", in: doc(p(node("mention", `{"id":"abc","text":""}`))), want: "@abc"},
		{name: "mention without attrs", in: doc(p(txt("a"), node("mention", ""), txt(" b"))), want: "a b"},
		{name: "mention glued to a word gets a space", in: doc(p(txt("Thanks"), node("mention", `{"text":"@Bo"}`), txt("!"))), want: "Thanks @Bo!"},
		{name: "emoji text", in: doc(p(txt("ok "), node("emoji", `{"shortName":":smile:","id":"1f604","text":"😄"}`))), want: "ok 😄"},
		{name: "emoji short name fallback", in: doc(p(node("emoji", `{"shortName":":party-parrot:","id":"abc"}`))), want: ":party-parrot:"},
		{name: "emoji short name without colons", in: doc(p(node("emoji", `{"shortName":"smile"}`))), want: ":smile:"},
		{name: "emoji empty text", in: doc(p(node("emoji", `{"shortName":":smile:","text":""}`))), want: ":smile:"},
		{name: "date", in: doc(p(txt("due "), node("date", `{"timestamp":"1700000000000"}`))), want: "due 2023-11-14"},
		{name: "date as number", in: doc(p(node("date", `{"timestamp":1582156800000}`))), want: "2020-02-20"},
		{name: "date before 1970", in: doc(p(node("date", `{"timestamp":"-86400000"}`))), want: "1969-12-31"},
		{name: "date unreadable", in: doc(p(txt("due "), node("date", `{"timestamp":"soon"}`))), want: "due"},
		{name: "status", in: doc(p(txt("State:"), node("status", `{"text":"IN PROGRESS","color":"blue","localId":"x"}`))), want: "State: IN PROGRESS"},
		{name: "inline card", in: doc(p(txt("See"), node("inlineCard", `{"url":"https://example.atlassian.net/browse/SUP-1"}`), txt("for details"))),
			want: "See https://example.atlassian.net/browse/SUP-1 for details"},
		{name: "inline card with data", in: doc(p(node("inlineCard", `{"data":{"@type":"Document","name":"Spec","url":"https://example.com/spec"}}`))),
			want: "https://example.com/spec"},
		{name: "inline card without url", in: doc(p(txt("x"), node("inlineCard", `{}`))), want: "x"},
		{name: "block card", in: doc(node("blockCard", `{"url":"https://example.com/a"}`)), want: "https://example.com/a"},
		{name: "embed card", in: doc(node("embedCard", `{"url":"https://example.com/e","layout":"center"}`)), want: "https://example.com/e"},
		{name: "card url is redacted", in: doc(node("blockCard", `{"url":"https://files.example.com/x.pdf?X-Amz-Signature=abc&v=2"}`)),
			want: "https://files.example.com/x.pdf?X-Amz-Signature=REDACTED&v=2"},
		{name: "link label differs from href", in: doc(p(txt("read "), link("the guide", "https://example.com/guide"), txt(" first"))),
			want: "read the guide (https://example.com/guide) first"},
		{name: "link label equals href", in: doc(p(link("https://example.com/guide", "https://example.com/guide"))),
			want: "https://example.com/guide"},
		{name: "link label without scheme", in: doc(p(link("example.com", "http://example.com"))), want: "example.com"},
		{name: "mail link", in: doc(p(link("help@example.com", "mailto:help@example.com"))), want: "help@example.com"},
		{name: "link split by formatting is one link",
			in:   doc(p(link("the ", "https://example.com"), `{"type":"text","text":"guide","marks":[{"type":"strong"},{"type":"link","attrs":{"href":"https://example.com"}}]}`, txt("."))),
			want: "the guide (https://example.com)."},
		{name: "two adjacent links", in: doc(p(link("a", "https://a.example"), link("b", "https://b.example"))),
			want: "a (https://a.example)b (https://b.example)"},
		{name: "link label spaces stay outside", in: doc(p(txt("x"), link(" label ", "https://e.example"), txt("y"))),
			want: "x label (https://e.example) y"},
		{name: "link href is redacted", in: doc(p(link("reset", "https://id.example.com/reset?user=7&token=s3cr3t"))),
			want: "reset (https://id.example.com/reset?user=7&token=REDACTED)"},
		{name: "link label equal to a secret href is redacted", in: doc(p(link("https://x.example/?api_key=k1", "https://x.example/?api_key=k1"))),
			want: "https://x.example/?api_key=REDACTED"},
		{name: "link without href", in: doc(p(`{"type":"text","text":"plain","marks":[{"type":"link","attrs":{}}]}`)), want: "plain"},
		{name: "media dropped", in: doc(p(txt("before")), node("mediaGroup", "", node("media", `{"type":"file","id":"1","collection":"c"}`)), p(txt("after"))),
			want: "before\n\nafter"},
		{name: "media single keeps caption",
			in:   doc(node("mediaSingle", `{"layout":"center"}`, node("media", `{"type":"file","id":"1"}`), node("caption", "", txt("Figure 1")))),
			want: "Figure 1"},
		{name: "media single without caption", in: doc(node("mediaSingle", "", node("media", `{"type":"file","id":"1"}`))), want: ""},
		{name: "media inline dropped", in: doc(p(txt("see "), node("mediaInline", `{"type":"file","id":"1"}`), txt(" attached"))),
			want: "see  attached"},
		{name: "placeholder dropped", in: doc(p(node("placeholder", `{"text":"Type here"}`))), want: ""},
		{name: "unknown inline node renders its children", in: doc(p(txt("a "), node("fancyText", "", txt("inside")), txt(" b"))), want: "a inside b"},
		{name: "unknown leaf falls back to attrs.text", in: doc(p(node("team-mention", `{"id":"all","text":"@all"}`))), want: "@all"},
		{name: "unknown block node renders its children", in: doc(node("futureBlock", "", p(txt("one")), p(txt("two")))), want: "one\n\ntwo"},
		{name: "text directly under doc", in: doc(txt("loose "), txt("text"), p(txt("para"))), want: "loose text\n\npara"},
		{name: "block inside paragraph", in: doc(p(txt("a"), node("codeBlock", "", txt("  x")), txt("b"))), want: "a\n  x\nb"},
	})
}

func TestTextDateUTC(t *testing.T) {
	// 2024-02-29T23:30:00Z is already March 1st east of UTC: the date must
	// not depend on the machine's zone.
	saved := time.Local
	time.Local = time.FixedZone("UTC+14", 14*3600)
	t.Cleanup(func() { time.Local = saved })

	got := Text(json.RawMessage(doc(p(node("date", `{"timestamp":"1709249400000"}`)))))
	if want := "2024-02-29"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestTextWrongTypes(t *testing.T) {
	runTextCases(t, []textCase{
		{name: "attrs as string", in: doc(node("heading", `"level 1"`, txt("h")), p(node("mention", `"x"`)), node("orderedList", `"3"`, li(p(txt("i"))))),
			want: "h\n\n1. i"},
		{name: "attrs as array", in: doc(p(node("emoji", `[1,2]`), node("date", `[]`), node("status", `null`), txt("ok"))), want: "ok"},
		{name: "content as object", in: `{"type":"doc","content":{"type":"paragraph","content":{"type":"text","text":"single"}}}`, want: "single"},
		{name: "content as string", in: `{"type":"doc","content":"hello"}`, want: ""},
		{name: "content as number", in: `{"type":"doc","content":[{"type":"paragraph","content":5}]}`, want: ""},
		{name: "content with non-objects", in: `{"type":"doc","content":[1,"two",null,true,[` + p(txt("nested array")) + `],` + p(txt("kept")) + `]}`, want: "kept"},
		{name: "text as number", in: doc(p(`{"type":"text","text":12}`, txt("x"))), want: "x"},
		{name: "type as number", in: doc(`{"type":7,"content":[` + p(txt("child")) + `]}`), want: "child"},
		{name: "type missing", in: doc(`{"content":[` + txt("orphan") + `]}`), want: "orphan"},
		{name: "marks as object", in: doc(p(`{"type":"text","text":"m","marks":{"type":"link","attrs":{"href":"https://x"}}}`)), want: "m"},
		{name: "mark attrs as string", in: doc(p(`{"type":"text","text":"m","marks":[{"type":"link","attrs":"https://x"}]}`)), want: "m"},
		{name: "href as number", in: doc(p(`{"type":"text","text":"m","marks":[{"type":"link","attrs":{"href":5}}]}`)), want: "m"},
		{name: "order as boolean", in: doc(node("orderedList", `{"order":true}`, li(p(txt("i"))))), want: "1. i"},
		{name: "order as fraction", in: doc(node("orderedList", `{"order":2.7}`, li(p(txt("i"))))), want: "2. i"},
		{name: "timestamp as boolean", in: doc(p(node("date", `{"timestamp":true}`))), want: ""},
		{name: "timestamp out of range", in: doc(p(node("date", `{"timestamp":1e300}`))), want: ""},
		{name: "card url as number", in: doc(node("blockCard", `{"url":1,"data":"x"}`)), want: ""},
		{name: "mention text as object", in: doc(p(node("mention", `{"id":"i","text":{"a":1}}`))), want: "@i"},
		{name: "title as number", in: doc(node("expand", `{"title":3}`, p(txt("body")))), want: "body"},
		{name: "list items that are not items", in: doc(bullets(p(txt("loose")), txt("text"))), want: "- loose\n- text"},
		{name: "table row that is not a row", in: doc(node("table", "", p(txt("loose")))), want: "loose"},
		{name: "list without content", in: doc(`{"type":"bulletList"}`), want: ""},
		{name: "invalid utf-8 is replaced", in: doc(p("{\"type\":\"text\",\"text\":\"a\xffb\"}")), want: "a\uFFFDb"},
	})
}

func TestTextDepth(t *testing.T) {
	t.Run("deep lists are cut without losing the top", func(t *testing.T) {
		const levels = 5000
		in := strings.Repeat(`{"type":"bulletList","content":[{"type":"listItem","content":[`+p(txt("level"))+`,`, levels) +
			p(txt("bottom")) + strings.Repeat(`]}]}`, levels)
		got := Text(json.RawMessage(doc(p(txt("top")), in)))
		if !strings.HasPrefix(got, "top\n\n- level\n  - level") {
			t.Errorf("got prefix %q, want the top levels rendered", got[:min(len(got), 40)])
		}
		if strings.Contains(got, "bottom") {
			t.Errorf("got the bottom of a %d-level list, want it dropped", levels)
		}
		if n, max := strings.Count(got, "level"), maxDepth/2; n > max {
			t.Errorf("got %d levels, want at most %d", n, max)
		}
	})
	t.Run("nesting beyond the json decoder's limit", func(t *testing.T) {
		const levels = 20000
		in := doc(p(txt("top")), strings.Repeat(`{"type":"blockquote","content":[`, levels)+p(txt("bottom"))+strings.Repeat(`]}`, levels))
		if got, want := Text(json.RawMessage(in)), "top"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("deep arrays", func(t *testing.T) {
		in := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
		if got := Text(json.RawMessage(in)); got != "" {
			t.Errorf("got %q, want empty", got)
		}
	})
}

func TestRender(t *testing.T) {
	var decoded any
	if err := json.Unmarshal([]byte(doc(p(txt("decoded")))), &decoded); err != nil {
		t.Fatal(err)
	}
	// A Go value can contain itself, which JSON cannot express.
	cyclic := map[string]any{"type": "blockquote"}
	cyclic["content"] = []any{map[string]any{"type": "paragraph", "content": []any{map[string]any{"type": "text", "text": "again"}}}, cyclic}
	// Shared children double the work at each level without a node budget.
	shared := map[string]any{"type": "text", "text": "x"}
	for range 60 {
		shared = map[string]any{"type": "layoutColumn", "content": []any{shared, shared}}
	}

	tests := []struct {
		name string
		in   any
		want string
	}{
		{name: "nil", in: nil, want: ""},
		{name: "decoded document", in: decoded, want: "decoded"},
		{name: "raw message", in: json.RawMessage(doc(p(txt("raw")))), want: "raw"},
		{name: "string", in: "h1. wiki", want: "h1. wiki"},
		{name: "slice of nodes", in: []any{map[string]any{"type": "rule"}}, want: "---"},
		{name: "json.Number attributes", in: map[string]any{"type": "orderedList", "attrs": map[string]any{"order": json.Number("4")},
			"content": []any{map[string]any{"type": "listItem", "content": []any{map[string]any{"type": "text", "text": "four"}}}}}, want: "4. four"},
		{name: "unsupported type", in: 3.5, want: ""},
		{name: "struct", in: struct{ Type string }{"doc"}, want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Render(tc.in); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}

	t.Run("cyclic value terminates", func(t *testing.T) {
		got := Render(cyclic)
		if n := strings.Count(got, "again"); n == 0 || n > maxDepth {
			t.Errorf("got %d repetitions, want between 1 and %d", n, maxDepth)
		}
	})
	t.Run("shared children stop at the node budget", func(t *testing.T) {
		got := Render(shared)
		if n := strings.Count(got, "x"); n == 0 || n > maxNodes {
			t.Errorf("got %d texts, want between 1 and %d", n, maxNodes)
		}
	})
}
