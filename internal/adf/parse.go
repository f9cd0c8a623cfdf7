package adf

import (
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// parseJSON decodes a JSON document into the generic values encoding/json's
// Unmarshal gives an `any` (map[string]any, []any, string, float64, bool,
// nil), and fails where it fails: on any syntax error, a number out of
// float64's range, or nesting deeper than its 10,000 levels. Strings are
// unquoted the same way: invalid UTF-8 and lone surrogates become U+FFFD.
//
// It exists for speed. Every issue description and comment body is decoded
// this way in backfill and rebuild, and encoding/json's reflection-driven
// decoder was a large share of the CPU of normalizing a stored issue; the
// segmentio decoder of internal/jsonx is quadratic in the nesting of generic
// values, which a hostile document controls. FuzzParseJSON checks that the
// results equal encoding/json's for any input.
func parseJSON(data []byte) (any, error) {
	p := jsonParser{data: data}
	p.skipSpace()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos != len(p.data) {
		return nil, p.syntax("after top-level value")
	}
	return v, nil
}

// maxParseDepth is encoding/json's nesting limit.
const maxParseDepth = 10000

var errParseDepth = errors.New("json: exceeded max depth")

type jsonParser struct {
	data []byte
	pos  int
}

// jsonSyntaxError reports where a document stops being JSON.
type jsonSyntaxError struct {
	what string
	pos  int
}

func (e *jsonSyntaxError) Error() string {
	return "json: invalid character " + e.what + " at offset " + strconv.Itoa(e.pos)
}

func (p *jsonParser) syntax(what string) error { return &jsonSyntaxError{what: what, pos: p.pos} }

func (p *jsonParser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// value parses the value at p.pos; depth counts the containers around it.
func (p *jsonParser) value(depth int) (any, error) {
	if p.pos >= len(p.data) {
		return nil, p.syntax("end of input")
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object(depth + 1)
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		return p.str()
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	}
	return nil, p.syntax("looking for beginning of value")
}

func (p *jsonParser) literal(word string) error {
	if len(p.data)-p.pos < len(word) || string(p.data[p.pos:p.pos+len(word)]) != word {
		return p.syntax("in literal")
	}
	p.pos += len(word)
	return nil
}

func (p *jsonParser) object(depth int) (any, error) {
	if depth > maxParseDepth {
		return nil, errParseDepth
	}
	p.pos++ // {
	obj := map[string]any{}
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return obj, nil
	}
	for {
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return nil, p.syntax("looking for beginning of object key string")
		}
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return nil, p.syntax("after object key")
		}
		p.pos++
		p.skipSpace()
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		obj[key] = v
		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, p.syntax("end of input in object")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
			p.skipSpace()
		case '}':
			p.pos++
			return obj, nil
		default:
			return nil, p.syntax("after object key:value pair")
		}
	}
}

func (p *jsonParser) array(depth int) (any, error) {
	if depth > maxParseDepth {
		return nil, errParseDepth
	}
	p.pos++ // [
	arr := []any{}
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return arr, nil
	}
	for {
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, p.syntax("end of input in array")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
			p.skipSpace()
		case ']':
			p.pos++
			return arr, nil
		default:
			return nil, p.syntax("after array element")
		}
	}
}

// number parses a number as JSON's grammar has it and converts it as
// encoding/json does for an `any`.
func (p *jsonParser) number() (any, error) {
	start := p.pos
	d := p.data
	if d[p.pos] == '-' {
		p.pos++
	}
	switch {
	case p.pos < len(d) && d[p.pos] == '0':
		p.pos++
	case p.pos < len(d) && d[p.pos] >= '1' && d[p.pos] <= '9':
		p.digits()
	default:
		return nil, p.syntax("in numeric literal")
	}
	if p.pos < len(d) && d[p.pos] == '.' {
		p.pos++
		if !p.digits() {
			return nil, p.syntax("after decimal point in numeric literal")
		}
	}
	if p.pos < len(d) && (d[p.pos] == 'e' || d[p.pos] == 'E') {
		p.pos++
		if p.pos < len(d) && (d[p.pos] == '+' || d[p.pos] == '-') {
			p.pos++
		}
		if !p.digits() {
			return nil, p.syntax("in exponent of numeric literal")
		}
	}
	f, err := strconv.ParseFloat(string(d[start:p.pos]), 64)
	if err != nil {
		return nil, errors.New("json: cannot unmarshal number " + string(d[start:p.pos]) + " into a float64")
	}
	return f, nil
}

// digits skips a run of digits and reports whether there was one.
func (p *jsonParser) digits() bool {
	start := p.pos
	for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
		p.pos++
	}
	return p.pos > start
}

// str parses a string at p.pos (its opening quote).
func (p *jsonParser) str() (string, error) {
	p.pos++ // "
	d := p.data
	// The common case: no escapes and only valid UTF-8, copied once.
	start := p.pos
	for p.pos < len(d) {
		c := d[p.pos]
		switch {
		case c == '"':
			s := string(d[start:p.pos])
			p.pos++
			return s, nil
		case c == '\\' || c >= utf8.RuneSelf:
			return p.strSlow(start)
		case c < 0x20:
			return "", p.syntax("in string literal")
		}
		p.pos++
	}
	return "", p.syntax("end of input in string literal")
}

// strSlow finishes a string that has escapes or non-ASCII bytes; start is
// the first byte after its opening quote and p.pos the first such byte.
func (p *jsonParser) strSlow(start int) (string, error) {
	d := p.data
	buf := make([]byte, 0, p.pos-start+16)
	buf = append(buf, d[start:p.pos]...)
	for p.pos < len(d) {
		c := d[p.pos]
		switch {
		case c == '"':
			p.pos++
			return string(buf), nil
		case c < 0x20:
			return "", p.syntax("in string literal")
		case c == '\\':
			if p.pos+1 >= len(d) {
				return "", p.syntax("end of input in string escape")
			}
			e := d[p.pos+1]
			p.pos += 2
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := p.hex4()
				if !ok {
					return "", p.syntax("in \\u hexadecimal character escape")
				}
				if utf16.IsSurrogate(r) {
					// A pair makes one rune; anything else after a
					// surrogate leaves it alone, and alone it is U+FFFD.
					save := p.pos
					if p.pos+1 < len(d) && d[p.pos] == '\\' && d[p.pos+1] == 'u' {
						p.pos += 2
						if r2, ok := p.hex4(); ok {
							if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
								buf = utf8.AppendRune(buf, dec)
								continue
							}
						}
					}
					p.pos = save
					r = utf8.RuneError
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return "", p.syntax("in string escape code")
			}
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			p.pos++
		default:
			r, size := utf8.DecodeRune(d[p.pos:])
			if r == utf8.RuneError && size == 1 {
				buf = utf8.AppendRune(buf, utf8.RuneError)
			} else {
				buf = append(buf, d[p.pos:p.pos+size]...)
			}
			p.pos += size
		}
	}
	return "", p.syntax("end of input in string literal")
}

// hex4 reads the four hexadecimal digits of a \u escape.
func (p *jsonParser) hex4() (rune, bool) {
	if len(p.data)-p.pos < 4 {
		return 0, false
	}
	var r rune
	for _, c := range p.data[p.pos : p.pos+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	p.pos += 4
	return r, true
}
