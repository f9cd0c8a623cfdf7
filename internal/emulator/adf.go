package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Doc is rich text in Atlassian Document Format (ADF), the JSON tree REST v3
// uses for descriptions, comment bodies and paragraph custom fields. Webhooks
// carry the same text as wiki markup, renderedFields as HTML.
//
// A generated Doc stores only a seed and is built when it is rendered, which
// keeps 100,000 issues small; a Doc made with Text or ParseADF holds its JSON.
// The zero Doc is empty (JSON null).
type Doc struct {
	src  *docSource
	seed uint64
	kind docKind
	raw  []byte
	// media are the file names of the attachments a generated
	// document shows (see bindMedia).
	media []string
}

type docKind uint8

const (
	docDescription docKind = iota + 1
	docComment
	docField
)

// docSource is what generated documents draw on: the accounts they mention.
type docSource struct {
	users []User
}

// Text returns a document with one paragraph per blank-line separated block
// of s; single newlines become hard breaks. Empty s gives the empty Doc.
func Text(s string) Doc {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
	if s == "" {
		return Doc{}
	}
	doc := &node{typ: "doc"}
	for _, block := range strings.Split(s, "\n\n") {
		block = strings.TrimSpace(block)
		if block == "" {
			continue
		}
		p := &node{typ: "paragraph"}
		for i, line := range strings.Split(block, "\n") {
			if i > 0 {
				p.content = append(p.content, &node{typ: "hardBreak"})
			}
			if line != "" {
				p.content = append(p.content, textNode(line))
			}
		}
		doc.content = append(doc.content, p)
	}
	return Doc{raw: encodeNode(doc)}
}

// ParseADF returns a document holding raw, which must be an ADF document: a
// JSON object of type "doc". JSON null gives the empty Doc.
func ParseADF(raw []byte) (Doc, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return Doc{}, nil
	}
	var probe struct {
		Type    string            `json:"type"`
		Content []json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return Doc{}, fmt.Errorf("adf document: %w", err)
	}
	if probe.Type != "doc" {
		return Doc{}, errors.New(`adf document: type is not "doc"`)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return Doc{}, fmt.Errorf("adf document: %w", err)
	}
	return Doc{raw: buf.Bytes()}, nil
}

// IsZero reports whether the document is empty.
func (d Doc) IsZero() bool { return d.raw == nil && d.src == nil }

// JSON returns the document as ADF JSON, or null when it is empty.
func (d Doc) JSON() []byte {
	switch {
	case d.raw != nil:
		return d.raw
	case d.src != nil:
		return encodeNode(d.tree())
	}
	return []byte("null")
}

// MarshalJSON implements json.Marshaler with the ADF JSON.
func (d Doc) MarshalJSON() ([]byte, error) { return d.JSON(), nil }

// Equal reports whether two documents render the same.
func (d Doc) Equal(o Doc) bool {
	if d.src != nil && o.src != nil {
		return d.seed == o.seed && d.kind == o.kind && slices.Equal(d.media, o.media)
	}
	return bytes.Equal(d.JSON(), o.JSON())
}

// tree returns the document as nodes, or nil when it is empty.
func (d Doc) tree() *node {
	switch {
	case d.raw != nil:
		var v any
		if json.Unmarshal(d.raw, &v) != nil {
			return nil
		}
		return parseNode(v, 0)
	case d.src != nil:
		n := d.src.generate(d.seed, d.kind)
		if len(d.media) > 0 {
			bindMedia(n, d.media, d.seed)
		}
		return n
	}
	return nil
}

// showing returns the generated document d showing the attachments named
// files: the images and files pasted into a description or comment, which
// Jira stores as attachments of the issue.
func (d Doc) showing(files []string) Doc {
	if d.src == nil || len(files) == 0 {
		return d
	}
	d.media = slices.Clone(files)
	return d
}

// bindMedia makes the media nodes of doc show files, in turn: Jira's
// editor names the media-services file of a pasted attachment by a UUID
// and writes the attachment's file name as alt. A document without media
// gets one image at its end.
func bindMedia(doc *node, files []string, seed uint64) {
	k := 0
	var walk func(n *node)
	walk = func(n *node) {
		if n.typ == "media" {
			n.setAttr("alt", files[k%len(files)])
			k++
			return
		}
		for _, c := range n.content {
			walk(c)
		}
	}
	walk(doc)
	if k == 0 {
		rng := rand.New(rand.NewPCG(seed, 0x6d65646961))
		m := media(rng)
		m.setAttr("alt", files[0])
		doc.content = append(doc.content, &node{typ: "mediaSingle", attrs: []attr{{"layout", "center"}}, content: []*node{m}})
	}
}

