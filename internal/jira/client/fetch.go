package client

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

	"github.com/jiraduck/jiraduck/internal/jira"
	"github.com/jiraduck/jiraduck/internal/jsonx"
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

// FetchIssue fetches an issue whole. GET issue, the remote links and the
// SLA overlay need nothing from one another and are asked for at once; once
// the issue is in, comments, changelog and worklogs are paged only where the
// issue embedded fewer than their totals. Only a failure of GET issue (or
// the end of ctx) fails FetchIssue; any other failure is recorded in the
// bundle's State and Errors, keeping what was fetched.
func (c *Client) FetchIssue(ctx context.Context, keyOrID string, opts FetchOptions) (*jira.Bundle, error) {
	if err := checkKeyOrID(keyOrID); err != nil {
		return nil, fmt.Errorf("get issue: %w", err)
	}
	ctx = withPauseGroup(ctx)
	// The side calls are dropped when GET issue fails: without the issue
	// there is no bundle for them to complete.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	side := c.startSideCalls(sctx, keyOrID, opts, nil)
	// The issue is decoded one level deep only: the bundle needs its key,
	// its embedded lists and a compacted copy, and normalizing decodes the
	// compacted copy in full later. Decoding the issue whole here and again
	// there was most of the CPU a fetch cost.
	var top map[string]json.RawMessage
	if _, err := c.getIssue(ctx, keyOrID, &top); err != nil {
		cancel()
		side.wg.Wait()
		return nil, err
	}
	return c.completeIssue(ctx, keyOrID, top, side)
}

// sideCalls are the calls of one issue that need nothing from the issue
// itself, under way beside it. Each writes only its own result.
type sideCalls struct {
	wg    sync.WaitGroup
	links listResult
	sla   slaResult
}

// listResult is one fetched collection and how complete it is.
type listResult struct {
	items []json.RawMessage
	state jira.State
	msg   string
}

// startSideCalls starts the remote links and, unless sla is given (a bulk
// fetch read it for many issues at once), the SLA overlay of an issue.
func (c *Client) startSideCalls(ctx context.Context, keyOrID string, opts FetchOptions, sla *slaResult) *sideCalls {
	s := &sideCalls{}
	s.wg.Go(func() { s.links = c.allRemoteLinks(ctx, keyOrID) })
	switch {
	case sla != nil:
		s.sla = *sla
	case c.sla != nil && len(opts.SLAFieldIDs) > 0:
		s.wg.Go(func() { s.sla = c.slaOverlay(ctx, keyOrID, opts.SLAFieldIDs) })
	default:
		// Without a second account the issue already holds the only view of
		// its SLA fields there is.
		s.sla.state = jira.StateComplete
	}
	return s
}

// completeIssue turns an issue payload, decoded one level deep, into a
// bundle: it pages the collections the payload holds only in part, waits
// for the side calls and applies the SLA overlay. The collections are
// fetched concurrently and each one's state is set from its own calls
// alone, so the order in which they finish changes nothing.
func (c *Client) completeIssue(ctx context.Context, keyOrID string, top map[string]json.RawMessage, side *sideCalls) (*jira.Bundle, error) {
	defer side.wg.Wait()
	if top == nil {
		return nil, fmt.Errorf("get issue %s: decode answer: not an object", keyOrID)
	}
	var fields map[string]json.RawMessage
	if f, ok := top["fields"]; ok && !jsonx.IsNull(f) {
		if err := jsonx.Unmarshal(f, &fields); err != nil {
			return nil, fmt.Errorf("get issue %s: decode fields: %w", keyOrID, err)
		}
	}
	key := keyOrID
	var answered string
	if jsonx.Unmarshal(top["key"], &answered) == nil && jira.ValidKey(answered) {
		// A moved issue answers to its old key with its new one.
		key = answered
	}

	b := &jira.Bundle{FetchedAt: c.now().UTC()}
	// The embedded collections, each with its own fields of the bundle.
	var wg sync.WaitGroup
	wg.Go(func() {
		b.Comments, b.State.Comments, b.Errors.Comments = c.allComments(ctx, key, fields["comment"])
	})
	wg.Go(func() {
		b.Histories, b.State.Changelog, b.Errors.Changelog = c.allHistories(ctx, key, top["changelog"])
	})
	wg.Go(func() {
		b.Worklogs, b.State.Worklogs, b.Errors.Worklogs = c.AllWorklogs(ctx, key, fields["worklog"])
	})
	wg.Wait()
	side.wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fetch issue %s: %w", key, err)
	}
	b.RemoteLinks, b.State.RemoteLinks, b.Errors.RemoteLinks = side.links.items, side.links.state, side.links.msg
	b.State.SLA, b.Errors.SLA = side.sla.state, side.sla.msg
	if fields != nil {
		for k, v := range side.sla.values {
			fields[k] = v
		}
	}
	b.SetCompactedIssue(top, fields)
	return b, nil
}

