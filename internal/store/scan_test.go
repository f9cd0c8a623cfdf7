package store

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"testing"
)

// manyRows is a result far longer than what is read before a cancelled
// context closes the rows: duckdb-go returns a result whole, so a context
// ending half-way is how rows end early, and only rows.Err says so.
const manyRows = `SELECT i FROM range(1000000) t(i)`

func TestRunQuery(t *testing.T) {
	s := migrated(t)
	errScan := errors.New("refused by the row function")
	cases := []struct {
		name  string
		query string
		// cancelAt cancels the query's context when that many rows are read.
		cancelAt int
		// stopAt makes the row function stop reading at that many rows.
		stopAt   int
		failWith error
		wantRows int // -1: fewer than the result holds
		wantErr  string
	}{
		{name: "every row", query: `SELECT i FROM range(3) t(i)`, wantRows: 3},
		{name: "no row", query: `SELECT i FROM range(0) t(i)`, wantRows: 0},
		{name: "cancelled half-way", query: manyRows, cancelAt: 1, wantRows: -1, wantErr: context.Canceled.Error()},
		{name: "an error of the query", query: `SELECT nothing FROM nowhere`, wantRows: 0, wantErr: "nowhere"},
		{name: "an error of the row function", query: `SELECT i FROM range(3) t(i)`, failWith: errScan, wantRows: 1, wantErr: errScan.Error()},
		{name: "stopped early", query: `SELECT i FROM range(10) t(i)`, stopAt: 2, wantRows: 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var got []int64
			err := RunQuery(ctx, s.DB(), c.query, func(rows *sql.Rows) error {
				v, err := scanOne[int64](rows)
				if err != nil {
					return err
				}
				got = append(got, v)
				switch len(got) {
				case c.cancelAt:
					cancel()
				case c.stopAt:
					return errStop
				}
				return c.failWith
			})
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("got error %v, want none", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("got error %v, want one saying %q", err, c.wantErr)
			}
			switch {
			case c.wantRows < 0 && len(got) >= 1000000:
				t.Errorf("got all %d rows, want fewer", len(got))
			case c.wantRows >= 0 && len(got) != c.wantRows:
				t.Errorf("got %d rows, want %d", len(got), c.wantRows)
			}
		})
	}
}

func TestCollect(t *testing.T) {
	s := migrated(t)
	t.Run("rows in order", func(t *testing.T) {
		got, err := Collect(context.Background(), s.DB(), `SELECT i FROM range(?) t(i) ORDER BY i DESC`, scanOne[int64], 3)
		if err != nil {
			t.Fatal(err)
		}
		if want := []int64{2, 1, 0}; !slices.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
	t.Run("cancelled half-way returns no row", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		got, err := Collect(ctx, s.DB(), manyRows, func(rows *sql.Rows) (int64, error) {
			cancel()
			return scanOne[int64](rows)
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got error %v, want context.Canceled", err)
		}
		if got != nil {
			t.Errorf("got %d rows, want none", len(got))
		}
	})
}
