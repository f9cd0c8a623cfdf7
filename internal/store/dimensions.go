package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// DimensionTable is one dimension table as the store makes it: its name
// (the analysts' name; the store's table is DimensionTableName of it), its
// columns in order and the columns that identify a row.
type DimensionTable struct {
	Name    string
	Columns []Column
	Key     []string
}

// DimensionTableName is the store's table of a dimension table: dim_<name>,
// apart from the tables the migrations make (the store keeps its own
// fields table, the catalog's, beside the fields dimension table).
func DimensionTableName(name string) string { return "dim_" + name }

// DimensionObject is one stored object of a dimension table.
type DimensionObject struct {
	ID      string
	Payload []byte
}

// The statuses of a dimension table (dimension_tables.status).
const (
	DimensionNever   = "never"
	DimensionOK      = "ok"
	DimensionSkipped = "skipped"
	DimensionFailed  = "failed"
)

// DimensionState is what the store knows of a dimension table.
type DimensionState struct {
	Table         string
	Rows          int64
	RowsSHA256    string
	ObjectsSHA256 string
	RefreshedAt   time.Time
	ChangedAt     time.Time
	Status        string
	Note          string
	Failures      int
}

var dimensionType = regexp.MustCompile(`^(VARCHAR|BIGINT|INTEGER|DOUBLE|BOOLEAN|DATE|TIMESTAMPTZ)(\[\])?$`)

// Check refuses a table whose name or columns could not be put into SQL
// as they are.
func (t DimensionTable) Check() error {
	if !columnName.MatchString(t.Name) {
		return fmt.Errorf("dimension table %q: not a valid table name", t.Name)
	}
	if len(t.Columns) == 0 {
		return fmt.Errorf("dimension table %s: no columns", t.Name)
	}
	for _, c := range t.Columns {
		if !columnName.MatchString(c.Name) {
			return fmt.Errorf("dimension table %s: column %q: not a valid column name", t.Name, c.Name)
		}
		if !dimensionType.MatchString(c.Type) {
			return fmt.Errorf("dimension table %s: column %s: type %q is not one a dimension table takes", t.Name, c.Name, c.Type)
		}
	}
	for _, k := range t.Key {
		if !slices.ContainsFunc(t.Columns, func(c Column) bool { return c.Name == k }) {
			return fmt.Errorf("dimension table %s: key column %q is not a column", t.Name, k)
		}
	}
	return nil
}

// ColumnNames lists the table's column names in order.
func (t DimensionTable) ColumnNames() []string {
	out := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		out[i] = c.Name
	}
	return out
}

// QuotedColumns lists the table's column names in order, each quoted as an
// identifier: a source may name a column as SQL names a keyword (key, at).
func (t DimensionTable) QuotedColumns() []string {
	out := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		out[i] = Ident(c.Name)
	}
	return out
}

// Ident quotes a name as a DuckDB identifier.
func Ident(name string) string { return quoteIdent(name) }

// signature is the column list as dimension_tables records it.
func (t DimensionTable) signature() string {
	parts := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		parts[i] = c.Name + " " + c.Type
	}
	return strings.Join(parts, ", ")
}

// EnsureDimensionTables makes every table's dim_<name> when it is missing or
// was made with other columns, and returns the tables it made: their rows
// are gone, and the caller derives them again from the stored objects.
// The tables carry no key constraint: rows are checked for duplicate keys
// before they are written (WriteDimension), and DuckDB's index would keep
// every deleted row in the file (see compact.go).
func (s *Store) EnsureDimensionTables(ctx context.Context, tables []DimensionTable) ([]string, error) {
	var made []string
	for _, t := range tables {
		if err := t.Check(); err != nil {
			return made, err
		}
		var recorded sql.NullString
		err := s.db.QueryRowContext(ctx, `SELECT column_list FROM dimension_tables WHERE table_name = ?`, t.Name).Scan(&recorded)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return made, fmt.Errorf("ensure dimension table %s: %w", t.Name, err)
		}
		var exists bool
		if err := s.db.QueryRowContext(ctx, `SELECT count(*) > 0 FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = ?`,
			DimensionTableName(t.Name)).Scan(&exists); err != nil {
			return made, fmt.Errorf("ensure dimension table %s: %w", t.Name, err)
		}
		if exists && recorded.Valid && recorded.String == t.signature() {
			continue
		}
		cols := make([]string, len(t.Columns))
		for i, c := range t.Columns {
			cols[i] = Ident(c.Name) + " " + c.Type
		}
		err = s.WithTx(ctx, func(tx *Tx) error {
			name := DimensionTableName(t.Name)
			if err := execErr(tx.ExecContext(ctx, `DROP TABLE IF EXISTS `+name)); err != nil {
				return err
			}
			if err := execErr(tx.ExecContext(ctx, fmt.Sprintf(`CREATE TABLE %s (%s)`, name, strings.Join(cols, ", ")))); err != nil {
				return err
			}
			// The rows digest goes: the next refresh or rebuild writes the
			// table whatever it finds.
			return execErr(tx.ExecContext(ctx, `INSERT INTO dimension_tables (table_name, column_list, rows, rows_sha256)
				VALUES (?, ?, 0, NULL)
				ON CONFLICT (table_name) DO UPDATE SET column_list = excluded.column_list, rows = 0, rows_sha256 = NULL`, t.Name, t.signature()))
		})
		if err != nil {
			return made, fmt.Errorf("ensure dimension table %s: %w", t.Name, err)
		}
		made = append(made, t.Name)
	}
	return made, nil
}

