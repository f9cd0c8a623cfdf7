package emulator

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// platformPage is the PageBean the platform endpoints answer with.
type platformPage struct {
	StartAt    int               `json:"startAt"`
	MaxResults int               `json:"maxResults"`
	Total      int               `json:"total"`
	IsLast     bool              `json:"isLast"`
	NextPage   string            `json:"nextPage"`
	Values     []json.RawMessage `json:"values"`
}

// allPages follows a PageBean endpoint to its end with pages of size.
func allPages(t *testing.T, c *client, path string, size int) []json.RawMessage {
	t.Helper()
	var out []json.RawMessage
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	for start := 0; ; {
		p := decodeAs[platformPage](t, c.get(fmt.Sprintf("%s%sstartAt=%d&maxResults=%d", path, sep, start, size), http.StatusOK))
		out = append(out, p.Values...)
		start += len(p.Values)
		if p.IsLast != (start >= p.Total) || (!p.IsLast && p.NextPage == "") {
			t.Fatalf("%s at %d: isLast %v, total %d, nextPage %q: inconsistent", path, start, p.IsLast, p.Total, p.NextPage)
		}
		if p.IsLast {
			return out
		}
	}
}

// TestPlatformEndpointsMatchTheIssues: every status, priority, issue type,
// link type, project, version, component and account an issue names is
// served by the platform endpoints, in pages.
func TestPlatformEndpointsMatchTheIssues(t *testing.T) {
	e, c := newEmu(t, Options{Issues: 120, Seed: 3, Clock: frozen(time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC))})
	names := func(raws []json.RawMessage, key string) map[string]bool {
		out := map[string]bool{}
		for _, r := range raws {
			var m map[string]any
			if err := json.Unmarshal(r, &m); err != nil {
				t.Fatal(err)
			}
			out[fmt.Sprint(m[key])] = true
		}
		return out
	}
	var list []json.RawMessage
	projects := allPages(t, c, "/rest/api/3/project/search?expand=insight,lead", 1)
	if len(projects) != 2 {
		t.Fatalf("got %d projects, want 2", len(projects))
	}
	var versions, components []json.RawMessage
	for _, p := range projects {
		var pj struct {
			ID   string `json:"id"`
			Lead struct {
				AccountID string `json:"accountId"`
			} `json:"lead"`
			Insight struct {
				Total int `json:"totalIssueCount"`
			} `json:"insight"`
		}
		if err := json.Unmarshal(p, &pj); err != nil {
			t.Fatal(err)
		}
		if pj.Lead.AccountID == "" || pj.Insight.Total == 0 {
			t.Errorf("project %s: got lead %q, %d issues; want both", pj.ID, pj.Lead.AccountID, pj.Insight.Total)
		}
		versions = append(versions, allPages(t, c, "/rest/api/3/project/"+pj.ID+"/version", 2)...)
		components = append(components, allPages(t, c, "/rest/api/3/project/"+pj.ID+"/component", 2)...)
	}
	statuses := names(decodeAs[[]json.RawMessage](t, c.get("/rest/api/3/status", http.StatusOK)), "name")
	types := names(decodeAs[[]json.RawMessage](t, c.get("/rest/api/3/issuetype", http.StatusOK)), "name")
	priorities := names(allPages(t, c, "/rest/api/3/priority/search", 2), "name")
	resolutions := names(allPages(t, c, "/rest/api/3/resolution/search", 2), "name")
	list = decodeAs[struct {
		Types []json.RawMessage `json:"issueLinkTypes"`
	}](t, c.get("/rest/api/3/issueLinkType", http.StatusOK)).Types
	linkTypes := names(list, "name")
	versionNames, componentNames := names(versions, "name"), names(components, "name")

	// users/search leaves the portal customers out; user/bulk finds them.
	var listed []json.RawMessage
	for start := 0; ; start += 7 {
		page := decodeAs[[]json.RawMessage](t, c.get(fmt.Sprintf("/rest/api/3/users/search?startAt=%d&maxResults=7", start), http.StatusOK))
		if len(page) == 0 {
			break
		}
		listed = append(listed, page...)
	}
	accounts := names(listed, "accountId")
	var customers []string
	for _, u := range e.Users() {
		if u.AccountType == "customer" {
			if accounts[u.AccountID] {
				t.Errorf("customer %s listed by users/search", u.AccountID)
			}
			customers = append(customers, u.AccountID)
		} else if !accounts[u.AccountID] {
			t.Errorf("account %s (%s) not listed by users/search", u.AccountID, u.AccountType)
		}
	}
	q := url.Values{"accountId": append(slices.Clone(customers[:3]), "no-such-account")}
	found := allPages(t, c, "/rest/api/3/user/bulk?"+q.Encode(), 2)
	if got := names(found, "accountId"); len(got) != 3 || !got[customers[0]] {
		t.Errorf("user/bulk: got %v, want the 3 customers asked for", got)
	}
	for _, id := range customers {
		accounts[id] = true
	}

	for _, key := range e.Keys() {
		is, err := e.Issue(key)
		if err != nil {
			t.Fatal(err)
		}
		check := func(what string, set map[string]bool, v string) {
			if v != "" && !set[v] {
				t.Errorf("%s: %s %q is not served", key, what, v)
			}
		}
		check("status", statuses, is.Status)
		check("issue type", types, is.Type)
		check("priority", priorities, is.Priority)
		check("resolution", resolutions, is.Resolution)
		for _, a := range []string{is.Reporter, is.Creator, is.Assignee} {
			check("account", accounts, a)
		}
		for _, cm := range is.Comments {
			check("comment author", accounts, cm.Author)
		}
		for _, h := range is.Histories {
			check("change author", accounts, h.Author)
		}
		for _, w := range is.Worklogs {
			check("worklog author", accounts, w.Author)
		}
		for _, v := range is.FixVersions {
			check("fix version", versionNames, v)
		}
		for _, comp := range is.Components {
			check("component", componentNames, comp)
		}
		for _, l := range is.Links {
			check("link type", linkTypes, l.Type)
		}
	}
	c.get("/rest/api/3/project/NOPE/version", http.StatusNotFound)
}

