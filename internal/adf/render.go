package adf

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"unicode"
)

const (
	// maxDepth is the deepest node rendered; content below it is dropped.
	// Real documents stay far shallower (Jira's editor limits list nesting
	// to a handful of levels), so the cap only ever bites hostile input.
	maxDepth = 200

	// maxNodes bounds the nodes one Render visits. JSON input can never
	// reach it below megabytes of text, but a Go value whose nodes share
	// children would otherwise cost time exponential in its depth.
	maxNodes = 1 << 20
)

// inlineTypes are the ADF nodes that sit inside a paragraph. Every other
// known type is a block.
var inlineTypes = map[string]bool{
	"text":            true,
	"hardBreak":       true,
	"mention":         true,
	"emoji":           true,
	"date":            true,
	"status":          true,
	"inlineCard":      true,
	"mediaInline":     true,
	"inlineExtension": true,
	"placeholder":     true,
}

// blockTypes are the block nodes that blockBody knows. Met inside a
// paragraph, where the schema does not allow them, they still render as
// blocks instead of being flattened into the line.
var blockTypes = map[string]bool{
	"doc":             true,
	"paragraph":       true,
	"heading":         true,
	"blockquote":      true,
	"panel":           true,
	"rule":            true,
	"codeBlock":       true,
	"bulletList":      true,
	"orderedList":     true,
	"listItem":        true,
	"taskList":        true,
	"taskItem":        true,
	"blockTaskItem":   true,
	"decisionList":    true,
	"decisionItem":    true,
	"table":           true,
	"tableRow":        true,
	"tableHeader":     true,
	"tableCell":       true,
	"expand":          true,
	"nestedExpand":    true,
	"layoutSection":   true,
	"layoutColumn":    true,
	"mediaSingle":     true,
	"mediaGroup":      true,
	"media":           true,
	"caption":         true,
	"blockCard":       true,
	"embedCard":       true,
	"extension":       true,
	"bodiedExtension": true,
}

// line is one line of output. Indentation is kept apart from the text so
// that nesting a list shifts its lines with an addition instead of a copy.
type line struct {
	indent int    // spaces written before a non-empty text
	text   string // never contains a line break
	code   bool   // from a code block: exempt from whitespace clean-up
}

// renderer walks one document. Every node appends its lines to out; a
// container that needs to change its children's lines (a list marker, a
// table cell joined into a row) works on the range they were appended to.
type renderer struct {
	out    []line
	budget int // nodes that may still be visited
}

func newRenderer() *renderer {
	return &renderer{budget: maxNodes}
}

// enter accounts for one node at the given depth and reports whether it
// may be rendered.
func (r *renderer) enter(depth int) bool {
	if depth > maxDepth || r.budget <= 0 {
		return false
	}
	r.budget--
	return true
}

// gap starts a block in a flow that began at start: unless tight, a blank
// line separates it from what the flow already holds. It returns where to
// roll back to if the block turns out to be empty.
func (r *renderer) gap(start int, tight bool) int {
	mark := len(r.out)
	if !tight && mark > start {
		r.out = append(r.out, line{})
	}
	return mark
}

// drop removes the gap added at mark when nothing followed it.
func (r *renderer) drop(mark int) {
	if n := len(r.out); n == mark || (n == mark+1 && r.out[mark] == line{}) {
		r.out = r.out[:mark]
	}
}

// flow renders sibling nodes as blocks, with a blank line between blocks
// unless tight. Inline nodes placed straight in a block container, which
// happens in hand-built or damaged documents, are gathered into a paragraph
// so their text still shows.
func (r *renderer) flow(children []any, depth int, tight bool) {
	start := len(r.out)
	var (
		p     *para
		pmark int
	)
	for _, c := range children {
		n, ok := c.(map[string]any)
		if !ok {
			continue
		}
		if inlineTypes[nodeType(n)] {
			if p == nil {
				pmark = r.gap(start, tight)
				p = &para{r: r}
			}
			r.inline(p, n, depth+1)
			continue
		}
		if p != nil {
			p.flush()
			r.drop(pmark)
			p = nil
		}
		mark := r.gap(start, tight)
		r.block(n, depth+1)
		r.drop(mark)
	}
	if p != nil {
		p.flush()
		r.drop(pmark)
	}
}

// block renders one block node.
func (r *renderer) block(n map[string]any, depth int) {
	if r.enter(depth) {
		r.blockBody(n, depth)
	}
}

