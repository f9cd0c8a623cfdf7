// Package adf turns Atlassian Document Format (ADF), the JSON tree Jira Cloud
// uses for rich text in REST v3 (issue descriptions, comment bodies, worklog
// comments, rich custom fields), into plain text that reads well in a
// DuckDB or Parquet column.
//
// The text keeps what a person reads in Jira and drops the presentation:
// blocks are separated by a blank line, list items get "- ", "1. " or "[x] "
// markers and nested lists are indented, table cells are joined with " | "
// one row a line, and inline nodes (mentions, emoji, dates, status lozenges,
// smart cards, links) become their text. Lines carry no trailing whitespace
// and never more than one blank line in a row, except inside code blocks,
// which are copied verbatim. Every URL written into the text goes through
// [RedactURL], so tokens that users paste into links do not end up in
// analyst exports; so do the URLs of plain-string (wiki markup) values.
//
// Rich text is user input and Jira's schema grows, so the renderer never
// fails: wrong JSON types are ignored, unknown nodes contribute the text of
// their children, malformed JSON yields whatever parsed before the damage,
// and nesting deeper than 200 nodes is dropped so hostile documents cannot
// exhaust the stack or the CPU.
package adf

import (
	"bytes"
	"encoding/json"
)

// Text renders an ADF document as plain text.
//
// doc is the raw JSON value of an ADF field. A JSON string is returned as it
// is, credentials in its URLs redacted ([RedactText]), because Jira's v2
// payloads (and some fields in v3) carry wiki markup strings where v3
// carries ADF. Empty input, JSON null and values that are
// not ADF render as "". Malformed JSON renders the part that could be read.
// Text never panics.
func Text(doc json.RawMessage) string {
	return Render(decode(doc))
}

// decode parses raw JSON into generic values, keeping what precedes any
// damage.
func decode(raw []byte) any {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil
	}
	v, err := parseJSON(raw)
	if err != nil {
		// parseJSON is all or nothing; the partial decoder keeps what came
		// before a syntax error or a nesting beyond encoding/json's limit.
		return decodePartial(raw)
	}
	return v
}

// Render renders an ADF node that has already been decoded, for callers that
// unmarshal a whole issue into generic values. node is what encoding/json
// produces for `any` (map[string]any, []any, string, float64, json.Number,
// bool or nil); a json.RawMessage is handed to [Text]. A map is one node
// (usually the "doc"), a slice is a sequence of sibling nodes and a string is
// returned with its URLs redacted, as in Text. Anything else renders as "".
//
// Work is bounded even for Go values that share or contain themselves: depth
// is capped and at most about a million nodes are visited.
func Render(node any) string {
	switch v := node.(type) {
	case string:
		return RedactText(v)
	case json.RawMessage:
		return Text(v)
	}
	// Links are redacted as they are written; a URL typed as plain text (or
	// in a code block) is caught here.
	return RedactText(finish(render(node)))
}

// render returns the lines of a decoded document before clean-up.
func render(node any) []line {
	r := newRenderer()
	switch v := node.(type) {
	case map[string]any:
		r.flow([]any{v}, 0, false)
	case []any:
		r.flow(v, 0, false)
	}
	return r.out
}