// setAttr sets one attribute, adding it when the node lacks it.
func (n *node) setAttr(k string, v any) {
	for i := range n.attrs {
		if n.attrs[i].k == k {
			n.attrs[i].v = v
			return
		}
	}
	n.attrs = append(n.attrs, attr{k, v})
}

// Wiki returns the document as Jira wiki markup, the REST v2 representation
// that webhooks carry.
func (d Doc) Wiki() string {
	n := d.tree()
	if n == nil {
		return ""
	}
	var b strings.Builder
	writeWikiBlocks(&b, n.content, "")
	return strings.TrimRight(b.String(), "\n")
}

// HTML returns the document as renderedFields show it.
func (d Doc) HTML() string {
	n := d.tree()
	if n == nil {
		return ""
	}
	var b strings.Builder
	for _, c := range n.content {
		writeHTML(&b, c)
	}
	return b.String()
}

// node is one ADF node.
type node struct {
	typ     string
	text    string
	attrs   []attr
	marks   []mark
	content []*node
}

type attr struct {
	k string
	v any // string, int64, float64 or bool
}

type mark struct {
	typ   string
	attrs []attr
}

func textNode(s string, marks ...mark) *node { return &node{typ: "text", text: s, marks: marks} }

func (n *node) attr(k string) string {
	for _, a := range n.attrs {
		if a.k == k {
			switch v := a.v.(type) {
			case string:
				return v
			case int64:
				return strconv.FormatInt(v, 10)
			case float64:
				return strconv.FormatFloat(v, 'f', -1, 64)
			case bool:
				return strconv.FormatBool(v)
			}
		}
	}
	return ""
}

func (m mark) attr(k string) string {
	n := node{attrs: m.attrs}
	return n.attr(k)
}

func encodeNode(n *node) []byte {
	var w enc
	writeNode(&w, n)
	return w.b
}

func writeAttrs(w *enc, attrs []attr) {
	w.kopen("attrs")
	for _, a := range attrs {
		w.key(a.k)
		switch v := a.v.(type) {
		case string:
			w.str(v)
		case int64:
			w.int(v)
		case float64:
			w.float(v)
		case bool:
			w.bool(v)
		default:
			w.null()
		}
	}
	w.close()
}

func writeNode(w *enc, n *node) {
	w.open()
	w.kstr("type", n.typ)
	if n.typ == "doc" {
		w.kint("version", 1)
	}
	if n.typ == "text" {
		w.kstr("text", n.text)
	}
	if n.attrs != nil {
		writeAttrs(w, n.attrs)
	}
	if len(n.marks) > 0 {
		w.karr("marks")
		for _, m := range n.marks {
			w.open()
			w.kstr("type", m.typ)
			if m.attrs != nil {
				writeAttrs(w, m.attrs)
			}
			w.close()
		}
		w.closeArr()
	}
	if n.content != nil {
		w.karr("content")
		for _, c := range n.content {
			writeNode(w, c)
		}
		w.closeArr()
	}
	w.close()
}

// parseNode converts decoded JSON into nodes, for documents given as JSON.
// Nesting is capped so that a hostile document cannot exhaust the stack.
func parseNode(v any, depth int) *node {
	m, ok := v.(map[string]any)
	if !ok || depth > 100 {
		return nil
	}
	n := &node{}
	n.typ, _ = m["type"].(string)
	n.text, _ = m["text"].(string)
	n.attrs = parseAttrs(m["attrs"])
	if marks, ok := m["marks"].([]any); ok {
		for _, mv := range marks {
			if mm, ok := mv.(map[string]any); ok {
				t, _ := mm["type"].(string)
				n.marks = append(n.marks, mark{typ: t, attrs: parseAttrs(mm["attrs"])})
			}
		}
	}
	if content, ok := m["content"].([]any); ok {
		n.content = []*node{}
		for _, cv := range content {
			if c := parseNode(cv, depth+1); c != nil {
				n.content = append(n.content, c)
			}
		}
	}
	return n
}

