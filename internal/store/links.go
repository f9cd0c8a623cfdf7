package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/jiraduck/jiraduck/internal/normalize"
)

// The linked_issue_* columns of issuelinks describe the other end of a link:
// its key, summary, status and priority. A linking issue's payload shows them
// as they were when it was fetched, and when the other end is edited, moved or
// deleted Jira changes what it shows of the linking issue without sending a
// webhook for it or moving its updated. So wherever the store holds the other
// end, the columns follow that issue, found by its id (linked_issue_id, which a
// move keeps):
//
//   - an issue being applied takes its links' columns from the stored other
//     ends, and drops its links to deleted ones (resolveLinks);
//   - the rows of other issues that point at an applied issue are updated in
//     the same transaction (followLinks), and those that point at a deleted
//     issue are removed along with it (dropLinksTo).
//
// Nothing is fetched again. A rebuild does the same for the whole store once
// its batches are written (ResolveAllLinks), so it ends where the live path
// ends whatever order it applies issues in. The
// other ends the store does not hold (outside JIRA_JQL) keep what the
// linking issue's payload says.

// linkEnd is what a link row says of its other end.
type linkEnd struct {
	key, summary, status, priority *string
}

func endOf(i *normalize.Issue) linkEnd {
	key := i.IssueKey
	return linkEnd{key: &key, summary: i.Summary, status: i.Status, priority: i.Priority}
}

// endChanged reports whether links that point at issue i would show
// something new: its key, summary, status or priority differ from what its
// stored issues row says (stored is nil without a row).
func endChanged(stored *linkEnd, i *normalize.Issue) bool {
	if stored == nil {
		return true
	}
	now := endOf(i)
	return !same(stored.key, now.key) || !same(stored.summary, now.summary) ||
		!same(stored.status, now.status) || !same(stored.priority, now.priority)
}

func same(a, b *string) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

// resolveLinks sets the linked_issue_* columns of the issues of a batch from
// the other ends in the batch or in the store, and drops the links to issues
// the store knows as deleted, lowering issuelink_count as Jira does once the
// other end is gone.
func resolveLinks(ctx context.Context, tx *Tx, batch []*normalize.Rows) error {
	ends := map[string]linkEnd{}
	for _, r := range batch {
		ends[r.Issue.IssueID] = endOf(&r.Issue)
	}
	var ask []any
	asked := map[string]bool{}
	for _, r := range batch {
		for _, l := range r.IssueLinks {
			if l.LinkedIssueID == nil {
				continue
			}
			id := *l.LinkedIssueID
			if _, ok := ends[id]; !ok && !asked[id] {
				asked[id] = true
				ask = append(ask, id)
			}
		}
	}
	deleted := map[string]bool{}
	for chunk := range slices.Chunk(ask, 500) {
		if err := readEnds(ctx, tx, chunk, ends, deleted); err != nil {
			return err
		}
	}
	for _, r := range batch {
		kept := r.IssueLinks[:0]
		for _, l := range r.IssueLinks {
			if l.LinkedIssueID != nil {
				id := *l.LinkedIssueID
				if deleted[id] {
					if r.Issue.IssuelinkCount > 0 {
						r.Issue.IssuelinkCount--
					}
					continue
				}
				if e, ok := ends[id]; ok {
					l.LinkedIssueKey, l.LinkedIssueSummary, l.LinkedIssueStatus, l.LinkedIssuePriority = e.key, e.summary, e.status, e.priority
				}
			}
			kept = append(kept, l)
		}
		r.IssueLinks = kept
	}
	return nil
}

