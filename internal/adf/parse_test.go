package adf

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// parseCases are inputs where a hand-written decoder most easily parts from
// encoding/json.
var parseCases = []string{
	`{}`, `[]`, `""`, `0`, `-0`, `-0.0e+0`, `1E400`, `-1e400`, `1e-400`, `123456789012345678901234567890`,
	`01`, `1.`, `.5`, `-`, `+1`, `1e`, `1e+`, `0x1`, `tru`, `truex`, `nul`, `[1,]`, `[,1]`, `{"a":1,}`, `{"a" 1}`,
	`{a:1}`, `{"a":1 "b":2}`, `[1 2]`, ` [ 1 , 2 ] `, "\t{\"a\"\n:\r[]}\n", `{"a":1,"a":2}`, `"\u00e9\u4e2d"`,
	`"\ud83d\ude00"`, `"\ud83d"`, `"\ude00"`, `"\ud83d\u0041"`, `"\ud83dx"`, `"\ud83d\ud83d\ude00"`, `"\u12"`,
	`"\u12g4"`, `"\x"`, `"\/\b\f\n\r\t\"\\"`, "\"a\x01\"", "\"a\x7f\"", "\"\xff\xfe\"", "\"caf\xc3\"",
	"\"\xed\xa0\x80\"", "\"é😀\"", `"abc`, `"abc\`, `{"a":"b"`, `[`, `{`, `{"a"`, `{"a":`, "\xef\xbb\xbf{}",
	`true false`, `null`, `[true,false,null]`, `{"a":{"b":[{"c":[]}]}}`, `1 `, ` `, ``,
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000),
	strings.Repeat(`{"a":`, 10001) + "1" + strings.Repeat("}", 10001),
}

// TestParseJSONMatchesEncodingJSON: parseJSON fails where encoding/json's
// Unmarshal into an `any` fails, and otherwise gives the same value.
func TestParseJSONMatchesEncodingJSON(t *testing.T) {
	for _, in := range parseCases {
		sameAsEncodingJSON(t, []byte(in))
	}
}

func sameAsEncodingJSON(t *testing.T, in []byte) {
	t.Helper()
	got, err := parseJSON(in)
	var want any
	wantErr := json.Unmarshal(in, &want)
	name := string(in)
	if len(name) > 60 {
		name = name[:60] + "..."
	}
	switch {
	case (err == nil) != (wantErr == nil):
		t.Errorf("%q: got error %v, encoding/json's %v", name, err, wantErr)
	case err == nil && !reflect.DeepEqual(got, want):
		t.Errorf("%q: got %#v, encoding/json's %#v", name, got, want)
	}
}

// FuzzParseJSON compares parseJSON with encoding/json on any input. Seeds
// are parseCases and the ADF examples of the shared fixtures.
func FuzzParseJSON(f *testing.F) {
	for _, in := range parseCases {
		if len(in) < 1000 {
			// The deep ones would make every minimization slow.
			f.Add([]byte(in))
		}
	}
	files, _ := filepath.Glob(filepath.Join(fixtureDir, "adf", "examples", "*.json"))
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		sameAsEncodingJSON(t, in)
	})
}