func parseAttrs(v any) []attr {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	attrs := []attr{}
	for _, k := range keys {
		switch x := m[k].(type) {
		case string, bool:
			attrs = append(attrs, attr{k, x})
		case float64:
			attrs = append(attrs, attr{k, x})
		}
	}
	return attrs
}

// Wiki markup, as Jira converts ADF for REST v2.

var panelColors = map[string]string{
	"info": "#deebff", "note": "#eae6ff", "warning": "#fffae6", "success": "#e3fcef", "error": "#ffebe6", "tip": "#e3fcef",
}

func writeWikiBlocks(b *strings.Builder, blocks []*node, listPrefix string) {
	for i, n := range blocks {
		if i > 0 && listPrefix == "" {
			b.WriteString("\n")
		}
		writeWikiBlock(b, n, listPrefix)
	}
}

func writeWikiBlock(b *strings.Builder, n *node, listPrefix string) {
	switch n.typ {
	case "paragraph":
		writeWikiInline(b, n.content)
		b.WriteString("\n")
	case "heading":
		level := n.attr("level")
		if level == "" {
			level = "1"
		}
		b.WriteString("h" + level + ". ")
		writeWikiInline(b, n.content)
		b.WriteString("\n")
	case "bulletList", "orderedList":
		marker := "*"
		if n.typ == "orderedList" {
			marker = "#"
		}
		for _, item := range n.content {
			writeWikiListItem(b, item, listPrefix+marker)
		}
	case "codeBlock":
		lang := n.attr("language")
		if lang != "" {
			b.WriteString("{code:" + lang + "}")
		} else {
			b.WriteString("{code}")
		}
		for _, c := range n.content {
			b.WriteString(c.text)
		}
		b.WriteString("{code}\n")
	case "panel":
		color := panelColors[n.attr("panelType")]
		if color == "" {
			color = "#deebff"
		}
		b.WriteString("{panel:bgColor=" + color + "}\n")
		writeWikiBlocks(b, n.content, "")
		b.WriteString("{panel}\n")
	case "blockquote":
		b.WriteString("{quote}")
		writeWikiBlocks(b, n.content, "")
		b.WriteString("{quote}\n")
	case "rule":
		b.WriteString("----\n")
	case "table":
		for _, row := range n.content {
			for _, cell := range row.content {
				sep := "|"
				if cell.typ == "tableHeader" {
					sep = "||"
				}
				b.WriteString(sep)
				var inner strings.Builder
				for _, p := range cell.content {
					writeWikiInline(&inner, p.content)
				}
				b.WriteString(inner.String())
			}
			if len(row.content) > 0 && row.content[0].typ == "tableHeader" {
				b.WriteString("||\n")
			} else {
				b.WriteString("|\n")
			}
		}
	case "mediaSingle", "mediaGroup":
		for _, m := range n.content {
			name := m.attr("alt")
			if name == "" {
				name = m.attr("id")
			}
			if n.typ == "mediaSingle" {
				b.WriteString("!" + name + "|thumbnail!\n")
			} else {
				b.WriteString("[^" + name + "]\n")
			}
		}
	case "blockCard", "embedCard":
		u := n.attr("url")
		b.WriteString("[" + u + "|" + u + "|smart-card]\n")
	case "expand", "nestedExpand":
		b.WriteString("{expand:" + n.attr("title") + "}\n")
		writeWikiBlocks(b, n.content, "")
		b.WriteString("{expand}\n")
	default:
		if len(n.content) > 0 {
			writeWikiBlocks(b, n.content, listPrefix)
		} else if n.text != "" {
			b.WriteString(n.text + "\n")
		}
	}
}

func writeWikiListItem(b *strings.Builder, item *node, prefix string) {
	first := true
	for _, c := range item.content {
		switch c.typ {
		case "bulletList", "orderedList":
			writeWikiBlock(b, c, prefix)
		default:
			if first {
				b.WriteString(prefix + " ")
				first = false
			}
			writeWikiInline(b, c.content)
			b.WriteString("\n")
		}
	}
}

