// Package jsonx decodes the JSON of Jira's answers and stored payloads, the
// hottest work of backfill and rebuild, with github.com/segmentio/encoding,
// a drop-in for encoding/json's decoder: decoding and normalizing a stored
// issue takes a third of the time (BenchmarkFromStored; the figures are in
// docs/benchmarks.md). Like encoding/json it refuses every document that is not JSON,
// turns invalid UTF-8 into U+FFFD and copies the strings it decodes.
// (goccy/go-json was faster still but fails all three: it accepts garbage in
// what it skips, keeps invalid bytes that DuckDB then refuses, and its
// strings point into the whole input, so one kept issue key held a whole
// payload in memory.) Encoding, and the decoding of webhook bodies, whose
// error messages a sender reads, stay with encoding/json.
package jsonx

import (
	"bytes"
	"encoding/json"
	"fmt"

	segjson "github.com/segmentio/encoding/json"
)

// Unmarshal decodes data into v as encoding/json's Unmarshal does; only the
// wording of errors differs. Generic values (any, map[string]any, []any)
// are decoded by encoding/json: segmentio/encoding takes time that grows with
// the square of their nesting (seconds for a document that encoding/json
// refuses at once at its limit of 10,000 levels), and a document from
// outside may nest that deep. Typed values and raw messages decode in
// time linear in the input.
func Unmarshal(data []byte, v any) error {
	switch v.(type) {
	case *any, *map[string]any, *[]any:
		return json.Unmarshal(data, v)
	}
	return segjson.Unmarshal(data, v)
}

// UnmarshalRaw is Unmarshal for a value whose json.RawMessage fields are
// decoded again at once and then dropped: they point into data instead of
// holding a copy of it, so data must outlive them and stay unchanged.
// Strings are still copied. A rebuild reads every stored payload into a
// bundle of raw messages this way, and the copies were as large as the
// payloads themselves, all of it for the collector to reclaim.
func UnmarshalRaw(data []byte, v any) error {
	switch v.(type) {
	case *any, *map[string]any, *[]any:
		return json.Unmarshal(data, v)
	}
	rest, err := segjson.Parse(data, v, segjson.DontCopyRawMessage)
	if len(rest) != 0 {
		// As Unmarshal: trailing bytes are the error to report.
		if _, ok := err.(*segjson.SyntaxError); !ok {
			err = fmt.Errorf("invalid character %q after top-level value", rest[0])
		}
	}
	return err
}

// IsNull reports whether a raw value is absent or JSON null: Jira leaves out
// some keys and sends null for others, and both mean "no value".
func IsNull(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) == 0 || bytes.Equal(b, []byte("null"))
}
