package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"
)

type wlJSON struct {
	ID           string          `json:"id"`
	IssueID      string          `json:"issueId"`
	Author       *User           `json:"author"`
	UpdateAuthor *User           `json:"updateAuthor"`
	Comment      json.RawMessage `json:"comment"`
	Started      string          `json:"started"`
	Created      string          `json:"created"`
	Updated      string          `json:"updated"`
	TimeSpent    string          `json:"timeSpent"`
	Seconds      int64           `json:"timeSpentSeconds"`
	Visibility   *struct {
		Type, Value string
	} `json:"visibility"`
}

type wlPage struct {
	StartAt    int      `json:"startAt"`
	MaxResults int      `json:"maxResults"`
	Total      int      `json:"total"`
	Worklogs   []wlJSON `json:"worklogs"`
}

type changePage struct {
	Since    int64 `json:"since"`
	Until    int64 `json:"until"`
	LastPage bool  `json:"lastPage"`
	Values   []struct {
		WorklogID   int64 `json:"worklogId"`
		UpdatedTime int64 `json:"updatedTime"`
	} `json:"values"`
}

// TestGeneratedWorklogs: some issues have more worklogs than GET issue
// embeds; the issue embeds the first 20 with the total, the worklog
// endpoint pages them all, and they have Jira's shapes.
func TestGeneratedWorklogs(t *testing.T) {
	e, c := newEmu(t, Options{Issues: 60, Seed: 3})
	key := findIssue(t, e, func(is *Issue) bool { return len(is.Worklogs) > maxEmbeddedWorklogs })
	is, _ := e.Issue(key)
	n := len(is.Worklogs)

	type issueJSON struct {
		Fields struct {
			Worklog      wlPage `json:"worklog"`
			Timetracking struct {
				Seconds int64 `json:"timeSpentSeconds"`
			} `json:"timetracking"`
			Timespent int64 `json:"timespent"`
		} `json:"fields"`
	}
	issue := decodeAs[issueJSON](t, c.get("/rest/api/3/issue/"+key, http.StatusOK))
	emb := issue.Fields.Worklog
	if emb.Total != n || len(emb.Worklogs) != maxEmbeddedWorklogs || emb.MaxResults != maxEmbeddedWorklogs {
		t.Errorf("embedded: got %d of total %d (maxResults %d), want %d of %d", len(emb.Worklogs), emb.Total, emb.MaxResults, maxEmbeddedWorklogs, n)
	}
	var sum int64
	var all []wlJSON
	for start := 0; start < n; start += 10 {
		p := decodeAs[wlPage](t, c.get(fmt.Sprintf("/rest/api/3/issue/%s/worklog?startAt=%d&maxResults=10", key, start), http.StatusOK))
		if p.Total != n || p.StartAt != start || len(p.Worklogs) != min(10, n-start) {
			t.Fatalf("page at %d: got %d worklogs, total %d, startAt %d", start, len(p.Worklogs), p.Total, p.StartAt)
		}
		all = append(all, p.Worklogs...)
	}
	comments, restricted := 0, 0
	for i, w := range all {
		sum += w.Seconds
		if w.ID != is.Worklogs[i].ID || w.IssueID != is.ID || w.Author == nil || w.Author.AccountID == "" || w.UpdateAuthor == nil {
			t.Errorf("worklog %d: %+v", i, w)
		}
		for _, ts := range []string{w.Started, w.Created, w.Updated} {
			if _, err := time.Parse(jiraLayout, ts); err != nil {
				t.Errorf("worklog %s: time %q not in Jira's layout", w.ID, ts)
			}
		}
		if w.TimeSpent == "" || w.Seconds <= 0 {
			t.Errorf("worklog %s: time spent %q / %d", w.ID, w.TimeSpent, w.Seconds)
		}
		if len(w.Comment) > 0 {
			var doc struct {
				Type string `json:"type"`
			}
			if json.Unmarshal(w.Comment, &doc) != nil || doc.Type != "doc" {
				t.Errorf("worklog %s: comment is not ADF: %s", w.ID, w.Comment)
			}
			comments++
		}
		if w.Visibility != nil {
			restricted++
		}
	}
	if comments == 0 || comments == len(all) || restricted == len(all) {
		t.Errorf("of %d worklogs %d have a comment and %d a visibility: want some, not all", len(all), comments, restricted)
	}
	if issue.Fields.Timetracking.Seconds != sum || issue.Fields.Timespent != sum {
		t.Errorf("time tracking %d, timespent %d, want the worklogs' sum %d", issue.Fields.Timetracking.Seconds, issue.Fields.Timespent, sum)
	}
}