func writeWikiInline(b *strings.Builder, inline []*node) {
	for _, n := range inline {
		switch n.typ {
		case "text":
			s := n.text
			var link string
			for _, m := range n.marks {
				switch m.typ {
				case "strong":
					s = "*" + s + "*"
				case "em":
					s = "_" + s + "_"
				case "code":
					s = "{{" + s + "}}"
				case "strike":
					s = "-" + s + "-"
				case "underline":
					s = "+" + s + "+"
				case "link":
					link = m.attr("href")
				}
			}
			if link != "" {
				s = "[" + s + "|" + link + "]"
			}
			b.WriteString(s)
		case "hardBreak":
			b.WriteString("\n")
		case "mention":
			b.WriteString("[~accountid:" + n.attr("id") + "]")
		case "emoji":
			b.WriteString(n.attr("shortName"))
		case "date":
			b.WriteString(dateAttrText(n.attr("timestamp")))
		case "status":
			b.WriteString("*[" + strings.ToUpper(n.attr("text")) + "]*")
		case "inlineCard":
			u := n.attr("url")
			b.WriteString("[" + u + "|" + u + "|smart-link]")
		default:
			writeWikiInline(b, n.content)
		}
	}
}

// dateAttrText turns the epoch-milliseconds string of a date node into a day.
func dateAttrText(ts string) string {
	n, err := strconv.ParseInt(strings.SplitN(ts, ".", 2)[0], 10, 64)
	if err != nil {
		return ts
	}
	return time.UnixMilli(n).UTC().Format(time.DateOnly)
}

// HTML, as renderedFields carry it.

func writeHTML(b *strings.Builder, n *node) {
	switch n.typ {
	case "paragraph":
		b.WriteString("<p>")
		writeHTMLInline(b, n.content)
		b.WriteString("</p>")
	case "heading":
		lvl := n.attr("level")
		if lvl == "" {
			lvl = "1"
		}
		b.WriteString("<h" + lvl + ">")
		writeHTMLInline(b, n.content)
		b.WriteString("</h" + lvl + ">")
	case "bulletList", "orderedList":
		tag := "ul"
		if n.typ == "orderedList" {
			tag = "ol"
		}
		b.WriteString("<" + tag + ">")
		for _, item := range n.content {
			b.WriteString("<li>")
			for _, c := range item.content {
				if c.typ == "paragraph" {
					writeHTMLInline(b, c.content)
				} else {
					writeHTML(b, c)
				}
			}
			b.WriteString("</li>")
		}
		b.WriteString("</" + tag + ">")
	case "codeBlock":
		b.WriteString(`<div class="code panel"><div class="codeContent panelContent"><pre class="code-java">`)
		for _, c := range n.content {
			b.WriteString(html.EscapeString(c.text))
		}
		b.WriteString("</pre></div></div>")
	case "panel":
		b.WriteString(`<div class="panel" style="background-color: ` + panelColors[n.attr("panelType")] + `;"><div class="panelContent">`)
		for _, c := range n.content {
			writeHTML(b, c)
		}
		b.WriteString("</div></div>")
	case "blockquote":
		b.WriteString("<blockquote>")
		for _, c := range n.content {
			writeHTML(b, c)
		}
		b.WriteString("</blockquote>")
	case "rule":
		b.WriteString("<hr />")
	case "table":
		b.WriteString(`<div class="table-wrap"><table class="confluenceTable"><tbody>`)
		for _, row := range n.content {
			b.WriteString("<tr>")
			for _, cell := range row.content {
				tag := "td"
				if cell.typ == "tableHeader" {
					tag = "th"
				}
				b.WriteString("<" + tag + ">")
				for _, p := range cell.content {
					writeHTMLInline(b, p.content)
				}
				b.WriteString("</" + tag + ">")
			}
			b.WriteString("</tr>")
		}
		b.WriteString("</tbody></table></div>")
	case "mediaSingle", "mediaGroup":
		for _, m := range n.content {
			b.WriteString(`<p><span class="image-wrap"><img src="/rest/api/3/attachment/content/` + html.EscapeString(m.attr("id")) + `" alt="` + html.EscapeString(m.attr("alt")) + `" /></span></p>`)
		}
	case "blockCard", "embedCard":
		u := html.EscapeString(n.attr("url"))
		b.WriteString(`<p><a href="` + u + `" class="external-link" rel="nofollow noreferrer">` + u + `</a></p>`)
	default:
		for _, c := range n.content {
			writeHTML(b, c)
		}
	}
}