// DimensionWrite is one refresh of a dimension table.
type DimensionWrite struct {
	Table DimensionTable
	// Objects replace the stored objects when ObjectsSHA256 differs from
	// the stored digest; nil with an empty ObjectsSHA256 (a rebuild) leaves
	// them.
	Objects       []DimensionObject
	ObjectsSHA256 string
	// Rows, in Table.Columns order, replace the table's rows when
	// RowsSHA256 differs from the stored digest.
	Rows       [][]any
	RowsSHA256 string
	// At is when the objects were fetched (or derived, for a rebuild).
	At time.Time
	// Fetched says the write comes from Jira (refreshed_at and the status
	// move), not from a rebuild.
	Fetched bool
	// Force writes the rows and marks the file dirty even when their
	// digest is unchanged (rebuild).
	Force bool
	// Note, with Fetched, is the status page's note of the table (objects
	// whose row could not be derived).
	Note string
}

// DimensionWritten says what WriteDimension changed.
type DimensionWritten struct {
	RowsChanged    bool
	ObjectsChanged bool
}

// WriteDimension stores one refresh of a dimension table in tx: the objects
// and the rows each only when their digest changed, and the table's state.
// Rows whose content changed mark the table's file dirty (month ""), so the
// exporter writes it again; unchanged ones leave it, and its manifest entry,
// alone.
func (s *Store) WriteDimension(ctx context.Context, tx *Tx, w DimensionWrite) (DimensionWritten, error) {
	var done DimensionWritten
	t := w.Table
	if err := t.Check(); err != nil {
		return done, err
	}
	if err := uniqueKeys(t, w.Rows); err != nil {
		return done, err
	}
	var rowsSum, objectsSum sql.NullString
	err := tx.QueryRowContext(ctx, `SELECT rows_sha256, objects_sha256 FROM dimension_tables WHERE table_name = ?`, t.Name).Scan(&rowsSum, &objectsSum)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return done, fmt.Errorf("write dimension %s: %w", t.Name, err)
	}
	if w.ObjectsSHA256 != "" && w.ObjectsSHA256 != objectsSum.String {
		if err := replaceObjects(ctx, tx, t.Name, w.Objects, w.At); err != nil {
			return done, fmt.Errorf("write dimension %s: %w", t.Name, err)
		}
		done.ObjectsChanged = true
	}
	if w.Force || !rowsSum.Valid || w.RowsSHA256 != rowsSum.String {
		if err := replaceRows(ctx, tx, t, w.Rows); err != nil {
			return done, fmt.Errorf("write dimension %s: %w", t.Name, err)
		}
		if err := s.MarkDirty(ctx, tx, Partition{Table: t.Name, Month: ""}); err != nil {
			return done, fmt.Errorf("write dimension %s: %w", t.Name, err)
		}
		done.RowsChanged = true
	}
	objects := w.ObjectsSHA256
	if objects == "" {
		objects = objectsSum.String
	}
	set := `rows = ?, rows_sha256 = ?, objects_sha256 = ?`
	args := []any{int64(len(w.Rows)), w.RowsSHA256, nullable(objects)}
	if w.Fetched {
		set += `, refreshed_at = ?, status = 'ok', note = ?, failures = 0`
		args = append(args, w.At, nullable(w.Note))
	}
	if done.RowsChanged {
		set += `, changed_at = ?`
		args = append(args, w.At)
	}
	args = append(args, t.Name)
	res, err := tx.ExecContext(ctx, `UPDATE dimension_tables SET `+set+` WHERE table_name = ?`, args...)
	if err != nil {
		return done, fmt.Errorf("write dimension %s: %w", t.Name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return done, fmt.Errorf("write dimension %s: the table was never made (EnsureDimensionTables)", t.Name)
	}
	return done, nil
}

