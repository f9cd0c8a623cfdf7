package emulator

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jiraduck/jiraduck/internal/jira"
)

func TestGeneratedBigIssues(t *testing.T) {
	e, _ := newEmu(t, Options{Issues: 50, Seed: 1})
	comments := findIssue(t, e, func(is *Issue) bool { return len(is.Comments) == bigCommentCount })
	histories := findIssue(t, e, func(is *Issue) bool { return len(is.Histories) > 100 })
	if comments == histories {
		t.Errorf("the same issue %s has both many comments and many histories", comments)
	}
	small := 0
	for _, k := range e.Keys() {
		is, _ := e.Issue(k)
		if len(is.Comments) <= 8 {
			small++
		}
	}
	if small < 40 {
		t.Errorf("only %d of 50 issues have at most 8 comments", small)
	}
}

func TestEmbeddedCommentsAndChangelogAreTruncated(t *testing.T) {
	e, c := newEmu(t, Options{Issues: 30, Seed: 9})
	key := findIssue(t, e, func(is *Issue) bool { return len(is.Comments) == 150 })
	want, _ := e.Issue(key)
	issue := decodeAs[jira.Issue](t, c.get("/rest/api/3/issue/"+key+"?fields=*all&expand=renderedFields,changelog", http.StatusOK))
	cp := issue.Fields.Comment
	if cp == nil || cp.StartAt != 50 || cp.MaxResults != 100 || cp.Total != 150 || len(cp.Comments) != 100 {
		t.Fatalf("embedded comments: got %+v", cp)
	}
	for i, c := range cp.Comments {
		if string(c.ID) != want.Comments[50+i].ID {
			t.Fatalf("embedded comment %d: got id %s, want %s (the newest 100, oldest first)", i, c.ID, want.Comments[50+i].ID)
		}
	}

	key = findIssue(t, e, func(is *Issue) bool { return len(is.Histories) > 100 })
	want, _ = e.Issue(key)
	issue = decodeAs[jira.Issue](t, c.get("/rest/api/3/issue/"+key+"?expand=changelog", http.StatusOK))
	cl := issue.Changelog
	if cl == nil || cl.StartAt != 0 || cl.MaxResults != 100 || cl.Total != len(want.Histories) || len(cl.Histories) != 100 {
		t.Fatalf("embedded changelog: got startAt %d maxResults %d total %d with %d histories, want 0, 100, %d, 100",
			cl.StartAt, cl.MaxResults, cl.Total, len(cl.Histories), len(want.Histories))
	}
	n := len(want.Histories)
	for i, h := range cl.Histories {
		if string(h.ID) != want.Histories[n-1-i].ID {
			t.Fatalf("embedded history %d: got %s, want %s (the newest 100, newest first)", i, h.ID, want.Histories[n-1-i].ID)
		}
	}
}

func TestCommentPaging(t *testing.T) {
	e, c := newEmu(t, Options{Issues: 30, Seed: 9})
	key := findIssue(t, e, func(is *Issue) bool { return len(is.Comments) == 150 })
	want, _ := e.Issue(key)
	var got []string
	pages := 0
	for start := 0; ; pages++ {
		// maxResults above 100 is clamped, as Jira does.
		page := decodeAs[jira.CommentPage](t, c.get(fmt.Sprintf("/rest/api/3/issue/%s/comment?startAt=%d&maxResults=500&orderBy=created", key, start), http.StatusOK))
		if page.MaxResults != 100 || page.Total != 150 || page.StartAt != start {
			t.Fatalf("page at %d: got startAt %d maxResults %d total %d", start, page.StartAt, page.MaxResults, page.Total)
		}
		for _, cm := range page.Comments {
			got = append(got, string(cm.ID))
		}
		start += len(page.Comments)
		if len(page.Comments) == 0 || start >= page.Total {
			pages++
			break
		}
	}
	if pages != 2 {
		t.Errorf("got %d pages, want 2", pages)
	}
	var ids []string
	for _, cm := range want.Comments {
		ids = append(ids, cm.ID)
	}
	if !slices.Equal(got, ids) {
		t.Errorf("paged comments differ from the issue's, oldest first")
	}
	newest := decodeAs[jira.CommentPage](t, c.get("/rest/api/3/issue/"+key+"/comment?orderBy=-created&maxResults=1", http.StatusOK))
	if string(newest.Comments[0].ID) != ids[len(ids)-1] {
		t.Errorf("orderBy=-created: got %s first, want the newest %s", newest.Comments[0].ID, ids[len(ids)-1])
	}
}