// TestPlatformMutationsSendWebhooks: a project renamed, a version added and
// released, an account added each send the webhook Jira sends, and the
// endpoints show the change; a link type added sends none, the link made
// with it does.
func TestPlatformMutationsSendWebhooks(t *testing.T) {
	sink := newHookSink(t)
	e, c := newEmu(t, Options{Issues: 10, Seed: 4, WebhookURL: sink.srv.URL, WebhookSecret: "s"})
	admin := &client{t: t, base: c.base}
	admin.do(http.MethodPut, "/_emulator/projects/OPS", map[string]string{"name": "Platform Operations"})
	id := decodeAs[map[string]string](t, admin.post("/_emulator/projects/OPS/versions", map[string]string{"name": "7.0", "releaseDate": "2031-02-28"}, http.StatusCreated))["id"]
	admin.post("/_emulator/versions/"+id+"/release", nil, http.StatusNoContent)
	acc := decodeAs[map[string]string](t, admin.post("/_emulator/users", map[string]string{"displayName": "Ada Quill", "email": "ada@example.com"}, http.StatusCreated))["accountId"]
	admin.post("/_emulator/linktypes", map[string]string{"name": "Causes", "inward": "is caused by", "outward": "causes"}, http.StatusCreated)
	keys := e.Keys()
	admin.post("/_emulator/links", map[string]string{"from": keys[0], "to": keys[1], "type": "Causes"}, http.StatusCreated)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.WaitWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
	got := sink.events(t)
	slices.Sort(got)
	want := []string{"issuelink_created", "jira:version_created", "jira:version_released", "project_updated", "user_created"}
	if !slices.Equal(got, want) {
		t.Errorf("got webhooks %v, want %v", got, want)
	}
	for _, d := range sink.deliveries() {
		if !strings.HasPrefix(d.header.Get("X-Hub-Signature"), "sha256=") {
			t.Errorf("a delivery is not signed: %s", d.body)
		}
	}

	var ops struct {
		Name string `json:"name"`
	}
	for _, p := range allPages(t, c, "/rest/api/3/project/search", 50) {
		if strings.Contains(string(p), `"key":"OPS"`) {
			ops = decodeAs[struct {
				Name string `json:"name"`
			}](t, p)
		}
	}
	if ops.Name != "Platform Operations" {
		t.Errorf("project OPS: got name %q, want the new one", ops.Name)
	}
	var released bool
	for _, v := range allPages(t, c, "/rest/api/3/project/OPS/version", 50) {
		var ver struct {
			ID       string `json:"id"`
			Released bool   `json:"released"`
		}
		_ = json.Unmarshal(v, &ver)
		if ver.ID == id {
			released = ver.Released
		}
	}
	if !released {
		t.Errorf("version %s: not released", id)
	}
	found := allPages(t, c, "/rest/api/3/user/bulk?accountId="+url.QueryEscape(acc), 10)
	if len(found) != 1 || !strings.Contains(string(found[0]), "Ada Quill") {
		t.Errorf("user/bulk %s: got %s, want Ada Quill", acc, found)
	}
	if b := c.get("/rest/api/3/issueLinkType", http.StatusOK); !strings.Contains(string(b), `"Causes"`) {
		t.Errorf("issueLinkType: got %s, want Causes among them", b)
	}
	for _, bad := range []struct{ path, body string }{
		{"/_emulator/projects/OPS/versions", `{"name":""}`},
		{"/_emulator/projects/NOPE/versions", `{"name":"1.0"}`},
		{"/_emulator/projects/OPS/versions", `{"name":"8.0","releaseDate":"soon"}`},
		{"/_emulator/users", `{"displayName":"X","accountType":"robot"}`},
		{"/_emulator/versions/999999/release", `{}`},
	} {
		if resp, b := admin.do(http.MethodPost, bad.path, bad.body); resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusNotFound {
			t.Errorf("POST %s %s: got %d %s, want 400 or 404", bad.path, bad.body, resp.StatusCode, b)
		}
	}
}
