package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/jiraduck/jiraduck/internal/jira"
	"github.com/jiraduck/jiraduck/internal/jira/client"
	"github.com/jiraduck/jiraduck/internal/store"
)

// ReconcileOptions shape one reconcile run.
type ReconcileOptions struct {
	// JQL is the scope (JIRA_JQL).
	JQL string
	// Since bounds the scope to issues updated at or after it; zero compares
	// the whole scope.
	Since time.Time
	// DryRun counts without fetching or deleting.
	DryRun bool
	// Force allows a run that would delete more than MaxDeleteFraction of the
	// stored issues in scope.
	Force bool
	// Now for tests.
	Now time.Time
}

// MaxDeleteFraction is the share of stored issues in scope one run may delete
// without Force: more looks like a wrong JQL or a permission change, not like
// deletions.
const MaxDeleteFraction = 0.05

// ReconcileResult counts a run.
type ReconcileResult struct {
	Listed  int `json:"listed"`
	Missing int `json:"missing"`
	Stale   int `json:"stale"`
	// Incomplete counts stored issues fetched again because a collection
	// fell short last time.
	Incomplete int `json:"incomplete"`
	Deleted    int `json:"deleted"`
	Kept       int `json:"kept"`
	Failed     int `json:"failed"`
	// WorklogChanges counts the entries of Jira's worklog change lists read
	// since the previous run; WorklogIssues the stored issues fetched again
	// because a worklog of theirs changed after their last fetch.
	WorklogChanges int `json:"worklog_changes"`
	WorklogIssues  int `json:"worklog_issues"`
	Errors         []string
}

// Counts is the result as sync_runs stores it.
func (r ReconcileResult) Counts() map[string]int {
	return map[string]int{"listed": r.Listed, "missing": r.Missing, "stale": r.Stale, "incomplete": r.Incomplete, "deleted": r.Deleted,
		"kept": r.Kept, "failed": r.Failed, "worklog_changes": r.WorklogChanges, "worklog_issues": r.WorklogIssues}
}

// ErrTooManyDeletions refuses a mass deletion without Force.
var ErrTooManyDeletions = errors.New("reconcile: too many deletions")

