package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// Allow says which kinds of statement an ad-hoc SQL string may run.
type Allow int

const (
	// ReadOnly runs statements that only read: SELECT in all its forms
	// (WITH, FROM-first, VALUES, SHOW, DESCRIBE, SUMMARIZE, reading PRAGMAs)
	// and EXPLAIN of one. It is what `query` runs over the Parquet tree.
	ReadOnly Allow = iota + 1
	// Maintenance runs what an operator needs on the store (reads, writes,
	// DDL, transactions, CHECKPOINT) and refuses what would reach beyond it:
	// ATTACH, DETACH, COPY, EXPORT, INSTALL, LOAD, SET and PRAGMA settings,
	// PREPARE and EXECUTE.
	Maintenance
)

// ErrRefused means a statement's kind is not one the caller runs.
var ErrRefused = errors.New("statement refused")

// ErrTooLarge means an answer grew past its byte cap.
var ErrTooLarge = errors.New("answer too large")

// Limits bound an ad-hoc SQL string: which statements run, and how many rows
// and bytes its answer may hold.
type Limits struct {
	Allow Allow
	// MaxRows cuts the answer short after this many rows (0: no limit).
	MaxRows int
	// MaxBytes fails the statement once the answer, as JSON, passes this
	// many bytes (0: no limit).
	MaxBytes int64
}

// statementNames name DuckDB's statement kinds in refusals. The driver
// reports CHECKPOINT as a CALL and INSTALL as a LOAD.
var statementNames = map[duckdb.StmtType]string{
	duckdb.STATEMENT_TYPE_SELECT:       "SELECT",
	duckdb.STATEMENT_TYPE_INSERT:       "INSERT",
	duckdb.STATEMENT_TYPE_UPDATE:       "UPDATE",
	duckdb.STATEMENT_TYPE_EXPLAIN:      "EXPLAIN",
	duckdb.STATEMENT_TYPE_DELETE:       "DELETE",
	duckdb.STATEMENT_TYPE_PREPARE:      "PREPARE",
	duckdb.STATEMENT_TYPE_CREATE:       "CREATE",
	duckdb.STATEMENT_TYPE_EXECUTE:      "EXECUTE",
	duckdb.STATEMENT_TYPE_ALTER:        "ALTER",
	duckdb.STATEMENT_TYPE_TRANSACTION:  "BEGIN/COMMIT/ROLLBACK",
	duckdb.STATEMENT_TYPE_COPY:         "COPY",
	duckdb.STATEMENT_TYPE_ANALYZE:      "ANALYZE",
	duckdb.STATEMENT_TYPE_VARIABLE_SET: "SET VARIABLE",
	duckdb.STATEMENT_TYPE_CREATE_FUNC:  "CREATE FUNCTION",
	duckdb.STATEMENT_TYPE_DROP:         "DROP",
	duckdb.STATEMENT_TYPE_EXPORT:       "EXPORT",
	duckdb.STATEMENT_TYPE_PRAGMA:       "PRAGMA",
	duckdb.STATEMENT_TYPE_VACUUM:       "VACUUM/ANALYZE",
	duckdb.STATEMENT_TYPE_CALL:         "CALL/CHECKPOINT",
	duckdb.STATEMENT_TYPE_SET:          "SET/RESET/USE",
	duckdb.STATEMENT_TYPE_LOAD:         "INSTALL/LOAD",
	duckdb.STATEMENT_TYPE_EXTENSION:    "extension statement",
	duckdb.STATEMENT_TYPE_ATTACH:       "ATTACH",
	duckdb.STATEMENT_TYPE_DETACH:       "DETACH",
	duckdb.STATEMENT_TYPE_MULTI:        "multi-statement",
}

func statementName(t duckdb.StmtType) string {
	if n, ok := statementNames[t]; ok {
		return n
	}
	return fmt.Sprintf("statement kind %d", t)
}

