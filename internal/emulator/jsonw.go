package emulator

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// enc appends compact JSON to a byte slice. Answers are written with it rather
// than with encoding/json so that keys come out in the order Jira's payloads
// use, the output is byte-identical for a seed, and an issue with a hundred
// comments renders without reflection (backfill benchmarks fetch 100,000 of
// them).
type enc struct {
	b []byte
	// more says a value was written at the current level, so the next one
	// needs a comma.
	more bool
}

func (w *enc) sep() {
	if w.more {
		w.b = append(w.b, ',')
	}
}

func (w *enc) open() {
	w.sep()
	w.b = append(w.b, '{')
	w.more = false
}

func (w *enc) close() {
	w.b = append(w.b, '}')
	w.more = true
}

func (w *enc) openArr() {
	w.sep()
	w.b = append(w.b, '[')
	w.more = false
}

func (w *enc) closeArr() {
	w.b = append(w.b, ']')
	w.more = true
}

func (w *enc) key(k string) {
	w.sep()
	w.b = appendJSONString(w.b, k)
	w.b = append(w.b, ':')
	w.more = false
}

func (w *enc) str(s string) {
	w.sep()
	w.b = appendJSONString(w.b, s)
	w.more = true
}

func (w *enc) int(n int64) {
	w.sep()
	w.b = strconv.AppendInt(w.b, n, 10)
	w.more = true
}

func (w *enc) float(f float64) {
	w.sep()
	w.b = strconv.AppendFloat(w.b, f, 'f', -1, 64)
	w.more = true
}

func (w *enc) bool(v bool) {
	w.sep()
	w.b = strconv.AppendBool(w.b, v)
	w.more = true
}

func (w *enc) null() {
	w.sep()
	w.b = append(w.b, "null"...)
	w.more = true
}

// raw writes a value that is already JSON.
func (w *enc) raw(b []byte) {
	w.sep()
	w.b = append(w.b, b...)
	w.more = true
}

func (w *enc) kstr(k, s string)       { w.key(k); w.str(s) }
func (w *enc) kint(k string, n int64) { w.key(k); w.int(n) }
func (w *enc) kbool(k string, v bool) { w.key(k); w.bool(v) }
func (w *enc) knull(k string)         { w.key(k); w.null() }
func (w *enc) kopen(k string)         { w.key(k); w.open() }
func (w *enc) karr(k string)          { w.key(k); w.openArr() }

// kstrOrNull writes s, or null when it is empty: Jira's way for unset text.
func (w *enc) kstrOrNull(k, s string) {
	w.key(k)
	if s == "" {
		w.null()
		return
	}
	w.str(s)
}

// kstrs writes a list of strings.
func (w *enc) kstrs(k string, list []string) {
	w.karr(k)
	for _, s := range list {
		w.str(s)
	}
	w.closeArr()
}

// ktime writes a timestamp in Jira's format in zone z, or null when zero.
func (w *enc) ktime(k string, t time.Time, z zone) {
	w.key(k)
	if t.IsZero() {
		w.null()
		return
	}
	w.str(jiraTime(t, z))
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as a JSON string. Unlike encoding/json it leaves
// <, > and & alone, as Jira does; invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		// U+2028 and U+2029 are valid JSON but break JavaScript consumers.
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
