package jira

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// timestampPattern finds the timestamps of the captured payloads, to seed the
// fuzzer with what Jira really writes.
var timestampPattern = regexp.MustCompile(`"([0-9]{4}-[0-9]{2}-[0-9]{2}T[^"]{0,40})"`)

// FuzzParseTime feeds arbitrary strings to ParseTime and to Time's JSON
// decoding. Nothing may panic; an accepted timestamp is in UTC, decodes the
// same as a JSON string, and survives the round trip through Jira's format
// (at its millisecond precision) whenever its year has four digits, which is
// what every stored payload and rebuild rely on.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{
		"2023-03-01T11:34:49.730+0200", "2023-03-01T11:34:49+0200", "2023-03-01T11:34:49.730Z",
		"2023-03-01T11:34:49.730+02:00", "2025-10-15T09:55:04.062+0330", "0000-01-01T00:00:00.000+0100",
		"9999-12-31T23:59:59.999-2359", "2023-02-29T00:00:00.000+0000", "2023-03-01T24:00:00.000+0000",
		"2023-03-01T11:34:49.123456789+0000", "2023-03-01T11:34:49,730+0200", "1550286113023", "",
		"2023-03-01T11:34:49.730+9999", " 2023-03-01T11:34:49.730+0200", "2023-03-01T11:34:49.730+0200\n",
	} {
		f.Add(s)
	}
	var seeds []string
	_ = filepath.Walk(fixtureDir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || filepath.Ext(p) != ".json" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		for _, m := range timestampPattern.FindAllSubmatch(b, -1) {
			seeds = append(seeds, string(m[1]))
		}
		return nil
	})
	seen := map[string]bool{}
	for _, s := range seeds {
		if !seen[s] {
			seen[s] = true
			f.Add(s)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTime(s)
		quoted, _ := json.Marshal(s)
		var jt Time
		jerr := jt.UnmarshalJSON(quoted)
		if err != nil {
			if s != "" && jerr == nil {
				t.Fatalf("ParseTime(%q) failed (%v) but the JSON string decoded to %v", s, err, jt.Time)
			}
			return
		}
		if got.Location() != time.UTC {
			t.Fatalf("ParseTime(%q): got location %v, want UTC", s, got.Location())
		}
		if jerr != nil || !jt.Equal(got) {
			t.Fatalf("ParseTime(%q) = %v, but the JSON string decoded to %v, %v", s, got, jt.Time, jerr)
		}
		if y := got.Year(); y < 0 || y > 9999 {
			// Jira's layout has four year digits: such a time is not
			// written back in a form that parses again. Only an offset
			// across year 0 or 9999 gets here.
			if in, _ := strconv.Atoi(s[:4]); in != 0 && in != 9999 {
				t.Fatalf("ParseTime(%q) = %v: year moved from %d", s, got, in)
			}
			return
		}
		back, err := ParseTime(FormatTime(got))
		if err != nil {
			t.Fatalf("FormatTime(ParseTime(%q)) = %q does not parse: %v", s, FormatTime(got), err)
		}
		if want := got.Truncate(time.Millisecond); !back.Equal(want) {
			t.Fatalf("round trip of %q: got %v, want %v", s, back, want)
		}
		enc, err := jt.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var again Time
		if err := json.Unmarshal(enc, &again); err != nil || !again.Equal(got.Truncate(time.Millisecond)) {
			t.Fatalf("JSON round trip of %q: %s decoded to %v, %v", s, enc, again.Time, err)
		}
	})
}

// FuzzTimeJSON decodes arbitrary JSON values as a Time: strings, epoch
// milliseconds, null and garbage. Nothing may panic, and a decoded time
// encodes to JSON that decodes to the same instant at millisecond precision,
// unless its year has more than four digits.
func FuzzTimeJSON(f *testing.F) {
	for _, s := range []string{`"2023-03-01T11:34:49.730+0200"`, `1550286113023`, `null`, `""`, `-1`,
		`9223372036854775807`, `-9223372036854775808`, `1e3`, `"x"`, `{}`, `[]`, ` 12 `, `"\u0032023-03-01T11:34:49Z"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v Time
		if err := v.UnmarshalJSON(b); err != nil || v.IsZero() {
			return
		}
		if v.Location() != time.UTC {
			t.Fatalf("%q decoded in %v, want UTC", b, v.Location())
		}
		if y := v.Year(); y < 0 || y > 9999 {
			return
		}
		enc, err := v.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var again Time
		if err := again.UnmarshalJSON(enc); err != nil || !again.Equal(v.Truncate(time.Millisecond)) {
			t.Fatalf("%q: encoded %s, decoded again to %v, %v", b, enc, again.Time, err)
		}
	})
}