func (c *Client) allComments(ctx context.Context, key string, embedded json.RawMessage) ([]json.RawMessage, jira.State, string) {
	return c.collect(ctx, embedded, "comments", func(ctx context.Context, startAt int) (collectPage, error) {
		var p struct {
			Total    int               `json:"total"`
			Comments []json.RawMessage `json:"comments"`
		}
		_, err := c.commentPage(ctx, key, startAt, MaxPageSize, &p)
		return collectPage{items: p.Comments, total: p.Total}, err
	})
}

func (c *Client) allHistories(ctx context.Context, key string, embedded json.RawMessage) ([]json.RawMessage, jira.State, string) {
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

func (c *Client) allRemoteLinks(ctx context.Context, key string) listResult {
	var links []json.RawMessage
	if _, err := c.remoteLinks(ctx, key, &links); err != nil {
		return listResult{state: jira.StateUnknown, msg: err.Error()}
	}
	if links == nil {
		links = []json.RawMessage{}
	}
	return listResult{items: links, state: jira.StateComplete}
}

// slaResult is what the SLA account said about an issue's SLA fields.
type slaResult struct {
	values map[string]json.RawMessage
	state  jira.State
	msg    string
}

func (c *Client) slaOverlay(ctx context.Context, key string, fieldIDs []string) slaResult {
	vals, err := c.SLAFields(ctx, key, fieldIDs)
	if err != nil {
		return slaResult{state: jira.StateUnknown, msg: err.Error()}
	}
	return slaValues(key, fieldIDs, vals)
}

// slaValues is the overlay of the SLA fields Jira returned of an issue:
// partial when some of those asked for are missing.
func slaValues(key string, fieldIDs []string, vals map[string]json.RawMessage) slaResult {
	var missing []string
	for _, id := range fieldIDs {
		if _, ok := vals[id]; !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return slaResult{values: vals, state: jira.StatePartial,
			msg: fmt.Sprintf("get sla fields of %s: jira did not return %s", key, strings.Join(missing, ", "))}
	}
	return slaResult{values: vals, state: jira.StateComplete}
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
	fetch func(ctx context.Context, startAt int) (collectPage, error)) ([]json.RawMessage, jira.State, string) {
	emb, embTotal, known := embeddedList(embedded, listName)
	if known && embTotal <= len(emb) {
		return orderItems(emb), jira.StateComplete, ""
	}

	var (
		paged   []json.RawMessage
		total   int
		pages   int // pages read successfully
		pageErr error
		seen    = make(map[jira.ID]bool)
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
		return merged, jira.StateUnknown, pageErr.Error()
	case pageErr != nil:
		return merged, jira.StatePartial, pageErr.Error()
	case len(merged) < max(total, embTotal):
		return merged, jira.StatePartial, fmt.Sprintf("got %d %s of %d", len(merged), listName, max(total, embTotal))
	}
	return merged, jira.StateComplete, ""
}

// embeddedList reads an embedded collection: its items, its total, and whether
// that total is known (the collection is there, with its total).
func embeddedList(raw json.RawMessage, listName string) ([]json.RawMessage, int, bool) {
	raw = bytes.TrimSpace(raw)
	if jsonx.IsNull(raw) {
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
	t, ok := page["total"]
	if !ok {
		// A page without its total may be cut short (a bulk fetch embeds at
		// most 40 histories): the list is kept, and the endpoint paged.
		return list, len(list), false
	}
	var total int
	if jsonx.Unmarshal(t, &total) != nil {
		return list, len(list), false
	}
	return list, total, true
}

// itemID returns the id of a raw comment or history, "" when it has none.
func itemID(raw json.RawMessage) jira.ID {
	var head struct {
		ID jira.ID `json:"id"`
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
			ID      jira.ID   `json:"id"`
			Created jira.Time `json:"created"`
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

func marshalNoEscape(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
