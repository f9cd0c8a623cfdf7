package jobs

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jiraduck/jiraduck/internal/jira"
	"github.com/jiraduck/jiraduck/internal/jira/client"
	"github.com/jiraduck/jiraduck/internal/normalize"
	"github.com/jiraduck/jiraduck/internal/pipeline"
	"github.com/jiraduck/jiraduck/internal/store"
)

// writeBatch is how many prepared issues a backfill writes per transaction:
// large enough that the per-statement cost of DuckDB fades, small enough to
// keep a transaction short.
const writeBatch = 250

// BackfillOptions shape a backfill.
type BackfillOptions struct {
	// JQL is the scope, e.g. "project = SUP ORDER BY created ASC".
	JQL string
	// Since limits the scope to issues updated at or after it (zero: all).
	Since time.Time
	// Force fetches every issue, even those the store holds up to date.
	Force bool
	// Parallel is how many issues are fetched at once (default 4).
	Parallel int
	// Listed is called once enumeration is done, with the number of issues
	// to fetch; Progress after each issue.
	Listed   func(toFetch, skipped int)
	Progress func()
	// Record, if set, receives the counts every few seconds (sync_runs).
	Record func(counts map[string]int)
	// Retries is how many more rounds failed issues get after the pass
	// (default 2), RetryDelay the pause before each (default 5s): a burst of
	// 429s or 5xx outlasting the client's own retries is ridden out.
	Retries    int
	RetryDelay time.Duration
}

// BackfillResult counts what a backfill did.
type BackfillResult struct {
	Listed  int
	Fetched int
	Skipped int
	Failed  int
	Gone    int
	// Alone counts the issues a bulk fetch did not return (issueErrors,
	// left out, a failed call) and that were fetched one by one instead.
	Alone int
	// Errors holds the first few failures.
	Errors []string
}

// Counts is the result as sync_runs stores it.
func (r BackfillResult) Counts() map[string]int {
	return map[string]int{"listed": r.Listed, "fetched": r.Fetched, "skipped": r.Skipped, "failed": r.Failed, "gone": r.Gone,
		"fetched_alone": r.Alone}
}

