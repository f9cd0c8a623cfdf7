package jira

import (
	"bytes"
	"fmt"
	"strconv"
	"time"

	"github.com/jiraduck/jiraduck/internal/jsonx"
)

// jiraLayout is how Jira writes timestamps: millisecond precision and a numeric
// offset without a colon, which is not RFC 3339.
const jiraLayout = "2006-01-02T15:04:05.000-0700"

// parseLayouts are tried in order. A Go layout without a fractional second still
// accepts one when parsing, and Z0700 accepts both "Z" and "+0200".
var parseLayouts = []string{
	"2006-01-02T15:04:05Z0700",
	time.RFC3339Nano,
}

// Time is a Jira timestamp. It decodes Jira's own format
// (2023-03-01T11:34:49.730+0200), the same without milliseconds or with "Z",
// RFC 3339, and epoch milliseconds given as a JSON number. JSON null and ""
// decode to the zero Time. It encodes in Jira's format, null when zero.
type Time struct {
	time.Time
}

// ParseTime parses a timestamp in any of the formats Time accepts and returns
// it in UTC with its sub-second precision kept.
func ParseTime(s string) (time.Time, error) {
	for _, layout := range parseLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("parse time %q: not a jira timestamp", s)
}

// FormatTime writes t in Jira's format, in UTC with the offset +0000.
func FormatTime(t time.Time) string {
	return t.UTC().Format(jiraLayout)
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		t.Time = time.Time{}
		return nil
	}
	if b[0] != '"' {
		// Some documented payloads (and the bulk changelog endpoint) carry epoch
		// milliseconds instead of a string.
		ms, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			return fmt.Errorf("parse time %s: want a string or epoch milliseconds", b)
		}
		t.Time = time.UnixMilli(ms).UTC()
		return nil
	}
	var s string
	if err := jsonx.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("parse time: %w", err)
	}
	if s == "" {
		t.Time = time.Time{}
		return nil
	}
	parsed, err := ParseTime(s)
	if err != nil {
		return err
	}
	t.Time = parsed
	return nil
}

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + FormatTime(t.Time) + `"`), nil
}