func TestChangelogPaging(t *testing.T) {
	e, c := newEmu(t, Options{Issues: 30, Seed: 9})
	key := findIssue(t, e, func(is *Issue) bool { return len(is.Histories) > 100 })
	want, _ := e.Issue(key)
	var got []string
	start := 0
	for i := 0; ; i++ {
		resp, body := c.do(http.MethodGet, fmt.Sprintf("/rest/api/3/issue/%s/changelog?startAt=%d", key, start), nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		page := decodeAs[jira.ChangelogPage](t, body)
		raw := decodeAs[map[string]any](t, body)
		_, hasNext := raw["nextPage"]
		if page.Total != len(want.Histories) || page.IsLast == hasNext {
			t.Fatalf("page %d: total %d, isLast %v, nextPage present %v", i, page.Total, page.IsLast, hasNext)
		}
		for _, h := range page.Values {
			got = append(got, string(h.ID))
		}
		start += len(page.Values)
		if page.IsLast {
			if i != 1 {
				t.Errorf("last page is page %d, want 1", i)
			}
			break
		}
		if i > 3 {
			t.Fatal("changelog paging does not end")
		}
	}
	var ids []string
	for _, h := range want.Histories {
		ids = append(ids, h.ID)
	}
	if !slices.Equal(got, ids) {
		t.Errorf("paged histories differ from the issue's, oldest first")
	}
}

// searchAll pages through a search and returns every issue id in order.
func searchAll(t *testing.T, c *client, body map[string]any) ([]string, int) {
	t.Helper()
	var ids []string
	pages := 0
	for {
		page := decodeAs[jira.SearchPage](t, c.post("/rest/api/3/search/jql", body, http.StatusOK))
		pages++
		for _, is := range page.Issues {
			ids = append(ids, string(is.ID))
		}
		if page.IsLast {
			if page.NextPageToken != "" {
				t.Fatal("last page carries a nextPageToken")
			}
			return ids, pages
		}
		if page.NextPageToken == "" {
			t.Fatal("page that is not the last has no nextPageToken")
		}
		body["nextPageToken"] = page.NextPageToken
		if pages > 10000 {
			t.Fatal("search paging does not end")
		}
	}
}

func TestSearchCoversEveryIssueOnce(t *testing.T) {
	e, c := newEmu(t, Options{Issues: 2500, Seed: 6})
	var all []string
	for _, k := range e.Keys() {
		is, _ := e.Issue(k)
		all = append(all, is.ID)
	}
	for _, tc := range []struct {
		name      string
		jql       string
		fields    []string
		max       int
		wantPages int
	}{
		{"created asc, ids", "ORDER BY created ASC", nil, 1000, 3},
		{"created desc", "order by created desc", []string{"id"}, 700, 4},
		{"updated, with fields", "ORDER BY updated DESC", []string{"key", "updated"}, 500, 25},
		{"default order", "", nil, 0, 50},
		{"key asc", "ORDER BY key ASC", []string{"key"}, 900, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := map[string]any{"jql": tc.jql}
			if tc.fields != nil {
				body["fields"] = tc.fields
			}
			if tc.max > 0 {
				body["maxResults"] = tc.max
			}
			ids, pages := searchAll(t, c, body)
			if pages != tc.wantPages {
				t.Errorf("got %d pages, want %d", pages, tc.wantPages)
			}
			seen := map[string]bool{}
			for _, id := range ids {
				if seen[id] {
					t.Fatalf("issue %s returned twice", id)
				}
				seen[id] = true
			}
			if len(seen) != len(all) {
				t.Errorf("got %d issues, want %d", len(seen), len(all))
			}
		})
	}
	t.Run("created asc is in creation order", func(t *testing.T) {
		ids, _ := searchAll(t, c, map[string]any{"jql": "ORDER BY created ASC", "maxResults": 5000})
		if !slices.Equal(ids, all) {
			t.Error("ORDER BY created ASC is not the creation order")
		}
	})
}

