package adf

import (
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// para collects the inline content of one paragraph and appends it to the
// renderer's lines when flushed.
type para struct {
	r        *renderer
	buf      strings.Builder
	href     string          // link of the label being gathered
	label    strings.Builder // text of consecutive text nodes sharing href
	spaceOut bool            // an atom was just written: keep it apart from a following word
}

// text writes s, which belongs to a link when href is not empty. Jira splits
// a link's label into several text nodes when part of it is formatted, so
// consecutive nodes with the same href are written as one "label (href)".
func (p *para) text(s, href string) {
	if s == "" {
		return
	}
	if href != p.href {
		p.flushLink()
		p.href = href
	}
	if href != "" {
		p.label.WriteString(s)
		return
	}
	p.write(s)
}

// write appends plain text.
func (p *para) write(s string) {
	if s == "" {
		return
	}
	if p.spaceOut {
		p.spaceOut = false
		if r, _ := utf8.DecodeRuneInString(s); unicode.IsLetter(r) || unicode.IsDigit(r) {
			p.buf.WriteByte(' ')
		}
	}
	p.buf.WriteString(s)
}

// atom writes a node that Jira shows as a chip (mention, card, date,
// status). Documents often put one against a word with no space between,
// which looks fine in the editor and runs together in text, so a space is
// added where one is missing.
func (p *para) atom(s string) {
	p.flushLink()
	if s == "" {
		return
	}
	if last, _ := utf8.DecodeLastRuneInString(p.buf.String()); p.buf.Len() > 0 &&
		!unicode.IsSpace(last) && !strings.ContainsRune("([{<\"'/", last) {
		p.buf.WriteByte(' ')
	}
	p.buf.WriteString(s)
	p.spaceOut = true
}

// flushLink writes the gathered link label with its target.
func (p *para) flushLink() {
	if p.href == "" {
		return
	}
	label, href := p.label.String(), p.href
	p.label.Reset()
	p.href = ""
	core := strings.TrimSpace(label)
	if core == "" {
		// A link on a space alone: the target is all there is to show, and
		// it stands apart from the words around it as the space did.
		p.atom(RedactURL(href))
		return
	}
	lead := label[:len(label)-len(strings.TrimLeftFunc(label, unicode.IsSpace))]
	p.write(lead)
	if sameURL(core, href) {
		p.write(RedactURL(core))
	} else {
		p.write(redactLabel(core) + " (" + RedactURL(href) + ")")
	}
	p.write(label[len(lead)+len(core):])
}

// flush appends the buffered text to the renderer's lines. It is called at
// the end of the paragraph and before a block met inside it.
func (p *para) flush() {
	p.flushLink()
	p.spaceOut = false
	if p.buf.Len() > 0 {
		p.r.text(p.buf.String())
		p.buf.Reset()
	}
}

// sameURL reports whether a link label only repeats the link target, as
// Jira's autolinks do ("example.com" for "http://example.com").
func sameURL(label, href string) bool {
	if label == href || label+"/" == href || label == href+"/" {
		return true
	}
	for _, scheme := range []string{"https://", "http://", "mailto:"} {
		if h, ok := strings.CutPrefix(href, scheme); ok {
			return label == h || label+"/" == h
		}
	}
	return false
}

// mentionText is a mention as Jira shows it, "@Name", falling back to the
// account id when the display name was not stored.
func mentionText(a map[string]any) string {
	s := strings.TrimSpace(str(a, "text"))
	if s == "" || s == "@" {
		s = strings.TrimSpace(str(a, "id"))
	}
	if s == "" {
		return ""
	}
	if !strings.HasPrefix(s, "@") {
		s = "@" + s
	}
	return s
}

// emojiText is the emoji character, or its short name for custom emoji that
// have no Unicode form.
func emojiText(a map[string]any) string {
	if s := str(a, "text"); s != "" {
		return s
	}
	s := strings.TrimSpace(str(a, "shortName"))
	if s == "" {
		return ""
	}
	if !strings.HasPrefix(s, ":") {
		s = ":" + s
	}
	if len(s) == 1 || !strings.HasSuffix(s, ":") {
		s += ":"
	}
	return s
}

// dateText formats a date node's timestamp (epoch milliseconds, a string in
// the schema) as a calendar date. Jira stores the picked day as midnight
// UTC, so the day is read in UTC whatever the server's zone.
func dateText(v any) string {
	ms, ok := integer(v)
	if !ok {
		return ""
	}
	return time.UnixMilli(ms).UTC().Format(time.DateOnly)
}

// redactLabel hides credentials in a link's label. Jira infers the scheme
// of an address typed without one ("example.com/x?tok=..." links to
// "http://example.com/x?tok=..."), and the label keeps what was typed, so
// each word of a label is read as a URL, scheme or not.
func redactLabel(s string) string {
	if !strings.ContainsAny(s, "?#;@") {
		return s
	}
	return word.ReplaceAllStringFunc(s, func(w string) string {
		// Sentence punctuation after an address is not part of it.
		trimmed := strings.TrimRight(w, ".,;:!?)")
		return RedactURL(trimmed) + w[len(trimmed):]
	})
}

var word = regexp.MustCompile(`\S+`)

// cardURL is the address of a smart card: attrs.url, or the url (else the
// @id) of the JSON-LD attrs.data that some cards carry instead.
func cardURL(n map[string]any) string {
	a := attrs(n)
	u := strings.TrimSpace(str(a, "url"))
	d, _ := a["data"].(map[string]any)
	for _, k := range []string{"url", "@id"} {
		if u == "" {
			u = strings.TrimSpace(str(d, k))
		}
	}
	if u == "" {
		return ""
	}
	return RedactURL(u)
}

// linkHref returns the href of a text node's link mark. A blank href links
// nowhere: the text is plain.
func linkHref(n map[string]any) string {
	marks, _ := n["marks"].([]any)
	for _, m := range marks {
		if mm, ok := m.(map[string]any); ok && nodeType(mm) == "link" {
			return strings.TrimSpace(str(attrs(mm), "href"))
		}
	}
	return ""
}
