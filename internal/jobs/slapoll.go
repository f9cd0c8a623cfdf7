package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/jiraduck/jiraduck/internal/jira"
	"github.com/jiraduck/jiraduck/internal/jira/client"
	"github.com/jiraduck/jiraduck/internal/normalize"
	"github.com/jiraduck/jiraduck/internal/store"
)

// Healer fetches an issue whole through the normal pipeline path: serve hands
// it to its queue, a command processes it at once.
type Healer func(ctx context.Context, id, key string) error

// Deps are what the jobs use.
type Deps struct {
	Client *client.Client
	Store  *store.Store
	Writer *store.Writer
	// Options returns the normalize options of the site (field names, SLA
	// fields) as currently known; SLAFields lists the SLA field ids.
	Options   func() normalize.Options
	SLAFields func() []string
	Heal      Healer
	// Notify is told after writes, so the exporter runs.
	Notify func()
}

// SLAPollOptions shape one poll.
type SLAPollOptions struct {
	// DryRun counts without writing or healing.
	DryRun bool
	// All polls every stored issue, not only open ones (backfill --sla-only).
	All bool
	// Parallel bulk calls (default 4); Now for tests.
	Parallel int
	Now      time.Time
}

// SLAPollResult counts a poll by state.
type SLAPollResult struct {
	Candidates int `json:"candidates"`
	Updated    int `json:"updated"`
	Healed     int `json:"healed"`
	Skipped    int `json:"skipped"`
	Failed     int `json:"failed"`
	Gone       int `json:"gone"`
	Calls      int `json:"calls"`
	Errors     []string
}

// Counts is the result as sync_runs stores it.
func (r SLAPollResult) Counts() map[string]int {
	return map[string]int{"candidates": r.Candidates, "updated": r.Updated, "healed": r.Healed, "skipped": r.Skipped,
		"failed": r.Failed, "gone": r.Gone, "calls": r.Calls}
}

// pollFields are read besides the SLA fields: enough to see that Jira's copy
// moved on without a webhook reaching us.
var pollFields = []string{"status", "resolution", "resolutiondate", "updated"}

