package jira

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jiraduck/jiraduck/internal/jsonx"
)

// State says how complete a fetched collection is.
type State string

// The three states of a collection. Only a complete collection may be used to
// delete what is stored and missing from it.
const (
	// StateComplete: every item Jira has (possibly none).
	StateComplete State = "complete"
	// StatePartial: some items, but fewer than Jira reported, or a page failed
	// after others succeeded.
	StatePartial State = "partial"
	// StateUnknown: the fetch failed entirely; the items, if any, are only
	// those the issue itself embedded.
	StateUnknown State = "unknown"
)

// Bundle is an issue as jiraduck stores it: the payload of GET issue (with the
// SLA overlay applied), every comment, history and worklog oldest first, the
// remote links, and how complete each collection is. It is stored verbatim and
// normalised again later without calling Jira, so it only holds JSON.
type Bundle struct {
	Issue       json.RawMessage   `json:"issue"`
	Comments    []json.RawMessage `json:"comments"`
	Histories   []json.RawMessage `json:"histories"`
	RemoteLinks []json.RawMessage `json:"remote_links"`
	// Worklogs is nil, and State.Worklogs empty, in bundles stored before
	// worklogs were fetched: their issue still embeds the first 20 (see
	// WithWorklogs).
	Worklogs  []json.RawMessage `json:"worklogs"`
	State     BundleState       `json:"state"`
	Errors    BundleErrors      `json:"errors,omitzero"`
	FetchedAt time.Time         `json:"fetched_at"`

	// compact is set when Issue is known to be compacted (see CompactIssue
	// and SetCompactedIssue).
	compact bool
}

// DecodeBundle decodes a bundle as Encode wrote it: a stored payload. The
// bundle's raw messages point into payload, which must outlive the bundle
// unchanged: decode them (Decode) and drop both.
func DecodeBundle(payload []byte) (*Bundle, error) {
	var b Bundle
	if err := jsonx.UnmarshalRaw(payload, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// Compacted returns the bundle with its issue compacted (see CompactIssue);
// a bundle the client's FetchIssue made already is, and is returned as it is.
func (b *Bundle) Compacted() *Bundle {
	if b.compact {
		return b
	}
	c := *b
	c.Issue = compactRaw(b.Issue, b.State.Worklogs != "")
	c.compact = true
	return &c
}

// Encode is the bundle as JSON, what json.Marshal gives up to the order of
// object keys and white space, written without validating again the
// payloads it holds (they were decoded when they came in). Storing an issue
// spent about a tenth of its CPU time re-validating them.
func (b *Bundle) Encode() ([]byte, error) {
	size := len(b.Issue) + 256
	for _, l := range [][]json.RawMessage{b.Comments, b.Histories, b.RemoteLinks, b.Worklogs} {
		for _, r := range l {
			size += len(r) + 1
		}
	}
	out := make([]byte, 0, size)
	out = append(out, `{"issue":`...)
	out = appendRaw(out, b.Issue)
	for _, l := range []struct {
		name  string
		items []json.RawMessage
	}{{"comments", b.Comments}, {"histories", b.Histories}, {"remote_links", b.RemoteLinks}, {"worklogs", b.Worklogs}} {
		out = append(out, `,"`...)
		out = append(out, l.name...)
		out = append(out, `":`...)
		if l.items == nil {
			out = append(out, "null"...)
			continue
		}
		out = append(out, '[')
		for i, r := range l.items {
			if i > 0 {
				out = append(out, ',')
			}
			out = appendRaw(out, r)
		}
		out = append(out, ']')
	}
	state, err := json.Marshal(b.State)
	if err != nil {
		return nil, err
	}
	out = append(out, `,"state":`...)
	out = append(out, state...)
	if b.Errors != (BundleErrors{}) {
		errs, err := json.Marshal(b.Errors)
		if err != nil {
			return nil, err
		}
		out = append(out, `,"errors":`...)
		out = append(out, errs...)
	}
	at, err := b.FetchedAt.MarshalJSON()
	if err != nil {
		return nil, err
	}
	out = append(out, `,"fetched_at":`...)
	out = append(out, at...)
	return append(out, '}'), nil
}

// appendRaw appends a JSON value, null when empty.
func appendRaw(out []byte, r json.RawMessage) []byte {
	r = bytes.TrimSpace(r)
	if len(r) == 0 {
		return append(out, "null"...)
	}
	return append(out, r...)
}

// BundleState holds the State of each collection of a Bundle.
type BundleState struct {
	Comments    State `json:"comments"`
	Changelog   State `json:"changelog"`
	RemoteLinks State `json:"remote_links"`
	SLA         State `json:"sla"`
	// Worklogs is empty in bundles stored before worklogs were fetched.
	Worklogs State `json:"worklogs,omitempty"`
}

// BundleErrors holds, per collection, why it is not complete.
type BundleErrors struct {
	Comments    string `json:"comments,omitempty"`
	Changelog   string `json:"changelog,omitempty"`
	RemoteLinks string `json:"remote_links,omitempty"`
	SLA         string `json:"sla,omitempty"`
	Worklogs    string `json:"worklogs,omitempty"`
}

// Complete reports whether every collection of the bundle is complete.
func (b *Bundle) Complete() bool {
	s := b.State
	return s.Comments == StateComplete && s.Changelog == StateComplete &&
		s.RemoteLinks == StateComplete && s.SLA == StateComplete && s.Worklogs == StateComplete
}

// Decode decodes the bundle's payloads.
func (b *Bundle) Decode() (*Issue, []Comment, []History, []RemoteLink, error) {
	var issue Issue
	if err := jsonx.Unmarshal(b.Issue, &issue); err != nil {
		return nil, nil, nil, nil, fmt.Errorf("decode bundle issue: %w", err)
	}
	comments, err := decodeAll[Comment]("comment", b.Comments)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("decode bundle of %s: %w", issue.Key, err)
	}
	histories, err := decodeAll[History]("history", b.Histories)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("decode bundle of %s: %w", issue.Key, err)
	}
	links, err := decodeAll[RemoteLink]("remote link", b.RemoteLinks)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("decode bundle of %s: %w", issue.Key, err)
	}
	return &issue, comments, histories, links, nil
}

