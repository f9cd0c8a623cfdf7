package client

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/jiraduck/jiraduck/internal/jira"
	"github.com/jiraduck/jiraduck/internal/jsonx"
)

// bulkIssueQuery is what FetchIssues asks a bulk fetch for: what GET issue
// is asked for (issueQuery). Jira embeds the same comment page in both, but
// at most 40 histories in a bulk answer against about 100 in GET issue, so
// an issue with 41 to 100 histories has its changelog paged after a bulk
// fetch where GET issue alone would have held it.
var (
	bulkIssueFields = []string{"*all"}
	bulkIssueExpand = []string{"changelog"}
)

// BulkIssue is an issue as a bulk fetch returned it: CompleteIssue reads
// what the bulk answer lacks (remote links, the pages of cut lists) and
// makes its bundle.
type BulkIssue struct {
	// Asked is the id or key the issue was asked for.
	Asked string
	// Key is the key Jira answered with (a moved issue's new one).
	Key string

	top  map[string]json.RawMessage
	sla  *slaResult
	opts FetchOptions
}

// BulkIssues is what FetchIssues got.
type BulkIssues struct {
	// Issues are the issues Jira returned, in the order they were asked for.
	Issues []*BulkIssue
	// Failed holds, for each id or key asked for that has no BulkIssue, why:
	// Jira listed it in issueErrors (a retriable error or a payload limit),
	// or left it out, which it does for an issue that does not exist or
	// that the account may not see, or it names an issue asked for already.
	// FetchIssue on each tells them apart.
	Failed map[string]string
}

// FetchIssues fetches up to jira.MaxBulkFetch issues in one bulk fetch, with
// every field and the changelog expanded, and, with an SLA account, their SLA
// fields in one more bulk fetch beside it. CompleteIssue turns each issue
// returned into a bundle, as FetchIssue would have made it. A failed call
// fails FetchIssues; one issue Jira could not return fails only that issue,
// in Failed.
func (c *Client) FetchIssues(ctx context.Context, idsOrKeys []string, opts FetchOptions) (*BulkIssues, error) {
	r, err := c.bulkRequest(c.siteURL("/rest/api/3/issue/bulkfetch", nil), EndpointBulkFetch, &c.main, idsOrKeys, bulkIssueFields, bulkIssueExpand)
	if err != nil {
		return nil, fmt.Errorf("bulk fetch: %w", err)
	}
	ctx = withPauseGroup(ctx)
	var (
		wg     sync.WaitGroup
		slas   map[string]*slaResult
		slaErr *slaResult
	)
	if c.sla != nil && len(opts.SLAFieldIDs) > 0 {
		wg.Go(func() { slas, slaErr = c.bulkSLA(ctx, idsOrKeys, opts.SLAFieldIDs) })
	}
	var answer struct {
		Issues      []json.RawMessage     `json:"issues"`
		IssueErrors []jira.BulkIssueError `json:"issueErrors"`
	}
	_, err = c.doJSON(ctx, r, &answer)
	wg.Wait()
	if err != nil {
		return nil, fmt.Errorf("bulk fetch of %d issues: %w", len(idsOrKeys), err)
	}

	byName := make(map[string]*BulkIssue, 2*len(answer.Issues))
	for i, raw := range answer.Issues {
		var top map[string]json.RawMessage
		if err := jsonx.Unmarshal(raw, &top); err != nil || top == nil {
			return nil, fmt.Errorf("bulk fetch of %d issues: decode issue %d: not an object", len(idsOrKeys), i)
		}
		var head struct {
			ID  jira.ID `json:"id"`
			Key string  `json:"key"`
		}
		if err := jsonx.Unmarshal(raw, &head); err != nil {
			return nil, fmt.Errorf("bulk fetch of %d issues: decode issue %d: %w", len(idsOrKeys), i, err)
		}
		bi := &BulkIssue{Key: head.Key, top: top, opts: opts}
		byName[string(head.ID)] = bi
		if head.Key != "" {
			byName[strings.ToUpper(head.Key)] = bi
		}
	}
	errs := make(map[string]string, len(answer.IssueErrors))
	for _, e := range answer.IssueErrors {
		errs[string(e.ID)] = e.ErrorMessage
	}

	out := &BulkIssues{Failed: map[string]string{}}
	taken := make(map[*BulkIssue]bool, len(byName))
	for _, asked := range idsOrKeys {
		bi := byName[asked]
		if bi == nil {
			bi = byName[strings.ToUpper(asked)]
		}
		switch {
		case bi != nil && !taken[bi]:
			taken[bi] = true
			bi.Asked = asked
			bi.sla = slaErr
			if s, ok := slas[asked]; ok {
				bi.sla = s
			} else if slas != nil {
				if id := idOf(bi.top); slas[id] != nil {
					bi.sla = slas[id]
				} else {
					bi.sla = &slaResult{state: jira.StateUnknown,
						msg: fmt.Sprintf("bulk fetch sla fields of %s: jira did not return the issue", asked)}
				}
			}
			out.Issues = append(out.Issues, bi)
		case bi != nil:
			// The same issue asked for twice (by id and by key): the
			// caller hears of both names.
			out.Failed[asked] = fmt.Sprintf("bulk fetch of %s: the same issue as %s", asked, bi.Asked)
		case errs[asked] != "":
			out.Failed[asked] = fmt.Sprintf("bulk fetch of %s: %s", asked, errs[asked])
		default:
			out.Failed[asked] = fmt.Sprintf("bulk fetch of %s: not returned (deleted, not visible to the account, or moved)", asked)
		}
	}
	return out, nil
}

// CompleteIssue makes the bundle of an issue a bulk fetch returned: its
// remote links, and every page of its comments and changelog where the bulk
// answer held fewer than their totals, fetched concurrently. Like FetchIssue,
// only the end of ctx fails it; a failed collection is recorded in the
// bundle's State and Errors.
func (c *Client) CompleteIssue(ctx context.Context, bi *BulkIssue) (*jira.Bundle, error) {
	name := bi.Asked
	if jira.ValidKey(bi.Key) {
		name = bi.Key
	}
	sla := bi.sla
	if sla == nil {
		// No SLA account, or no SLA fields: the issue holds their only view.
		sla = &slaResult{state: jira.StateComplete}
	}
	ctx = withPauseGroup(ctx)
	side := c.startSideCalls(ctx, name, bi.opts, sla)
	return c.completeIssue(ctx, name, bi.top, side)
}

// bulkSLA reads the SLA fields of many issues through the SLA account, in
// one call. The results are keyed by id and by the key asked for; a failed
// call is one result for every issue.
func (c *Client) bulkSLA(ctx context.Context, idsOrKeys, fieldIDs []string) (map[string]*slaResult, *slaResult) {
	res, err := c.BulkFetchSLA(ctx, idsOrKeys, fieldIDs)
	if err != nil {
		return nil, &slaResult{state: jira.StateUnknown, msg: err.Error()}
	}
	out := make(map[string]*slaResult, 2*len(res.Issues))
	for _, is := range res.Issues {
		vals := make(map[string]json.RawMessage, len(fieldIDs))
		for _, id := range fieldIDs {
			if v, ok := is.Fields.Raw[id]; ok {
				vals[id] = v
			}
		}
		r := slaValues(is.Key, fieldIDs, vals)
		out[string(is.ID)] = &r
		if is.Key != "" {
			out[is.Key] = &r
		}
	}
	return out, nil
}

// idOf is the id of a decoded issue payload, "" when it has none.
func idOf(top map[string]json.RawMessage) string {
	var id jira.ID
	_ = jsonx.Unmarshal(top["id"], &id)
	return string(id)
}
