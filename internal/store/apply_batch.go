package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jiraduck/jiraduck/internal/normalize"
)

// ApplyOptions tune ApplyBatch.
type ApplyOptions struct {
	// SkipStale leaves an issue untouched when the store holds a version
	// with a later `updated` than the one given: an older snapshot never
	// overwrites a newer one.
	SkipStale bool
	// KeepPayload says the rows were derived from the payload raw_issues
	// already holds (a rebuild, which set every row digest to NULL first):
	// raw_issues is not written at all, neither the payload again (a few
	// hundred MB per 10,000 issues) nor the digests, so every table of
	// every issue counts as changed. The first apply of an issue after the
	// rebuild rewrites its rows and stores their digests. Computing the
	// digests and updating raw_issues with them was a visible share of a
	// rebuild's CPU, and DuckDB holds the updates in memory until a
	// checkpoint.
	KeepPayload bool
	// Fresh says no analyst table holds rows of these issues (a rebuild
	// emptied them): rows are inserted without deleting first, and the
	// stored state is not read: digests start afresh, no move is reported
	// and only the issues' own months are marked. Each DELETE scans a table
	// that grows as the rebuild goes.
	Fresh bool
	// DeferLinks leaves the linked_issue_* columns as the payloads say and
	// the link rows of other issues alone: the caller brings every link of
	// the store in step at the end with ResolveAllLinks (a rebuild). Done per
	// batch, that join of all issuelinks grew with the store and slowed the
	// whole rebuild.
	DeferLinks bool
}

// ApplyIssue writes one normalized issue inside tx; see ApplyBatch.
func (s *Store) ApplyIssue(ctx context.Context, tx *Tx, r *normalize.Rows) (ApplyResult, error) {
	res, err := s.ApplyBatch(ctx, tx, []*normalize.Rows{r}, ApplyOptions{})
	if err != nil {
		return ApplyResult{}, err
	}
	return res[0], nil
}

// stored is what raw_issues says of an issue before a batch is applied.
type stored struct {
	key     string
	hashes  map[string]string
	month   string
	updated sql.NullTime
	// end is what the issues row says of the issue to links that point at
	// it; nil without a row.
	end *linkEnd
}