// Reconcile compares Jira's keys and `updated` with the store, by id: an issue
// missing here is fetched; one whose `updated` in Jira is newer is fetched
// (content staleness, not only missing keys), and so is one stored
// incomplete; one stored but not listed by Jira is confirmed with a bulk
// fetch (see confirmGone): one Jira no longer has is deleted with the reason
// recorded, any other answer keeps it. Ids learnt from recent webhooks are
// passed as reconcileIssues so that Jira's eventually consistent search does
// not hide fresh issues. Jira's worklog change lists name the stored issues
// whose worklogs changed since the previous run (see worklogChanges); they
// are fetched too.
func Reconcile(ctx context.Context, d Deps, opts ReconcileOptions) (ReconcileResult, error) {
	var res ReconcileResult
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	jql, err := ScopeJQL(opts.JQL, opts.Since)
	if err != nil {
		return res, err
	}
	recent, err := d.Store.RecentIssueIDs(ctx, opts.Now.Add(-2*time.Hour), jira.MaxReconcileIssues)
	if err != nil {
		return res, err
	}
	var reconcileIDs []int64
	for _, id := range recent {
		if n, err := strconv.ParseInt(id, 10, 64); err == nil {
			reconcileIDs = append(reconcileIDs, n)
		}
	}
	known, err := d.Store.SyncStates(ctx)
	if err != nil {
		return res, err
	}
	inJira := map[string]bool{}
	type fetch struct{ id, key string }
	var fetches []fetch
	err = d.Client.SearchAll(ctx, jira.SearchRequest{JQL: jql, Fields: []string{"updated"}, MaxResults: 1000, ReconcileIssues: reconcileIDs},
		func(hit jira.SearchIssue) error {
			res.Listed++
			id := string(hit.ID)
			inJira[id] = true
			st, ok := known[id]
			switch {
			case !ok:
				res.Missing++
				fetches = append(fetches, fetch{id, hit.Key})
			case !hit.Updated.IsZero() && hit.Updated.UTC().After(st.Updated):
				res.Stale++
				fetches = append(fetches, fetch{id, hit.Key})
			case st.Incomplete:
				// A shortfall recorded earlier (a failed comment page,
				// remote-link fetch, attachment download): heal it now.
				res.Incomplete++
				fetches = append(fetches, fetch{id, hit.Key})
			}
			return nil
		})
	if err != nil {
		return res, fmt.Errorf("reconcile: list issues: %w", err)
	}

	// Stored issues in the same window that Jira did not list.
	var absent []string
	inScope := 0
	for id, st := range known {
		if !opts.Since.IsZero() && st.Updated.Before(opts.Since) {
			continue
		}
		inScope++
		if !inJira[id] {
			absent = append(absent, id)
		}
	}
	sort.Strings(absent)
	gone := confirmGone(ctx, d.Client, absent, func(id string) string { return known[id].Key }, &res)
	if inScope > 0 && float64(len(gone)) > MaxDeleteFraction*float64(inScope) && !opts.Force {
		res.Deleted = 0
		return res, fmt.Errorf("%w: %d of %d stored issues in scope are gone from Jira (more than %.0f%%); check JIRA_JQL and the account's permissions, then run reconcile --force",
			ErrTooManyDeletions, len(gone), inScope, MaxDeleteFraction*100)
	}
	// Issues whose worklogs changed without a webhook, and without moving
	// their updated: see worklogChanges.
	wl, wlErr := worklogChanges(ctx, d, opts.Now)
	res.WorklogChanges = wl.changes
	queued := map[string]bool{}
	for _, f := range fetches {
		queued[f.id] = true
	}
	for _, id := range gone {
		queued[id] = true
	}
	for _, st := range wl.issues {
		if !queued[st.ID] {
			res.WorklogIssues++
			fetches = append(fetches, fetch{st.ID, st.Key})
		}
	}
	if opts.DryRun {
		res.Deleted = len(gone)
		return res, wlErr
	}
	if len(gone) > 0 {
		at := opts.Now.UTC()
		err := d.Writer.Do(ctx, func(ctx context.Context, tx *store.Tx) error {
			for _, id := range gone {
				if _, err := d.Store.DeleteIssue(ctx, tx, id, known[id].Key, "reconcile: jira no longer has it (left out of a bulk fetch)", at); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("reconcile: delete: %w", err)
		}
		res.Deleted = len(gone)
		if d.Notify != nil {
			d.Notify()
		}
	}
	for _, f := range fetches {
		if err := d.Heal(ctx, f.id, f.key); err != nil {
			res.Failed++
			if len(res.Errors) < 10 {
				res.Errors = append(res.Errors, fmt.Sprintf("fetch %s: %v", f.key, err))
			}
		}
	}
	if res.Failed > 0 {
		return res, fmt.Errorf("reconcile: %d issue(s) failed; first: %s", res.Failed, res.Errors[0])
	}
	if wlErr != nil {
		return res, wlErr
	}
	// Only once every issue was fetched: a failed fetch leaves the cursors
	// where they were, and the next run reads the same changes again.
	if err := saveWorklogCursors(ctx, d, wl.next, opts.Now); err != nil {
		return res, fmt.Errorf("reconcile: %w", err)
	}
	return res, nil
}

// confirmGone asks Jira about stored issues its search did not list, up to
// jira.MaxBulkFetch in one bulk fetch, and returns the ids of those it no
// longer has. A bulk fetch leaves out an issue that does not exist or may not
// be seen, what GET issue answers with 404; an issue it returns is out of the
// JQL scope or not yet in the search index, and is kept; one it names in its
// issueErrors, or a call that fails, is counted as failed and kept.
//
// Issues outside the scope reach the store through events the webhook's JQL
// does not filter, and every run confirms them again: with one GET each, a
// run over 10,000 such issues cost 10,000 calls; in bulk it costs 100.
func confirmGone(ctx context.Context, c *client.Client, ids []string, keyOf func(id string) string, res *ReconcileResult) []string {
	var gone []string
	fail := func(id string, err string) {
		res.Failed++
		if len(res.Errors) < 10 {
			res.Errors = append(res.Errors, fmt.Sprintf("confirm %s: %s", keyOf(id), err))
		}
	}
	for chunk := range slices.Chunk(ids, jira.MaxBulkFetch) {
		got, err := c.BulkFetch(ctx, chunk, []string{"updated"})
		if err != nil {
			for _, id := range chunk {
				fail(id, err.Error())
			}
			continue
		}
		found := make(map[string]bool, len(got.Issues))
		for _, is := range got.Issues {
			found[string(is.ID)] = true
		}
		failed := map[string]string{}
		for _, e := range got.IssueErrors {
			failed[string(e.ID)] = e.ErrorMessage
		}
		for _, id := range chunk {
			switch msg, errored := failed[id]; {
			case found[id]:
				res.Kept++
			case errored:
				fail(id, "jira could not return it: "+msg)
			default:
				gone = append(gone, id)
			}
		}
	}
	return gone
}