func decodeAll[T any](what string, raws []json.RawMessage) ([]T, error) {
	out := make([]T, 0, len(raws))
	for i, raw := range raws {
		var v T
		if err := jsonx.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("%s %d: %w", what, i, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// CompactIssue returns an issue payload as a bundle stores it: without what
// no table is derived from and what the bundle holds twice. Rendered fields
// (HTML) go, and the comments and histories embedded in the issue are
// emptied, their totals kept, since the bundle's own lists hold all of them.
// That halves a typical payload. A payload that is not an object is returned
// as it is.
func CompactIssue(raw json.RawMessage) json.RawMessage {
	return compactRaw(raw, false)
}

// compactRaw is CompactIssue; worklogs says the bundle holds the worklogs
// itself, so the embedded ones are emptied too.
func compactRaw(raw json.RawMessage, worklogs bool) json.RawMessage {
	var top map[string]json.RawMessage
	if jsonx.Unmarshal(raw, &top) != nil || top == nil {
		return raw
	}
	var fields map[string]json.RawMessage
	if f, ok := top["fields"]; ok && !jsonx.IsNull(f) {
		if jsonx.Unmarshal(f, &fields) != nil {
			fields = nil
		}
	}
	if out := compactIssue(top, fields, worklogs); len(out) > 0 {
		return out
	}
	return raw
}

// SetCompactedIssue sets the bundle's issue from a payload already decoded one
// level deep, compacted (see CompactIssue): a fetch decodes the issue once to
// page its collections and compacts that, and Compacted then has nothing left
// to do. fields, when not nil, replaces top["fields"]. It changes top and
// fields. The embedded worklogs are emptied once b.State.Worklogs is set.
func (b *Bundle) SetCompactedIssue(top, fields map[string]json.RawMessage) {
	b.Issue, b.compact = compactIssue(top, fields, b.State.Worklogs != ""), true
}

// compactIssue encodes a decoded issue compacted (see CompactIssue); fields,
// when not nil, replaces top["fields"]; worklogs empties the embedded
// worklogs. It changes top and fields.
func compactIssue(top, fields map[string]json.RawMessage, worklogs bool) json.RawMessage {
	delete(top, "renderedFields")
	if raw, ok := top["changelog"]; ok {
		top["changelog"] = emptyList(raw, "histories")
	}
	if fields != nil {
		if c, ok := fields["comment"]; ok {
			fields["comment"] = emptyList(c, "comments")
		}
		if w, ok := fields["worklog"]; ok && worklogs {
			fields["worklog"] = emptyList(w, "worklogs")
		}
		top["fields"] = encodeObject(fields)
	}
	return encodeObject(top)
}

// emptyList empties the list under name of a paged object, keeping its other
// keys; anything else is returned unchanged.
func emptyList(raw json.RawMessage, name string) json.RawMessage {
	var page map[string]json.RawMessage
	if jsonx.Unmarshal(raw, &page) != nil || page == nil {
		return raw
	}
	if _, ok := page[name]; !ok {
		return raw
	}
	page[name] = json.RawMessage("[]")
	return encodeObject(page)
}

// encodeObject writes an object of already valid JSON values, keys sorted,
// without decoding or re-escaping the values: json.Marshal would validate
// and compact every value once more.
func encodeObject(m map[string]json.RawMessage) json.RawMessage {
	keys := make([]string, 0, len(m))
	size := 2
	for k, v := range m {
		keys = append(keys, k)
		size += len(k) + len(v) + 4
	}
	slices.Sort(keys)
	out := make([]byte, 0, size)
	out = append(out, '{')
	for i, k := range keys {
		if i > 0 {
			out = append(out, ',')
		}
		out = appendKey(out, k)
		out = append(out, ':')
		v := m[k]
		if len(v) == 0 {
			v = json.RawMessage("null")
		}
		out = append(out, v...)
	}
	return append(out, '}')
}

// appendKey appends k as a JSON string: plain field ids as they are,
// anything else through the encoder.
func appendKey(out []byte, k string) []byte {
	plain := true
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			plain = false
			break
		}
	}
	if plain {
		out = append(out, '"')
		out = append(out, k...)
		return append(out, '"')
	}
	q, _ := json.Marshal(k) // a string always encodes
	return append(out, q...)
}
