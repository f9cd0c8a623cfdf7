package adf

import (
	"bytes"
	"encoding/json"
)

// Media is one media node of a document: a file or image shown in it. In
// Jira's documents a file node names the file by its media-services id (a
// UUID, not the attachment id) and, since 2023, by its file name in alt; an
// external node carries a URL instead.
type Media struct {
	// Node is the ADF node: media (inside mediaSingle or mediaGroup) or
	// mediaInline.
	Node string
	// Type is the node's type attribute: file, external or link.
	Type       string
	ID         string
	Collection string
	// URL is the address of an external media node, credentials redacted.
	URL string
	// Alt is the node's alt text; the editor's __fileName when alt is
	// missing.
	Alt string
}

// MediaNodes returns the media nodes of an ADF document in document order.
// Like Text it never fails: a document that is not ADF, or a node with
// attributes of the wrong JSON type, yields what can be read, and nesting
// beyond the renderer's depth is not visited.
func MediaNodes(doc json.RawMessage) []Media {
	// Most documents hold no media: the byte test spares them a parse.
	if !bytes.Contains(doc, []byte(`"media`)) {
		return nil
	}
	return mediaOf(decode(doc))
}

// TextAndMedia is Text and MediaNodes of one document, which it parses once.
func TextAndMedia(doc json.RawMessage) (string, []Media) {
	if !bytes.Contains(doc, []byte(`"media`)) {
		return Text(doc), nil
	}
	v := decode(doc)
	return Render(v), mediaOf(v)
}

// mediaOf collects the media nodes of a decoded document.
func mediaOf(root any) []Media {
	var out []Media
	budget := maxNodes
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		if depth > maxDepth || budget <= 0 {
			return
		}
		budget--
		switch n := v.(type) {
		case []any:
			for _, c := range n {
				walk(c, depth+1)
			}
		case map[string]any:
			switch typ := nodeType(n); typ {
			case "media", "mediaInline":
				a := attrs(n)
				m := Media{Node: typ, Type: str(a, "type"), ID: scalar(a["id"]), Collection: str(a, "collection"),
					URL: RedactURL(str(a, "url")), Alt: str(a, "alt")}
				if m.Alt == "" {
					m.Alt = str(a, "__fileName")
				}
				out = append(out, m)
				return
			}
			for _, c := range children(n) {
				walk(c, depth+1)
			}
		}
	}
	walk(root, 0)
	return out
}

// scalar is a string attribute; an id written as a JSON number is read as
// its digits.
func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case float64:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return ""
}