// blockBody renders a block node already accounted for by enter.
func (r *renderer) blockBody(n map[string]any, depth int) {
	switch nodeType(n) {
	case "paragraph", "heading", "caption":
		p := &para{r: r}
		for _, c := range children(n) {
			if k, ok := c.(map[string]any); ok {
				r.inline(p, k, depth+1)
			}
		}
		p.flush()
	case "doc", "blockquote", "panel", "layoutSection", "layoutColumn", "bodiedExtension", "tableCell", "tableHeader":
		r.flow(children(n), depth, false)
	case "listItem", "mediaSingle", "mediaGroup":
		// Media carries no text; what is left of a mediaSingle is its caption.
		r.flow(children(n), depth, true)
	case "expand", "nestedExpand":
		start := len(r.out)
		r.text(str(attrs(n), "title"))
		mark := r.gap(start, false)
		r.flow(children(n), depth, false)
		r.drop(mark)
	case "bulletList", "orderedList", "taskList", "decisionList":
		r.list(n, depth)
	case "taskItem", "blockTaskItem", "decisionItem":
		// An item outside its list still shows its marker.
		start := len(r.out)
		r.flow(children(n), depth, true)
		r.prefix(start, itemMarker(n))
	case "codeBlock":
		r.code(n)
	case "rule":
		r.out = append(r.out, line{text: "---"})
	case "table":
		r.table(n, depth)
	case "tableRow":
		r.row(n, depth)
	case "media":
	case "blockCard", "embedCard":
		r.text(cardURL(n))
	default:
		// Unknown nodes and extensions: the text inside them, else the
		// fallback text that extensions and newer node types carry.
		if c := children(n); len(c) > 0 {
			r.flow(c, depth, false)
			return
		}
		r.text(str(attrs(n), "text"))
	}
}

// inline renders one inline node into p.
func (r *renderer) inline(p *para, n map[string]any, depth int) {
	if !r.enter(depth) {
		return
	}
	typ := nodeType(n)
	switch typ {
	case "text":
		p.text(str(n, "text"), linkHref(n))
	case "hardBreak":
		p.text("\n", "")
	case "mention":
		p.atom(mentionText(attrs(n)))
	case "emoji":
		p.text(emojiText(attrs(n)), "")
	case "date":
		p.atom(dateText(attrs(n)["timestamp"]))
	case "status":
		p.atom(str(attrs(n), "text"))
	case "inlineCard":
		p.atom(cardURL(n))
	case "mediaInline", "placeholder":
		// An attachment has no text, and a placeholder is the editor's hint
		// shown only while the field is empty.
	default:
		if blockTypes[typ] {
			p.flush()
			r.blockBody(n, depth)
			return
		}
		if c := children(n); len(c) > 0 {
			for _, k := range c {
				if kn, ok := k.(map[string]any); ok {
					r.inline(p, kn, depth+1)
				}
			}
			return
		}
		p.text(str(attrs(n), "text"), "")
	}
}

// list renders bullet, ordered, task and decision lists: one marker an
// item, continuation lines and nested lists indented to the item's text.
func (r *renderer) list(n map[string]any, depth int) {
	typ := nodeType(n)
	num := 1
	if typ == "orderedList" {
		if o, ok := integer(attrs(n)["order"]); ok && o >= 0 && o <= math.MaxInt32 {
			num = int(o)
		}
	}
	width := 2 // indentation of a list placed between the items
	for _, c := range children(n) {
		item, ok := c.(map[string]any)
		if !ok {
			continue
		}
		start := len(r.out)
		switch nodeType(item) {
		case "bulletList", "orderedList", "taskList", "decisionList":
			// Task lists nest this way: a list as a sibling of the items.
			r.block(item, depth+1)
			r.indent(start, width)
			continue
		}
		var marker string
		switch typ {
		case "orderedList":
			marker = strconv.Itoa(num) + ". "
			num++
		case "taskList", "decisionList":
			marker = itemMarker(item)
		default:
			marker = "- "
		}
		width = len(marker)
		switch nodeType(item) {
		case "listItem", "taskItem", "blockTaskItem", "decisionItem":
			if r.enter(depth + 1) {
				r.flow(children(item), depth+1, true)
			}
		default:
			// Content that should have been wrapped in an item.
			r.flow([]any{item}, depth, true)
		}
		r.prefix(start, marker)
	}
}

// itemMarker is the marker of a task or decision item. A task shows whether
// it is done, which is the point of writing it as a task.
func itemMarker(n map[string]any) string {
	switch nodeType(n) {
	case "taskItem", "blockTaskItem":
		if strings.EqualFold(str(attrs(n), "state"), "DONE") {
			return "[x] "
		}
		return "[ ] "
	}
	return "- "
}

// table renders one line a row.
func (r *renderer) table(n map[string]any, depth int) {
	for _, c := range children(n) {
		if row, ok := c.(map[string]any); ok {
			r.block(row, depth+1)
		}
	}
}

// row joins the cells of a table row with " | ". A cell's blocks are put on
// one line so that rows stay rows. A row without any text is left out: Jira
// users often leave a table's spare rows empty.
func (r *renderer) row(n map[string]any, depth int) {
	var (
		b     strings.Builder
		text  bool
		cells int
	)
	for _, c := range children(n) {
		cell, ok := c.(map[string]any)
		if !ok {
			continue
		}
		start := len(r.out)
		r.block(cell, depth+1)
		s := flatten(r.out[start:])
		r.out = r.out[:start]
		if cells > 0 {
			b.WriteString(" |")
			if s != "" {
				b.WriteByte(' ')
			}
		}
		b.WriteString(s)
		text = text || s != ""
		cells++
	}
	if text {
		r.out = append(r.out, line{text: strings.TrimLeft(b.String(), " ")})
	}
}

