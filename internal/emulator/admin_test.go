package emulator

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/jira"
)

// TestAdminAPI walks every admin route the way docs/emulator.md shows it.
func TestAdminAPI(t *testing.T) {
	now := time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)
	e, c, sink := newHookedEmu(t, Options{Issues: 40, Seed: 13, Clock: frozen(now)})
	users := decodeAs[[]map[string]any](t, c.get("/_emulator/users", http.StatusOK))
	var agent, customer string
	for _, u := range users {
		switch {
		case u["accountType"] == "customer" && customer == "":
			customer = u["accountId"].(string)
		case u["accountType"] == "atlassian" && agent == "":
			agent = u["accountId"].(string)
		}
	}

	created := decodeAs[issueRef](t, c.post("/_emulator/issues", map[string]any{
		"project": "SUP", "summary": "Cannot print invoices", "description": "The PDF is empty.\n\nSince Monday.",
		"priority": "High", "labels": []string{"billing"}, "reporter": customer, "requestType": "Report a bug",
		"custom": map[string]any{FieldSeverity: "S2 - Major", FieldAffectedSystems: []string{"Billing API"}, FieldStoryPoints: 3,
			FieldIncidentStart: "2025-06-30T09:15:00.000+0200", FieldRootCause: "Font missing", FieldEscalationOwner: agent},
	}, http.StatusCreated))
	key := created.Key
	if !strings.HasPrefix(key, "SUP-") || created.ID == "" {
		t.Fatalf("create: %+v", created)
	}
	issue := decodeAs[jira.Issue](t, c.get("/rest/api/3/issue/"+key, http.StatusOK))
	if issue.Fields.Summary != "Cannot print invoices" || issue.Fields.Reporter.AccountID != customer || issue.Fields.Priority.Name != "High" {
		t.Errorf("created issue: %+v", issue.Fields)
	}
	if v, _ := issue.Fields.Field(FieldSeverity); !strings.Contains(string(v), `"value":"S2 - Major"`) {
		t.Errorf("severity %s", v)
	}

	c.post("/_emulator/issues/"+key, map[string]any{"assignee": agent, "duedate": "2025-07-04", "components": []string{"billing"},
		"custom": map[string]any{FieldSeverity: nil}, "sla": map[string]string{FieldTimeToFirstResp: "pause"}}, http.StatusOK)
	snap, _ := e.Issue(key)
	if snap.Assignee != agent || snap.DueDate != "2025-07-04" || snap.Components[0] != "Billing" || snap.Custom[FieldSeverity] != nil {
		t.Errorf("after update: %+v", snap)
	}
	if s := snap.sla(FieldTimeToFirstResp); s.Ongoing == nil || !s.Ongoing.Paused {
		t.Errorf("SLA pause: %+v", s)
	}
	c.post("/_emulator/issues/"+key+"/transition", map[string]any{"status": "Done", "resolution": "Won't Do"}, http.StatusOK)
	if snap, _ = e.Issue(key); snap.Resolution != "Won't Do" || snap.Status != StatusDone {
		t.Errorf("transition: %s %s", snap.Status, snap.Resolution)
	}

	cm := decodeAs[map[string]string](t, c.post("/_emulator/issues/"+key+"/comments", map[string]any{"body": "Is it fixed?", "author": customer}, http.StatusCreated))
	c.do(http.MethodPut, "/_emulator/issues/"+key+"/comments/"+cm["id"], map[string]any{"body": map[string]any{"type": "doc", "version": 1, "content": []any{}}})
	if snap, _ = e.Issue(key); snap.Comments[0].Author != customer || snap.Comments[0].UpdateAuthor == customer {
		t.Errorf("comment authors: %+v", snap.Comments[0])
	}
	resp, _ := c.do(http.MethodDelete, "/_emulator/issues/"+key+"/comments/"+cm["id"]+"?silent=true", nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("delete comment: %d", resp.StatusCode)
	}

	att := decodeAs[map[string]any](t, c.post("/_emulator/issues/"+key+"/attachments", map[string]any{
		"filename": "report.csv", "content": base64.StdEncoding.EncodeToString([]byte("a,b\n1,2\n")),
	}, http.StatusCreated))
	big := decodeAs[map[string]any](t, c.post("/_emulator/issues/"+key+"/attachments", map[string]any{"filename": "dump.bin", "size": 80 << 20}, http.StatusCreated))
	if att["size"] != float64(8) || big["size"] != float64(80<<20) {
		t.Errorf("attachments %v %v", att, big)
	}
	if got := c.get("/rest/api/3/attachment/content/"+att["id"].(string)+"?redirect=false", http.StatusOK); string(got) != "a,b\n1,2\n" {
		t.Errorf("uploaded content %q", got)
	}
	resp, _ = c.do(http.MethodDelete, "/_emulator/issues/"+key+"/attachments/"+att["id"].(string), nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("delete attachment: %d", resp.StatusCode)
	}

	rl := decodeAs[map[string]int64](t, c.post("/_emulator/issues/"+key+"/remotelinks", map[string]any{"url": "https://example.com/x", "title": "X"}, http.StatusCreated))
	links := decodeAs[[]jira.RemoteLink](t, c.get("/rest/api/3/issue/"+key+"/remotelink", http.StatusOK))
	if len(links) != 1 || links[0].Object.URL != "https://example.com/x" {
		t.Errorf("remote links %+v", links)
	}
	resp, _ = c.do(http.MethodDelete, "/_emulator/issues/"+key+"/remotelinks/"+jsonNumber(rl["id"]), nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("delete remote link: %d", resp.StatusCode)
	}
	wl := decodeAs[map[string]string](t, c.post("/_emulator/issues/"+key+"/worklogs", map[string]any{"timeSpentSeconds": 3600}, http.StatusCreated))
	resp, _ = c.do(http.MethodDelete, "/_emulator/issues/"+key+"/worklogs/"+wl["id"], nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("delete worklog: %d", resp.StatusCode)
	}
	link := decodeAs[map[string]string](t, c.post("/_emulator/links", map[string]any{"from": key, "to": "OPS-1", "type": "blocks"}, http.StatusCreated))
	is := decodeAs[jira.Issue](t, c.get("/rest/api/3/issue/OPS-1?fields=issuelinks", http.StatusOK))
	found := false
	for _, l := range is.Fields.IssueLinks {
		if string(l.ID) == link["id"] && l.InwardIssue != nil && l.InwardIssue.Key == key {
			found = true
		}
	}
	if !found {
		t.Errorf("OPS-1 does not show %s as blocking it: %+v", key, is.Fields.IssueLinks)
	}
	resp, _ = c.do(http.MethodDelete, "/_emulator/links/"+link["id"], nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("delete link: %d", resp.StatusCode)
	}

	moved := decodeAs[issueRef](t, c.post("/_emulator/issues/"+key+"/move", map[string]any{"project": "OPS"}, http.StatusOK))
	if moved.OldKey != key || !strings.HasPrefix(moved.Key, "OPS-") || moved.ID != created.ID {
		t.Errorf("move: %+v", moved)
	}
	state := decodeAs[State](t, c.get("/_emulator/issues/"+key, http.StatusOK))
	if decodeAs[jira.Issue](t, state.Issue).Key != moved.Key {
		t.Error("state by the old key does not show the new key")
	}
	keys := decodeAs[map[string][]string](t, c.get("/_emulator/issues", http.StatusOK))
	if len(keys["keys"]) != 41 {
		t.Errorf("got %d keys, want 41", len(keys["keys"]))
	}

	storm := decodeAs[map[string]any](t, c.post("/_emulator/storm", map[string]any{"events": 12, "issues": 4}, http.StatusOK))
	if storm["events"] != float64(12) || len(storm["keys"].([]any)) != 4 {
		t.Errorf("storm %v", storm)
	}
	waited := decodeAs[WebhookStats](t, c.post("/_emulator/webhooks/wait", map[string]any{"timeout": "10s"}, http.StatusOK))
	if waited.Pending != 0 || waited.Delivered == 0 {
		t.Errorf("after wait: %+v", waited)
	}
	resp, _ = c.do(http.MethodDelete, "/_emulator/issues/"+moved.Key, nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("delete issue: %d", resp.StatusCode)
	}
	c.get("/_emulator/issues/"+moved.Key, http.StatusNotFound)

	clock := decodeAs[map[string]any](t, c.post("/_emulator/clock", map[string]any{"advance": "2h"}, http.StatusOK))
	if clock["epochMillis"] != float64(now.Add(2*time.Hour).UnixMilli()) {
		t.Errorf("clock %v", clock)
	}
	c.post("/_emulator/clock", map[string]any{"advance": "-1h"}, http.StatusBadRequest)

	faults := decodeAs[map[string]any](t, c.post("/_emulator/faults", map[string]any{"latency": "1ms", "errorRate": 0.5, "searchLag": "30s", "webhookShuffle": 3}, http.StatusOK))
	if faults["errorRate"] != 0.5 || faults["latency"] != "1ms" || e.Faults().SearchLag != 30*time.Second {
		t.Errorf("faults %v", faults)
	}
	c.post("/_emulator/faults", map[string]any{"errorRate": 2}, http.StatusBadRequest)
	c.post("/_emulator/faults", map[string]any{"latency": "soon"}, http.StatusBadRequest)
	c.post("/_emulator/faults/off", nil, http.StatusOK)

	st := decodeAs[Stats](t, c.get("/_emulator/stats", http.StatusOK))
	if st.Calls[EndpointIssue] == 0 || st.Webhooks.Events == 0 {
		t.Errorf("stats %+v", st)
	}
	resp, _ = c.do(http.MethodPost, "/_emulator/stats/reset", nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("reset: %d", resp.StatusCode)
	}
	st = decodeAs[Stats](t, c.get("/_emulator/stats", http.StatusOK))
	if st.Calls[EndpointIssue] != 0 || len(st.IssueFetches) != 0 || st.Webhooks.Events != 0 {
		t.Errorf("stats after reset %+v", st)
	}

	// Mistakes are answered with Jira's error envelope.
	for _, tc := range []struct {
		method, path string
		body         any
		want         int
	}{
		{"POST", "/_emulator/issues", map[string]any{"project": "NOPE"}, 400},
		{"POST", "/_emulator/issues", map[string]any{"project": "SUP", "priority": "Urgent"}, 400},
		{"POST", "/_emulator/issues", "{", 400},
		{"POST", "/_emulator/issues/SUP-1", map[string]any{"custom": map[string]any{"customfield_99999": 1}}, 400},
		{"POST", "/_emulator/issues/SUP-1", map[string]any{"sla": map[string]string{FieldTimeToResolution: "explode"}}, 400},
		{"POST", "/_emulator/issues/NOPE-1/transition", map[string]any{"status": "Done"}, 404},
		{"DELETE", "/_emulator/links/123456789", nil, 404},
		{"GET", "/_emulator/nothing", nil, 404},
	} {
		resp, body := c.do(tc.method, tc.path, tc.body)
		if resp.StatusCode != tc.want || !json.Valid(body) || !strings.Contains(string(body), "errorMessages") {
			t.Errorf("%s %s: got %d %s, want %d", tc.method, tc.path, resp.StatusCode, body, tc.want)
		}
	}
	if n := len(sink.deliveries()); n == 0 {
		t.Error("the admin API sent no webhooks")
	}
}

func jsonNumber(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
