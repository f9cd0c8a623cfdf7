package jobs

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/jiraduck/jiraduck/internal/jira"
	"github.com/jiraduck/jiraduck/internal/store"
)

// The sync cursors of Jira's worklog change lists: where the next reconcile
// reads them from, in epoch milliseconds.
const (
	CursorWorklogUpdated = "worklog_updated"
	CursorWorklogDeleted = "worklog_deleted"
)

// worklogPass is what the worklog change lists said since the last pass:
// the stored issues to fetch again, and where the next pass starts.
type worklogPass struct {
	changes int
	issues  []store.StoredIssue
	// next is the cursor value of each list, written once the issues were
	// fetched.
	next map[string]int64
}

// worklogChanges reads the worklogs created, changed or deleted since the
// last pass (Jira's GET /worklog/updated and /worklog/deleted) and finds the
// stored issues they belong to: a worklog can change without any webhook
// reaching jiraduck, and without moving its issue's updated, which the rest
// of reconcile compares. An issue is fetched again only when a change of one
// of its worklogs is later than the issue's last fetch. The issue of a
// worklog the store does not hold is asked of Jira (POST /worklog/list);
// that of a deleted one only the store can name, as Jira no longer has it.
// Issues the store does not hold are left to the rest of reconcile, which
// fetches what the scope lists.
//
// Without a stored cursor a pass starts at the oldest fetch of a stored
// issue: every change since any issue was fetched is looked at once.
func worklogChanges(ctx context.Context, d Deps, now time.Time) (worklogPass, error) {
	pass := worklogPass{next: map[string]int64{}}
	start := func(name string) (int64, error) {
		v, ok, err := d.Store.Cursor(ctx, name)
		if err != nil {
			return 0, err
		}
		if ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return 0, fmt.Errorf("reconcile: cursor %s holds %q, not epoch milliseconds", name, v)
			}
			return n, nil
		}
		oldest, stored, err := d.Store.OldestFetch(ctx)
		if err != nil {
			return 0, err
		}
		if !stored {
			return now.UnixMilli(), nil
		}
		return oldest.UnixMilli(), nil
	}
	latest := map[string]int64{} // worklog id -> its latest change
	live := map[string]bool{}    // worklog ids the updated list named
	for _, list := range []struct {
		name string
		read func(context.Context, int64, func(*jira.WorklogChangePage) error) (int64, error)
	}{
		{CursorWorklogUpdated, d.Client.WorklogsUpdated},
		{CursorWorklogDeleted, d.Client.WorklogsDeleted},
	} {
		since, err := start(list.name)
		if err != nil {
			return pass, err
		}
		next, err := list.read(ctx, since, func(p *jira.WorklogChangePage) error {
			for _, v := range p.Values {
				pass.changes++
				id := string(v.WorklogID)
				if id == "" {
					continue
				}
				latest[id] = max(latest[id], v.UpdatedTime)
				live[id] = live[id] || list.name == CursorWorklogUpdated
			}
			return nil
		})
		if err != nil {
			return pass, fmt.Errorf("reconcile: worklog changes: %w", err)
		}
		pass.next[list.name] = next
	}
	if len(latest) == 0 {
		return pass, nil
	}

	ids := make([]string, 0, len(latest))
	for id := range latest {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	byWorklog, err := d.Store.WorklogIssues(ctx, ids)
	if err != nil {
		return pass, err
	}
	changedAt := map[string]int64{} // issue id -> latest change of its worklogs
	stored := map[string]store.StoredIssue{}
	for id, st := range byWorklog {
		stored[st.ID] = st
		changedAt[st.ID] = max(changedAt[st.ID], latest[id])
	}
	// Deleted worklogs the store never held, and ids that are not numbers,
	// are nothing to ask Jira about.
	var unknown []string
	for _, id := range ids {
		if _, ok := byWorklog[id]; !ok && live[id] {
			if n, err := strconv.ParseInt(id, 10, 64); err == nil && n > 0 {
				unknown = append(unknown, id)
			}
		}
	}
	var issueIDs []string
	for chunk := range slices.Chunk(unknown, jira.MaxWorklogList) {
		wls, err := d.Client.WorklogList(ctx, chunk)
		if err != nil {
			return pass, fmt.Errorf("reconcile: worklog changes: %w", err)
		}
		for _, w := range wls {
			if w.IssueID == "" {
				continue
			}
			issue := string(w.IssueID)
			changedAt[issue] = max(changedAt[issue], latest[string(w.ID)])
			issueIDs = append(issueIDs, issue)
		}
	}
	more, err := d.Store.StoredIssues(ctx, issueIDs)
	if err != nil {
		return pass, err
	}
	for id, st := range more {
		stored[id] = st
	}
	for id, st := range stored {
		if changedAt[id] > st.FetchedAt.UnixMilli() {
			pass.issues = append(pass.issues, st)
		}
	}
	sort.Slice(pass.issues, func(i, j int) bool { return pass.issues[i].ID < pass.issues[j].ID })
	return pass, nil
}

// saveWorklogCursors records where the next pass reads the change lists from.
func saveWorklogCursors(ctx context.Context, d Deps, next map[string]int64, now time.Time) error {
	return d.Writer.Do(ctx, func(ctx context.Context, tx *store.Tx) error {
		for _, name := range []string{CursorWorklogUpdated, CursorWorklogDeleted} {
			if v, ok := next[name]; ok {
				if err := store.SetCursor(ctx, tx, name, strconv.FormatInt(v, 10), now); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
