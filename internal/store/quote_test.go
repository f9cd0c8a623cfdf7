package store

import (
	"context"
	"testing"
)

// TestQuote reads each string back through DuckDB from its literal.
func TestQuote(t *testing.T) {
	s := migrated(t)
	cases := []struct{ name, in string }{
		{"plain", "/data/parquet"},
		{"empty", ""},
		{"quote inside", "O'Brien's folder"},
		{"quotes at the ends", "'x'"},
		{"doubled quotes", "''"},
		{"backslash and newline", `a\b` + "\nc"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got string
			if err := s.DB().QueryRowContext(context.Background(), "SELECT "+Quote(c.in)).Scan(&got); err != nil {
				t.Fatalf("select %s: %v", Quote(c.in), err)
			}
			if got != c.in {
				t.Errorf("got %q, want %q", got, c.in)
			}
		})
	}
}