// uniqueKeys refuses rows two of which share their key: the objects they
// came from are one in Jira's eyes, and which to keep is not for the
// store to guess.
func uniqueKeys(t DimensionTable, rows [][]any) error {
	if len(t.Key) == 0 {
		return nil
	}
	idx := make([]int, len(t.Key))
	for i, k := range t.Key {
		idx[i] = slices.IndexFunc(t.Columns, func(c Column) bool { return c.Name == k })
	}
	seen := make(map[string]bool, len(rows))
	for _, r := range rows {
		if len(r) != len(t.Columns) {
			return fmt.Errorf("write dimension %s: a row has %d values for %d columns", t.Name, len(r), len(t.Columns))
		}
		var b strings.Builder
		for _, i := range idx {
			fmt.Fprintf(&b, "%v\x00", r[i])
		}
		if seen[b.String()] {
			return fmt.Errorf("write dimension %s: two rows share the key %s", t.Name, strings.ReplaceAll(strings.TrimSuffix(b.String(), "\x00"), "\x00", ", "))
		}
		seen[b.String()] = true
	}
	return nil
}

func replaceObjects(ctx context.Context, tx *Tx, table string, objects []DimensionObject, at time.Time) error {
	if err := execErr(tx.ExecContext(ctx, `DELETE FROM dimension_objects WHERE table_name = ?`, table)); err != nil {
		return err
	}
	for chunk := range slices.Chunk(objects, rowsPerInsert) {
		args := make([]any, 0, 4*len(chunk))
		for _, o := range chunk {
			args = append(args, table, o.ID, string(o.Payload), at)
		}
		if err := execErr(tx.ExecContext(ctx, `INSERT INTO dimension_objects (table_name, object_id, payload, fetched_at) VALUES `+valueRows(len(chunk), 4), args...)); err != nil {
			return err
		}
	}
	return nil
}

func replaceRows(ctx context.Context, tx *Tx, t DimensionTable, rows [][]any) error {
	name := DimensionTableName(t.Name)
	if err := execErr(tx.ExecContext(ctx, `DELETE FROM `+name)); err != nil {
		return err
	}
	// Each value is cast to its column's type: the driver binds a
	// time.Time as a timestamp, which a DATE column takes only cast.
	one := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		one[i] = "CAST(? AS " + c.Type + ")"
	}
	tuple := "(" + strings.Join(one, ", ") + ")"
	insert := fmt.Sprintf(`INSERT INTO %s (%s) VALUES `, name, strings.Join(t.QuotedColumns(), ", "))
	for chunk := range slices.Chunk(rows, rowsPerInsert) {
		var b strings.Builder
		b.WriteString(insert)
		args := make([]any, 0, len(t.Columns)*len(chunk))
		for i, r := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(tuple)
			args = append(args, r...)
		}
		if err := execErr(tx.ExecContext(ctx, b.String(), args...)); err != nil {
			return err
		}
	}
	return nil
}

// RecordDimensionTrouble records a refresh of a table that did not write
// it: skipped (the product's API is not there) or failed. The stored rows
// stay. failures counts the failed refreshes since the last good one.
func RecordDimensionTrouble(ctx context.Context, tx *Tx, table, status, note string, at time.Time) error {
	failures := "0"
	if status == DimensionFailed {
		failures = "failures + 1"
	}
	err := execErr(tx.ExecContext(ctx, `INSERT INTO dimension_tables (table_name, status, note, failures)
		VALUES (?, ?, ?, CASE WHEN ? = 'failed' THEN 1 ELSE 0 END)
		ON CONFLICT (table_name) DO UPDATE SET status = excluded.status, note = excluded.note, failures = `+failures,
		table, status, note, status))
	if err != nil {
		return fmt.Errorf("record dimension %s %s: %w", table, status, err)
	}
	if status == DimensionSkipped {
		// Jira was reached and answered: the table is as fresh as it can be.
		if err := execErr(tx.ExecContext(ctx, `UPDATE dimension_tables SET refreshed_at = ? WHERE table_name = ?`, at, table)); err != nil {
			return fmt.Errorf("record dimension %s %s: %w", table, status, err)
		}
	}
	return nil
}

