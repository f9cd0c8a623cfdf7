package normalize

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jiraduck/jiraduck/internal/jira"
)

// fuzzOpts name SLA fields of the seeds (the JSM fixtures' ids and the
// emulator's), promote a custom field and label another.
var fuzzOpts = Options{
	BrowseBase: "https://acme.atlassian.net",
	SLANames:   []string{"first_response", "time_to_resolution"},
	SLAFields: map[string]string{"customfield_12084": "first_response", "customfield_12118": "time_to_resolution",
		"customfield_10040": "time_to_resolution", "customfield_10041": "first_response"},
	FieldMap:   []FieldColumn{{ID: "customfield_10032", Column: "severity"}, {ID: "customfield_3", Column: "tier"}},
	FieldNames: map[string]string{"customfield_10032": "Severity"},
}

// monthPattern is the shape of a partition month the exporter accepts.
var monthPattern = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`)

// FuzzFromBundle derives rows from arbitrary issue JSON and sub-collections.
// FromBundle must never panic, and whatever it accepts must be storable: every
// row carries the issue's valid key, primary keys are non-empty and unique in
// their table (a duplicate would fail the whole transaction, and the issue
// would never be stored), the partition month has the exporter's shape, the
// payload is valid JSON and deriving rows again from the stored payload (as
// rebuild does) gives the same rows.
func FuzzFromBundle(f *testing.F) {
	addIssue := func(issue []byte, comments, histories, links string) {
		f.Add(issue, []byte(comments), []byte(histories), []byte(links))
	}
	addIssue([]byte(`{"id":"1","key":"SUP-1","fields":{"created":"2024-01-31T23:30:00.000-0100","summary":"x"}}`), `[]`, `[]`, `[]`)
	addIssue([]byte(`{"id":"1","key":"SUP-1","fields":{"created":"2024-01-01T00:00:00.000+0000",
		"attachment":[{"id":"5","filename":"../../a","size":3,"content":"file:///etc/passwd"},{"id":"5","filename":"b"}],
		"issuelinks":[{"id":"10","type":{"name":"Blocks"},"outwardIssue":{"key":"SUP-2","fields":{}}},{"id":"10"}],
		"customfield_10032":{"value":"High"},"customfield_10040":{"id":"1","name":"TTR","ongoingCycle":{"breached":false}}}}`),
		`[{"id":"7","body":"a"},{"id":"7","body":"b"},{"body":"no id"}]`,
		`[{"id":"3","created":"2024-01-02T00:00:00.000+0000","items":[{"field":"a"},{"field":"b"}]},{"id":"3","items":[{"field":"c"}]},{"items":[{"field":"d"}]}]`,
		`[{"id":1,"object":{"url":"https://x/?token=t"}},{"id":1}]`)
	addIssue([]byte(`{"id":"1","key":"SUP-1","fields":{"created":"9999-12-31T23:59:59.999-2359"}}`), `null`, `{}`, `"x"`)
	addIssue([]byte(`{"id":"1","key":"SUP-1","fields":{"created":"2024-01-01T00:00:00.000+0000",
		"attachment":[{"id":"5","filename":"a.png","size":3},{"id":"6","filename":"a.png","size":3}],
		"description":{"type":"doc","content":[{"type":"mediaSingle","content":[{"type":"media","attrs":{"type":"file","id":"u","alt":"a.png"}}]},
			{"type":"media","attrs":{"type":"external","url":"https://x/secure/attachment/6/a.png?token=t"}}]}}}`),
		`[{"id":"7","body":{"type":"doc","content":[{"type":"mediaInline","attrs":{"id":5,"alt":["x"]}}]}},{"id":"7","body":{"type":"doc","content":[{"type":"media"}]}}]`,
		`[]`, `[]`)
	addIssue([]byte(`{"id":"1","key":"SUP-1","fields":{"created":-62135596800001}}`), ``, ``, ``)

	// Captured payloads: issues, comment and changelog pages, remote links,
	// SLA values.
	read := func(rel string) []byte {
		b, err := os.ReadFile(filepath.Join(fixtures, rel))
		if err != nil {
			return nil
		}
		return b
	}
	list := func(raw []byte, name string) string {
		var page map[string]json.RawMessage
		if json.Unmarshal(raw, &page) == nil && page[name] != nil {
			return string(page[name])
		}
		if json.Valid(raw) {
			return string(raw)
		}
		return "[]"
	}
	comments := list(read("rest/comment/get_issue_comments_expand_renderedBody__xsoar_real_anonymised.json"), "comments")
	histories := list(read("rest/changelog/get_issue_changelog_paged_values_isLast__digitalservice_real_anonymised.json"), "values")
	remote := list(read("rest/remotelink/get_issue_remotelinks__openapi_example.json"), "")
	issues, _ := filepath.Glob(filepath.Join(fixtures, "rest", "issue", "*.json"))
	for _, p := range issues {
		if b, err := os.ReadFile(p); err == nil {
			addIssue(b, comments, histories, remote)
		}
	}
	if sla := read("jsm/sla_custom_field_values_one_request__seculayer_cloud_real.json"); sla != nil {
		var fields map[string]json.RawMessage
		if json.Unmarshal(sla, &fields) == nil {
			fields["created"] = json.RawMessage(`"2026-07-06T09:00:00.000+0900"`)
			fields["customfield_12118"] = read("jsm/sla_custom_field_ongoing_cycle__seculayer_cloud_real.json")
			body, _ := json.Marshal(map[string]any{"id": "49224", "key": "TACEA-4540", "fields": fields})
			addIssue(body, `[]`, `[]`, `[]`)
		}
	}

	f.Fuzz(func(t *testing.T, issue, comments, histories, links []byte) {
		b := &jira.Bundle{Issue: issue, Comments: rawList(comments), Histories: rawList(histories), RemoteLinks: rawList(links),
			State: jira.BundleState{Comments: jira.StateComplete, Changelog: jira.StatePartial,
				RemoteLinks: jira.StateUnknown, SLA: jira.StateComplete},
			FetchedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
		r, err := FromBundle(b, fuzzOpts)
		if err != nil {
			return
		}
		checkRows(t, r)
		// Rebuild derives the rows again from the stored payload.
		var stored jira.Bundle
		if err := json.Unmarshal(r.Raw.Payload, &stored); err != nil {
			t.Fatalf("stored payload does not decode: %v", err)
		}
		again, err := FromBundle(&stored, fuzzOpts)
		if err != nil {
			t.Fatalf("rows from the stored payload: %v", err)
		}
		if a, b := fmt.Sprint(again.Hashes()), fmt.Sprint(r.Hashes()); a != b {
			t.Fatalf("rows from the stored payload differ from the fetched ones:\n%+v\n%+v", again, r)
		}
	})
}

// rawList splits a JSON array into its elements; anything else is no list.
func rawList(b []byte) []json.RawMessage {
	var out []json.RawMessage
	if json.Unmarshal(b, &out) != nil {
		return nil
	}
	return out
}

// checkRows asserts what the store and the exporter need of rows.
func checkRows(t *testing.T, r *Rows) {
	t.Helper()
	key := r.Issue.IssueKey
	if !jira.ValidKey(key) || r.Raw.IssueKey != key {
		t.Fatalf("issue key %q (raw %q) is not a valid key", key, r.Raw.IssueKey)
	}
	if r.Issue.IssueID == "" || r.Raw.IssueID != r.Issue.IssueID {
		t.Fatalf("issue id %q (raw %q)", r.Issue.IssueID, r.Raw.IssueID)
	}
	if m := r.Month(); !monthPattern.MatchString(m) {
		t.Fatalf("partition month %q of created %v is not YYYY-MM: no partition could hold the issue", m, r.Issue.CreatedAt)
	}
	if !json.Valid(r.Raw.Payload) {
		t.Fatalf("payload is not valid JSON")
	}
	unique := func(table string, n int, keyOf func(i int) (string, string)) {
		seen := map[string]bool{}
		for i := 0; i < n; i++ {
			issueKey, pk := keyOf(i)
			if issueKey != key {
				t.Fatalf("%s row %d belongs to %q, want %q", table, i, issueKey, key)
			}
			if pk == "" || strings.HasPrefix(pk, "\x00") {
				t.Fatalf("%s row %d has an empty primary key", table, i)
			}
			if seen[pk] {
				t.Fatalf("%s: primary key %q twice", table, pk)
			}
			seen[pk] = true
		}
	}
	unique("comments", len(r.Comments), func(i int) (string, string) { return r.Comments[i].IssueKey, r.Comments[i].CommentID })
	unique("attachments", len(r.Attachments), func(i int) (string, string) {
		return r.Attachments[i].IssueKey, r.Attachments[i].AttachmentID
	})
	unique("changelog", len(r.Changelog), func(i int) (string, string) {
		c := r.Changelog[i]
		if c.ChangeID == "" {
			return c.IssueKey, ""
		}
		return c.IssueKey, fmt.Sprintf("%s\x00%d", c.ChangeID, c.ItemIndex)
	})
	unique("issuelinks", len(r.IssueLinks), func(i int) (string, string) { return r.IssueLinks[i].IssueKey, r.IssueLinks[i].LinkID })
	unique("remote_links", len(r.RemoteLinks), func(i int) (string, string) {
		return r.RemoteLinks[i].IssueKey, r.RemoteLinks[i].RemoteLinkID
	})
	unique("sla", len(r.SLA), func(i int) (string, string) {
		s := r.SLA[i]
		if s.FieldID == "" || s.Cycle == "" {
			return s.IssueKey, ""
		}
		return s.IssueKey, fmt.Sprintf("%s\x00%s\x00%d", s.FieldID, s.Cycle, s.CycleIndex)
	})
	unique("issue_fields", len(r.Fields), func(i int) (string, string) { return r.Fields[i].IssueKey, r.Fields[i].FieldID })
	unique("inline_media", len(r.InlineMedia), func(i int) (string, string) {
		m := r.InlineMedia[i]
		src := "description"
		if m.CommentID != nil {
			src = "comment " + *m.CommentID
		}
		return m.IssueKey, fmt.Sprintf("%s\x00%d", src, m.MediaIndex)
	})
	for _, s := range []*string{r.Issue.Summary, r.Issue.Description} {
		if s != nil && !utf8.ValidString(*s) {
			t.Fatalf("text %q is not valid UTF-8", *s)
		}
	}
}