// allowed lists the kinds each Allow runs; everything else is refused, so a
// kind a later DuckDB adds is refused until someone decides otherwise.
var allowed = map[Allow]map[duckdb.StmtType]bool{
	ReadOnly: {duckdb.STATEMENT_TYPE_SELECT: true, duckdb.STATEMENT_TYPE_EXPLAIN: true},
	Maintenance: {
		duckdb.STATEMENT_TYPE_SELECT: true, duckdb.STATEMENT_TYPE_EXPLAIN: true,
		duckdb.STATEMENT_TYPE_INSERT: true, duckdb.STATEMENT_TYPE_UPDATE: true, duckdb.STATEMENT_TYPE_DELETE: true,
		duckdb.STATEMENT_TYPE_CREATE: true, duckdb.STATEMENT_TYPE_CREATE_FUNC: true, duckdb.STATEMENT_TYPE_ALTER: true,
		duckdb.STATEMENT_TYPE_DROP: true, duckdb.STATEMENT_TYPE_TRANSACTION: true, duckdb.STATEMENT_TYPE_ANALYZE: true,
		duckdb.STATEMENT_TYPE_VACUUM: true, duckdb.STATEMENT_TYPE_CALL: true,
	},
}

// refusalHint says, after a refusal, what runs instead.
var refusalHint = map[Allow]string{
	ReadOnly:    "only statements that read run here (SELECT, WITH, FROM, VALUES, SHOW, DESCRIBE, SUMMARIZE, EXPLAIN)",
	Maintenance: "admin SQL works on the store alone: ATTACH, DETACH, COPY, EXPORT, INSTALL, LOAD, SET, PRAGMA settings, PREPARE and EXECUTE are not run",
}

// Vet checks every statement of query against allow without running any:
// what a statement does is decided by DuckDB's own parser (the driver's
// statement type); a statement's first word only words the refusal when
// DuckDB cannot prepare it at all.
func Vet(ctx context.Context, conn *sql.Conn, query string, allow Allow) error {
	pieces := SplitStatements(query)
	if len(pieces) == 0 {
		return errors.New("no statement given")
	}
	for i, p := range pieces {
		if _, err := vet(conn, p, allow, i, len(pieces)); err != nil {
			return err
		}
	}
	return nil
}

// vet prepares one statement (which parses and binds it, never runs it) and
// checks its kind. An EXPLAIN is checked by what it explains: EXPLAIN
// ANALYZE runs the statement.
func vet(conn *sql.Conn, piece string, allow Allow, i, n int) (duckdb.StmtType, error) {
	where := ""
	if n > 1 {
		where = fmt.Sprintf(" (statement %d of %d)", i+1, n)
	}
	kind, err := statementType(conn, piece)
	if err != nil {
		// DuckDB could not bind it (DELETE from a view, COPY from a file
		// that is not there): it would not have run. Its first word still
		// says whether it would have been refused, which is the clearer
		// answer.
		if kw := leadingKeyword(piece); kw != "" && refusedKeywords[allow][kw] && !errors.Is(err, ErrRefused) {
			return 0, fmt.Errorf("%w: %s%s: %s", ErrRefused, kw, where, refusalHint[allow])
		}
		return 0, err
	}
	if !allowed[allow][kind] {
		return 0, fmt.Errorf("%w: %s%s: %s", ErrRefused, statementName(kind), where, refusalHint[allow])
	}
	if kind == duckdb.STATEMENT_TYPE_EXPLAIN {
		inner, ok := explained(piece)
		if !ok {
			return 0, fmt.Errorf("%w: EXPLAIN%s whose statement could not be read: %s", ErrRefused, where, refusalHint[allow])
		}
		innerKind, err := statementType(conn, inner)
		if err != nil {
			return 0, err
		}
		if innerKind == duckdb.STATEMENT_TYPE_EXPLAIN || !allowed[allow][innerKind] {
			return 0, fmt.Errorf("%w: EXPLAIN of %s%s: %s", ErrRefused, statementName(innerKind), where, refusalHint[allow])
		}
	}
	return kind, nil
}