func TestSearchTokenSurvivesNewIssues(t *testing.T) {
	e, c := newEmu(t, Options{Issues: 120, Seed: 6})
	body := map[string]any{"jql": "ORDER BY created ASC", "maxResults": 50}
	page := decodeAs[jira.SearchPage](t, c.post("/rest/api/3/search/jql", body, http.StatusOK))
	is, err := e.Create("SUP", func(is *Issue) { is.Summary = "Created while paging" })
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, x := range page.Issues {
		ids = append(ids, string(x.ID))
	}
	body["nextPageToken"] = page.NextPageToken
	rest, _ := searchAll(t, c, body)
	ids = append(ids, rest...)
	if len(ids) != 121 || ids[len(ids)-1] != is.ID {
		t.Errorf("got %d issues ending with %s, want 121 ending with the new %s", len(ids), ids[len(ids)-1], is.ID)
	}
	body["jql"] = "ORDER BY updated ASC"
	resp, out := c.do(http.MethodPost, "/rest/api/3/search/jql", body)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("token of another query: got %d, want 400: %s", resp.StatusCode, out)
	}
}

func TestSearchMaxResults(t *testing.T) {
	_, c := newEmu(t, Options{Issues: 6000, Seed: 6})
	for _, tc := range []struct {
		body map[string]any
		want int
	}{
		{map[string]any{"jql": ""}, 50},
		{map[string]any{"jql": "", "maxResults": 9000}, 5000},
		{map[string]any{"jql": "", "maxResults": 9000, "fields": []string{"id", "key"}}, 5000},
		{map[string]any{"jql": "", "maxResults": 9000, "fields": []string{"updated"}}, 100},
		{map[string]any{"jql": "", "maxResults": 7, "fields": []string{"*all"}}, 7},
	} {
		page := decodeAs[jira.SearchPage](t, c.post("/rest/api/3/search/jql", tc.body, http.StatusOK))
		if len(page.Issues) != tc.want {
			t.Errorf("%v: got %d issues, want %d", tc.body, len(page.Issues), tc.want)
		}
	}
	page := decodeAs[map[string]any](t, c.post("/rest/api/3/search/jql", map[string]any{"jql": "", "maxResults": 1}, http.StatusOK))
	if _, ok := page["total"]; ok {
		t.Error("search/jql answers carry no total")
	}
	issue := page["issues"].([]any)[0].(map[string]any)
	if len(issue) != 1 || issue["id"] == nil {
		t.Errorf("default fields: got %v, want the id only", issue)
	}
}

func TestJQLFilters(t *testing.T) {
	e, c := newEmu(t, Options{Issues: 400, Seed: 12, Projects: []string{"SUP", "OPS", "ENG"}})
	var mid *Issue
	keys := e.Keys()
	mid, _ = e.Issue(keys[200])
	cut := mid.Created.UnixMilli()
	two := []string{keys[10], keys[300]}
	one, _ := e.Issue(keys[42])
	search := func(jql string) []string {
		ids, _ := searchAll(t, c, map[string]any{"jql": jql, "fields": []string{"key", "created", "updated", "project"}, "maxResults": 100})
		return ids
	}
	issueOf := func(id string) *Issue {
		is, err := e.Issue(id)
		if err != nil {
			t.Fatal(err)
		}
		return is
	}
	cases := []struct {
		jql string
		ok  func(*Issue) bool
	}{
		{"project = SUP", func(is *Issue) bool { return is.Project == "SUP" }},
		{`project = "OPS" ORDER BY key ASC`, func(is *Issue) bool { return is.Project == "OPS" }},
		{"project in (SUP, ENG)", func(is *Issue) bool { return is.Project != "OPS" }},
		{"project != SUP", func(is *Issue) bool { return is.Project != "SUP" }},
		{"project not in (SUP)", func(is *Issue) bool { return is.Project != "SUP" }},
		{fmt.Sprintf("created >= %d", cut), func(is *Issue) bool { return is.Created.UnixMilli() >= cut }},
		{fmt.Sprintf("created < %d", cut), func(is *Issue) bool { return is.Created.UnixMilli() < cut }},
		{fmt.Sprintf("updated > %d AND project = OPS", cut), func(is *Issue) bool { return is.Updated.UnixMilli() > cut && is.Project == "OPS" }},
		{fmt.Sprintf("updated <= %d and updated >= %d", cut, cut-30*86400000), func(is *Issue) bool {
			u := is.Updated.UnixMilli()
			return u <= cut && u >= cut-30*86400000
		}},
		{"key in (" + strings.Join(two, ", ") + ")", func(is *Issue) bool { return slices.Contains(two, is.Key) }},
		{"issuekey = " + one.Key, func(is *Issue) bool { return is.Key == one.Key }},
		{"id in (" + one.ID + ", 99999999)", func(is *Issue) bool { return is.ID == one.ID }},
		{"updated >= -1w", func(is *Issue) bool { return is.Updated.After(e.Now().AddDate(0, 0, -7)) }},
	}
	for _, tc := range cases {
		t.Run(tc.jql, func(t *testing.T) {
			got := search(tc.jql)
			want := 0
			for _, k := range keys {
				if tc.ok(issueOf(k)) {
					want++
				}
			}
			if len(got) != want {
				t.Errorf("got %d issues, want %d", len(got), want)
			}
			for _, id := range got {
				if is := issueOf(id); !tc.ok(is) {
					t.Errorf("issue %s does not match", is.Key)
				}
			}
		})
	}
}