func writeHTMLInline(b *strings.Builder, inline []*node) {
	for _, n := range inline {
		switch n.typ {
		case "text":
			s := html.EscapeString(n.text)
			for _, m := range n.marks {
				switch m.typ {
				case "strong":
					s = "<b>" + s + "</b>"
				case "em":
					s = "<em>" + s + "</em>"
				case "code":
					s = "<tt>" + s + "</tt>"
				case "strike":
					s = "<del>" + s + "</del>"
				case "underline":
					s = "<ins>" + s + "</ins>"
				case "link":
					s = `<a href="` + html.EscapeString(m.attr("href")) + `" class="external-link" rel="nofollow noreferrer">` + s + "</a>"
				}
			}
			b.WriteString(s)
		case "hardBreak":
			b.WriteString("<br/>")
		case "mention":
			b.WriteString(`<a href="/secure/ViewProfile.jspa?accountId=` + html.EscapeString(n.attr("id")) + `" class="user-hover" rel="` + html.EscapeString(n.attr("id")) + `">` + html.EscapeString(n.attr("text")) + "</a>")
		case "emoji":
			s := n.attr("text")
			if s == "" {
				s = n.attr("shortName")
			}
			b.WriteString(html.EscapeString(s))
		case "date":
			b.WriteString(`<time datetime="` + dateAttrText(n.attr("timestamp")) + `">` + dateAttrText(n.attr("timestamp")) + "</time>")
		case "status":
			b.WriteString(`<span class="aui-lozenge">` + html.EscapeString(strings.ToUpper(n.attr("text"))) + "</span>")
		case "inlineCard":
			u := html.EscapeString(n.attr("url"))
			b.WriteString(`<a href="` + u + `" class="external-link" rel="nofollow noreferrer">` + u + "</a>")
		default:
			writeHTMLInline(b, n.content)
		}
	}
}

// Generation. Everything below draws from a generator seeded per document, so
// a document is the same each time it is rendered.

var (
	subjects = []string{"The export job", "The login page", "The billing API", "Our nightly sync", "The mobile app",
		"The invoice PDF", "The search index", "The SSO redirect", "The reporting dashboard", "The webhook relay",
		"The customer portal", "The backup task", "The password reset mail", "The CSV import", "The load balancer"}
	verbs = []string{"fails", "times out", "returns a 500 error", "shows stale data", "hangs", "retries forever",
		"drops requests", "is slow", "logs a warning", "crashes", "rejects valid input", "double-counts orders"}
	contexts = []string{"after the last deploy", "for accounts with more than 10k users", "on Safari only",
		"when the queue is full", "during the nightly batch", "for customers in the EU region", "since Monday",
		"when two users edit at once", "under load", "on the first request of the day", "behind the corporate proxy"}
	followUps = []string{"Restarting the service helps for a while.", "We could not reproduce it on staging.",
		"The logs show a connection reset.", "It started after the certificate rotation.",
		"Two customers reported it this morning.", "A workaround is to retry after a minute.",
		"Metrics show the error rate doubled.", "The previous release did not have this problem.",
		"See the attached screenshot for the exact message.", "This blocks the quarterly close for finance."}
	replies = []string{"Thanks, looking into it now.", "Could you send the exact time it happened?",
		"Deployed a fix to staging, please verify.", "Confirmed on our side, raising the priority.",
		"This is fixed in the latest release.", "We need the request id from the error page.",
		"Still happening after the update.", "Closing as the customer confirmed it works.",
		"Escalating to the platform team.", "Adding the logs from last night below."}
	codeSamples = []struct{ lang, code string }{
		{"go", "if err := client.Do(req); err != nil {\n\treturn fmt.Errorf(\"sync: %w\", err)\n}"},
		{"json", "{\n  \"status\": 500,\n  \"error\": \"upstream timeout\"\n}"},
		{"bash", "curl -sS -H 'Accept: application/json' https://status.example.com/api/v2/status.json"},
		{"sql", "SELECT account_id, count(*)\nFROM invoices\nWHERE created_at > now() - interval '1 day'\nGROUP BY 1;"},
		{"python", "for row in rows:\n    if row['retries'] > 3:\n        alert(row['id'])"},
		{"", "2025-01-14 03:12:55 ERROR worker-7 connection reset by peer"},
	}
	emojis = []struct{ short, id, text string }{
		{":thumbsup:", "1f44d", "👍"}, {":warning:", "atlassian-warning", ""}, {":white_check_mark:", "2705", "✅"},
		{":fire:", "1f525", "🔥"}, {":smile:", "1f604", "😄"}, {":eyes:", "1f440", "👀"},
	}
	cardURLs = []string{"https://status.example.com/incidents/4711", "https://github.com/example/platform/pull/1289",
		"https://example.atlassian.net/wiki/spaces/OPS/pages/98304/Runbook", "https://grafana.example.com/d/api-latency"}
	lozenges = []struct{ text, color string }{{"blocked", "red"}, {"in review", "blue"}, {"done", "green"}, {"waiting", "yellow"}, {"new", "neutral"}, {"beta", "purple"}}
	panels   = []string{"info", "note", "warning", "success", "error"}
)

