package jira

import (
	"bytes"
	"fmt"

	"github.com/jiraduck/jiraduck/internal/jsonx"
)

// ID is a Jira identifier. Jira sends most ids as JSON strings ("10040") but
// some as numbers: remote-link ids, attachment ids in some payloads, and the
// issue-link ids of webhooks. ID accepts both and keeps the digits as text;
// null decodes to "". It always encodes as a string.
type ID string

// UnmarshalJSON implements json.Unmarshaler.
func (id *ID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || bytes.Equal(b, []byte("null")):
		*id = ""
		return nil
	case b[0] == '"':
		var s string
		if err := jsonx.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("decode id: %w", err)
		}
		*id = ID(s)
		return nil
	case b[0] == '-' || (b[0] >= '0' && b[0] <= '9'):
		// The decoder has already checked that b is a valid JSON number.
		*id = ID(b)
		return nil
	default:
		return fmt.Errorf("decode id: want a string or a number, got %.20s", b)
	}
}

// String returns the id as text.
func (id ID) String() string { return string(id) }

// isNumericID reports whether s looks like a Jira numeric id: ASCII digits
// without a leading zero, at most 19 of them (an int64).
func isNumericID(s string) bool {
	if len(s) == 0 || len(s) > 19 || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