// Backfill enumerates the scope with search/jql (ids and updated only), then
// fetches every issue the store does not hold up to date (missing, older
// `updated`, or incomplete) and prepares it through the same Processor as
// webhooks. Issues are fetched in bulk, jira.MaxBulkFetch a call, each then
// completed with its remote links and the pages of the lists the bulk
// answer cut short; an issue the bulk fetch did not return is fetched
// alone. A run that was interrupted is resumed by running it again: what
// it finished is skipped.
func Backfill(ctx context.Context, jc *client.Client, s *store.Store, p *pipeline.Processor, opts BackfillOptions) (BackfillResult, error) {
	var res BackfillResult
	if opts.Parallel < 1 {
		opts.Parallel = 4
	}
	jql, err := ScopeJQL(opts.JQL, opts.Since)
	if err != nil {
		return res, err
	}
	known, err := s.SyncStates(ctx)
	if err != nil {
		return res, err
	}
	var todo []string
	unstored := map[string]bool{}
	err = jc.SearchAll(ctx, jira.SearchRequest{JQL: jql, Fields: []string{"updated"}, MaxResults: 1000}, func(hit jira.SearchIssue) error {
		res.Listed++
		id := string(hit.ID)
		if st, ok := known[id]; ok && !opts.Force && !st.Incomplete && !hit.Updated.IsZero() && st.Updated.Equal(hit.Updated.UTC()) {
			res.Skipped++
			return nil
		}
		if _, ok := known[id]; !ok {
			unstored[id] = true
		}
		todo = append(todo, id)
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("backfill: list issues: %w", err)
	}
	if opts.Listed != nil {
		opts.Listed(len(todo), res.Skipped)
	}

	if opts.Retries == 0 {
		opts.Retries = 2
	}
	if opts.RetryDelay <= 0 {
		opts.RetryDelay = 5 * time.Second
	}
	var fetched, gone, alone atomic.Int64
	var errMu sync.Mutex
	var failedIDs []string
	var lastErrs []string
	// pass fetches ids with opts.Parallel workers, in bulk or each alone,
	// writes what they prepare in batches of up to writeBatch issues, and
	// returns the ids that failed.
	pass := func(ids []string, report, bulk bool) []string {
		var failedNow []string
		fail := func(id string, err error) {
			errMu.Lock()
			defer errMu.Unlock()
			failedNow = append(failedNow, id)
			if len(lastErrs) < 10 {
				lastErrs = append(lastErrs, err.Error())
			}
		}
		prepared := make(chan *normalize.Rows, writeBatch)
		written := make(chan struct{})
		go func() {
			defer close(written)
			var batch []*normalize.Rows
			flush := func() {
				if len(batch) == 0 {
					return
				}
				for i, err := range p.WriteBatch(context.WithoutCancel(ctx), batch) {
					if err != nil {
						fail(batch[i].Issue.IssueID, err)
					} else {
						fetched.Add(1)
					}
				}
				if report && opts.Progress != nil {
					for range batch {
						opts.Progress()
					}
				}
				batch = batch[:0]
			}
			tick := time.NewTicker(200 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case r, ok := <-prepared:
					if !ok {
						flush()
						return
					}
					batch = append(batch, r)
					if len(batch) >= writeBatch {
						flush()
					}
				case <-tick.C:
					flush()
				}
			}
		}()
		work := make(chan backfillItem)
		var wg sync.WaitGroup
		for i := 0; i < opts.Parallel; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for it := range work {
					id := it.id
					rows, out, err := prepareItem(ctx, p, it, pipeline.Request{KeyOrID: id, ID: id, Unstored: unstored[id]})
					switch {
					case err != nil && ctx.Err() != nil:
						// Interrupted: not a failure of the issue.
					case err != nil:
						fail(id, err)
					case rows != nil:
						prepared <- rows
						continue
					case out == pipeline.Gone:
						gone.Add(1)
					}
					if report && opts.Progress != nil {
						opts.Progress()
					}
				}
			}()
		}
		if bulk {
			alone.Add(int64(feedBulk(ctx, jc, p.FetchOptions(), ids, work)))
		} else {
		feed:
			for _, id := range ids {
				select {
				case work <- backfillItem{id: id}:
				case <-ctx.Done():
					break feed
				}
			}
		}
		close(work)
		wg.Wait()
		close(prepared)
		<-written
		return failedNow
	}
	stopRecord := make(chan struct{})
	recorded := make(chan struct{})
	go func() {
		defer close(recorded)
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stopRecord:
				return
			case <-t.C:
				if opts.Record != nil {
					snap := res
					errMu.Lock()
					snap.Failed = len(failedIDs)
					errMu.Unlock()
					snap.Fetched, snap.Gone, snap.Alone = int(fetched.Load()), int(gone.Load()), int(alone.Load())
					opts.Record(snap.Counts())
				}
			}
		}
	}()
	failedIDs = pass(todo, true, true)
	for round := 0; round < opts.Retries && len(failedIDs) > 0 && ctx.Err() == nil; round++ {
		select {
		case <-time.After(opts.RetryDelay):
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		lastErrs = nil
		// What failed is fetched alone: its errors are then its own.
		failedIDs = pass(failedIDs, false, false)
	}
	close(stopRecord)
	<-recorded
	res.Errors = lastErrs
	res.Fetched, res.Failed, res.Gone, res.Alone = int(fetched.Load()), len(failedIDs), int(gone.Load()), int(alone.Load())
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if res.Failed > 0 {
		return res, fmt.Errorf("backfill: %d issue(s) failed; first: %s", res.Failed, res.Errors[0])
	}
	return res, nil
}

