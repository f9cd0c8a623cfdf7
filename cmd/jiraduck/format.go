package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/jiraduck/jiraduck/internal/store"
)

func validFormat(f string) bool { return f == "table" || f == "csv" || f == "json" }

// writeResult prints a result as an aligned table, CSV or JSON (one object per row).
func writeResult(w io.Writer, res *store.Result, format string) error {
	switch format {
	case "csv":
		cw := csv.NewWriter(w)
		if err := cw.Write(res.Columns); err != nil {
			return err
		}
		for _, row := range res.Rows {
			rec := make([]string, len(row))
			for i, v := range row {
				rec[i] = cell(v, "")
			}
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	case "json":
		out := make([]map[string]any, 0, len(res.Rows))
		for _, row := range res.Rows {
			m := make(map[string]any, len(row))
			for i, v := range row {
				m[res.Columns[i]] = v
			}
			out = append(out, m)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	return writeTable(w, res)
}

// maxCell caps a table cell; descriptions can be pages long.
const maxCell = 60

func writeTable(w io.Writer, res *store.Result) error {
	cells := make([][]string, 0, len(res.Rows)+1)
	cells = append(cells, res.Columns)
	for _, row := range res.Rows {
		rec := make([]string, len(row))
		for i, v := range row {
			rec[i] = cell(v, "NULL")
			if utf8.RuneCountInString(rec[i]) > maxCell {
				r := []rune(rec[i])
				rec[i] = string(r[:maxCell-1]) + "…"
			}
		}
		cells = append(cells, rec)
	}
	widths := make([]int, len(res.Columns))
	for _, rec := range cells {
		for i, c := range rec {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	line := func(rec []string) {
		for i, c := range rec {
			if i > 0 {
				b.WriteString("  ")
			}
			pad := widths[i] - utf8.RuneCountInString(c)
			if _, num := numeric(res, i); num {
				b.WriteString(strings.Repeat(" ", pad) + c)
			} else if i < len(rec)-1 {
				b.WriteString(c + strings.Repeat(" ", pad))
			} else {
				b.WriteString(c)
			}
		}
		b.WriteString("\n")
	}
	line(cells[0])
	sep := make([]string, len(widths))
	for i, n := range widths {
		sep[i] = strings.Repeat("-", n)
	}
	line(sep)
	for _, rec := range cells[1:] {
		line(rec)
	}
	fmt.Fprintf(&b, "(%d row%s)\n", len(res.Rows), plural(len(res.Rows)))
	_, err := io.WriteString(w, b.String())
	return err
}

// numeric reports whether column i holds only numbers, to right-align it.
func numeric(res *store.Result, i int) (int, bool) {
	seen := 0
	for _, row := range res.Rows {
		switch row[i].(type) {
		case nil:
		case int, int8, int16, int32, int64, uint8, uint16, uint32, uint64, float32, float64:
			seen++
		default:
			return 0, false
		}
	}
	return seen, seen > 0
}

func cell(v any, null string) string {
	switch x := v.(type) {
	case nil:
		return null
	case string:
		return strings.ReplaceAll(strings.ReplaceAll(x, "\r", ""), "\n", "⏎")
	case []any, map[string]any:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return fmt.Sprint(v)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
