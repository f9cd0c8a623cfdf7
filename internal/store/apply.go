package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jiraduck/jiraduck/internal/normalize"
)

// Partition names one exported file: a table and a month (YYYY-MM).
type Partition struct {
	Table string `json:"table"`
	Month string `json:"month"`
}

// ApplyResult says what applying an issue changed.
type ApplyResult struct {
	// Changed lists the analyst tables whose rows changed.
	Changed []string
	// Moved is the issue's previous key when its key changed.
	Moved string
}

// ApplyIssue writes one normalized issue inside tx: the raw payload and every
// analyst table, honouring each collection's state (complete replaces, partial
// upserts, unknown keeps), then marks the partitions it changed as dirty. The
// issue id is the identity: rows stored under an older key are moved, never
// duplicated.
func (s *Store) ApplyIssue(ctx context.Context, tx *sql.Tx, r *normalize.Rows) (ApplyResult, error) {
	var res ApplyResult
	key, id := r.Issue.IssueKey, r.Issue.IssueID
	var oldKey sql.NullString
	var oldHashesJSON sql.NullString
	var oldCreated sql.NullTime
	err := tx.QueryRowContext(ctx, `SELECT issue_key, row_hashes::VARCHAR, created_at FROM raw_issues WHERE issue_id = ?`, id).
		Scan(&oldKey, &oldHashesJSON, &oldCreated)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return res, fmt.Errorf("apply %s: read stored state: %w", key, err)
	}
	oldHashes := map[string]string{}
	if oldHashesJSON.Valid {
		_ = json.Unmarshal([]byte(oldHashesJSON.String), &oldHashes)
	}
	keys := []any{key}
	moved := oldKey.Valid && oldKey.String != key
	if moved {
		keys = append(keys, oldKey.String)
		res.Moved = oldKey.String
	}

	if err := s.mergeAttachments(ctx, tx, keys, r.Attachments); err != nil {
		return res, fmt.Errorf("apply %s: %w", key, err)
	}
	if r.Raw.SLAState == normalize.Unknown && oldKey.Valid {
		if err := keepSLAColumns(ctx, tx, id, r); err != nil {
			return res, fmt.Errorf("apply %s: %w", key, err)
		}
	}
	newHashes := r.Hashes()
	month := r.Month()
	oldMonth := ""
	if oldCreated.Valid {
		oldMonth = normalize.Month(oldCreated.Time)
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
			if moved {
				if err := execErr(tx.ExecContext(ctx, fmt.Sprintf(`UPDATE %s SET issue_key = ? WHERE issue_key = ?`, table), key, oldKey.String)); err != nil {
					return res, fmt.Errorf("apply %s: move %s rows: %w", key, table, err)
				}
				changed = true
			}
		case normalize.Complete:
			if !moved && oldHashes[table] != "" && oldHashes[table] == newHashes[table] && oldMonth == month {
				continue
			}
			where, args := keyFilter(table, keys, id)
			if err := execErr(tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE `+where, args...)); err != nil {
				return res, fmt.Errorf("apply %s: clear %s: %w", key, table, err)
			}
			if err := insertRows(ctx, tx, table, r, false); err != nil {
				return res, fmt.Errorf("apply %s: %w", key, err)
			}
			changed = true
		case normalize.Partial:
			if moved {
				if err := execErr(tx.ExecContext(ctx, fmt.Sprintf(`UPDATE %s SET issue_key = ? WHERE issue_key = ?`, table), key, oldKey.String)); err != nil {
					return res, fmt.Errorf("apply %s: move %s rows: %w", key, table, err)
				}
			}
			if err := insertRows(ctx, tx, table, r, true); err != nil {
				return res, fmt.Errorf("apply %s: %w", key, err)
			}
			changed = moved || oldHashes[table] != newHashes[table]
		default:
			return res, fmt.Errorf("apply %s: unknown state %q of %s", key, state, table)
		}
		if changed {
			res.Changed = append(res.Changed, table)
		}
	}

	hashes, _ := json.Marshal(newHashes)
	raw := r.Raw
	if err := execErr(tx.ExecContext(ctx, `INSERT OR REPLACE INTO raw_issues
		(issue_id, issue_key, created_at, updated_at, status_category_key, payload, comments_state, changelog_state,
		 remote_links_state, sla_state, attachments_state, incomplete, row_hashes, fetched_at, deleted_at, deleted_reason)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)`,
		id, key, raw.CreatedAt, raw.UpdatedAt, raw.StatusCategoryKey, string(raw.Payload),
		string(raw.CommentsState), string(raw.ChangelogState), string(raw.RemoteLinksState), string(raw.SLAState),
		string(raw.AttachmentsState), raw.Incomplete(), string(hashes), raw.FetchedAt)); err != nil {
		return res, fmt.Errorf("apply %s: raw payload: %w", key, err)
	}
	var marks []Partition
	for _, t := range res.Changed {
		marks = append(marks, Partition{t, month})
		if oldMonth != "" && oldMonth != month {
			marks = append(marks, Partition{t, oldMonth})
		}
	}
	if err := s.MarkDirty(ctx, tx, marks...); err != nil {
		return res, fmt.Errorf("apply %s: %w", key, err)
	}
	return res, nil
}

// keyFilter selects an issue's rows of a table: by key (current and former),
// and for issues also by id, since a stale row may hold the id under a key
// that is no longer the issue's.
func keyFilter(table string, keys []any, id string) (string, []any) {
	ph := strings.TrimSuffix(strings.Repeat("?, ", len(keys)), ", ")
	if table == "issues" {
		return "issue_key IN (" + ph + ") OR issue_id = ?", append(append([]any{}, keys...), id)
	}
	return "issue_key IN (" + ph + ")", keys
}

// mergeAttachments keeps the stored bytes of attachments this fetch did not
// download: a failed or skipped download must not forget a file already kept.
func (s *Store) mergeAttachments(ctx context.Context, tx *sql.Tx, keys []any, atts []normalize.Attachment) error {
	need := false
	for _, a := range atts {
		if a.LocalPath == nil {
			need = true
			break
		}
	}
	if !need {
		return nil
	}
	ph := strings.TrimSuffix(strings.Repeat("?, ", len(keys)), ", ")
	rows, err := tx.QueryContext(ctx, `SELECT attachment_id, local_path, sha256, size_bytes FROM attachments
		WHERE issue_key IN (`+ph+`) AND local_path IS NOT NULL`, keys...)
	if err != nil {
		return fmt.Errorf("read stored attachments: %w", err)
	}
	defer rows.Close()
	type kept struct {
		path, sum string
		size      sql.NullInt64
	}
	stored := map[string]kept{}
	for rows.Next() {
		var id string
		var k kept
		var sum sql.NullString
		if err := rows.Scan(&id, &k.path, &sum, &k.size); err != nil {
			return err
		}
		k.sum = sum.String
		stored[id] = k
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for i := range atts {
		a := &atts[i]
		if a.LocalPath != nil {
			continue
		}
		k, ok := stored[a.AttachmentID]
		if !ok || (a.SizeBytes != nil && k.size.Valid && *a.SizeBytes != k.size.Int64) {
			continue
		}
		p, sum := k.path, k.sum
		a.LocalPath, a.SHA256, a.SkippedReason = &p, &sum, nil
	}
	return nil
}

// keepSLAColumns copies the stored flat SLA columns into the new issue row
// when this fetch learnt nothing about SLAs: unknown keeps what is stored, on
// issues as in the sla table.
func keepSLAColumns(ctx context.Context, tx *sql.Tx, id string, r *normalize.Rows) error {
	if len(r.Issue.SLA) == 0 {
		return nil
	}
	var cols []string
	for _, c := range r.Issue.SLA {
		cols = append(cols, c.Name+"_breached", c.Name+"_goal_millis", c.Name+"_elapsed_millis", c.Name+"_remaining_millis")
	}
	dest := make([]any, 0, len(cols))
	vals := make([]struct {
		b              sql.NullBool
		goal, el, rest sql.NullInt64
	}, len(r.Issue.SLA))
	for i := range vals {
		dest = append(dest, &vals[i].b, &vals[i].goal, &vals[i].el, &vals[i].rest)
	}
	err := tx.QueryRowContext(ctx, `SELECT `+strings.Join(cols, ", ")+` FROM issues WHERE issue_id = ?`, id).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read stored sla columns: %w", err)
	}
	for i := range r.Issue.SLA {
		c, v := &r.Issue.SLA[i], vals[i]
		c.Breached, c.GoalMillis, c.ElapsedMillis, c.RemainingMillis = nullBool(v.b), nullInt(v.goal), nullInt(v.el), nullInt(v.rest)
	}
	return nil
}

func nullBool(v sql.NullBool) *bool {
	if !v.Valid {
		return nil
	}
	return &v.Bool
}

func nullInt(v sql.NullInt64) *int64 {
	if !v.Valid {
		return nil
	}
	return &v.Int64
}

// DeleteIssue removes an issue's rows from every analyst table, marks its
// partitions dirty and leaves a tombstone in raw_issues with the reason. It
// finds the issue by id, or by key when the id is unknown. It reports whether
// anything was stored.
func (s *Store) DeleteIssue(ctx context.Context, tx *sql.Tx, id, key, reason string, at time.Time) (bool, error) {
	var storedID, storedKey string
	var created sql.NullTime
	err := tx.QueryRowContext(ctx, `SELECT issue_id, issue_key, created_at FROM raw_issues
		WHERE (issue_id = ? OR (? = '' AND issue_key = ?)) AND deleted_at IS NULL`, id, id, key).Scan(&storedID, &storedKey, &created)
	if errors.Is(err, sql.ErrNoRows) {
		// Not in raw_issues: clear any analyst row under the key all the same.
		err = tx.QueryRowContext(ctx, `SELECT issue_id, issue_key, created_at FROM issues WHERE issue_id = ? OR issue_key = ?`, id, key).
			Scan(&storedID, &storedKey, &created)
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
	}
	if err != nil {
		return false, fmt.Errorf("delete %s: %w", firstNonEmpty(key, id), err)
	}
	for _, table := range normalize.Tables {
		if err := execErr(tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE issue_key = ?`, storedKey)); err != nil {
			return false, fmt.Errorf("delete %s: %s: %w", storedKey, table, err)
		}
	}
	if err := execErr(tx.ExecContext(ctx, `UPDATE raw_issues SET deleted_at = ?, deleted_reason = ?, payload = NULL, row_hashes = NULL
		WHERE issue_id = ?`, at, reason, storedID)); err != nil {
		return false, fmt.Errorf("delete %s: tombstone: %w", storedKey, err)
	}
	if created.Valid {
		var marks []Partition
		for _, t := range normalize.Tables {
			marks = append(marks, Partition{t, normalize.Month(created.Time)})
		}
		if err := s.MarkDirty(ctx, tx, marks...); err != nil {
			return false, fmt.Errorf("delete %s: %w", storedKey, err)
		}
	}
	return true, nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// MarkDirty records partitions to export, in the caller's transaction. Every
// mark takes a new generation so an export clears only what it has seen.
func (s *Store) MarkDirty(ctx context.Context, tx *sql.Tx, parts ...Partition) error {
	if len(parts) == 0 {
		return nil
	}
	var b strings.Builder
	args := make([]any, 0, 4*len(parts))
	b.WriteString(`INSERT INTO dirty_partitions (table_name, month, generation, marked_at) VALUES `)
	now := time.Now().UTC()
	seen := map[Partition]bool{}
	n := 0
	for _, p := range parts {
		if seen[p] {
			continue
		}
		seen[p] = true
		if n > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?)")
		args = append(args, p.Table, p.Month, s.gen.Add(1), now)
		n++
	}
	b.WriteString(` ON CONFLICT (table_name, month) DO UPDATE SET generation = excluded.generation, marked_at = excluded.marked_at`)
	if err := execErr(tx.ExecContext(ctx, b.String(), args...)); err != nil {
		return fmt.Errorf("mark partitions dirty: %w", err)
	}
	return nil
}

// execErr keeps only the error of an Exec: DuckDB discards a transaction whose
// statement failed even when Commit later returns nil, so every one is checked.
func execErr(_ sql.Result, err error) error { return err }
