package jira

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestBundleEncodeMatchesMarshal: Encode writes what json.Marshal would,
// up to key order and white space, for full, empty and error-carrying
// bundles, and a compacted bundle compacts to itself.
func TestBundleEncodeMatchesMarshal(t *testing.T) {
	issue := fixture(t, "rest/issue/get_issue_v3_expand_renderedFields_names_transitions__xsoar_real_anonymised.json")
	at := time.Date(2026, 3, 1, 11, 34, 49, 730000000, time.UTC)
	tests := []struct {
		name string
		b    Bundle
	}{
		{"full", Bundle{Issue: issue, Comments: []json.RawMessage{json.RawMessage(`{"id":"1","body":"a <b> & \u00e9"}`)},
			Histories: []json.RawMessage{json.RawMessage(` {"id":"2"} `)}, RemoteLinks: []json.RawMessage{},
			State:  BundleState{Comments: StateComplete, Changelog: StatePartial, RemoteLinks: StateComplete, SLA: StateUnknown},
			Errors: BundleErrors{SLA: "get sla fields: status 503"}, FetchedAt: at}},
		{"empty", Bundle{}},
		{"null issue", Bundle{Issue: json.RawMessage("null"), FetchedAt: at}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.b.Encode()
			if err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(&tc.b)
			if err != nil {
				t.Fatal(err)
			}
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatalf("Encode wrote invalid JSON: %v\n%s", err, got)
			}
			if err := json.Unmarshal(want, &w); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("Encode:\n%s\nwant (json.Marshal):\n%s", got, want)
			}
		})
	}

	c := (&Bundle{Issue: issue}).Compacted()
	if strings.Contains(string(c.Issue), `"renderedFields":`) {
		t.Error("compacted issue keeps rendered fields")
	}
	if again := CompactIssue(c.Issue); string(again) != string(c.Issue) {
		t.Error("compacting a compacted issue changed it")
	}
	var top struct {
		Fields struct {
			Comment struct {
				Total    int               `json:"total"`
				Comments []json.RawMessage `json:"comments"`
			} `json:"comment"`
		} `json:"fields"`
	}
	if err := json.Unmarshal(c.Issue, &top); err != nil {
		t.Fatal(err)
	}
	if len(top.Fields.Comment.Comments) != 0 || top.Fields.Comment.Total == 0 {
		t.Errorf("embedded comments: got %d with total %d, want none with the total kept", len(top.Fields.Comment.Comments), top.Fields.Comment.Total)
	}
	for _, bad := range []string{"", "[1,2]", `"text"`, "{not json"} {
		if got := CompactIssue(json.RawMessage(bad)); string(got) != bad {
			t.Errorf("CompactIssue(%q) = %q, want it unchanged", bad, got)
		}
	}
}

// TestSetCompactedIssue: an issue decoded one level deep and set compacted is
// what CompactIssue makes of its payload, and Compacted keeps the bundle as
// it is.
func TestSetCompactedIssue(t *testing.T) {
	issue := fixture(t, "rest/issue/get_issue_v3_expand_renderedFields_names_transitions__xsoar_real_anonymised.json")
	tests := []struct {
		name    string
		payload string
	}{
		{"real issue", string(issue)},
		{"no fields", `{"id":"10040","key":"SUP-12","renderedFields":{"a":"<p>x</p>"},"changelog":{"total":3,"histories":[{"id":"1"}]}}`},
		{"null fields", `{"id":"10040","key":"SUP-12","fields":null}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var top map[string]json.RawMessage
			if err := json.Unmarshal([]byte(tc.payload), &top); err != nil {
				t.Fatal(err)
			}
			var fields map[string]json.RawMessage
			if f, ok := top["fields"]; ok && string(f) != "null" {
				if err := json.Unmarshal(f, &fields); err != nil {
					t.Fatal(err)
				}
			}
			want := CompactIssue(json.RawMessage(tc.payload))
			b := &Bundle{}
			b.SetCompactedIssue(top, fields)
			if string(b.Issue) != string(want) {
				t.Errorf("got issue\n%s\nwant (CompactIssue)\n%s", b.Issue, want)
			}
			if c := b.Compacted(); c != b {
				t.Errorf("Compacted: got a copy, want the bundle itself")
			}
		})
	}
}