func TestJQLRejected(t *testing.T) {
	_, c := newEmu(t, Options{Issues: 10})
	for _, jql := range []string{
		"summary ~ crash",
		"project = SUP OR project = OPS",
		"project = NOPE",
		"key in (SUP-99999)",
		"key = not-a-key",
		"created >= '2024-01-01'",
		"status = Done",
		"(project = SUP)",
		"project =",
		"project in (SUP",
		"ORDER BY priority",
		"ORDER created",
		"project = SUP ORDER BY created sideways",
		`project = "SUP`,
	} {
		t.Run(jql, func(t *testing.T) {
			body := c.post("/rest/api/3/search/jql", map[string]any{"jql": jql}, http.StatusBadRequest)
			v := decodeAs[struct {
				ErrorMessages   []string `json:"errorMessages"`
				WarningMessages []string `json:"warningMessages"`
			}](t, body)
			if len(v.ErrorMessages) != 1 || v.WarningMessages == nil {
				t.Errorf("got %s", body)
			}
		})
	}
}

func TestBulkFetch(t *testing.T) {
	e, c := newEmu(t, Options{Issues: 300, Seed: 1})
	keys := e.Keys()
	res := decodeAs[jira.BulkFetchResult](t, c.post("/rest/api/3/issue/bulkfetch", map[string]any{
		"issueIdsOrKeys": []string{keys[0], "10005", "SUP-99999", keys[0]}, "fields": []string{"summary", FieldTimeToResolution},
	}, http.StatusOK))
	if len(res.Issues) != 2 || len(res.IssueErrors) != 0 {
		t.Errorf("got %d issues and %d errors, want 2 and 0 (unknown keys are left out, duplicates served once)", len(res.Issues), len(res.IssueErrors))
	}
	for _, is := range res.Issues {
		if is.Fields.Summary == "" || is.Fields.Status != nil {
			t.Errorf("issue %s: fields not limited to the asked ones", is.Key)
		}
	}
	tooMany := make([]string, 101)
	for i := range tooMany {
		tooMany[i] = keys[i]
	}
	c.post("/rest/api/3/issue/bulkfetch", map[string]any{"issueIdsOrKeys": tooMany}, http.StatusBadRequest)
	c.post("/rest/api/3/issue/bulkfetch", map[string]any{"issueIdsOrKeys": []string{}}, http.StatusBadRequest)
	c.post("/rest/api/3/issue/bulkfetch", "{not json", http.StatusBadRequest)
	res = decodeAs[jira.BulkFetchResult](t, c.post("/rest/api/3/issue/bulkfetch", map[string]any{"issueIdsOrKeys": keys[:100]}, http.StatusOK))
	if len(res.Issues) != 100 {
		t.Errorf("100 keys: got %d issues", len(res.Issues))
	}

	if err := e.SetFaults(Faults{BulkErrorRate: 1}); err != nil {
		t.Fatal(err)
	}
	res = decodeAs[jira.BulkFetchResult](t, c.post("/rest/api/3/issue/bulkfetch", map[string]any{"issueIdsOrKeys": keys[:3]}, http.StatusOK))
	if len(res.Issues) != 0 || len(res.IssueErrors) != 3 || res.IssueErrors[0].ErrorMessage == "" {
		t.Errorf("bulk error rate 1: got %d issues and errors %+v", len(res.Issues), res.IssueErrors)
	}
	if _, err := strconv.Atoi(string(res.IssueErrors[0].ID)); err != nil {
		t.Errorf("issue error id %q is not an id", res.IssueErrors[0].ID)
	}
}