func pick[T any](rng *rand.Rand, list []T) T { return list[rng.IntN(len(list))] }

func sentence(rng *rand.Rand) string {
	return pick(rng, subjects) + " " + pick(rng, verbs) + " " + pick(rng, contexts) + "."
}

// inlineRun returns the inline content of a paragraph: a sentence or two with
// marks, and now and then a mention, emoji, date, status lozenge or smart link.
func (s *docSource) inlineRun(rng *rand.Rand, base string) []*node {
	var out []*node
	if rng.IntN(5) == 0 && len(s.users) > 0 {
		u := pick(rng, s.users)
		out = append(out, &node{typ: "mention", attrs: []attr{{"id", u.AccountID}, {"text", "@" + u.DisplayName}, {"accessLevel", ""}}}, textNode(" "))
	}
	switch rng.IntN(6) {
	case 0:
		words := strings.SplitN(base, " ", 3)
		if len(words) == 3 {
			out = append(out, textNode(words[0]+" "+words[1], mark{typ: "strong"}), textNode(" "+words[2]))
			break
		}
		out = append(out, textNode(base))
	case 1:
		out = append(out, textNode(base+" See "), textNode("the runbook", mark{typ: "link", attrs: []attr{{"href", pick(rng, cardURLs)}}}), textNode("."))
	case 2:
		out = append(out, textNode(base+" The flag "), textNode("sync.retry_limit", mark{typ: "code"}), textNode(" is set to 3."))
	case 3:
		out = append(out, textNode(base, mark{typ: "em"}))
	default:
		out = append(out, textNode(base))
	}
	switch rng.IntN(10) {
	case 0:
		e := pick(rng, emojis)
		a := []attr{{"shortName", e.short}, {"id", e.id}}
		if e.text != "" {
			a = append(a, attr{"text", e.text})
		}
		out = append(out, textNode(" "), &node{typ: "emoji", attrs: a})
	case 1:
		day := time.Date(2024, time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC)
		out = append(out, textNode(" Due "), &node{typ: "date", attrs: []attr{{"timestamp", strconv.FormatInt(day.UnixMilli(), 10)}}})
	case 2:
		l := pick(rng, lozenges)
		out = append(out, textNode(" "), &node{typ: "status", attrs: []attr{{"text", l.text}, {"color", l.color}, {"localId", uuid(rng)}, {"style", ""}}})
	case 3:
		out = append(out, textNode(" "), &node{typ: "inlineCard", attrs: []attr{{"url", pick(rng, cardURLs)}}})
	case 4:
		out = append(out, &node{typ: "hardBreak"}, textNode(pick(rng, followUps), mark{typ: "strike"}))
	}
	return out
}

func paragraph(content ...*node) *node { return &node{typ: "paragraph", content: content} }

func (s *docSource) list(rng *rand.Rand, ordered bool, depth int) *node {
	n := &node{typ: "bulletList"}
	if ordered {
		n.typ = "orderedList"
		n.attrs = []attr{{"order", int64(1)}}
	}
	for i := 0; i < 2+rng.IntN(3); i++ {
		item := &node{typ: "listItem", content: []*node{paragraph(textNode(pick(rng, followUps)))}}
		if depth == 0 && rng.IntN(6) == 0 {
			item.content = append(item.content, s.list(rng, !ordered, 1))
		}
		n.content = append(n.content, item)
	}
	return n
}

func table(rng *rand.Rand) *node {
	cell := func(typ, text string) *node {
		return &node{typ: typ, attrs: []attr{}, content: []*node{paragraph(textNode(text))}}
	}
	t := &node{typ: "table", attrs: []attr{{"isNumberColumnEnabled", false}, {"layout", "default"}, {"localId", uuid(rng)}}}
	t.content = append(t.content, &node{typ: "tableRow", content: []*node{cell("tableHeader", "Environment"), cell("tableHeader", "Result"), cell("tableHeader", "Duration")}})
	for _, env := range []string{"staging", "production", "eu-west"}[:2+rng.IntN(2)] {
		t.content = append(t.content, &node{typ: "tableRow", content: []*node{
			cell("tableCell", env), cell("tableCell", pick(rng, []string{"ok", "failed", "flaky"})), cell("tableCell", fmt.Sprintf("%d ms", 50+rng.IntN(5000))),
		}})
	}
	return t
}