// ApplyBatch writes normalized issues inside tx: the raw payload and every
// analyst table, honouring each collection's state (complete replaces, partial
// upserts, unknown keeps), then marks the partitions it changed as dirty. The
// issue id is the identity: rows stored under an older key are moved, never
// duplicated. A table whose rows did not change (same digest) is neither
// rewritten nor marked.
//
// The work is done table by table for the whole batch (one DELETE and a few
// multi-row INSERTs per table), because in DuckDB a statement costs about a
// millisecond whatever it touches, and per-issue statements capped a
// backfill far below its target. An issue may appear once per batch.
func (s *Store) ApplyBatch(ctx context.Context, tx *Tx, batch []*normalize.Rows, opts ApplyOptions) ([]ApplyResult, error) {
	results := make([]ApplyResult, len(batch))
	if len(batch) == 0 {
		return results, nil
	}
	ids := make([]any, len(batch))
	seen := map[string]bool{}
	for i, r := range batch {
		if seen[r.Issue.IssueID] {
			return nil, fmt.Errorf("apply: issue %s appears twice in one batch", r.Issue.IssueKey)
		}
		seen[r.Issue.IssueID] = true
		ids[i] = r.Issue.IssueID
	}
	// Fresh issues are new to every analyst table: what raw_issues says of
	// them (digests, a former key, month) changes nothing written, and a
	// rebuild's MarkAll republishes every month.
	old := map[string]stored{}
	if !opts.Fresh {
		var err error
		if old, err = readStored(ctx, tx, ids); err != nil {
			return nil, err
		}
	}

	// Decide per issue and table; collect the statements per table.
	type tableWork struct {
		clearKeys []any
		insert    []*normalize.Rows
		upsert    []*normalize.Rows
	}
	work := map[string]*tableWork{}
	for _, t := range normalize.Tables {
		work[t] = &tableWork{}
	}
	var live []*normalize.Rows
	var liveIdx []int
	var moves []moveWork
	var marks []Partition
	hashesOf := make([][]byte, len(batch))
	for i, r := range batch {
		prev, had := old[r.Issue.IssueID]
		if opts.SkipStale && had && prev.updated.Valid && r.Raw.UpdatedAt != nil && prev.updated.Time.After(*r.Raw.UpdatedAt) {
			results[i].Stale = true
			continue
		}
		live = append(live, r)
		liveIdx = append(liveIdx, i)
		if had && prev.key != r.Issue.IssueKey {
			results[i].Moved = prev.key
		}
		if had && r.Raw.SLAState == normalize.Unknown {
			if err := keepSLAColumns(ctx, tx, r.Issue.IssueID, r); err != nil {
				return nil, fmt.Errorf("apply %s: %w", r.Issue.IssueKey, err)
			}
		}
	}
	// Attachment rows keep the files already stored before they are hashed.
	if !opts.Fresh {
		if err := mergeBatchAttachments(ctx, tx, live, old); err != nil {
			return nil, err
		}
	}
	// So do link rows take the other ends as stored (links.go).
	if !opts.DeferLinks {
		if err := resolveLinks(ctx, tx, live); err != nil {
			return nil, err
		}
	}
	for n, r := range live {
		i := liveIdx[n]
		prev, had := old[r.Issue.IssueID]
		key := r.Issue.IssueKey
		moved := had && prev.key != key
		month := r.Month()
		// Jira never changes an issue's created; should a payload do so, the
		// rows it does not bring whole take the new month all the same.
		remonth := had && prev.month != month
		follow := moveWork{from: prev.key, to: key, month: issueMonth(r.Issue.CreatedAt)}
		oldHashes := map[string]string{}
		if had {
			oldHashes = prev.hashes
		}
		newHashes := map[string]string{}
		if !opts.KeepPayload {
			newHashes = r.Hashes()
		}
		for _, table := range normalize.Tables {
			state := r.State(table)
			if state == "" {
				state = normalize.Unknown
			}
			changed := false
			switch state {
			case normalize.Unknown:
				newHashes[table] = oldHashes[table]
				if moved || remonth {
					follow.table = table
					moves = append(moves, follow)
					changed = true
				}
			case normalize.Complete:
				if !moved && oldHashes[table] != "" && oldHashes[table] == newHashes[table] && prev.month == month {
					break
				}
				if !had && table != "issues" {
					// A new issue with no rows in this table changes nothing in it.
					if _, rows := tableRows(table, r); len(rows) == 0 {
						break
					}
				}
				w := work[table]
				w.clearKeys = append(w.clearKeys, key)
				if moved {
					w.clearKeys = append(w.clearKeys, prev.key)
				}
				w.insert = append(w.insert, r)
				changed = true
			case normalize.Partial:
				if moved || remonth {
					follow.table = table
					moves = append(moves, follow)
				}
				work[table].upsert = append(work[table].upsert, r)
				changed = moved || remonth || opts.KeepPayload || oldHashes[table] != newHashes[table]
			default:
				return nil, fmt.Errorf("apply %s: unknown state %q of %s", key, state, table)
			}
			if changed {
				results[i].Changed = append(results[i].Changed, table)
				marks = append(marks, Partition{table, month})
				if had && prev.month != "" && prev.month != month {
					marks = append(marks, Partition{table, prev.month})
				}
			}
		}
		if !opts.KeepPayload {
			hashesOf[i], _ = json.Marshal(newHashes)
		}
	}

	// Rows under a former key of an unknown or partial collection follow the
	// issue to its new key and month.
	for _, m := range moves {
		if err := execErr(tx.ExecContext(ctx, fmt.Sprintf(`UPDATE %s SET issue_key = ?, issue_month = ? WHERE issue_key = ?`, m.table), m.to, m.month, m.from)); err != nil {
			return nil, fmt.Errorf("apply: move %s rows of %s: %w", m.table, m.from, err)
		}
	}
	// Rows exist under a key only while an issues row holds it: child rows
	// are written with it, follow it when it moves and go with it. So only
	// the keys the issues table holds, found with one scan of its keys, are
	// cleared, each table's DELETE by key being a scan of the whole table (a
	// cost that grows with the store, most of it for nothing while a
	// backfill brings new issues).
	var held map[string]bool
	if !opts.Fresh {
		var all []string
		for _, table := range normalize.Tables {
			for _, k := range work[table].clearKeys {
				all = append(all, k.(string))
			}
		}
		var err error
		if held, err = heldKeys(ctx, tx, all); err != nil {
			return nil, err
		}
	}
	for _, table := range normalize.Tables {
		w := work[table]
		w.clearKeys = slices.DeleteFunc(w.clearKeys, func(k any) bool { return !held[k.(string)] })
		if len(w.clearKeys) > 0 && !opts.Fresh {
			if err := execErr(tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE issue_key IN (`+placeholders(len(w.clearKeys))+`)`, w.clearKeys...)); err != nil {
				return nil, fmt.Errorf("apply: clear %s: %w", table, err)
			}
		}
		if table == "issues" && len(w.insert) > 0 && !opts.Fresh {
			// A stale row may hold the id under a key that is no longer
			// the issue's. A statement of its own: one with both lists
			// joined by OR scanned every column of both, two to three
			// times the two statements' cost.
			wids := make([]any, len(w.insert))
			for n, r := range w.insert {
				wids[n] = r.Issue.IssueID
			}
			if err := execErr(tx.ExecContext(ctx, `DELETE FROM issues WHERE issue_id IN (`+placeholders(len(wids))+`)`, wids...)); err != nil {
				return nil, fmt.Errorf("apply: clear issues: %w", err)
			}
		}
		if err := insertBatch(ctx, tx, table, w.insert, false); err != nil {
			return nil, err
		}
		if err := insertBatch(ctx, tx, table, w.upsert, true); err != nil {
			return nil, err
		}
	}
	// Issues that name a moved issue as their parent follow it to its new
	// key (see parents.go).
	for n, r := range live {
		if from := results[liveIdx[n]].Moved; from != "" {
			followed, err := followParent(ctx, tx, from, r.Issue.IssueKey)
			if err != nil {
				return nil, err
			}
			marks = append(marks, followed...)
		}
	}
	if !opts.KeepPayload {
		// Only the payloads raw_issues holds are deleted: readStored found
		// them, and a backfill's new issues have none. DuckDB answers the
		// DELETE with a scan of the issue ids, which grows with the store.
		var replace []any
		for _, r := range live {
			if _, ok := old[r.Issue.IssueID]; ok || opts.Fresh {
				replace = append(replace, r.Issue.IssueID)
			}
		}
		if err := upsertRaw(ctx, tx, live, liveIdx, hashesOf, replace); err != nil {
			return nil, err
		}
	}
	// Other issues' links describe these issues: those whose key, summary,
	// status or priority changed are followed there.
	if !opts.DeferLinks {
		var ends []*normalize.Issue
		for _, r := range live {
			if endChanged(old[r.Issue.IssueID].end, &r.Issue) {
				ends = append(ends, &r.Issue)
			}
		}
		followed, err := followLinks(ctx, tx, ends)
		if err != nil {
			return nil, err
		}
		marks = append(marks, followed...)
	}
	if err := s.MarkDirty(ctx, tx, marks...); err != nil {
		return nil, err
	}
	return results, nil
}

// moveWork brings the rows of table under key from to key to and month.
type moveWork struct {
	table, from, to string
	month           time.Time
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

// valueRows is the VALUES list of rows rows of width parameters each:
// "(?, ?), (?, ?)" for 2 and 2.
func valueRows(rows, width int) string {
	return strings.TrimSuffix(strings.Repeat("("+placeholders(width)+"), ", rows), ", ")
}

// readStored reads the stored state of the issues of a batch.
func readStored(ctx context.Context, tx *Tx, ids []any) (map[string]stored, error) {
	out := map[string]stored{}
	err := RunQuery(ctx, tx, `SELECT r.issue_id, r.issue_key, r.row_hashes::VARCHAR, r.created_at, r.updated_at,
			i.issue_key, i.summary, i.status, i.priority
		FROM raw_issues r LEFT JOIN issues i ON i.issue_id = r.issue_id
		WHERE r.issue_id IN (`+placeholders(len(ids))+`)`, func(rows *sql.Rows) error {
		var id string
		var st stored
		var hashes sql.NullString
		var created sql.NullTime
		var key, summary, status, priority sql.NullString
		if err := rows.Scan(&id, &st.key, &hashes, &created, &st.updated, &key, &summary, &status, &priority); err != nil {
			return err
		}
		if key.Valid {
			st.end = &linkEnd{key: nullString(key), summary: nullString(summary), status: nullString(status), priority: nullString(priority)}
		}
		st.hashes = map[string]string{}
		if hashes.Valid {
			_ = json.Unmarshal([]byte(hashes.String), &st.hashes)
		}
		if created.Valid {
			st.month = normalize.Month(created.Time)
		}
		out[id] = st
		return nil
	}, ids...)
	if err != nil {
		return nil, fmt.Errorf("apply: read stored state: %w", err)
	}
	return out, nil
}

// mergeBatchAttachments keeps the stored bytes of attachments a fetch did not
// download: a failed or skipped download must not forget a file already kept.
func mergeBatchAttachments(ctx context.Context, tx *Tx, batch []*normalize.Rows, old map[string]stored) error {
	var keys []any
	for _, r := range batch {
		need := false
		for _, a := range r.Attachments {
			need = need || a.LocalPath == nil
		}
		if !need {
			continue
		}
		keys = append(keys, r.Issue.IssueKey)
		if prev, ok := old[r.Issue.IssueID]; ok && prev.key != r.Issue.IssueKey {
			keys = append(keys, prev.key)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	type kept struct {
		path, sum string
		size      sql.NullInt64
	}
	have := map[string]kept{}
	err := RunQuery(ctx, tx, `SELECT attachment_id, local_path, coalesce(sha256, ''), size_bytes FROM attachments
		WHERE issue_key IN (`+placeholders(len(keys))+`) AND local_path IS NOT NULL`, func(rows *sql.Rows) error {
		var id string
		var k kept
		if err := rows.Scan(&id, &k.path, &k.sum, &k.size); err != nil {
			return err
		}
		have[id] = k
		return nil
	}, keys...)
	if err != nil {
		return fmt.Errorf("apply: read stored attachments: %w", err)
	}
	for _, r := range batch {
		for i := range r.Attachments {
			a := &r.Attachments[i]
			if a.LocalPath != nil {
				continue
			}
			k, ok := have[a.AttachmentID]
			if !ok || (a.SizeBytes != nil && k.size.Valid && *a.SizeBytes != k.size.Int64) {
				continue
			}
			p, sum := k.path, k.sum
			a.LocalPath, a.SHA256, a.SkippedReason = &p, &sum, nil
		}
	}
	return nil
}

// insertBatch writes the rows of one table of several issues with multi-row
// inserts; upsert replaces rows with the same primary key.
func insertBatch(ctx context.Context, tx *Tx, table string, batch []*normalize.Rows, upsert bool) error {
	if len(batch) == 0 {
		return nil
	}
	// Issues may differ in their promoted columns only if settings changed
	// between fetches of one batch, which they do not; group by column list
	// all the same, to be safe.
	groups := map[string][][]any{}
	var order []string
	colsOf := map[string][]string{}
	for _, r := range batch {
		cols, rows := tableRows(table, r)
		if err := uniqueWithinIssue(table, r.Issue.IssueKey, rows); err != nil {
			return err
		}
		sig := strings.Join(cols, ",")
		if _, ok := groups[sig]; !ok {
			order = append(order, sig)
			colsOf[sig] = cols
		}
		groups[sig] = append(groups[sig], rows...)
	}
	sort.Strings(order)
	verb := "INSERT INTO "
	if upsert {
		verb = "INSERT OR REPLACE INTO "
	}
	conn := tx.conn
	for _, sig := range order {
		cols, rows := colsOf[sig], groups[sig]
		if conn != nil && !upsert {
			if err := appendRows(conn, table, cols, rows); err != nil {
				return err
			}
			continue
		}
		tuple := "(" + placeholders(len(cols)) + ")"
		head := verb + table + " (" + strings.Join(cols, ", ") + ") VALUES "
		per := max(1, min(rowsPerInsert, 4000/len(cols)))
		for start := 0; start < len(rows); start += per {
			end := min(start+per, len(rows))
			var b strings.Builder
			b.Grow(len(head) + (end-start)*(len(tuple)+2))
			b.WriteString(head)
			args := make([]any, 0, (end-start)*len(cols))
			for i, row := range rows[start:end] {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(tuple)
				for _, v := range row {
					args = append(args, bindValue(v))
				}
			}
			if err := execErr(tx.ExecContext(ctx, b.String(), args...)); err != nil {
				return fmt.Errorf("insert %s: %w", table, err)
			}
		}
	}
	return nil
}

// unkeyed are the tables without a primary key (migration 0008): their rows
// are an issue's own, keyed by its key and the id in their second column,
// and a write replaces them all.
var unkeyed = map[string]bool{"issue_fields": true, "issuelinks": true, "issue_sprints": true, "issue_organizations": true}

// uniqueWithinIssue refuses rows of an unkeyed table that name one id twice
// for an issue, as the primary key those tables had did.
func uniqueWithinIssue(table, key string, rows [][]any) error {
	if !unkeyed[table] || len(rows) < 2 {
		return nil
	}
	seen := make(map[string]bool, len(rows))
	for _, row := range rows {
		id := fmt.Sprint(appendValue(row[1]))
		if seen[id] {
			return fmt.Errorf("insert %s: issue %s lists %s %q twice", table, key, childColumns[table][1], id)
		}
		seen[id] = true
	}
	return nil
}

// rawColumns are the raw_issues columns a batch writes.
var rawColumns = []string{"issue_id", "issue_key", "created_at", "updated_at", "status_category_key", "payload", "comments_state",
	"changelog_state", "remote_links_state", "sla_state", "attachments_state", "incomplete", "row_hashes", "fetched_at",
	"deleted_at", "deleted_reason", "worklogs_state"}

// upsertRaw writes the raw_issues rows of a batch: on the writer's connection
// by deleting the stored rows (of the ids in replace) and appending the new
// ones, elsewhere with INSERT OR REPLACE.
func upsertRaw(ctx context.Context, tx *Tx, batch []*normalize.Rows, idx []int, hashes [][]byte, replace []any) error {
	if len(batch) == 0 {
		return nil
	}
	if conn := tx.conn; conn != nil {
		rows := make([][]any, len(batch))
		for n, r := range batch {
			raw := r.Raw
			rows[n] = []any{r.Issue.IssueID, r.Issue.IssueKey, raw.CreatedAt, raw.UpdatedAt, raw.StatusCategoryKey, string(raw.Payload),
				string(raw.CommentsState), string(raw.ChangelogState), string(raw.RemoteLinksState), string(raw.SLAState),
				string(raw.AttachmentsState), raw.Incomplete(), string(hashes[idx[n]]), raw.FetchedAt, nil, nil, string(raw.WorklogsState)}
		}
		for chunk := range slices.Chunk(replace, 500) {
			if err := execErr(tx.ExecContext(ctx, `DELETE FROM raw_issues WHERE issue_id IN (`+placeholders(len(chunk))+`)`, chunk...)); err != nil {
				return fmt.Errorf("apply: raw payloads: %w", err)
			}
		}
		if err := appendRows(conn, "raw_issues", rawColumns, rows); err != nil {
			return fmt.Errorf("apply: raw payloads: %w", err)
		}
		return nil
	}
	const cols = 15
	for start := 0; start < len(batch); start += 100 {
		end := min(start+100, len(batch))
		var b strings.Builder
		b.WriteString(`INSERT OR REPLACE INTO raw_issues
		(issue_id, issue_key, created_at, updated_at, status_category_key, payload, comments_state, changelog_state,
		 remote_links_state, sla_state, attachments_state, incomplete, row_hashes, fetched_at, deleted_at, deleted_reason,
		 worklogs_state) VALUES `)
		args := make([]any, 0, (end-start)*cols)
		for n, r := range batch[start:end] {
			if n > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?)")
			raw := r.Raw
			args = append(args, r.Issue.IssueID, r.Issue.IssueKey, raw.CreatedAt, raw.UpdatedAt, raw.StatusCategoryKey, string(raw.Payload),
				string(raw.CommentsState), string(raw.ChangelogState), string(raw.RemoteLinksState), string(raw.SLAState),
				string(raw.AttachmentsState), raw.Incomplete(), string(hashes[idx[start+n]]), raw.FetchedAt, string(raw.WorklogsState))
		}
		if err := execErr(tx.ExecContext(ctx, b.String(), args...)); err != nil {
			return fmt.Errorf("apply: raw payloads: %w", err)
		}
	}
	return nil
}

// heldKeys returns which of the keys an issues row holds.
func heldKeys(ctx context.Context, tx *Tx, keys []string) (map[string]bool, error) {
	held, err := presentValues(ctx, tx, `SELECT issue_key FROM issues WHERE issue_key IN (%s)`, keys)
	if err != nil {
		return nil, fmt.Errorf("apply: find stored keys: %w", err)
	}
	return held, nil
}
