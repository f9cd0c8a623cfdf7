package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"
)

// FieldMeta is one row of fields: Jira's metadata of a field.
type FieldMeta struct {
	ID           string
	Name         string
	Custom       bool
	SchemaType   string
	SchemaCustom string
	SchemaItems  string
	FetchedAt    time.Time
}

// ReplaceFields stores the field list Jira returned.
func ReplaceFields(ctx context.Context, tx *Tx, fields []FieldMeta) error {
	if err := execErr(tx.ExecContext(ctx, `DELETE FROM fields`)); err != nil {
		return fmt.Errorf("replace fields: %w", err)
	}
	for chunk := range slices.Chunk(fields, 200) {
		q := `INSERT INTO fields (field_id, name, custom, schema_type, schema_custom, schema_items, fetched_at) VALUES `
		args := make([]any, 0, 7*len(chunk))
		for i, f := range chunk {
			if i > 0 {
				q += ", "
			}
			q += "(?, ?, ?, ?, ?, ?, ?)"
			args = append(args, f.ID, f.Name, f.Custom, nullable(f.SchemaType), nullable(f.SchemaCustom), nullable(f.SchemaItems), f.FetchedAt)
		}
		if err := execErr(tx.ExecContext(ctx, q, args...)); err != nil {
			return fmt.Errorf("replace fields: %w", err)
		}
	}
	return nil
}

// Fields returns the stored field metadata.
func (s *Store) Fields(ctx context.Context) ([]FieldMeta, error) {
	out, err := Collect(ctx, s.db, `SELECT field_id, name, custom, coalesce(schema_type, ''), coalesce(schema_custom, ''),
		coalesce(schema_items, ''), fetched_at FROM fields ORDER BY field_id`, func(rows *sql.Rows) (f FieldMeta, err error) {
		err = rows.Scan(&f.ID, &f.Name, &f.Custom, &f.SchemaType, &f.SchemaCustom, &f.SchemaItems, &f.FetchedAt)
		return f, err
	})
	if err != nil {
		return nil, fmt.Errorf("read fields: %w", err)
	}
	return out, nil
}

// StoredAttachment is what the store knows of an attachment's bytes.
type StoredAttachment struct {
	// LocalPath and SHA256 are those of the kept bytes, empty when none are.
	LocalPath string
	SHA256    string
	// Size is Jira's size of the file, -1 when unknown.
	Size int64
	// SkippedReason says why the bytes are not kept, when a download
	// skipped them.
	SkippedReason string
}

// DownloadedAttachments returns what downloads left in the attachments
// table, for every attachment: a rebuild, which writes the table again from
// the payloads, keeps it.
func (s *Store) DownloadedAttachments(ctx context.Context) (map[string]StoredAttachment, error) {
	out := map[string]StoredAttachment{}
	err := RunQuery(ctx, s.db, `SELECT attachment_id, coalesce(local_path, ''), coalesce(sha256, ''), coalesce(size_bytes, -1),
		coalesce(skipped_reason, '') FROM attachments`, func(rows *sql.Rows) error {
		var id string
		var a StoredAttachment
		if err := rows.Scan(&id, &a.LocalPath, &a.SHA256, &a.Size, &a.SkippedReason); err != nil {
			return err
		}
		out[id] = a
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read attachments: %w", err)
	}
	return out, nil
}

// StoredAttachments returns the attachments of an issue whose bytes are kept.
func (s *Store) StoredAttachments(ctx context.Context, issueKey string) (map[string]StoredAttachment, error) {
	out := map[string]StoredAttachment{}
	err := RunQuery(ctx, s.db, `SELECT attachment_id, local_path, coalesce(sha256, ''), coalesce(size_bytes, -1)
		FROM attachments WHERE issue_key = ? AND local_path IS NOT NULL`, func(rows *sql.Rows) error {
		var id string
		var a StoredAttachment
		if err := rows.Scan(&id, &a.LocalPath, &a.SHA256, &a.Size); err != nil {
			return err
		}
		out[id] = a
		return nil
	}, issueKey)
	if err != nil {
		return nil, fmt.Errorf("read attachments of %s: %w", issueKey, err)
	}
	return out, nil
}
