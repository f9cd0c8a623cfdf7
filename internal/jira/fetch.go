package jira

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
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

// maxCollectionPages bounds the pages read for one issue's comments or
// changelog (a million items at 100 a page).
const maxCollectionPages = 10000

// FetchOptions tune FetchIssue.
type FetchOptions struct {
	// SLAFieldIDs are the SLA fields to read through the SLA account and
	// overlay on the issue. Ignored without an SLA account: the issue already
	// carries the main account's view of them.
	SLAFieldIDs []string
}

// Bundle is an issue as jiraduck stores it: the payload of GET issue (with the
// SLA overlay applied), every comment and history oldest first, the remote
// links, and how complete each collection is. It is stored verbatim and
// normalised again later without calling Jira, so it only holds JSON.
type Bundle struct {
	Issue       json.RawMessage   `json:"issue"`
	Comments    []json.RawMessage `json:"comments"`
	Histories   []json.RawMessage `json:"histories"`
	RemoteLinks []json.RawMessage `json:"remote_links"`
	State       BundleState       `json:"state"`
	Errors      BundleErrors      `json:"errors,omitzero"`
	FetchedAt   time.Time         `json:"fetched_at"`

	// compact is set when Issue is known to be compacted (see CompactIssue).
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
// a bundle FetchIssue made already is, and is returned as it is.
func (b *Bundle) Compacted() *Bundle {
	if b.compact {
		return b
	}
	c := *b
	c.Issue = CompactIssue(b.Issue)
	c.compact = true
	return &c
}

// Encode is the bundle as JSON, what json.Marshal gives up to the order of
// object keys and white space, written without validating again the
// payloads it holds (they were decoded when they came in). Storing an issue
// spent about a tenth of its CPU time re-validating them.
func (b *Bundle) Encode() ([]byte, error) {
	size := len(b.Issue) + 256
	for _, l := range [][]json.RawMessage{b.Comments, b.Histories, b.RemoteLinks} {
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
	}{{"comments", b.Comments}, {"histories", b.Histories}, {"remote_links", b.RemoteLinks}} {
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
}

// BundleErrors holds, per collection, why it is not complete.
type BundleErrors struct {
	Comments    string `json:"comments,omitempty"`
	Changelog   string `json:"changelog,omitempty"`
	RemoteLinks string `json:"remote_links,omitempty"`
	SLA         string `json:"sla,omitempty"`
}

// Complete reports whether every collection of the bundle is complete.
func (b *Bundle) Complete() bool {
	s := b.State
	return s.Comments == StateComplete && s.Changelog == StateComplete &&
		s.RemoteLinks == StateComplete && s.SLA == StateComplete
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

// FetchIssue fetches an issue whole: GET issue, then every comment and
// changelog page when the embedded lists fall short of their totals, the remote
// links, and the SLA overlay through the SLA account, the last three at once.
// Only a failure of GET issue (or the end of ctx) fails FetchIssue; any other
// failure is recorded in the bundle's State and Errors, keeping what was
// fetched.
func (c *Client) FetchIssue(ctx context.Context, keyOrID string, opts FetchOptions) (*Bundle, error) {
	// The issue is decoded one level deep only: the bundle needs its key,
	// its embedded lists and a compacted copy, and normalizing decodes the
	// compacted copy in full later. Decoding a 25 KB issue whole here and
	// again there was most of the CPU a fetch cost.
	var top map[string]json.RawMessage
	_, err := c.getIssue(ctx, keyOrID, &top)
	if err != nil {
		return nil, err
	}
	if top == nil {
		return nil, fmt.Errorf("get issue %s: decode answer: not an object", keyOrID)
	}
	var fields map[string]json.RawMessage
	if f, ok := top["fields"]; ok && !isNull(f) {
		if err := jsonx.Unmarshal(f, &fields); err != nil {
			return nil, fmt.Errorf("get issue %s: decode fields: %w", keyOrID, err)
		}
	}
	key := keyOrID
	var answered string
	if jsonx.Unmarshal(top["key"], &answered) == nil && ValidKey(answered) {
		// A moved issue answers to its old key with its new one.
		key = answered
	}

	b := &Bundle{FetchedAt: c.now().UTC()}
	var (
		wg  sync.WaitGroup
		sla slaResult
	)
	wg.Go(func() {
		b.Comments, b.State.Comments, b.Errors.Comments = c.allComments(ctx, key, fields["comment"])
	})
	wg.Go(func() {
		b.Histories, b.State.Changelog, b.Errors.Changelog = c.allHistories(ctx, key, top["changelog"])
	})
	wg.Go(func() {
		b.RemoteLinks, b.State.RemoteLinks, b.Errors.RemoteLinks = c.allRemoteLinks(ctx, key)
	})
	if c.sla != nil && len(opts.SLAFieldIDs) > 0 {
		wg.Go(func() { sla = c.slaOverlay(ctx, key, opts.SLAFieldIDs) })
	} else {
		// Without a second account the issue already holds the only view of
		// its SLA fields there is.
		sla.state = StateComplete
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fetch issue %s: %w", key, err)
	}
	b.State.SLA, b.Errors.SLA = sla.state, sla.msg
	if fields != nil {
		for k, v := range sla.values {
			fields[k] = v
		}
	}
	b.Issue, b.compact = compactIssue(top, fields), true
	return b, nil
}

// CompactIssue returns an issue payload as a bundle stores it: without what
// no table is derived from and what the bundle holds twice. Rendered fields
// (HTML) go, and the comments and histories embedded in the issue are
// emptied, their totals kept, since the bundle's own lists hold all of them.
// That halves a typical payload. A payload that is not an object is returned
// as it is.
func CompactIssue(raw json.RawMessage) json.RawMessage {
	var top map[string]json.RawMessage
	if jsonx.Unmarshal(raw, &top) != nil || top == nil {
		return raw
	}
	var fields map[string]json.RawMessage
	if f, ok := top["fields"]; ok && !isNull(f) {
		if jsonx.Unmarshal(f, &fields) != nil {
			fields = nil
		}
	}
	if out := compactIssue(top, fields); len(out) > 0 {
		return out
	}
	return raw
}

// compactIssue encodes a decoded issue compacted (see CompactIssue); fields,
// when not nil, replaces top["fields"]. It changes top and fields.
func compactIssue(top, fields map[string]json.RawMessage) json.RawMessage {
	delete(top, "renderedFields")
	if raw, ok := top["changelog"]; ok {
		top["changelog"] = emptyList(raw, "histories")
	}
	if fields != nil {
		if c, ok := fields["comment"]; ok {
			fields["comment"] = emptyList(c, "comments")
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

func (c *Client) allComments(ctx context.Context, key string, embedded json.RawMessage) ([]json.RawMessage, State, string) {
	return c.collect(ctx, embedded, "comments", func(ctx context.Context, startAt int) (collectPage, error) {
		var p struct {
			Total    int               `json:"total"`
			Comments []json.RawMessage `json:"comments"`
		}
		_, err := c.commentPage(ctx, key, startAt, MaxPageSize, &p)
		return collectPage{items: p.Comments, total: p.Total}, err
	})
}

func (c *Client) allHistories(ctx context.Context, key string, embedded json.RawMessage) ([]json.RawMessage, State, string) {
	return c.collect(ctx, embedded, "histories", func(ctx context.Context, startAt int) (collectPage, error) {
		var p struct {
			Total  int               `json:"total"`
			IsLast bool              `json:"isLast"`
			Values []json.RawMessage `json:"values"`
		}
		_, err := c.changelogPage(ctx, key, startAt, MaxPageSize, &p)
		return collectPage{items: p.Values, total: p.Total, isLast: p.IsLast}, err
	})
}

func (c *Client) allRemoteLinks(ctx context.Context, key string) ([]json.RawMessage, State, string) {
	var links []json.RawMessage
	if _, err := c.remoteLinks(ctx, key, &links); err != nil {
		return nil, StateUnknown, err.Error()
	}
	if links == nil {
		links = []json.RawMessage{}
	}
	return links, StateComplete, ""
}

// slaResult is what the SLA account said about an issue's SLA fields.
type slaResult struct {
	values map[string]json.RawMessage
	state  State
	msg    string
}

func (c *Client) slaOverlay(ctx context.Context, key string, fieldIDs []string) slaResult {
	vals, err := c.SLAFields(ctx, key, fieldIDs)
	if err != nil {
		return slaResult{state: StateUnknown, msg: err.Error()}
	}
	var missing []string
	for _, id := range fieldIDs {
		if _, ok := vals[id]; !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return slaResult{values: vals, state: StatePartial,
			msg: fmt.Sprintf("get sla fields of %s: jira did not return %s", key, strings.Join(missing, ", "))}
	}
	return slaResult{values: vals, state: StateComplete}
}

// collectPage is one page of a paged collection, items kept raw.
type collectPage struct {
	items  []json.RawMessage
	total  int
	isLast bool
}

// collect returns a whole collection, oldest first. embedded is what the issue
// embedded (a page object holding listName, or a bare list); when it is known
// to hold everything no request is made, else the dedicated endpoint is paged
// from the start and merged with the embedded items.
func (c *Client) collect(ctx context.Context, embedded json.RawMessage, listName string,
	fetch func(ctx context.Context, startAt int) (collectPage, error)) ([]json.RawMessage, State, string) {
	emb, embTotal, known := embeddedList(embedded, listName)
	if known && embTotal <= len(emb) {
		return orderItems(emb), StateComplete, ""
	}

	var (
		paged   []json.RawMessage
		total   int
		pages   int // pages read successfully
		pageErr error
		seen    = make(map[ID]bool)
	)
	for startAt := 0; ; {
		if pages >= maxCollectionPages {
			pageErr = fmt.Errorf("get %s: more than %d pages", listName, maxCollectionPages)
			break
		}
		p, err := fetch(ctx, startAt)
		if err != nil {
			pageErr = err
			break
		}
		pages++
		total = p.total
		fresh := 0
		for _, it := range p.items {
			if id := itemID(it); id == "" || !seen[id] {
				seen[id] = true
				fresh++
			}
		}
		paged = append(paged, p.items...)
		startAt += len(p.items)
		if len(p.items) == 0 || p.isLast || startAt >= p.total {
			break
		}
		if fresh == 0 {
			// A server that ignores startAt would otherwise be paged
			// maxCollectionPages times.
			pageErr = fmt.Errorf("get %s: the page at %d repeats earlier items", listName, startAt-len(p.items))
			break
		}
	}

	merged := orderItems(append(paged, emb...))
	switch {
	case pageErr != nil && pages == 0:
		return merged, StateUnknown, pageErr.Error()
	case pageErr != nil:
		return merged, StatePartial, pageErr.Error()
	case len(merged) < max(total, embTotal):
		return merged, StatePartial, fmt.Sprintf("got %d %s of %d", len(merged), listName, max(total, embTotal))
	}
	return merged, StateComplete, ""
}

// embeddedList reads an embedded collection: its items, its total, and whether
// it was there at all.
func embeddedList(raw json.RawMessage, listName string) ([]json.RawMessage, int, bool) {
	raw = bytes.TrimSpace(raw)
	if isNull(raw) {
		return nil, 0, false
	}
	if raw[0] == '[' {
		var list []json.RawMessage
		if jsonx.Unmarshal(raw, &list) != nil {
			return nil, 0, false
		}
		return list, len(list), true
	}
	var page map[string]json.RawMessage
	if jsonx.Unmarshal(raw, &page) != nil {
		return nil, 0, false
	}
	var list []json.RawMessage
	if jsonx.Unmarshal(page[listName], &list) != nil {
		return nil, 0, false
	}
	total := len(list)
	if t, ok := page["total"]; ok {
		if jsonx.Unmarshal(t, &total) != nil {
			return nil, 0, false
		}
	}
	return list, total, true
}

// itemID returns the id of a raw comment or history, "" when it has none.
func itemID(raw json.RawMessage) ID {
	var head struct {
		ID ID `json:"id"`
	}
	_ = jsonx.Unmarshal(raw, &head)
	return head.ID
}

// orderItems drops repeated ids (the first one wins) and sorts by creation
// time, then by numeric id. When an item's time cannot be read the order is
// kept as it came.
func orderItems(items []json.RawMessage) []json.RawMessage {
	type item struct {
		raw     json.RawMessage
		id      string
		created time.Time
	}
	seen := make(map[string]bool, len(items))
	list := make([]item, 0, len(items))
	sortable := true
	for _, raw := range items {
		var head struct {
			ID      ID   `json:"id"`
			Created Time `json:"created"`
		}
		if err := jsonx.Unmarshal(raw, &head); err != nil || head.Created.IsZero() {
			sortable = false
		}
		if head.ID != "" {
			if seen[string(head.ID)] {
				continue
			}
			seen[string(head.ID)] = true
		}
		list = append(list, item{raw: raw, id: string(head.ID), created: head.Created.Time})
	}
	if sortable {
		slices.SortStableFunc(list, func(a, b item) int {
			if c := a.created.Compare(b.created); c != 0 {
				return c
			}
			return compareIDs(a.id, b.id)
		})
	}
	out := make([]json.RawMessage, len(list))
	for i, it := range list {
		out[i] = it.raw
	}
	return out
}

// compareIDs orders numeric ids by value and anything else as text.
func compareIDs(a, b string) int {
	na, errA := strconv.ParseInt(a, 10, 64)
	nb, errB := strconv.ParseInt(b, 10, 64)
	if errA == nil && errB == nil {
		return cmp.Compare(na, nb)
	}
	return strings.Compare(a, b)
}

// overlayFields sets the given fields in an issue payload, leaving everything
// else as it was (HTML in rendered fields is not escaped again).
func overlayFields(payload json.RawMessage, vals map[string]json.RawMessage) (json.RawMessage, error) {
	var top map[string]json.RawMessage
	if err := jsonx.Unmarshal(payload, &top); err != nil {
		return nil, err
	}
	fields := map[string]json.RawMessage{}
	if f, ok := top["fields"]; ok && !isNull(f) {
		if err := jsonx.Unmarshal(f, &fields); err != nil {
			return nil, err
		}
	}
	for k, v := range vals {
		fields[k] = v
	}
	encoded, err := marshalNoEscape(fields)
	if err != nil {
		return nil, err
	}
	top["fields"] = encoded
	return marshalNoEscape(top)
}

func marshalNoEscape(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
