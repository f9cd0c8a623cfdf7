package store

import "strings"

// Quote is s as a DuckDB string literal, quotes included: for the paths and
// names that statements such as COPY, ATTACH and SET take, which DuckDB does
// not accept as bound parameters.
func Quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