func statementType(conn *sql.Conn, piece string) (duckdb.StmtType, error) {
	var kind duckdb.StmtType
	err := prepared(conn, piece, func(st *duckdb.Stmt) error {
		var err error
		kind, err = st.StatementType()
		return err
	})
	switch {
	case err == nil:
	case strings.Contains(err.Error(), "multi-statement"):
		return 0, fmt.Errorf("%w: %q expands to several statements; write them one by one (PIVOT needs an explicit IN list)", ErrRefused, firstLine(strings.TrimSpace(piece)))
	case strings.HasPrefix(err.Error(), "Permission Error"):
		// Binding already touched a file beyond the allowed ones (COPY TO
		// /tmp/x, read_text('/etc/passwd')): DuckDB's confinement refused it.
		return 0, fmt.Errorf("%w: %v", ErrRefused, firstLine(err.Error()))
	}
	return kind, err
}

// refusedKeywords are the first words of statements each Allow refuses,
// for the message when DuckDB cannot even prepare one.
var refusedKeywords = map[Allow]map[string]bool{
	ReadOnly: setOf("INSERT", "UPDATE", "DELETE", "MERGE", "COPY", "ATTACH", "DETACH", "INSTALL", "FORCE", "LOAD", "SET", "RESET",
		"USE", "EXPORT", "IMPORT", "CREATE", "DROP", "ALTER", "CALL", "CHECKPOINT", "BEGIN", "COMMIT", "ROLLBACK", "ABORT",
		"START", "END", "PREPARE", "EXECUTE", "DEALLOCATE", "VACUUM", "ANALYZE", "TRUNCATE", "COMMENT"),
	Maintenance: setOf("COPY", "ATTACH", "DETACH", "INSTALL", "FORCE", "LOAD", "SET", "RESET", "USE", "EXPORT", "IMPORT",
		"PREPARE", "EXECUTE"),
}

func setOf(words ...string) map[string]bool {
	m := map[string]bool{}
	for _, w := range words {
		m[w] = true
	}
	return m
}

// leadingKeyword is a statement's first word, upper-cased.
func leadingKeyword(piece string) string {
	s := skipComments(piece)
	end := 0
	for end < len(s) && (s[end] >= 'a' && s[end] <= 'z' || s[end] >= 'A' && s[end] <= 'Z') {
		end++
	}
	return strings.ToUpper(s[:end])
}

// explained is the statement an EXPLAIN statement explains: the text after
// EXPLAIN, its ANALYZE keyword or its parenthesised options.
func explained(piece string) (string, bool) {
	s := strings.TrimSpace(skipComments(piece))
	if len(s) < 7 || !strings.EqualFold(s[:7], "explain") {
		return "", false
	}
	s = strings.TrimSpace(s[7:])
	if strings.HasPrefix(s, "(") {
		end := strings.IndexByte(s, ')')
		if end < 0 {
			return "", false
		}
		s = strings.TrimSpace(s[end+1:])
	}
	for _, kw := range []string{"analyze", "analyse"} {
		if len(s) > len(kw) && strings.EqualFold(s[:len(kw)], kw) && (s[len(kw)] == ' ' || s[len(kw)] == '\n' || s[len(kw)] == '\t' || s[len(kw)] == '\r') {
			s = strings.TrimSpace(s[len(kw):])
		}
	}
	return s, s != ""
}

// skipComments drops leading comments.
func skipComments(s string) string {
	for {
		s = strings.TrimSpace(s)
		switch {
		case strings.HasPrefix(s, "--"):
			i := strings.IndexByte(s, '\n')
			if i < 0 {
				return ""
			}
			s = s[i+1:]
		case strings.HasPrefix(s, "/*"):
			i := strings.Index(s, "*/")
			if i < 0 {
				return ""
			}
			s = s[i+2:]
		default:
			return s
		}
	}
}

