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
func ReplaceFields(ctx context.Context, tx *sql.Tx, fields []FieldMeta) error {
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
	rows, err := s.db.QueryContext(ctx, `SELECT field_id, name, custom, coalesce(schema_type, ''), coalesce(schema_custom, ''),
		coalesce(schema_items, ''), fetched_at FROM fields ORDER BY field_id`)
	if err != nil {
		return nil, fmt.Errorf("read fields: %w", err)
	}
	defer rows.Close()
	var out []FieldMeta
	for rows.Next() {
		var f FieldMeta
		if err := rows.Scan(&f.ID, &f.Name, &f.Custom, &f.SchemaType, &f.SchemaCustom, &f.SchemaItems, &f.FetchedAt); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// StoredAttachment is what the store knows of an attachment's bytes.
type StoredAttachment struct {
	LocalPath string
	SHA256    string
	Size      int64
}

// StoredAttachments returns the attachments of an issue whose bytes are kept.
func (s *Store) StoredAttachments(ctx context.Context, issueKey string) (map[string]StoredAttachment, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT attachment_id, local_path, coalesce(sha256, ''), coalesce(size_bytes, -1)
		FROM attachments WHERE issue_key = ? AND local_path IS NOT NULL`, issueKey)
	if err != nil {
		return nil, fmt.Errorf("read attachments of %s: %w", issueKey, err)
	}
	defer rows.Close()
	out := map[string]StoredAttachment{}
	for rows.Next() {
		var id string
		var a StoredAttachment
		if err := rows.Scan(&id, &a.LocalPath, &a.SHA256, &a.Size); err != nil {
			return nil, err
		}
		out[id] = a
	}
	return out, rows.Err()
}