// DimensionStates returns the state of every dimension table the store
// knows, by name.
func (s *Store) DimensionStates(ctx context.Context) (map[string]DimensionState, error) {
	out := map[string]DimensionState{}
	err := RunQuery(ctx, s.db, `SELECT table_name, rows, coalesce(rows_sha256, ''), coalesce(objects_sha256, ''), refreshed_at, changed_at,
		status, coalesce(note, ''), failures FROM dimension_tables`, func(rows *sql.Rows) error {
		var st DimensionState
		var refreshed, changed sql.NullTime
		if err := rows.Scan(&st.Table, &st.Rows, &st.RowsSHA256, &st.ObjectsSHA256, &refreshed, &changed, &st.Status, &st.Note, &st.Failures); err != nil {
			return err
		}
		st.RefreshedAt, st.ChangedAt = refreshed.Time.UTC(), changed.Time.UTC()
		if !refreshed.Valid {
			st.RefreshedAt = time.Time{}
		}
		if !changed.Valid {
			st.ChangedAt = time.Time{}
		}
		out[st.Table] = st
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read dimension states: %w", err)
	}
	return out, nil
}

// DimensionObjects returns a table's stored objects, by id.
func (s *Store) DimensionObjects(ctx context.Context, table string) ([]DimensionObject, error) {
	out, err := Collect(ctx, s.db, `SELECT object_id, payload FROM dimension_objects WHERE table_name = ? ORDER BY object_id`,
		func(rows *sql.Rows) (DimensionObject, error) {
			var o DimensionObject
			var payload string
			err := rows.Scan(&o.ID, &payload)
			o.Payload = []byte(payload)
			return o, err
		}, table)
	if err != nil {
		return nil, fmt.Errorf("read objects of %s: %w", table, err)
	}
	return out, nil
}

var columnRef = regexp.MustCompile(`^([a-z][a-z0-9_]{0,62})\.([a-z][a-z0-9_]{0,62})$`)

// ReferencedValues lists the distinct non-empty values of the given columns
// ("table.column") of the store: the ids issue-level tables refer to. A
// column the store lacks (a table another version adds) is passed over.
func (s *Store) ReferencedValues(ctx context.Context, refs []string) ([]string, error) {
	var parts []string
	for _, ref := range refs {
		m := columnRef.FindStringSubmatch(ref)
		if m == nil {
			return nil, fmt.Errorf("referenced values: %q is not table.column", ref)
		}
		var exists bool
		if err := s.db.QueryRowContext(ctx, `SELECT count(*) > 0 FROM duckdb_columns() WHERE schema_name = 'main' AND table_name = ? AND column_name = ?`,
			m[1], m[2]).Scan(&exists); err != nil {
			return nil, fmt.Errorf("referenced values: %w", err)
		}
		if exists {
			parts = append(parts, fmt.Sprintf(`SELECT CAST(%s AS VARCHAR) AS v FROM %s WHERE %s IS NOT NULL`, Ident(m[2]), Ident(m[1]), Ident(m[2])))
		}
	}
	if len(parts) == 0 {
		return nil, nil
	}
	out, err := Collect(ctx, s.db, `SELECT DISTINCT v FROM (`+strings.Join(parts, " UNION ALL ")+`) WHERE v <> '' ORDER BY v`, scanOne[string])
	if err != nil {
		return nil, fmt.Errorf("referenced values: %w", err)
	}
	return out, nil
}

// LatestEvents returns, for each of the given webhook event types that the
// store holds, when the latest one arrived: what a table refreshed on those
// events must be newer than.
func (s *Store) LatestEvents(ctx context.Context, types []string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	if len(types) == 0 {
		return out, nil
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(types)), ", ")
	args := make([]any, len(types))
	for i, t := range types {
		args[i] = t
	}
	err := RunQuery(ctx, s.db, `SELECT webhook_event, max(received_at) FROM webhook_events WHERE webhook_event IN (`+marks+`) GROUP BY 1`,
		func(rows *sql.Rows) error {
			var t string
			var at time.Time
			if err := rows.Scan(&t, &at); err != nil {
				return err
			}
			out[t] = at.UTC()
			return nil
		}, args...)
	if err != nil {
		return nil, fmt.Errorf("latest events: %w", err)
	}
	return out, nil
}

// DimensionRowCount counts the rows of a dimension table as stored.
func (s *Store) DimensionRowCount(ctx context.Context, table string) (int64, error) {
	if !columnName.MatchString(table) {
		return 0, fmt.Errorf("count %q: not a valid table name", table)
	}
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM `+DimensionTableName(table)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", table, err)
	}
	return n, nil
}
