package store

import (
	"context"
	"fmt"
	"slices"
)

// issues.parent_key names an issue's parent as the payload showed it
// when it was fetched. When the parent moves to another project it gets a
// new key and keeps its id, and Jira shows the new key on its children
// without sending a webhook for them or moving their updated (a child in
// another project, an epic's issue, keeps its own key). So the key follows
// the parent wherever the store holds it:
//
//   - when an applied issue has moved, the rows that name its former key
//     take the new one, in the same transaction (followParent);
//   - a rebuild, whose payloads may show former keys, ends by giving each
//     child whose parent_key the store does not hold the key of the stored
//     issue its payload's parent id names (ResolveAllParents).
//
// A former key is never given to another issue, so the rows that name it are
// the moved issue's children. Parents the store does not hold (outside
// JIRA_JQL) keep what the child's payload says.

// followParent gives the children of an issue that moved from the key from
// to the key to their parent's new key, and returns the partitions it
// changed.
func followParent(ctx context.Context, tx *Tx, from, to string) ([]Partition, error) {
	keys, err := returnedKeys(ctx, tx, `UPDATE issues SET parent_key = ? WHERE parent_key = ? RETURNING issue_key`, to, from)
	if err != nil {
		return nil, fmt.Errorf("apply: follow the moved parent %s: %w", from, err)
	}
	children := make([]any, len(keys))
	for i, k := range keys {
		children[i] = k
	}
	return partitionsOf(ctx, tx, children, "issues")
}

// ResolveAllParents does for the whole store what followParent does for one
// move: every child whose parent_key no stored issue has takes the key of the
// stored issue with the id its payload names as its parent. It returns the
// rows changed. Only the payloads of those children are read, so a store
// whose parent keys all resolve costs one join of the issues table with
// itself.
func ResolveAllParents(ctx context.Context, tx *Tx) (int64, error) {
	orphans, err := Collect(ctx, tx, `SELECT c.issue_id FROM issues c
		WHERE c.parent_key IS NOT NULL AND NOT EXISTS (SELECT 1 FROM issues p WHERE p.issue_key = c.parent_key)`, scanAny[string])
	if err != nil {
		return 0, fmt.Errorf("resolve parents: %w", err)
	}
	var changed int64
	for chunk := range slices.Chunk(orphans, 500) {
		res, err := tx.ExecContext(ctx, `UPDATE issues SET parent_key = p.issue_key
			FROM (SELECT issue_id, json_extract_string(payload, '$.issue.fields.parent.id') AS parent_id
			      FROM raw_issues WHERE issue_id IN (`+placeholders(len(chunk))+`)) AS c, issues AS p
			WHERE issues.issue_id = c.issue_id AND p.issue_id = c.parent_id
			  AND issues.parent_key IS DISTINCT FROM p.issue_key`, chunk...)
		if err != nil {
			return changed, fmt.Errorf("resolve parents: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return changed, fmt.Errorf("resolve parents: %w", err)
		}
		changed += n
	}
	return changed, nil
}
