package emulator

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// The emulator understands the JQL jiraduck sends: clauses on project, key,
// id, created and updated joined by AND, and ORDER BY created, updated, key or
// id. Date values are epoch milliseconds (what Jira reads the same in every
// time zone) or relative offsets such as -15m. Anything else is answered with
// a 400, like a query Jira cannot parse.

type jqlError struct{ msg string }

// Error implements error; the message is the one Jira would send.
func (e *jqlError) Error() string { return e.msg }

func jqlErrorf(format string, args ...any) error { return &jqlError{fmt.Sprintf(format, args...)} }

type token struct {
	text   string
	quoted bool
	pos    int
}

func tokenize(q string) ([]token, error) {
	var out []token
	rs := []rune(q)
	for i := 0; i < len(rs); {
		c := rs[i]
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '(' || c == ')' || c == ',':
			out = append(out, token{text: string(c), pos: i})
			i++
		case c == '"' || c == '\'':
			j := i + 1
			var b strings.Builder
			for j < len(rs) && rs[j] != c {
				if rs[j] == '\\' && j+1 < len(rs) {
					j++
				}
				b.WriteRune(rs[j])
				j++
			}
			if j >= len(rs) {
				return nil, jqlErrorf("Error in the JQL Query: The quoted string starting at character %d has not been completed.", i+1)
			}
			out = append(out, token{text: b.String(), quoted: true, pos: i})
			i = j + 1
		case strings.ContainsRune("=!<>~", c):
			j := i + 1
			if j < len(rs) && rs[j] == '=' {
				j++
			}
			out = append(out, token{text: string(rs[i:j]), pos: i})
			i = j
		default:
			j := i
			for j < len(rs) && !unicode.IsSpace(rs[j]) && !strings.ContainsRune("()=,!<>~\"'", rs[j]) {
				j++
			}
			out = append(out, token{text: string(rs[i:j]), pos: i})
			i = j
		}
	}
	return out, nil
}

type clauseKind uint8

const (
	clauseProject clauseKind = iota
	clauseKey
	clauseID
	clauseCreated
	clauseUpdated
)

type clause struct {
	kind   clauseKind
	negate bool
	// values of project, key and id clauses, as written.
	values []string
	// op and millis of date clauses.
	op     string
	millis int64
}

type orderKind uint8

const (
	orderCreated orderKind = iota
	orderUpdated
	orderKey
	orderID
)

type order struct {
	kind orderKind
	desc bool
}

type query struct {
	text    string
	clauses []clause
	orders  []order
}

// parseJQL parses q; now resolves relative dates.
func parseJQL(q string, now time.Time) (*query, error) {
	toks, err := tokenize(q)
	if err != nil {
		return nil, err
	}
	p := &jqlParser{toks: toks, now: now}
	out := &query{text: q}
	if err := p.parse(out); err != nil {
		return nil, err
	}
	if len(out.orders) == 0 {
		// Jira's default order: key, newest first.
		out.orders = []order{{kind: orderKey, desc: true}}
	}
	return out, nil
}

var dateOps = map[string]bool{"=": true, ">": true, ">=": true, "<": true, "<=": true}

type jqlParser struct {
	toks []token
	i    int
	now  time.Time
}

func (p *jqlParser) peek() *token {
	if p.i < len(p.toks) {
		return &p.toks[p.i]
	}
	return nil
}

func (p *jqlParser) next() *token {
	t := p.peek()
	if t != nil {
		p.i++
	}
	return t
}

func (p *jqlParser) is(word string) bool {
	t := p.peek()
	return t != nil && !t.quoted && strings.EqualFold(t.text, word)
}

func (p *jqlParser) unexpected(want string) error {
	t := p.peek()
	if t == nil {
		return jqlErrorf("Error in the JQL Query: Expecting %s but reached the end of the query.", want)
	}
	return jqlErrorf("Error in the JQL Query: Expecting %s but got '%s'. (line 1, character %d)", want, t.text, t.pos+1)
}