// bulkInFlight is how many bulk fetches a backfill has under way: one
// being answered while the workers complete the issues of another.
const bulkInFlight = 2

// backfillItem is one issue for a backfill worker: its bulk fetch answer,
// or none when it is to be fetched alone.
type backfillItem struct {
	id string
	bi *client.BulkIssue
}

// prepareItem fetches (or completes) one issue and prepares its rows, as
// Processor.Prepare does.
func prepareItem(ctx context.Context, p *pipeline.Processor, it backfillItem, req pipeline.Request) (*normalize.Rows, pipeline.Outcome, error) {
	if it.bi == nil {
		return p.Prepare(ctx, req)
	}
	return p.PrepareBulk(ctx, req, it.bi)
}

// feedBulk fetches ids in bulk, jira.MaxBulkFetch a call, and hands every
// issue to the workers: those a bulk fetch returned with its answer, the
// others (listed in issueErrors, left out, or in a call that failed) to be
// fetched alone, which tells a deleted or hidden issue (404) from one that
// failed. It returns when every id is handed over or ctx ends, with the
// number handed over to be fetched alone.
func feedBulk(ctx context.Context, jc *client.Client, opts client.FetchOptions, ids []string, work chan<- backfillItem) int {
	var alone atomic.Int64
	send := func(it backfillItem) bool {
		select {
		case work <- it:
			return true
		case <-ctx.Done():
			return false
		}
	}
	chunks := make(chan []string)
	var wg sync.WaitGroup
	for range bulkInFlight {
		wg.Go(func() {
			for chunk := range chunks {
				got, err := jc.FetchIssues(ctx, chunk, opts)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					got = &client.BulkIssues{}
				}
				handed := make(map[string]bool, len(chunk))
				for _, bi := range got.Issues {
					handed[bi.Asked] = true
					if !send(backfillItem{id: bi.Asked, bi: bi}) {
						return
					}
				}
				for _, id := range chunk {
					if handed[id] {
						continue
					}
					if !send(backfillItem{id: id}) {
						return
					}
					alone.Add(1)
				}
			}
		})
	}
	for chunk := range slices.Chunk(ids, jira.MaxBulkFetch) {
		select {
		case chunks <- chunk:
			continue
		case <-ctx.Done():
		}
		break
	}
	close(chunks)
	wg.Wait()
	return int(alone.Load())
}

var orderBy = regexp.MustCompile(`(?i)\border\s+by\b`)

// ScopeJQL adds a lower bound on updated to a JQL query, in epoch milliseconds:
// Jira reads date literals in the API user's time zone, numbers it does not.
func ScopeJQL(jql string, since time.Time) (string, error) {
	jql = strings.TrimSpace(jql)
	if since.IsZero() {
		if jql == "" {
			return "ORDER BY created ASC", nil
		}
		return jql, nil
	}
	where, order := jql, ""
	if loc := lastOutsideQuotes(jql); loc >= 0 {
		where, order = strings.TrimSpace(jql[:loc]), " "+strings.TrimSpace(jql[loc:])
	}
	bound := "updated >= " + strconv.FormatInt(since.UnixMilli(), 10)
	if where == "" {
		return bound + order, nil
	}
	return "(" + where + ") AND " + bound + order, nil
}

// lastOutsideQuotes finds the last ORDER BY that is not inside a quoted string.
func lastOutsideQuotes(jql string) int {
	idx := -1
	for _, m := range orderBy.FindAllStringIndex(jql, -1) {
		if !inQuotes(jql, m[0]) {
			idx = m[0]
		}
	}
	return idx
}

func inQuotes(s string, pos int) bool {
	var q byte
	for i := 0; i < pos; i++ {
		c := s[i]
		switch {
		case c == '\\':
			i++
		case q == 0 && (c == '"' || c == '\''):
			q = c
		case c == q:
			q = 0
		}
	}
	return q != 0
}