// flatten joins lines into one, separated by spaces.
func flatten(ls []line) string {
	var b strings.Builder
	for _, l := range ls {
		if t := strings.TrimSpace(l.text); t != "" {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(t)
		}
	}
	return b.String()
}

// code appends a code block's text line for line. The language and any
// marks are presentation and are dropped.
func (r *renderer) code(n map[string]any) {
	var b strings.Builder
	for _, c := range children(n) {
		k, ok := c.(map[string]any)
		if !ok {
			continue
		}
		switch nodeType(k) {
		case "text":
			b.WriteString(str(k, "text"))
		case "hardBreak":
			b.WriteByte('\n')
		}
	}
	// The final newline ends the last line; it is not an empty line of code.
	s := strings.TrimRight(normalizeBreaks(b.String()), "\n")
	if strings.TrimSpace(s) == "" {
		return
	}
	r.appendLines(s, true)
}

// text appends text that is not code.
func (r *renderer) text(s string) {
	if strings.TrimSpace(s) == "" {
		return
	}
	r.appendLines(normalizeBreaks(s), false)
}

// appendLines appends s, split at "\n".
func (r *renderer) appendLines(s string, code bool) {
	for {
		l, rest, more := strings.Cut(s, "\n")
		r.out = append(r.out, line{text: l, code: code})
		if !more {
			return
		}
		s = rest
	}
}

// prefix puts marker before the first line from start on and indents the
// others to the text after the marker.
func (r *renderer) prefix(start int, marker string) {
	if start == len(r.out) {
		r.out = append(r.out, line{text: marker})
		return
	}
	first := &r.out[start]
	first.text = marker + strings.Repeat(" ", first.indent) + first.text
	first.indent = 0
	r.indent(start+1, len(marker))
}

// indent shifts the lines from start on right by n spaces.
func (r *renderer) indent(start, n int) {
	for i := start; i < len(r.out); i++ {
		r.out[i].indent += n
	}
}

// normalizeBreaks turns Windows and old Mac line ends into "\n": text pasted
// into Jira keeps whatever its source used.
func normalizeBreaks(s string) string {
	if !strings.Contains(s, "\r") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// integer reads a whole number that may arrive as a JSON number, a
// json.Number or a numeric string, as ADF attributes do.
func integer(v any) (int64, bool) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case int:
		return int64(x), true
	case int64:
		return x, true
	case json.Number:
		return integer(string(x))
	case string:
		s := strings.TrimSpace(x)
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, true
		}
		g, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, false
		}
		f = g
	default:
		return 0, false
	}
	// Outside ±2^63 the conversion to int64 is undefined.
	if math.IsNaN(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, false
	}
	return int64(f), true
}

func nodeType(n map[string]any) string { return str(n, "type") }

func attrs(n map[string]any) map[string]any {
	a, _ := n["attrs"].(map[string]any)
	return a
}

// children returns a node's content. A single object where an array belongs
// is taken as a one-node array.
func children(n map[string]any) []any {
	switch c := n["content"].(type) {
	case []any:
		return c
	case map[string]any:
		return []any{c}
	}
	return nil
}

// str reads a string field; m may be nil.
func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// finish joins lines into the final text: no whitespace at line ends, at
// most one blank line in a row, nothing blank at the start or the end. Code
// lines are exempt so code keeps its exact shape.
func finish(ls []line) string {
	var (
		b       strings.Builder
		pending []string // blank lines, written only if more text follows
		blank   bool     // the last pending line is a collapsible blank
		started bool
	)
	for _, l := range ls {
		t := l.text
		if !l.code {
			t = strings.TrimRightFunc(t, unicode.IsSpace)
		}
		if strings.TrimSpace(t) == "" {
			if !started {
				continue
			}
			if l.code {
				pending = append(pending, t)
				blank = false
			} else if !blank {
				pending = append(pending, "")
				blank = true
			}
			continue
		}
		if started {
			b.WriteByte('\n')
			for _, p := range pending {
				b.WriteString(p)
				b.WriteByte('\n')
			}
			writeSpaces(&b, l.indent)
		} else if !l.code {
			t = strings.TrimLeftFunc(t, unicode.IsSpace)
		}
		pending, blank = pending[:0], false
		b.WriteString(t)
		started = true
	}
	return strings.TrimRightFunc(b.String(), unicode.IsSpace)
}

func writeSpaces(b *strings.Builder, n int) {
	const spaces = "                                "
	for n > len(spaces) {
		b.WriteString(spaces)
		n -= len(spaces)
	}
	b.WriteString(spaces[:n])
}