// TestWorklogMutations: the admin API adds, edits and deletes worklogs; each
// sends its webhook naming the issue id only, and the site-wide lists and
// worklog/list follow.
func TestWorklogMutations(t *testing.T) {
	e, c, sink := newHookedEmu(t, Options{Issues: 30, Seed: 8, Now: time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)})
	key := "SUP-3"
	is, _ := e.Issue(key)
	before := e.Now().UnixMilli()

	added := decodeAs[map[string]string](t, c.post("/_emulator/issues/"+key+"/worklogs", map[string]any{
		"timeSpentSeconds": 5400, "comment": "Rebooted the print server.", "started": "2025-06-30T09:00:00.000+0200", "visibility": "Developers",
	}, http.StatusCreated))
	id := added["id"]
	resp, body := c.do(http.MethodPut, "/_emulator/issues/"+key+"/worklogs/"+id, map[string]any{"timeSpentSeconds": 7200})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("edit worklog: %d %s", resp.StatusCode, body)
	}
	if resp, _ := c.do(http.MethodPut, "/_emulator/issues/"+key+"/worklogs/"+id, map[string]any{"timeSpentSeconds": 0}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("edit to zero seconds: got %d, want 400", resp.StatusCode)
	}
	p := decodeAs[wlPage](t, c.get("/rest/api/3/issue/"+key+"/worklog", http.StatusOK))
	got := p.Worklogs[len(p.Worklogs)-1]
	if got.ID != id || got.Seconds != 7200 || got.Visibility == nil || got.Visibility.Value != "Developers" ||
		len(got.Comment) == 0 {
		t.Errorf("edited worklog: %+v", got)
	}
	list := decodeAs[[]wlJSON](t, c.post("/rest/api/3/worklog/list", map[string]any{"ids": []int64{mustInt(t, id), 1}}, http.StatusOK))
	if len(list) != 1 || list[0].ID != id || list[0].IssueID != is.ID {
		t.Errorf("worklog/list: got %+v, want %s of issue %s", list, id, is.ID)
	}
	updated := decodeAs[changePage](t, c.get("/rest/api/3/worklog/updated?since="+strconv.FormatInt(before, 10), http.StatusOK))
	if len(updated.Values) != 1 || strconv.FormatInt(updated.Values[0].WorklogID, 10) != id || !updated.LastPage ||
		updated.Until != updated.Values[0].UpdatedTime || updated.Since != before {
		t.Errorf("updated since %d: %+v, want only %s", before, updated, id)
	}

	resp, _ = c.do(http.MethodDelete, "/_emulator/issues/"+key+"/worklogs/"+id, nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete worklog: %d", resp.StatusCode)
	}
	deleted := decodeAs[changePage](t, c.get("/rest/api/3/worklog/deleted?since="+strconv.FormatInt(before, 10), http.StatusOK))
	if len(deleted.Values) != 1 || strconv.FormatInt(deleted.Values[0].WorklogID, 10) != id {
		t.Errorf("deleted since %d: %+v, want %s", before, deleted, id)
	}
	if list := decodeAs[[]wlJSON](t, c.post("/rest/api/3/worklog/list", map[string]any{"ids": []int64{mustInt(t, id)}}, http.StatusOK)); len(list) != 0 {
		t.Errorf("worklog/list of a deleted worklog: got %+v", list)
	}

	wait(t, e)
	var events []string
	for _, d := range sink.deliveries() {
		var ev struct {
			WebhookEvent string `json:"webhookEvent"`
			Worklog      *struct {
				ID      string `json:"id"`
				IssueID string `json:"issueId"`
			} `json:"worklog"`
		}
		if err := json.Unmarshal(d.body, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Worklog != nil {
			events = append(events, ev.WebhookEvent)
			if ev.Worklog.IssueID != is.ID || ev.Worklog.ID != id {
				t.Errorf("%s names worklog %s of issue %s, want %s of %s", ev.WebhookEvent, ev.Worklog.ID, ev.Worklog.IssueID, id, is.ID)
			}
		}
	}
	// Deliveries run side by side, as Jira's do: they may arrive in any
	// order, each once.
	slices.Sort(events)
	if !slices.Equal(events, []string{"worklog_created", "worklog_deleted", "worklog_updated"}) {
		t.Errorf("worklog events: got %v, want one each of created, updated and deleted", events)
	}
}

// TestWorklogChangesPaging: the updated list pages by time, 1000 a page,
// each next page starting at the previous page's until.
func TestWorklogChangesPaging(t *testing.T) {
	e, c := newEmu(t, Options{Issues: 6000, Seed: 5})
	total := 0
	for _, k := range e.Keys() {
		is, _ := e.Issue(k)
		total += len(is.Worklogs)
	}
	if total <= worklogChangesPage {
		t.Fatalf("only %d generated worklogs: the test needs more than a page", total)
	}
	seen := map[int64]bool{}
	since, pages := int64(0), 0
	for {
		p := decodeAs[changePage](t, c.get("/rest/api/3/worklog/updated?since="+strconv.FormatInt(since, 10), http.StatusOK))
		pages++
		for _, v := range p.Values {
			seen[v.WorklogID] = true
		}
		if p.LastPage {
			break
		}
		if p.Until <= since || len(p.Values) != worklogChangesPage {
			t.Fatalf("page %d: until %d after since %d with %d values", pages, p.Until, since, len(p.Values))
		}
		since = p.Until
	}
	if len(seen) != total || pages < 2 {
		t.Errorf("got %d worklogs in %d pages, want %d in more than one", len(seen), pages, total)
	}
	if bad := c.post("/rest/api/3/worklog/list", map[string]any{"ids": make([]int64, maxWorklogList+1)}, http.StatusBadRequest); len(bad) == 0 {
		t.Error("no error body for too many ids")
	}
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