// SplitStatements cuts query at the semicolons that end statements, leaving
// those inside strings, quoted names, dollar-quoted bodies and comments; the
// pieces that hold only blanks and comments are dropped. It need not be
// perfect: each piece is prepared alone before it runs, and DuckDB refuses a
// piece that holds more than one statement or a cut string.
func SplitStatements(query string) []string {
	var out []string
	start, token := 0, false
	flush := func(end int) {
		if token {
			out = append(out, query[start:end])
		}
		start, token = end+1, false
	}
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == ';':
			flush(i)
		case c == '-' && i+1 < len(query) && query[i+1] == '-':
			for i < len(query) && query[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(query) && query[i+1] == '*':
			depth := 0
			for ; i+1 < len(query); i++ {
				if query[i] == '/' && query[i+1] == '*' {
					depth++
					i++
				} else if query[i] == '*' && query[i+1] == '/' {
					depth--
					i++
					if depth == 0 {
						break
					}
				}
			}
		case c == '\'' || c == '"':
			token = true
			backslash := c == '\'' && i > 0 && (query[i-1] == 'E' || query[i-1] == 'e') && (i == 1 || !identChar(query[i-2]))
			for i++; i < len(query); i++ {
				if backslash && query[i] == '\\' {
					i++
					continue
				}
				if query[i] == c {
					if i+1 < len(query) && query[i+1] == c {
						i++
						continue
					}
					break
				}
			}
		case c == '$':
			token = true
			if tag, ok := dollarTag(query[i:]); ok {
				end := strings.Index(query[i+len(tag):], tag)
				if end < 0 {
					i = len(query)
				} else {
					i += len(tag) + end + len(tag) - 1
				}
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
		default:
			token = true
		}
	}
	flush(len(query))
	return out
}

// dollarTag is the opening $tag$ of a dollar-quoted string at the start of
// s; $1 (a parameter) is not one.
func dollarTag(s string) (string, bool) {
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '$':
			return s[:i+1], true
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80:
		case c >= '0' && c <= '9' && i > 1:
		default:
			return "", false
		}
	}
	return "", false
}

func identChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// RunChecked runs an ad-hoc SQL string on conn one statement at a time,
// checking each statement's kind right before it runs, and returns the
// answer of the last one, within lim. Values come back as RunSQL's do.
func RunChecked(ctx context.Context, conn *sql.Conn, query string, lim Limits) (res *Result, err error) {
	pieces := SplitStatements(query)
	if len(pieces) == 0 {
		return nil, errors.New("no statement given")
	}
	if lim.Allow == ReadOnly {
		// Reads create nothing a later statement could need, so all are
		// checked before the first runs: a refusal leaves nothing half
		// done.
		if err := Vet(ctx, conn, query, lim.Allow); err != nil {
			return nil, err
		}
	}
	for i, p := range pieces {
		kind, err := vet(conn, p, lim.Allow, i, len(pieces))
		if err != nil {
			return nil, err
		}
		if i < len(pieces)-1 {
			if _, err := conn.ExecContext(ctx, p); err != nil {
				return nil, err
			}
			continue
		}
		if kind == duckdb.STATEMENT_TYPE_SELECT && lim.MaxBytes > 0 {
			// The driver holds DuckDB's whole answer in memory before the
			// first row is read: a query whose answer is over the cap must
			// stop inside DuckDB. A statement that cannot be a subquery
			// (PRAGMA) runs as it is, capped on this side only.
			// The subquery renames duplicate column names (a, a_1): the
			// answer keeps the statement's own.
			names, err := columnNames(conn, p)
			if capped := capAnswer(p, lim); err == nil && statementTypeOK(conn, capped) {
				p = capped
				defer func() {
					if res != nil && len(res.Columns) == len(names) {
						res.Columns = names
					}
				}()
			}
		}
		rows, err := conn.QueryContext(ctx, p)
		if err != nil {
			return nil, tooLarge(err, lim)
		}
		defer rows.Close()
		res, err = collect(rows, lim)
		return res, tooLarge(err, lim)
	}
	return nil, nil
}

// overCap is the message of the error DuckDB raises inside a capped answer.
const overCap = "jiraduck: answer over its byte cap"

// capAnswer wraps a SELECT so that DuckDB itself fails it as soon as the
// rows it has produced pass lim.MaxBytes as JSON, and stops at lim.MaxRows.
// The running sum is a streaming window (no ORDER BY, no PARTITION BY): it
// keeps the statement's order and holds no rows back. Its filter cannot be
// optimised away, as an unused column would be.
func capAnswer(piece string, lim Limits) string {
	limit := ""
	if lim.MaxRows > 0 {
		limit = fmt.Sprintf(" LIMIT %d", lim.MaxRows)
	}
	return fmt.Sprintf(`SELECT * EXCLUDE (__jiraduck_bytes) FROM (
SELECT *, sum(strlen(__jiraduck_row::VARCHAR)) OVER (ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS __jiraduck_bytes FROM (
%s
) AS __jiraduck_row
) WHERE CASE WHEN __jiraduck_bytes > %d THEN error('%s') ELSE true END%s`, piece, lim.MaxBytes, overCap, limit)
}