// readEnds reads the stored issues of ids into ends, and notes those deleted.
// An issue with a raw payload but no issues row yet (during a rebuild) is
// neither: its links keep what the payload says until it is applied.
func readEnds(ctx context.Context, tx *Tx, ids []any, ends map[string]linkEnd, deleted map[string]bool) error {
	err := RunQuery(ctx, tx, `SELECT r.issue_id, r.deleted_at IS NOT NULL, i.issue_key, i.summary, i.status, i.priority
		FROM raw_issues r LEFT JOIN issues i ON i.issue_id = r.issue_id
		WHERE r.issue_id IN (`+placeholders(len(ids))+`)`, func(rows *sql.Rows) error {
		var id string
		var gone bool
		var key, summary, status, priority sql.NullString
		if err := rows.Scan(&id, &gone, &key, &summary, &status, &priority); err != nil {
			return err
		}
		switch {
		case gone:
			deleted[id] = true
		case key.Valid:
			ends[id] = linkEnd{key: nullString(key), summary: nullString(summary), status: nullString(status), priority: nullString(priority)}
		}
		return nil
	}, ids...)
	if err != nil {
		return fmt.Errorf("apply: read linked issues: %w", err)
	}
	return nil
}

// followLinks brings the link rows of other issues that point at the given
// issues in step with them, and returns the partitions it changed.
func followLinks(ctx context.Context, tx *Tx, issues []*normalize.Issue) ([]Partition, error) {
	if len(issues) == 0 {
		return nil, nil
	}
	// The ends go in as one JSON parameter: a VALUES list of five
	// parameters per issue cost DuckDB more to bind than to run.
	ends := make([]endRow, len(issues))
	for n, i := range issues {
		ends[n] = endRow{IssueID: i.IssueID, IssueKey: i.IssueKey, Summary: i.Summary, Status: i.Status, Priority: i.Priority}
	}
	param, err := json.Marshal(ends)
	if err != nil {
		return nil, fmt.Errorf("apply: follow linked issues: %w", err)
	}
	keys, err := returnedKeys(ctx, tx, followEnds(`(SELECT unnest(from_json(?::JSON, '`+endRowType+`'), recursive := true))`)+
		` RETURNING issuelinks.issue_key`, string(param))
	if err != nil {
		return nil, fmt.Errorf("apply: follow linked issues: %w", err)
	}
	linking := make([]any, len(keys))
	for n, k := range keys {
		linking[n] = k
	}
	return partitionsOf(ctx, tx, linking, "issuelinks")
}

// endRow is an issue as links show it, one element of followLinks' JSON
// parameter; endRowType is its DuckDB shape for from_json.
type endRow struct {
	IssueID  string  `json:"issue_id"`
	IssueKey string  `json:"issue_key"`
	Summary  *string `json:"summary"`
	Status   *string `json:"status"`
	Priority *string `json:"priority"`
}

const endRowType = `[{"issue_id": "VARCHAR", "issue_key": "VARCHAR", "summary": "VARCHAR", "status": "VARCHAR", "priority": "VARCHAR"}]`

// followEnds is the UPDATE that sets the linked_issue_* columns of every link
// row whose other end is among ends (a relation with issue_id, issue_key,
// summary, status and priority), where they differ.
func followEnds(ends string) string {
	return `UPDATE issuelinks SET linked_issue_key = e.issue_key, linked_issue_summary = e.summary,
			linked_issue_status = e.status, linked_issue_priority = e.priority
		FROM ` + ends + ` AS e
		WHERE issuelinks.linked_issue_id = e.issue_id
		  AND (issuelinks.linked_issue_key IS DISTINCT FROM e.issue_key
		    OR issuelinks.linked_issue_summary IS DISTINCT FROM e.summary
		    OR issuelinks.linked_issue_status IS DISTINCT FROM e.status
		    OR issuelinks.linked_issue_priority IS DISTINCT FROM e.priority)`
}

