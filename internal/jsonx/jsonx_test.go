package jsonx

import (
	"bytes"
	"encoding/json"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type inner struct {
	ID   string          `json:"id"`
	Raw  json.RawMessage `json:"raw"`
	Nums []float64       `json:"nums"`
}

// custom checks that UnmarshalJSON methods are called with their own bytes.
type custom struct{ got string }

func (c *custom) UnmarshalJSON(b []byte) error {
	c.got = string(b)
	return nil
}

// TestSameAsEncodingJSON: every document decodes to what encoding/json
// gives, invalid UTF-8 and escaped surrogates included, and what
// encoding/json refuses is refused.
func TestSameAsEncodingJSON(t *testing.T) {
	type doc struct {
		Name   string            `json:"name"`
		Inner  *inner            `json:"inner"`
		Map    map[string]any    `json:"map"`
		Custom custom            `json:"custom"`
		Extra  map[string]string `json:"extra"`
	}
	for _, in := range []string{
		`{"name":"SUP-1","inner":{"id":"7","raw":{"a" : [1, 2]},"nums":[1.5,-2e3]},"map":{"x":null,"y":true,"z":[{"q":"r"}]}}`,
		"{\"name\":\"x\xff\xfey\",\"extra\":{\"k\":\"\xc3\"}}",
		`{"name":"\ud800z \u00e9 \ud83d\ude00","custom":{"a":1}}`,
		`{"name":"dup","name":"last"}`,
		`{"name":"a"}  `,
	} {
		var want doc
		werr := json.Unmarshal([]byte(in), &want)
		for name, decode := range decoders {
			var got doc
			gerr := decode([]byte(in), &got)
			if (werr == nil) != (gerr == nil) {
				t.Errorf("%s %q: encoding/json says %v, jsonx %v", name, in, werr, gerr)
				continue
			}
			if diff := cmp.Diff(want, got, cmp.AllowUnexported(custom{})); diff != "" {
				t.Errorf("%s %q (-encoding/json +jsonx):\n%s", name, in, diff)
			}
		}
	}
	for _, bad := range []string{`{"name":"x"`, `{"name":"x",}`, `{"name":x}`, "{\"name\":\"a\"}\xff", ``, `[`, `{"name":"a"} {}`,
		// Garbage where nothing is decoded: in an unknown field, between raw
		// list items.
		`{"name":"a","unknown":Ov_ {"b":2}}`, `{"inner":{"raw":[{"a":1}, Ov_ {"b":2}]}}`, `{"name":"a"}}`, `{"map":{"x":01}}`, `{"map":nul}`} {
		for name, decode := range decoders {
			var v doc
			if err := decode([]byte(bad), &v); err == nil {
				t.Errorf("%s %q: decoded without an error", name, bad)
			}
		}
	}
}

var decoders = map[string]func([]byte, any) error{"Unmarshal": Unmarshal, "UnmarshalRaw": UnmarshalRaw}

// TestUnmarshalRawPointsIntoItsInput: UnmarshalRaw's raw messages are the
// input's bytes, its strings are copies.
func TestUnmarshalRawPointsIntoItsInput(t *testing.T) {
	in := []byte(`{"id":"SUP-1","raw":{"a":1}}`)
	var v inner
	if err := UnmarshalRaw(in, &v); err != nil {
		t.Fatal(err)
	}
	copy(in, bytes.Repeat([]byte("#"), len(in)))
	if v.ID != "SUP-1" {
		t.Errorf("the string changed with the input: %q", v.ID)
	}
	if string(v.Raw) != "#######" {
		t.Errorf("raw message %q: want the input's bytes, overwritten", v.Raw)
	}
}

// TestDecodedValuesHoldNoInput: what is decoded is a copy, so a kept string
// or raw value neither pins the whole input in memory nor changes with it.
func TestDecodedValuesHoldNoInput(t *testing.T) {
	doc := []byte(`{"id":"SUP-1","raw":{"a":1},"pad":"` + strings.Repeat("x", 1<<20) + `"}`)
	var kept []inner
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	for range 50 {
		in := bytes.Clone(doc)
		var v inner
		if err := Unmarshal(in, &v); err != nil {
			t.Fatal(err)
		}
		copy(in, bytes.Repeat([]byte("#"), len(in)))
		kept = append(kept, v)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	if grew := int64(ms.HeapAlloc) - int64(before); grew > 8<<20 {
		t.Errorf("50 kept values of 1 MiB documents hold %d MiB; want them to hold their own bytes only", grew>>20)
	}
	if kept[0].ID != "SUP-1" || string(kept[0].Raw) != `{"a":1}` {
		t.Errorf("kept values changed with their input: %q %q", kept[0].ID, kept[0].Raw)
	}
	runtime.KeepAlive(kept)
}

// TestDeepNestingIsBounded: a deeply nested document decoded into a generic
// value is decoded (or refused) as encoding/json does, in time that does not
// grow with the square of its depth.
func TestDeepNestingIsBounded(t *testing.T) {
	for _, levels := range []int{100, 20000} {
		in := []byte(`{"a":` + strings.Repeat(`{"type":"blockquote","content":[`, levels) + `"x"` + strings.Repeat(`]}`, levels) + `}`)
		var want, got any
		werr := json.Unmarshal(in, &want)
		done := make(chan error, 1)
		go func() { done <- Unmarshal(in, &got) }()
		select {
		case gerr := <-done:
			if (werr == nil) != (gerr == nil) {
				t.Errorf("%d levels: encoding/json says %v, jsonx %v", levels, werr, gerr)
			}
			if !reflect.DeepEqual(want, got) {
				t.Errorf("%d levels: decoded differently", levels)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%d levels: still decoding after 10 s", levels)
		}
	}
}

// TestIsNull: absent and null values are null, whatever the white space
// around them; every other JSON value is not.
func TestIsNull(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"absent", "", true},
		{"null", "null", true},
		{"null with white space", " \n\tnull\r\n", true},
		{"white space only", "  ", true},
		{"empty string", `""`, false},
		{"zero", "0", false},
		{"false", "false", false},
		{"empty object", "{}", false},
		{"empty list", "[]", false},
		{"the string null", `"null"`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsNull([]byte(tc.in)); got != tc.want {
				t.Errorf("IsNull(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}