// columnNames are the names of a prepared statement's columns.
func columnNames(conn *sql.Conn, piece string) ([]string, error) {
	var names []string
	err := prepared(conn, piece, func(st *duckdb.Stmt) error {
		n, err := st.ColumnCount()
		if err != nil {
			return err
		}
		for i := range n {
			name, err := st.ColumnName(i)
			if err != nil {
				return err
			}
			names = append(names, name)
		}
		return nil
	})
	return names, err
}

// prepared prepares piece on conn's DuckDB connection, without running it,
// and hands the statement to fn. Prepare without a context refuses a string
// DuckDB reads as more than one statement (PIVOT without IN, IMPORT DATABASE
// expand to several), where PrepareContext would run all but the last.
func prepared(conn *sql.Conn, piece string, fn func(st *duckdb.Stmt) error) error {
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*duckdb.Conn)
		if !ok {
			return fmt.Errorf("not a DuckDB connection: %T", dc)
		}
		st, err := c.Prepare(piece)
		if err != nil {
			return err
		}
		defer st.Close()
		ds, ok := st.(*duckdb.Stmt)
		if !ok {
			return fmt.Errorf("not a DuckDB statement: %T", st)
		}
		return fn(ds)
	})
}

func statementTypeOK(conn *sql.Conn, piece string) bool {
	kind, err := statementType(conn, piece)
	return err == nil && kind == duckdb.STATEMENT_TYPE_SELECT
}

// tooLarge turns DuckDB's over-the-cap error into ErrTooLarge.
func tooLarge(err error, lim Limits) error {
	if err != nil && strings.Contains(err.Error(), overCap) {
		return fmt.Errorf("%w: more than %d bytes; select fewer rows or columns, or shorter values", ErrTooLarge, lim.MaxBytes)
	}
	return err
}

// collect reads rows into a Result, one row at a time, counting the bytes
// each adds to the JSON answer so that a huge answer fails near its cap
// instead of being held whole.
func collect(rows *sql.Rows, lim Limits) (*Result, error) {
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	res := &Result{Columns: cols, Rows: [][]any{}}
	var size countingWriter
	enc := json.NewEncoder(&size)
	if err := enc.Encode(res); err != nil {
		return nil, err
	}
	err = eachRow(rows, func(rows *sql.Rows) error {
		vals, err := scanPlain(rows, len(cols))
		if err != nil {
			return err
		}
		if lim.MaxBytes > 0 {
			if err := enc.Encode(vals); err != nil {
				return err
			}
			if size.n > lim.MaxBytes {
				return fmt.Errorf("%w: more than %d bytes after %d rows; select fewer rows or columns, or shorter values", ErrTooLarge, lim.MaxBytes, len(res.Rows))
			}
		}
		res.Rows = append(res.Rows, vals)
		if lim.MaxRows > 0 && len(res.Rows) >= lim.MaxRows {
			return errStop
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

// RunIsolated runs an operator's SQL, after any other RunIsolated has
// finished, on a connection of its own that never goes back to the pool: a transaction the statements leave open (or
// aborted), a USE or a session variable goes with it, and the writer, the
// exporter and the intake never inherit it.
func (s *Store) RunIsolated(ctx context.Context, query string, lim Limits) (*Result, error) {
	select {
	case s.isolated <- struct{}{}:
		defer func() { <-s.isolated }()
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the statement already running: %w", ctx.Err())
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connection: %w", err)
	}
	defer func() {
		// DuckDB rolls back what a closed connection held open; the
		// explicit ROLLBACK releases it even before, and fails harmlessly
		// when no transaction is open.
		_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		_ = conn.Close()
	}()
	return RunChecked(ctx, conn, query, lim)
}