func (p *jqlParser) parse(q *query) error {
	for p.peek() != nil && !p.is("order") {
		if len(q.clauses) > 0 {
			if !p.is("and") {
				if p.is("or") || p.is("not") {
					return jqlErrorf("Error in the JQL Query: '%s' is not supported by the jiraduck emulator; join clauses with AND.", p.peek().text)
				}
				return p.unexpected("either 'OR' or 'AND'")
			}
			p.next()
		}
		c, err := p.clause()
		if err != nil {
			return err
		}
		q.clauses = append(q.clauses, c)
	}
	if p.is("order") {
		p.next()
		if !p.is("by") {
			return p.unexpected("'by'")
		}
		p.next()
		for {
			t := p.next()
			if t == nil {
				return p.unexpected("a field name")
			}
			var o order
			switch strings.ToLower(t.text) {
			case "created", "createddate":
				o.kind = orderCreated
			case "updated", "updateddate":
				o.kind = orderUpdated
			case "key", "issuekey":
				o.kind = orderKey
			case "id":
				o.kind = orderID
			default:
				return jqlErrorf("Error in the JQL Query: ordering by '%s' is not supported by the jiraduck emulator; use created, updated, key or id.", t.text)
			}
			if p.is("asc") {
				p.next()
			} else if p.is("desc") {
				p.next()
				o.desc = true
			}
			q.orders = append(q.orders, o)
			if p.peek() == nil {
				break
			}
			if p.peek().text != "," {
				return p.unexpected("',' or the end of the query")
			}
			p.next()
		}
	}
	if p.peek() != nil {
		return p.unexpected("the end of the query")
	}
	return nil
}

func (p *jqlParser) clause() (clause, error) {
	t := p.next()
	if t == nil {
		return clause{}, p.unexpected("a field name")
	}
	var c clause
	switch strings.ToLower(t.text) {
	case "project":
		c.kind = clauseProject
	case "key", "issuekey", "issue":
		c.kind = clauseKey
	case "id":
		c.kind = clauseID
	case "created", "createddate":
		c.kind = clauseCreated
	case "updated", "updateddate":
		c.kind = clauseUpdated
	case "(":
		return c, jqlErrorf("Error in the JQL Query: parentheses are not supported by the jiraduck emulator.")
	default:
		return c, jqlErrorf("Error in the JQL Query: the field '%s' is not supported by the jiraduck emulator; use project, key, id, created or updated.", t.text)
	}
	if c.kind == clauseCreated || c.kind == clauseUpdated {
		op := p.peek()
		if op == nil || op.quoted || !dateOps[op.text] {
			return c, p.unexpected("an operator (=, >, >=, <, <=)")
		}
		p.next()
		c.op = op.text
		v := p.next()
		if v == nil {
			return c, p.unexpected("a date")
		}
		ms, err := p.dateValue(v)
		if err != nil {
			return c, err
		}
		c.millis = ms
		return c, nil
	}
	switch {
	case p.is("not"):
		p.next()
		if !p.is("in") {
			return c, p.unexpected("'IN'")
		}
		c.negate = true
		fallthrough
	case p.is("in"):
		p.next()
		if t := p.peek(); t == nil || t.text != "(" || t.quoted {
			return c, p.unexpected("'('")
		}
		p.next()
		for {
			v := p.peek()
			if v == nil || (!v.quoted && (v.text == ")" || v.text == ",")) {
				return c, p.unexpected("a value")
			}
			p.next()
			c.values = append(c.values, v.text)
			sep := p.peek()
			if sep == nil || sep.quoted || (sep.text != ")" && sep.text != ",") {
				return c, p.unexpected("',' or ')'")
			}
			p.next()
			if sep.text == ")" {
				break
			}
		}
	default:
		op := p.peek()
		if op == nil || op.quoted || (op.text != "=" && op.text != "!=") {
			return c, p.unexpected("'=', '!=' or 'IN'")
		}
		p.next()
		c.negate = op.text == "!="
		v := p.next()
		if v == nil {
			return c, p.unexpected("a value")
		}
		c.values = []string{v.text}
	}
	return c, nil
}

// dateValue reads epoch milliseconds or a relative offset (-15m, -2h, -1d,
// -1w) from now.
func (p *jqlParser) dateValue(t *token) (int64, error) {
	s := strings.TrimSpace(t.text)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	if len(s) >= 2 && (s[0] == '-' || s[0] == '+') {
		n, err := strconv.ParseInt(s[1:len(s)-1], 10, 64)
		unit := map[byte]time.Duration{'m': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[s[len(s)-1]]
		if err == nil && unit > 0 {
			d := time.Duration(n) * unit
			if s[0] == '-' {
				d = -d
			}
			return p.now.Add(d).UnixMilli(), nil
		}
	}
	return 0, jqlErrorf("Error in the JQL Query: the date '%s' is not supported by the jiraduck emulator; use epoch milliseconds or a relative date such as -1d.", s)
}