// ResolveAllLinks does for every link row of the store at once what
// resolveLinks and followLinks do for a batch: links to deleted issues go
// (lowering issuelink_count), and the linked_issue_* columns of the others
// follow the stored other end. A rebuild applies its batches with DeferLinks
// and calls this once at the end; it marks no partition, since a rebuild
// publishes them all. It returns the link rows changed or removed.
func ResolveAllLinks(ctx context.Context, tx *Tx) (int64, error) {
	// Only issue_id and deleted_at of raw_issues are read: a join that
	// carried the payloads would hash them all.
	const deleted = `SELECT issue_id FROM raw_issues WHERE deleted_at IS NOT NULL`
	if err := execErr(tx.ExecContext(ctx, `UPDATE issues SET issuelink_count = greatest(coalesce(issuelink_count, 0) - d.n, 0)
		FROM (SELECT issue_key, count(*) AS n FROM issuelinks WHERE linked_issue_id IN (`+deleted+`) GROUP BY issue_key) AS d
		WHERE issues.issue_key = d.issue_key`)); err != nil {
		return 0, fmt.Errorf("resolve links: issuelink_count: %w", err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM issuelinks WHERE linked_issue_id IN (`+deleted+`)`)
	if err != nil {
		return 0, fmt.Errorf("resolve links: drop links to deleted issues: %w", err)
	}
	dropped, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("resolve links: %w", err)
	}
	res, err = tx.ExecContext(ctx, followEnds(`issues`))
	if err != nil {
		return 0, fmt.Errorf("resolve links: follow linked issues: %w", err)
	}
	followed, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("resolve links: %w", err)
	}
	return dropped + followed, nil
}

// dropLinksTo removes the link rows of other issues that point at a deleted
// issue and lowers their issuelink_count, as Jira shows those issues once it
// is gone, and returns the partitions it changed.
func dropLinksTo(ctx context.Context, tx *Tx, id, key string) ([]Partition, error) {
	if id == "" {
		return nil, nil
	}
	keys, err := returnedKeys(ctx, tx, `DELETE FROM issuelinks WHERE linked_issue_id = ? AND issue_key <> ? RETURNING issue_key`, id, key)
	if err != nil {
		return nil, fmt.Errorf("drop links to %s: %w", key, err)
	}
	if len(keys) == 0 {
		return nil, nil
	}
	dropped := map[string]int{}
	var linking []any
	for _, k := range keys {
		if dropped[k] == 0 {
			linking = append(linking, k)
		}
		dropped[k]++
	}
	var b strings.Builder
	args := make([]any, 0, 2*len(linking))
	for n, k := range linking {
		if n > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?::VARCHAR, ?::INTEGER)")
		args = append(args, k, dropped[k.(string)])
	}
	if err := execErr(tx.ExecContext(ctx, `UPDATE issues SET issuelink_count = greatest(coalesce(issuelink_count, 0) - d.n, 0)
		FROM (VALUES `+b.String()+`) AS d(issue_key, n) WHERE issues.issue_key = d.issue_key`, args...)); err != nil {
		return nil, fmt.Errorf("drop links to %s: issuelink_count: %w", key, err)
	}
	return partitionsOf(ctx, tx, linking, "issues", "issuelinks")
}

// returnedKeys runs a statement that returns issue keys. Every row is read
// and the error checked: a failed statement spoils the transaction.
func returnedKeys(ctx context.Context, tx *Tx, query string, args ...any) ([]string, error) {
	return Collect(ctx, tx, query, scanOne[string], args...)
}

// partitionsOf returns the partitions of the given tables in the months of
// the given issues.
func partitionsOf(ctx context.Context, tx *Tx, keys []any, tables ...string) ([]Partition, error) {
	var out []Partition
	seen := map[string]bool{}
	for chunk := range slices.Chunk(keys, 500) {
		created, err := Collect(ctx, tx, `SELECT DISTINCT created_at FROM issues WHERE issue_key IN (`+placeholders(len(chunk))+`)`, scanOne[sql.NullTime], chunk...)
		if err != nil {
			return nil, fmt.Errorf("months of linking issues: %w", err)
		}
		for _, c := range created {
			if m := normalize.Month(c.Time); c.Valid && !seen[m] {
				seen[m] = true
				for _, t := range tables {
					out = append(out, Partition{t, m})
				}
			}
		}
	}
	return out, nil
}

func nullString(v sql.NullString) *string {
	if !v.Valid {
		return nil
	}
	return &v.String
}
