package dimensions

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fixtureDir holds the captured Jira payloads shared by the whole project.
const fixtureDir = "../../../shared/jira-fixtures"

func fixtureJSON(t *testing.T, rel string) any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, filepath.FromSlash(rel)))
	if os.IsNotExist(err) {
		t.Skipf("fixture %s not present", rel)
	}
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return v
}

// at follows a path of object keys and array indexes into a decoded
// fixture.
func at(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			v = v.(map[string]any)[k]
		case int:
			v = v.([]any)[k]
		}
		if v == nil {
			t.Fatalf("no %v in the fixture", path)
		}
	}
	return v
}

func raws(t *testing.T, vs ...any) []json.RawMessage {
	t.Helper()
	var out []json.RawMessage
	for _, v := range vs {
		if list, ok := v.([]any); ok {
			out = append(out, raws(t, list...)...)
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestPlatformRowsGolden derives the row of every object of the captured
// answers of Jira Cloud and Atlassian's documentation, and compares them
// with testdata/platform_rows.golden (go test -update rewrites it).
func TestPlatformRowsGolden(t *testing.T) {
	project := fixtureJSON(t, "rest/misc/get_project__openapi_example.json")
	updated := fixtureJSON(t, "webhooks/jira_issue_updated/components__mattermost.json")
	created := fixtureJSON(t, "webhooks/jira_issue_created/many_custom_fields__mattermost.json")
	cases := []struct {
		table   string
		objects []json.RawMessage
		ids     func([]json.RawMessage) ([]Object, error)
	}{
		{"projects", raws(t, project), nil},
		{"users", raws(t, fixtureJSON(t, "rest/misc/get_myself__openapi_example.json"), at(t, project, "lead"),
			at(t, project, "components", 0, "assignee")), userObjects},
		{"versions", raws(t, at(t, updated, "issue", "fields", "fixVersions"), at(t, created, "issue", "fields", "fixVersions")), nil},
		{"components", raws(t, at(t, project, "components")), nil},
		{"statuses", raws(t, fixtureJSON(t, "rest/misc/get_statuses__openapi_example.json")), nil},
		{"priorities", raws(t, fixtureJSON(t, "rest/misc/get_priorities__openapi_example.json")), nil},
		{"issue_types", raws(t, fixtureJSON(t, "rest/misc/get_issuetypes__openapi_example.json")), nil},
		{"issue_link_types", raws(t, at(t, fixtureJSON(t, "rest/issuelink/get_issuelinktypes__openapi_example.json"), "issueLinkTypes")), nil},
		{"fields", raws(t, fixtureJSON(t, "rest/field/get_fields__openapi_example.json")), nil},
	}
	var b strings.Builder
	for _, tc := range cases {
		src, ok := Lookup(tc.table)
		if !ok {
			t.Fatalf("no source of %s", tc.table)
		}
		ids := tc.ids
		if ids == nil {
			ids = func(r []json.RawMessage) ([]Object, error) { return byID(tc.table, r) }
		}
		objects, err := ids(tc.objects)
		if err != nil {
			t.Fatalf("%s: %v", tc.table, err)
		}
		if len(objects) == 0 {
			t.Fatalf("%s: no object in the fixtures", tc.table)
		}
		for _, o := range objects {
			row, err := src.Row(o)
			if err != nil {
				t.Fatalf("%s %s: %v", tc.table, o.ID, err)
			}
			if len(row) != len(src.Columns) {
				t.Fatalf("%s %s: got %d values, want %d", tc.table, o.ID, len(row), len(src.Columns))
			}
			fmt.Fprintf(&b, "%s %s\n", tc.table, o.ID)
			for i, c := range src.Columns {
				fmt.Fprintf(&b, "  %s = %s\n", c.Name, show(row[i]))
			}
		}
	}
	golden := filepath.Join("testdata", "platform_rows.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("rows differ from %s (go test -update rewrites it):\ngot:\n%s", golden, got)
	}
}

func show(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		return fmt.Sprintf("%q", x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []string:
		return fmt.Sprintf("%q", x)
	}
	return fmt.Sprintf("%v (%T)", v, v)
}

// TestRowsOfBadObjects: an object whose values have the wrong shape gives
// an error naming the table and the object, not a row of guesses.
func TestRowsOfBadObjects(t *testing.T) {
	for _, tc := range []struct {
		table, payload, want string
	}{
		{"versions", `{"id":"1","releaseDate":"31/12/2024"}`, `releaseDate "31/12/2024" is not a date`},
		{"projects", `{"id":"1","insight":{"lastIssueUpdateTime":"yesterday"}}`, "projects"},
		{"statuses", `{"id":"1","name":17}`, "statuses 1"},
	} {
		t.Run(tc.table, func(t *testing.T) {
			src, _ := Lookup(tc.table)
			_, err := src.Row(Object{ID: "1", Payload: json.RawMessage(tc.payload)})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestObjectIDs: a payload without an id is refused; one listed twice is
// kept once, the later copy winning.
func TestObjectIDs(t *testing.T) {
	if _, err := byID("statuses", []json.RawMessage{json.RawMessage(`{"name":"x"}`)}); err == nil || !strings.Contains(err.Error(), "has no id") {
		t.Errorf("got %v, want a refused object without an id", err)
	}
	got, err := byID("statuses", []json.RawMessage{json.RawMessage(`{"id":"1","n":1}`), json.RawMessage(`{"id":2}`), json.RawMessage(`{"id":"1","n":2}`)})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "1" || string(got[0].Payload) != `{"id":"1","n":2}` || got[1].ID != "2" {
		t.Errorf("got %+v, want objects 1 (second copy) and 2", got)
	}
}

// TestSourcesDeclareWhatTheStoreTakes: every source names its table once,
// has a key among its columns and a Fetch and a Row.
func TestSourcesDeclareWhatTheStoreTakes(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range Sources() {
		if seen[s.Table] {
			t.Errorf("%s: listed twice", s.Table)
		}
		seen[s.Table] = true
		if s.Fetch == nil || s.Row == nil {
			t.Errorf("%s: Fetch and Row are required", s.Table)
		}
		if (s.References != nil) != (s.Resolve != nil) {
			t.Errorf("%s: References and Resolve go together", s.Table)
		}
		if len(s.Key) == 0 {
			t.Errorf("%s: no key", s.Table)
		}
		if err := StoreTable(s).Check(); err != nil {
			t.Errorf("%s: %v", s.Table, err)
		}
	}
	for _, want := range []string{"projects", "users", "versions", "components", "statuses", "priorities", "issue_types",
		"resolutions", "issue_link_types", "fields"} {
		if !seen[want] {
			t.Errorf("no source of %s", want)
		}
	}
}
