package store

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

var testDimension = DimensionTable{
	Name: "things",
	Columns: []Column{{"id", "VARCHAR"}, {"name", "VARCHAR"}, {"due", "DATE"}, {"at", "TIMESTAMPTZ"},
		{"n", "BIGINT"}, {"done", "BOOLEAN"}, {"tags", "VARCHAR[]"}},
	Key: []string{"id"},
}

func thingRow(id, name string) []any {
	return []any{id, name, time.Date(2024, 3, 31, 0, 0, 0, 0, time.UTC), time.Date(2024, 3, 31, 12, 30, 0, 0, time.UTC),
		int64(len(name)), true, []string{"a", name}}
}

// writeThings stores one refresh of testDimension in its own transaction.
func writeThings(t *testing.T, s *Store, w DimensionWrite) DimensionWritten {
	t.Helper()
	w.Table = testDimension
	if w.At.IsZero() {
		w.At = time.Now().UTC()
	}
	var done DimensionWritten
	err := s.WithTx(context.Background(), func(tx *Tx) error {
		var err error
		done, err = s.WriteDimension(context.Background(), tx, w)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return done
}

func dirtyDimension(t *testing.T, s *Store, table string) bool {
	t.Helper()
	dirty, err := s.DirtyPartitions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return slices.ContainsFunc(dirty, func(d DirtyPartition) bool { return d.Table == table && d.Month == "" })
}

func clearDimensionMarks(t *testing.T, s *Store) {
	t.Helper()
	if _, err := s.DB().Exec(`DELETE FROM dirty_partitions`); err != nil {
		t.Fatal(err)
	}
}

// TestWriteDimension: a refresh writes the rows and objects whose digest
// changed, marks the table's file dirty only when its rows changed, and
// rows of objects gone from Jira's answer go with them.
func TestWriteDimension(t *testing.T) {
	ctx := context.Background()
	s := migrated(t)
	made, err := s.EnsureDimensionTables(ctx, []DimensionTable{testDimension})
	if err != nil || !slices.Equal(made, []string{"things"}) {
		t.Fatalf("got made %v, error %v; want things made", made, err)
	}
	objects := []DimensionObject{{ID: "1", Payload: []byte(`{"id":"1"}`)}, {ID: "2", Payload: []byte(`{"id":"2"}`)}}
	rows := [][]any{thingRow("1", "one"), thingRow("2", "two")}

	steps := []struct {
		name                 string
		write                DimensionWrite
		wantRows, wantObject bool
		wantCount            int64
		wantIDs              []string
	}{
		{"first refresh", DimensionWrite{Objects: objects, ObjectsSHA256: "o1", Rows: rows, RowsSHA256: "r1", Fetched: true}, true, true, 2, []string{"1", "2"}},
		{"the same again", DimensionWrite{Objects: objects, ObjectsSHA256: "o1", Rows: rows, RowsSHA256: "r1", Fetched: true}, false, false, 2, []string{"1", "2"}},
		{"payloads changed, rows not", DimensionWrite{Objects: objects, ObjectsSHA256: "o2", Rows: rows, RowsSHA256: "r1", Fetched: true}, false, true, 2, []string{"1", "2"}},
		{"object 2 gone", DimensionWrite{Objects: objects[:1], ObjectsSHA256: "o3", Rows: rows[:1], RowsSHA256: "r2", Fetched: true}, true, true, 1, []string{"1"}},
		{"rebuild forces the rows", DimensionWrite{Rows: rows[:1], RowsSHA256: "r2", Force: true}, true, false, 1, []string{"1"}},
	}
	for _, st := range steps {
		clearDimensionMarks(t, s)
		done := writeThings(t, s, st.write)
		if done.RowsChanged != st.wantRows || done.ObjectsChanged != st.wantObject {
			t.Errorf("%s: got %+v, want rows changed %v, objects changed %v", st.name, done, st.wantRows, st.wantObject)
		}
		if got := dirtyDimension(t, s, "things"); got != st.wantRows {
			t.Errorf("%s: file dirty %v, want %v", st.name, got, st.wantRows)
		}
		n, err := s.DimensionRowCount(ctx, "things")
		if err != nil || n != st.wantCount {
			t.Errorf("%s: got %d rows (%v), want %d", st.name, n, err, st.wantCount)
		}
		stored, err := s.DimensionObjects(ctx, "things")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, o := range stored {
			ids = append(ids, o.ID)
		}
		if !slices.Equal(ids, st.wantIDs) {
			t.Errorf("%s: got objects %v, want %v", st.name, ids, st.wantIDs)
		}
	}
	var due, at time.Time
	var tags []any
	var count int64
	var done bool
	if err := s.DB().QueryRow(`SELECT due, "at", n, done, tags FROM dim_things`).Scan(&due, &at, &count, &done, &tags); err != nil {
		t.Fatal(err)
	}
	if due.Format(time.DateOnly) != "2024-03-31" || !at.Equal(time.Date(2024, 3, 31, 12, 30, 0, 0, time.UTC)) || count != 3 || !done || len(tags) != 2 {
		t.Errorf("got due %v, at %v, count %d, done %v, tags %v; want the values written", due, at, count, done, tags)
	}
	states, err := s.DimensionStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st := states["things"]
	if st.Status != DimensionOK || st.Rows != 1 || st.RowsSHA256 != "r2" || st.ObjectsSHA256 != "o3" || st.RefreshedAt.IsZero() || st.ChangedAt.IsZero() {
		t.Errorf("got state %+v, want ok, 1 row, r2, o3, refreshed and changed", st)
	}
}

// TestWriteDimensionRefusals: rows sharing a key, or of the wrong width,
// fail the write and leave the table as it was.
func TestWriteDimensionRefusals(t *testing.T) {
	ctx := context.Background()
	s := migrated(t)
	if _, err := s.EnsureDimensionTables(ctx, []DimensionTable{testDimension}); err != nil {
		t.Fatal(err)
	}
	writeThings(t, s, DimensionWrite{Rows: [][]any{thingRow("1", "one")}, RowsSHA256: "r1", Fetched: true, ObjectsSHA256: "o1"})
	for _, tc := range []struct {
		name string
		rows [][]any
		want string
	}{
		{"duplicate key", [][]any{thingRow("1", "one"), thingRow("1", "uno")}, "two rows share the key 1"},
		{"short row", [][]any{{"1", "one"}}, "2 values for 7 columns"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.WithTx(ctx, func(tx *Tx) error {
				_, err := s.WriteDimension(ctx, tx, DimensionWrite{Table: testDimension, Rows: tc.rows, RowsSHA256: "other", Fetched: true})
				return err
			})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
			if n, _ := s.DimensionRowCount(ctx, "things"); n != 1 {
				t.Errorf("got %d rows, want the 1 stored before", n)
			}
		})
	}
}

// TestEnsureDimensionTables: a table is made again when its columns change
// (its rows digest goes, so the next write rewrites it), and left alone
// otherwise; a name or type that cannot go into SQL is refused.
func TestEnsureDimensionTables(t *testing.T) {
	ctx := context.Background()
	s := migrated(t)
	if _, err := s.EnsureDimensionTables(ctx, []DimensionTable{testDimension}); err != nil {
		t.Fatal(err)
	}
	writeThings(t, s, DimensionWrite{Rows: [][]any{thingRow("1", "one")}, RowsSHA256: "r1", Fetched: true, ObjectsSHA256: "o1"})
	if made, err := s.EnsureDimensionTables(ctx, []DimensionTable{testDimension}); err != nil || len(made) != 0 {
		t.Errorf("same columns: got made %v, error %v; want nothing made", made, err)
	}
	wider := testDimension
	wider.Columns = append(slices.Clone(testDimension.Columns), Column{"extra", "DOUBLE"})
	made, err := s.EnsureDimensionTables(ctx, []DimensionTable{wider})
	if err != nil || !slices.Equal(made, []string{"things"}) {
		t.Fatalf("new column: got made %v, error %v; want things made", made, err)
	}
	states, _ := s.DimensionStates(ctx)
	if st := states["things"]; st.RowsSHA256 != "" || st.ObjectsSHA256 != "o1" {
		t.Errorf("got state %+v, want the rows digest gone and the objects kept", st)
	}
	for _, bad := range []DimensionTable{
		{Name: "x; DROP TABLE issues", Columns: []Column{{"id", "VARCHAR"}}},
		{Name: "things", Columns: []Column{{"id", "VARCHAR); DROP TABLE issues; --"}}},
		{Name: "things", Columns: []Column{{"id", "VARCHAR"}}, Key: []string{"key"}},
	} {
		if _, err := s.EnsureDimensionTables(ctx, []DimensionTable{bad}); err == nil {
			t.Errorf("%+v: got no error, want a refusal", bad)
		}
	}
}

// TestRecordDimensionTrouble: a skipped or failed refresh keeps the rows
// and says why; failures count up until a good refresh.
func TestRecordDimensionTrouble(t *testing.T) {
	ctx := context.Background()
	s := migrated(t)
	if _, err := s.EnsureDimensionTables(ctx, []DimensionTable{testDimension}); err != nil {
		t.Fatal(err)
	}
	writeThings(t, s, DimensionWrite{Rows: [][]any{thingRow("1", "one")}, RowsSHA256: "r1", Fetched: true, ObjectsSHA256: "o1"})
	now := time.Now().UTC()
	for range 2 {
		if err := s.WithTx(ctx, func(tx *Tx) error {
			return RecordDimensionTrouble(ctx, tx, "things", DimensionFailed, "status 503", now)
		}); err != nil {
			t.Fatal(err)
		}
	}
	states, _ := s.DimensionStates(ctx)
	if st := states["things"]; st.Status != DimensionFailed || st.Failures != 2 || st.Note != "status 503" || st.Rows != 1 {
		t.Errorf("got %+v, want failed twice, the note, the row kept", st)
	}
	if n, _ := s.DimensionRowCount(ctx, "things"); n != 1 {
		t.Errorf("got %d rows, want 1 kept", n)
	}
	if err := s.WithTx(ctx, func(tx *Tx) error {
		return RecordDimensionTrouble(ctx, tx, "boards", DimensionSkipped, "no Jira Software", now)
	}); err != nil {
		t.Fatal(err)
	}
	states, _ = s.DimensionStates(ctx)
	if st := states["boards"]; st.Status != DimensionSkipped || st.Failures != 0 || st.RefreshedAt.IsZero() {
		t.Errorf("got %+v, want skipped, no failure, refreshed", st)
	}
}

// TestReferencedValues lists the distinct account ids issue-level tables
// hold, passing over a column the store lacks.
func TestReferencedValues(t *testing.T) {
	ctx := context.Background()
	s := migrated(t)
	for _, q := range []string{
		`INSERT INTO comments (comment_id, issue_key, author_account_id, update_author_account_id) VALUES ('1', 'A-1', 'acc-1', 'acc-2'), ('2', 'A-1', 'acc-1', NULL), ('3', 'A-1', '', NULL)`,
		`INSERT INTO worklogs (worklog_id, issue_id, issue_key, author_account_id) VALUES ('1', '10', 'A-1', 'acc-3')`,
	} {
		if _, err := s.DB().Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ReferencedValues(ctx, []string{"comments.author_account_id", "comments.update_author_account_id", "worklogs.author_account_id", "nosuch.column"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"acc-1", "acc-2", "acc-3"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if _, err := s.ReferencedValues(ctx, []string{"comments.author; DROP TABLE x"}); err == nil {
		t.Error("got no error for a reference that is not table.column")
	}
}