func media(rng *rand.Rand) *node {
	return &node{typ: "media", attrs: []attr{{"id", uuid(rng)}, {"type", "file"}, {"collection", ""}, {"width", int64(640 + rng.IntN(4)*160)}, {"height", int64(360 + rng.IntN(4)*90)}, {"alt", fmt.Sprintf("screenshot-%d.png", 1+rng.IntN(9))}}}
}

// generate builds the document of a seed.
func (s *docSource) generate(seed uint64, kind docKind) *node {
	rng := rand.New(rand.NewPCG(seed, uint64(kind)))
	doc := &node{typ: "doc"}
	add := func(n *node) { doc.content = append(doc.content, n) }
	switch kind {
	case docComment:
		add(paragraph(s.inlineRun(rng, pick(rng, replies))...))
		switch rng.IntN(10) {
		case 0:
			c := pick(rng, codeSamples)
			add(&node{typ: "codeBlock", attrs: []attr{{"language", c.lang}}, content: []*node{textNode(c.code)}})
		case 1:
			add(s.list(rng, false, 0))
		case 2:
			add(&node{typ: "blockquote", content: []*node{paragraph(textNode(sentence(rng)))}})
		case 3:
			add(&node{typ: "mediaSingle", attrs: []attr{{"layout", "center"}}, content: []*node{media(rng)}})
		case 4:
			add(&node{typ: "blockCard", attrs: []attr{{"url", pick(rng, cardURLs)}}})
		}
		if rng.IntN(3) == 0 {
			add(paragraph(s.inlineRun(rng, pick(rng, followUps))...))
		}
	case docField:
		add(paragraph(s.inlineRun(rng, sentence(rng))...))
		if rng.IntN(2) == 0 {
			add(paragraph(textNode(pick(rng, followUps))))
		}
	default:
		if rng.IntN(3) == 0 {
			add(&node{typ: "heading", attrs: []attr{{"level", int64(2 + rng.IntN(2))}}, content: []*node{textNode(pick(rng, []string{"Summary", "Context", "What happened", "Impact"}))}})
		}
		add(paragraph(s.inlineRun(rng, sentence(rng)+" "+pick(rng, followUps))...))
		blocks := 1 + rng.IntN(4)
		for i := 0; i < blocks; i++ {
			switch rng.IntN(12) {
			case 0:
				add(&node{typ: "heading", attrs: []attr{{"level", int64(3)}}, content: []*node{textNode("Steps to reproduce")}})
				add(s.list(rng, true, 0))
			case 1:
				add(s.list(rng, false, 0))
			case 2:
				c := pick(rng, codeSamples)
				cb := &node{typ: "codeBlock", content: []*node{textNode(c.code)}}
				if c.lang != "" {
					cb.attrs = []attr{{"language", c.lang}}
				}
				add(cb)
			case 3:
				add(&node{typ: "panel", attrs: []attr{{"panelType", pick(rng, panels)}}, content: []*node{paragraph(textNode(pick(rng, followUps)))}})
			case 4:
				add(table(rng))
			case 5:
				add(&node{typ: "blockquote", content: []*node{paragraph(textNode(sentence(rng)))}})
			case 6:
				add(&node{typ: "rule"})
			case 7:
				add(&node{typ: "mediaSingle", attrs: []attr{{"layout", "center"}, {"width", float64(66.67)}}, content: []*node{media(rng)}})
			case 8:
				add(&node{typ: "mediaGroup", content: []*node{media(rng), media(rng)}})
			case 9:
				add(&node{typ: "blockCard", attrs: []attr{{"url", pick(rng, cardURLs)}}})
			case 10:
				add(&node{typ: "expand", attrs: []attr{{"title", "Logs"}}, content: []*node{paragraph(textNode(pick(rng, codeSamples).code))}})
			default:
				add(paragraph(s.inlineRun(rng, pick(rng, followUps))...))
			}
		}
	}
	return doc
}