// PollSLA refreshes the SLA values of open issues (and of issues done within
// the last day, to catch reopenings) with bulk fetches of 100 issues, a few in
// parallel. Per issue: SLA values changed -> updated (written with the other
// changed issues of its bulk fetch in one transaction; the writer merges the
// fetches that finish together); Jira's status, resolution or updated differ
// from the store -> healed by a full fetch; nothing to do -> skipped; an API
// error -> failed; missing from the bulk answer -> checked alone: gone (404,
// recorded, not deleted: reconcile confirms deletions) or healed. Stored
// payloads are read per bulk fetch and derived rows written as they come, so
// the poll's memory follows its parallelism, not the number of open issues.
func PollSLA(ctx context.Context, d Deps, opts SLAPollOptions) (SLAPollResult, error) {
	var res SLAPollResult
	if opts.Parallel < 1 {
		opts.Parallel = 4
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	cands, err := d.Store.SLACandidates(ctx, opts.Now.Add(-24*time.Hour), opts.All)
	if err != nil {
		return res, err
	}
	res.Candidates = len(cands)
	if len(cands) == 0 {
		return res, nil
	}
	slaIDs := d.SLAFields()
	sort.Strings(slaIDs)
	fields := append(append([]string(nil), pollFields...), slaIDs...)
	normOpts := d.Options()

	var mu sync.Mutex
	var heal []store.Candidate
	var missing []store.Candidate
	fail := func(n int, err error) {
		mu.Lock()
		defer mu.Unlock()
		res.Failed += n
		if len(res.Errors) < 10 {
			res.Errors = append(res.Errors, err.Error())
		}
	}

	chunks := make(chan []store.Candidate)
	var wg sync.WaitGroup
	for i := 0; i < opts.Parallel; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for chunk := range chunks {
				ids := make([]string, len(chunk))
				for i, c := range chunk {
					ids[i] = c.ID
				}
				answer, err := d.Client.BulkFetchSLA(ctx, ids, fields)
				mu.Lock()
				res.Calls++
				mu.Unlock()
				if err != nil {
					fail(len(chunk), err)
					continue
				}
				got := map[string]*jira.Issue{}
				for i := range answer.Issues {
					got[string(answer.Issues[i].ID)] = &answer.Issues[i]
				}
				var current []store.Candidate
				for _, c := range chunk {
					is, ok := got[c.ID]
					switch {
					case !ok:
						mu.Lock()
						missing = append(missing, c)
						mu.Unlock()
					case drifted(c, is):
						mu.Lock()
						heal = append(heal, c)
						mu.Unlock()
					default:
						current = append(current, c)
					}
				}
				ids = ids[:0]
				for _, c := range current {
					ids = append(ids, c.ID)
				}
				payloads, err := d.Store.Payloads(ctx, ids)
				if err != nil {
					fail(len(current), err)
					continue
				}
				var updates []*normalize.Rows
				for _, c := range current {
					payload, ok := payloads[c.ID]
					if !ok {
						// Deleted or emptied since the candidates were
						// listed: nothing to overlay.
						mu.Lock()
						res.Skipped++
						mu.Unlock()
						continue
					}
					rows, changed, err := overlaySLA(c, payload, got[c.ID], slaIDs, normOpts, opts.Now)
					mu.Lock()
					switch {
					case err != nil:
						res.Failed++
						if len(res.Errors) < 10 {
							res.Errors = append(res.Errors, fmt.Sprintf("%s: %v", c.Key, err))
						}
					case changed:
						updates = append(updates, rows)
					default:
						res.Skipped++
					}
					mu.Unlock()
				}
				if len(updates) == 0 {
					continue
				}
				if opts.DryRun {
					mu.Lock()
					res.Updated += len(updates)
					mu.Unlock()
					continue
				}
				err = d.Writer.Do(ctx, func(ctx context.Context, tx *store.Tx) error {
					_, err := d.Store.ApplyBatch(ctx, tx, updates, store.ApplyOptions{SkipStale: true})
					return err
				})
				if err != nil {
					fail(len(updates), fmt.Errorf("write sla values: %w", err))
					continue
				}
				mu.Lock()
				res.Updated += len(updates)
				mu.Unlock()
			}
		}()
	}
	for chunk := range slices.Chunk(cands, jira.MaxBulkFetch) {
		select {
		case chunks <- chunk:
		case <-ctx.Done():
		}
	}
	close(chunks)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return res, err
	}

	// An issue missing from the bulk answer is checked alone.
	for _, c := range missing {
		_, _, err := d.Client.GetIssue(ctx, c.ID)
		switch {
		case errors.Is(err, jira.ErrNotFound):
			res.Gone++
		case err != nil:
			fail(1, fmt.Errorf("%s: %w", c.Key, err))
		default:
			heal = append(heal, c)
		}
	}

	if opts.DryRun {
		res.Healed = len(heal)
		return res, nil
	}
	if res.Updated > 0 && d.Notify != nil {
		d.Notify()
	}
	for _, c := range heal {
		if err := d.Heal(ctx, c.ID, c.Key); err != nil {
			fail(1, fmt.Errorf("heal %s: %w", c.Key, err))
			continue
		}
		res.Healed++
	}
	if res.Failed > 0 {
		return res, fmt.Errorf("sla poll: %d issue(s) failed; first: %s", res.Failed, res.Errors[0])
	}
	return res, nil
}

// drifted reports whether Jira's copy moved on from the store's: another
// status or resolution (resolved, or reopened, without a webhook), or a later
// `updated`.
func drifted(c store.Candidate, is *jira.Issue) bool {
	f := &is.Fields
	status, resolution := "", ""
	if f.Status != nil {
		status = f.Status.Name
	}
	if f.Resolution != nil {
		resolution = f.Resolution.Name
	}
	if status != c.Status || resolution != c.Resolution {
		return true
	}
	return !f.Updated.IsZero() && f.Updated.UTC().After(c.Updated)
}

// overlaySLA lays the fresh SLA values on the stored payload and derives the
// rows again; changed reports whether the sla rows differ from the stored ones.
func overlaySLA(c store.Candidate, payload []byte, is *jira.Issue, slaIDs []string, opts normalize.Options, now time.Time) (*normalize.Rows, bool, error) {
	var b jira.Bundle
	if err := json.Unmarshal(payload, &b); err != nil {
		return nil, false, fmt.Errorf("stored payload: %w", err)
	}
	var issue map[string]json.RawMessage
	if err := json.Unmarshal(b.Issue, &issue); err != nil {
		return nil, false, fmt.Errorf("stored issue: %w", err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(issue["fields"], &fields); err != nil {
		return nil, false, fmt.Errorf("stored fields: %w", err)
	}
	for _, id := range slaIDs {
		if v, ok := is.Fields.Field(id); ok {
			fields[id] = v
		}
	}
	var err error
	if issue["fields"], err = json.Marshal(fields); err != nil {
		return nil, false, err
	}
	if b.Issue, err = json.Marshal(issue); err != nil {
		return nil, false, err
	}
	b.State.SLA = jira.StateComplete
	b.FetchedAt = now.UTC()
	rows, err := normalize.FromBundle(&b, opts)
	if err != nil {
		return nil, false, err
	}
	return rows, rows.Hashes()["sla"] != c.SLAHash, nil
}
