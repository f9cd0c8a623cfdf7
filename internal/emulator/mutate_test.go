package emulator

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/jira"
)

const testSecret = "webhook-secret"

func newHookedEmu(t *testing.T, opts Options) (*Emulator, *client, *hookSink) {
	t.Helper()
	sink := newHookSink(t)
	opts.WebhookURL, opts.WebhookSecret = sink.srv.URL, testSecret
	if opts.WebhookBackoff == 0 {
		opts.WebhookBackoff = 5 * time.Millisecond
	}
	e, c := newEmu(t, opts)
	return e, c, sink
}

func wait(t *testing.T, e *Emulator) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.WaitWebhooks(ctx); err != nil {
		t.Fatalf("webhooks: %v (%+v)", err, e.Stats().Webhooks)
	}
}

// verify checks a delivery's signature the way jiraduck's intake does:
// HMAC-SHA256 of the raw body, compared in constant time.
func verify(t *testing.T, d delivered) {
	t.Helper()
	sig, ok := strings.CutPrefix(d.header.Get("X-Hub-Signature"), "sha256=")
	if !ok {
		t.Fatalf("no sha256 signature: %v", d.header)
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, []byte(testSecret))
	mac.Write(d.body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		t.Error("signature does not match the body")
	}
	if d.header.Get("X-Atlassian-Webhook-Identifier") == "" {
		t.Error("no X-Atlassian-Webhook-Identifier")
	}
}

func TestSignedWebhookOfAnUpdate(t *testing.T) {
	e, c, sink := newHookedEmu(t, Options{Issues: 20, Seed: 8})
	before, _ := e.Issue("OPS-2")
	prio := map[bool]string{true: "Lowest", false: "Highest"}[before.Priority == "Highest"]
	err := e.Update("OPS-2", func(is *Issue) {
		is.Summary = "Rotate the signing key"
		is.Priority = prio
		is.Labels = append(is.Labels, "security")
		is.Custom[FieldStoryPoints] = 5
		is.Description = Text("First line\nsecond line\n\nA new paragraph.")
	})
	if err != nil {
		t.Fatal(err)
	}
	wait(t, e)
	got := sink.deliveries()
	if len(got) != 1 {
		t.Fatalf("got %d deliveries, want 1", len(got))
	}
	verify(t, got[0])
	ev, err := jira.DecodeWebhook(got[0].body)
	if err != nil {
		t.Fatal(err)
	}
	if ev.WebhookEvent != "jira:issue_updated" || ev.IssueEventTypeName != "issue_updated" || ev.Issue.Key != "OPS-2" {
		t.Errorf("got %s %s %s", ev.WebhookEvent, ev.IssueEventTypeName, ev.Issue.Key)
	}
	if ts := ev.Time(); ts.Before(before.Updated) {
		t.Errorf("webhook timestamp %s before the previous update %s", ts, before.Updated)
	}
	var body struct {
		Issue struct {
			Self   string         `json:"self"`
			Fields map[string]any `json:"fields"`
		} `json:"issue"`
		Changelog struct {
			ID    string            `json:"id"`
			Items []jira.ChangeItem `json:"items"`
		} `json:"changelog"`
	}
	json.Unmarshal(got[0].body, &body)
	if !strings.Contains(body.Issue.Self, "/rest/api/2/issue/") {
		t.Errorf("webhook self %q is not a v2 link", body.Issue.Self)
	}
	if d, ok := body.Issue.Fields["description"].(string); !ok || !strings.Contains(d, "A new paragraph.") {
		t.Errorf("webhook description is not wiki text: %#v", body.Issue.Fields["description"])
	}
	if _, ok := body.Issue.Fields["comment"]; ok {
		t.Error("webhook issue carries comments")
	}
	var fields []string
	for _, it := range body.Changelog.Items {
		fields = append(fields, it.Field)
	}
	if want := []string{"summary", "description", "priority", "labels", "Story Points"}; !slices.Equal(fields, want) {
		t.Errorf("changelog items %v, want %v", fields, want)
	}
	after, _ := e.Issue("OPS-2")
	last := after.Histories[len(after.Histories)-1]
	if !after.Updated.After(before.Updated) || last.ID != body.Changelog.ID || !last.Created.Equal(after.Updated) {
		t.Errorf("updated %s (was %s), last history %s at %s, webhook changelog %s", after.Updated, before.Updated, last.ID, last.Created, body.Changelog.ID)
	}
	// The REST answer shows the same change.
	issue := decodeAs[jira.Issue](t, c.get("/rest/api/3/issue/OPS-2", http.StatusOK))
	if issue.Fields.Summary != "Rotate the signing key" || issue.Fields.Priority.Name != prio || !issue.Fields.Updated.Equal(after.Updated) {
		t.Errorf("REST issue after update: %s %s %s", issue.Fields.Summary, issue.Fields.Priority.Name, issue.Fields.Updated)
	}
}

func TestWebhookShapes(t *testing.T) {
	e, _, sink := newHookedEmu(t, Options{Issues: 30, Seed: 8})
	software := findIssue(t, e, func(is *Issue) bool { return is.Project == "OPS" && is.Status == StatusToDo })
	if err := e.Transition(software, StatusProgress); err != nil {
		t.Fatal(err)
	}
	if _, err := e.AddComment(software, Comment{Body: Text("Looking into it")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.AddLink(software, "SUP-1", "Blocks"); err != nil {
		t.Fatal(err)
	}
	if err := e.Delete(software); err != nil {
		t.Fatal(err)
	}
	wait(t, e)
	byEvent := map[string][]byte{}
	for _, d := range sink.deliveries() {
		verify(t, d)
		var env struct {
			WebhookEvent string `json:"webhookEvent"`
			Type         string `json:"issue_event_type_name"`
		}
		json.Unmarshal(d.body, &env)
		byEvent[env.WebhookEvent+"/"+env.Type] = d.body
		if _, err := jira.DecodeWebhook(d.body); err != nil {
			t.Errorf("%s: %v", env.WebhookEvent, err)
		}
	}
	issueRules := shapeRules{
		// Captures from 2019 lack fields newer sites have; the emulator
		// writes no "name"/"key" user fields, which Jira Cloud dropped.
		extra: set("$.issue.fields.parent", "$.issue.fields.statuscategorychangedate", "$.issue.fields.issuerestriction", "$.issue.fields.statusCategory",
			"$.issue.fields.issuetype.entityId", "$.issue.fields.issuetype.hierarchyLevel", "$.user.accountType", "$.issue.fields.creator.accountType",
			"$.issue.fields.reporter.accountType", "$.issue.fields.assignee.accountType", "$.issue.fields.project.simplified",
			"$.issue.fields.timetracking.timeSpent", "$.issue.fields.timetracking.timeSpentSeconds",
			// Estimates, in the keys of the real xsoar capture's timetracking.
			"$.issue.fields.timetracking.originalEstimate", "$.issue.fields.timetracking.remainingEstimate",
			"$.issue.fields.timetracking.originalEstimateSeconds", "$.issue.fields.timetracking.remainingEstimateSeconds",
			"$.issue.fields.security",
			"$.issue.fields.attachment[].thumbnail", "$.issue.fields.issuelinks[].outwardIssue", "$.issue.fields.issuelinks[].inwardIssue",
			"$.issue.fields.issuelinks[].id", "$.issue.fields.issuelinks[].self", "$.issue.fields.issuelinks[].type",
			"*.attachment[].self", "*.attachment[].id", "*.attachment[].filename", "*.attachment[].author", "*.attachment[].created",
			"*.attachment[].size", "*.attachment[].mimeType", "*.attachment[].content", "*.subtasks[].id", "*.subtasks[].key",
			"*.subtasks[].self", "*.subtasks[].fields", "*.fixVersions[].self", "*.fixVersions[].id", "*.fixVersions[].description",
			"*.fixVersions[].name", "*.fixVersions[].archived", "*.fixVersions[].released", "*.fixVersions[].releaseDate",
			"*.changelog.items[].tmpFromAccountId", "*.changelog.items[].tmpToAccountId"),
		missing: set("$.user.name", "$.user.key", "$.issue.fields.creator.name", "$.issue.fields.creator.key",
			"$.issue.fields.reporter.name", "$.issue.fields.reporter.key", "$.issue.fields.assignee.name", "$.issue.fields.assignee.key",
			"$.issue.fields.project.projectCategory", "*.components[].description"),
	}
	cases := []struct {
		event, rel string
		rules      shapeRules
	}{
		{"jira:issue_updated/issue_generic", "webhooks/jira_issue_updated/status_in_progress__mattermost.json", issueRules},
		{"comment_created/", "webhooks/comment_created/plain__pinpt.json", shapeRules{
			extra:   set("$.issue.fields.issuetype.entityId", "$.issue.fields.issuetype.hierarchyLevel", "*.emailAddress"),
			missing: set("$.issue.fields.project.projectCategory"),
		}},
		{"issuelink_created/", "webhooks/issuelink_created/blocks__pinpt.json", shapeRules{}},
		{"jira:issue_deleted/", "webhooks/jira_issue_deleted/basic__pinpt.json", shapeRules{
			// The capture's accounts hide their e-mail; the embedded
			// comment page carries its own link here.
			extra:   copySet(issueRules.extra, "*.emailAddress", "$.issue.fields.comment.self"),
			missing: issueRules.missing,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.event, func(t *testing.T) {
			body, ok := byEvent[tc.event]
			if !ok {
				t.Fatalf("no %s webhook among %v", tc.event, sink.events(t))
			}
			checkShape(t, tc.rel, body, tc.rules)
		})
	}
	link := decodeAs[struct {
		IssueLink map[string]any `json:"issueLink"`
	}](t, byEvent["issuelink_created/"])
	for _, k := range []string{"id", "sourceIssueId", "destinationIssueId"} {
		if _, ok := link.IssueLink[k].(float64); !ok {
			t.Errorf("issueLink.%s is %T, want a number", k, link.IssueLink[k])
		}
	}
	comment := decodeAs[struct {
		Issue struct {
			Fields map[string]any `json:"fields"`
		} `json:"issue"`
	}](t, byEvent["comment_created/"])
	if len(comment.Issue.Fields) != 6 {
		t.Errorf("comment_created issue has %d fields, want 6", len(comment.Issue.Fields))
	}
}

func TestEventsOfEachMutation(t *testing.T) {
	e, c, sink := newHookedEmu(t, Options{Issues: 30, Seed: 8})
	key := "SUP-3"
	step := func(name string, want []string, fn func() error) {
		t.Helper()
		n := len(sink.deliveries())
		if err := fn(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		wait(t, e)
		got := sink.events(t)[n:]
		slices.Sort(got)
		w := slices.Clone(want)
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Errorf("%s: got events %v, want %v", name, got, w)
		}
	}
	var comment Comment
	var att Attachment
	var wl Worklog
	var rl RemoteLink
	var linkID string
	var created *Issue
	step("create", []string{"jira:issue_created"}, func() (err error) {
		created, err = e.Create("SUP", func(is *Issue) { is.Summary = "Printer on fire"; is.Priority = "High" })
		return err
	})
	step("comment", []string{"comment_created", "jira:issue_updated"}, func() (err error) {
		comment, err = e.AddComment(key, Comment{Body: Text("Any news?"), Public: true})
		return err
	})
	step("edit comment", []string{"comment_updated", "jira:issue_updated"}, func() error { return e.EditComment(key, comment.ID, Text("Any news? Please.")) })
	step("delete comment", []string{"comment_deleted", "jira:issue_updated"}, func() error { return e.DeleteComment(key, comment.ID) })
	step("attach", []string{"attachment_created", "jira:issue_updated"}, func() (err error) {
		att, err = e.AddAttachment(key, Attachment{Filename: "log.txt"}, []byte("x"))
		return err
	})
	step("detach", []string{"attachment_deleted", "jira:issue_updated"}, func() error { return e.DeleteAttachment(key, att.ID) })
	step("link", []string{"issuelink_created"}, func() (err error) {
		linkID, err = e.AddLink(key, created.Key, "Relates")
		return err
	})
	step("unlink", []string{"issuelink_deleted"}, func() error { return e.DeleteLink(linkID) })
	step("remote link", []string{"jira:issue_updated"}, func() (err error) {
		rl, err = e.AddRemoteLink(key, RemoteLink{URL: "https://status.example.com/incidents/1"})
		return err
	})
	step("remove remote link", []string{"jira:issue_updated"}, func() error { return e.DeleteRemoteLink(key, rl.ID) })
	step("log work", []string{"worklog_created", "jira:issue_updated"}, func() (err error) {
		wl, err = e.AddWorklog(key, Worklog{Spent: 90 * time.Minute})
		return err
	})
	step("delete worklog", []string{"worklog_deleted", "jira:issue_updated"}, func() error { return e.DeleteWorklog(key, wl.ID) })
	step("touch", []string{"jira:issue_updated"}, func() error { return e.Update(key, func(*Issue) {}) })
	step("sla only", nil, func() error {
		return e.Update(created.Key, func(is *Issue) { is.sla(FieldTimeToResolution).Pause(e.Now()) })
	})
	step("delete", []string{"jira:issue_deleted"}, func() error { return e.Delete(created.Key) })
	c.get("/rest/api/3/issue/"+created.Key, http.StatusNotFound)

	for _, d := range sink.deliveries() {
		ev, err := jira.DecodeWebhook(d.body)
		if err != nil {
			t.Fatalf("%s", err)
		}
		if strings.HasPrefix(ev.WebhookEvent, "worklog_") {
			if ev.Issue != nil || ev.Worklog == nil || ev.Worklog.IssueID == "" {
				t.Errorf("%s: want only worklog.issueId, got %s", ev.WebhookEvent, d.body)
			}
		}
		if len(ev.Targets()) == 0 {
			t.Errorf("%s: no target issue", ev.WebhookEvent)
		}
	}
	is, _ := e.Issue(key)
	var fields []string
	for _, h := range is.Histories[len(is.Histories)-8:] {
		fields = append(fields, h.Items[0].Field)
	}
	want := []string{"Attachment", "Attachment", "Link", "Link", "RemoteIssueLink", "RemoteIssueLink", "timespent", "timespent"}
	if !slices.Equal(fields, want) {
		t.Errorf("last histories %v, want %v", fields, want)
	}
}

func TestTransitionsKeepResolutionInStep(t *testing.T) {
	now := time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)
	e, c, _ := newHookedEmu(t, Options{Issues: 10, Seed: 8, Clock: frozen(now)})
	is, err := e.Create("SUP", func(is *Issue) { is.Summary = "VPN drops"; is.RequestType = "Get IT help" })
	if err != nil {
		t.Fatal(err)
	}
	key := is.Key
	if err := e.Transition(key, StatusWaiting); err != nil {
		t.Fatal(err)
	}
	if err := e.Transition(key, StatusDone); err != nil {
		t.Fatal(err)
	}
	done := decodeAs[jira.Issue](t, c.get("/rest/api/3/issue/"+key, http.StatusOK))
	if done.Fields.Resolution == nil || done.Fields.Resolution.Name != "Done" || done.Fields.ResolutionDate.IsZero() {
		t.Errorf("done: resolution %+v at %s", done.Fields.Resolution, done.Fields.ResolutionDate)
	}
	snap, _ := e.Issue(key)
	for _, s := range snap.SLA {
		if s.Ongoing != nil || len(s.Completed) != 1 {
			t.Errorf("SLA %s after resolution: %+v", s.Name, s)
		}
	}
	if err := e.Transition(key, StatusToDo); err != nil {
		t.Fatal(err)
	}
	reopened := decodeAs[jira.Issue](t, c.get("/rest/api/3/issue/"+key, http.StatusOK))
	if reopened.Fields.Resolution != nil || !reopened.Fields.ResolutionDate.IsZero() {
		t.Errorf("reopened: resolution %+v at %s", reopened.Fields.Resolution, reopened.Fields.ResolutionDate)
	}
	snap, _ = e.Issue(key)
	if s := snap.sla(FieldTimeToResolution); s.Ongoing == nil || len(s.Completed) != 1 {
		t.Errorf("time to resolution after reopening: %+v", s)
	}
	var last []jira.ChangeItem
	page := decodeAs[jira.ChangelogPage](t, c.get("/rest/api/3/issue/"+key+"/changelog", http.StatusOK))
	last = page.Values[len(page.Values)-1].Items
	if len(last) != 2 || last[0].Field != "resolution" || *last[0].FromString != "Done" || last[0].To != nil || last[1].Field != "status" {
		t.Errorf("reopening items: %+v", last)
	}
	// Every change moves updated forward even when the clock stands still.
	prev := time.Time{}
	for _, h := range page.Values {
		if !h.Created.After(prev) {
			t.Errorf("history %s at %s is not after %s", h.ID, h.Created, prev)
		}
		prev = h.Created.Time
	}
	if err := e.Transition(key, "Nowhere"); err == nil {
		t.Error("unknown status accepted")
	}
	if err := e.Update(key, func(is *Issue) { is.Priority = "Urgent" }); err == nil {
		t.Error("unknown priority accepted")
	}
	if err := e.Update(key, func(is *Issue) { is.Custom[FieldSeverity] = "S9 - Apocalyptic" }); err == nil {
		t.Error("unknown option accepted")
	}
}

func TestSilentMutationsSendNothing(t *testing.T) {
	e, c, sink := newHookedEmu(t, Options{Issues: 10, Seed: 8})
	before, _ := e.Issue("SUP-2")
	quiet := e.Silent()
	if err := quiet.Update("SUP-2", func(is *Issue) { is.Summary = "Changed behind our back" }); err != nil {
		t.Fatal(err)
	}
	if _, err := quiet.AddComment("SUP-2", Comment{Body: Text("quiet")}); err != nil {
		t.Fatal(err)
	}
	if _, err := quiet.Create("OPS", nil); err != nil {
		t.Fatal(err)
	}
	if err := quiet.Delete("OPS-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := quiet.Storm(context.Background(), StormOptions{Events: 5, Issues: 2}); err != nil {
		t.Fatal(err)
	}
	wait(t, e)
	if n := len(sink.deliveries()); n != 0 {
		t.Errorf("silent mutations sent %d webhooks", n)
	}
	if st := e.Stats().Webhooks; st.Events != 0 {
		t.Errorf("silent mutations counted as events: %+v", st)
	}
	issue := decodeAs[jira.Issue](t, c.get("/rest/api/3/issue/SUP-2?expand=changelog", http.StatusOK))
	if issue.Fields.Summary != "Changed behind our back" || !issue.Fields.Updated.After(before.Updated) {
		t.Errorf("silent update not applied: %q updated %s", issue.Fields.Summary, issue.Fields.Updated)
	}
}

func TestDeliveryRetries(t *testing.T) {
	e, _, sink := newHookedEmu(t, Options{Issues: 5, Seed: 8})
	sink.status = func(n int) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}
	if err := e.Transition("SUP-1", StatusReview); err != nil {
		t.Fatal(err)
	}
	wait(t, e)
	got := sink.deliveries()
	if len(got) != 3 {
		t.Fatalf("got %d attempts, want 3", len(got))
	}
	id := got[0].header.Get("X-Atlassian-Webhook-Identifier")
	for i, d := range got {
		if d.header.Get("X-Atlassian-Webhook-Identifier") != id {
			t.Errorf("attempt %d has another identifier", i)
		}
		wantRetry := ""
		if i > 0 {
			wantRetry = string(rune('0' + i))
		}
		if r := d.header.Get("X-Atlassian-Webhook-Retry"); r != wantRetry {
			t.Errorf("attempt %d: X-Atlassian-Webhook-Retry %q, want %q", i, r, wantRetry)
		}
		if string(d.body) != string(got[0].body) {
			t.Errorf("attempt %d: body changed", i)
		}
	}
	st := e.Stats().Webhooks
	if st.Delivered != 1 || st.Retries != 2 || st.Attempts != 3 || st.Pending != 0 {
		t.Errorf("stats %+v", st)
	}

	// A 400 is not retried; a dead receiver is retried until the last try.
	sink.status = func(int) int { return http.StatusBadRequest }
	e.Transition("SUP-1", StatusProgress)
	wait(t, e)
	if st := e.Stats().Webhooks; st.Failed != 1 || st.Attempts != 4 {
		t.Errorf("after a 400: %+v", st)
	}
}

func TestDeadReceiverIsRetriedThenGivenUp(t *testing.T) {
	e, _ := newEmu(t, Options{Issues: 3, Seed: 8, WebhookURL: "http://127.0.0.1:1/hook", WebhookRetries: 2, WebhookBackoff: time.Millisecond})
	e.Transition("SUP-1", StatusProgress)
	wait(t, e)
	if st := e.Stats().Webhooks; st.Attempts != 3 || st.Failed != 1 || st.Retries != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestDuplicateAndShuffledDelivery(t *testing.T) {
	e, _, sink := newHookedEmu(t, Options{Issues: 40, Seed: 8, WebhookWorkers: 1, Faults: Faults{WebhookDuplicateRate: 1}})
	e.Update("SUP-1", func(is *Issue) { is.Summary = "once" })
	wait(t, e)
	got := sink.deliveries()
	if len(got) != 2 || got[0].header.Get("X-Atlassian-Webhook-Identifier") != got[1].header.Get("X-Atlassian-Webhook-Identifier") || string(got[0].body) != string(got[1].body) {
		t.Fatalf("duplicate delivery: got %d deliveries", len(got))
	}

	e.SetFaults(Faults{WebhookShuffle: 16})
	n := len(got)
	var want []string
	for i := range 30 {
		key := e.Keys()[i]
		e.Update(key, func(is *Issue) { is.Summary = "shuffled " + key })
		want = append(want, key)
	}
	wait(t, e)
	var order []string
	for _, d := range sink.deliveries()[n:] {
		ev, _ := jira.DecodeWebhook(d.body)
		order = append(order, ev.Issue.Key)
	}
	if len(order) != 30 {
		t.Fatalf("got %d deliveries, want 30", len(order))
	}
	if slices.Equal(order, want) {
		t.Error("a shuffle window of 16 delivered in order")
	}
	sorted := slices.Clone(order)
	slices.Sort(sorted)
	slices.Sort(want)
	if !slices.Equal(sorted, want) {
		t.Error("shuffled deliveries lost or doubled events")
	}
}

func TestStorm(t *testing.T) {
	e, _, sink := newHookedEmu(t, Options{Issues: 600, Seed: 8, WebhookWorkers: 8})
	res, err := e.Storm(context.Background(), StormOptions{Events: 300, Issues: 30})
	if err != nil {
		t.Fatal(err)
	}
	wait(t, e)
	if res.Events != 300 || len(res.Keys) != 30 {
		t.Fatalf("storm result %d events over %d keys", res.Events, len(res.Keys))
	}
	per := map[string]int{}
	for _, d := range sink.deliveries() {
		ev, err := jira.DecodeWebhook(d.body)
		if err != nil || ev.WebhookEvent != "jira:issue_updated" {
			t.Fatalf("storm webhook %v %v", ev, err)
		}
		per[ev.Issue.Key]++
	}
	if len(per) != 30 {
		t.Errorf("webhooks for %d issues, want 30", len(per))
	}
	for k, n := range per {
		if n != 10 {
			t.Errorf("%s: %d webhooks, want 10", k, n)
		}
	}

	month := e.Keys()[300]
	is, _ := e.Issue(month)
	ym := is.Created.UTC().Format("2006-01")
	res, err = e.Silent().Storm(context.Background(), StormOptions{Events: 20, Issues: 5, Month: ym, Rate: 2000})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range res.Keys {
		is, _ := e.Issue(k)
		if is.Created.UTC().Format("2006-01") != ym {
			t.Errorf("%s was created in %s, not %s", k, is.Created.UTC().Format("2006-01"), ym)
		}
	}
	if _, err := e.Storm(context.Background(), StormOptions{Events: 1, Issues: 1, Month: "1999-01"}); err == nil {
		t.Error("storm over an empty month succeeded")
	}
}

func TestMoveKeepsIDAndOldKey(t *testing.T) {
	e, c, sink := newHookedEmu(t, Options{Issues: 40, Seed: 8})
	key := findIssue(t, e, func(is *Issue) bool { return is.Project == "SUP" && is.Parent == "" && len(is.Subtasks) == 0 })
	before, _ := e.Issue(key)
	newKey, err := e.Move(key, "OPS")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(newKey, "OPS-") {
		t.Fatalf("new key %s", newKey)
	}
	for _, k := range []string{key, newKey, before.ID} {
		is := decodeAs[jira.Issue](t, c.get("/rest/api/3/issue/"+k, http.StatusOK))
		if is.Key != newKey || string(is.ID) != before.ID || is.Fields.Project.Key != "OPS" {
			t.Errorf("GET %s: got %s (%s) in %s", k, is.Key, is.ID, is.Fields.Project.Key)
		}
	}
	keys := e.Keys()
	if slices.Contains(keys, key) || !slices.Contains(keys, newKey) {
		t.Error("Keys lists the old key or misses the new one")
	}
	ids, _ := searchAll(t, c, map[string]any{"jql": "key = " + key})
	if len(ids) != 1 || ids[0] != before.ID {
		t.Errorf("search by the old key: %v", ids)
	}
	wait(t, e)
	ev, _ := jira.DecodeWebhook(sink.deliveries()[0].body)
	if ev.IssueEventTypeName != "issue_moved" || ev.Issue.Key != newKey || string(ev.Issue.ID) != before.ID {
		t.Errorf("move webhook: %s %s %s", ev.IssueEventTypeName, ev.Issue.Key, ev.Issue.ID)
	}
	after, _ := e.Issue(newKey)
	last := after.Histories[len(after.Histories)-1]
	if last.Items[1].Field != "Key" || *last.Items[1].FromString != key || *last.Items[1].ToString != newKey {
		t.Errorf("move history: %+v", last.Items)
	}
}

func TestSearchLag(t *testing.T) {
	now := time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)
	e, c := newEmu(t, Options{Issues: 10, Seed: 8, Clock: frozen(now), Faults: Faults{SearchLag: time.Minute}})
	is, err := e.Create("SUP", func(is *Issue) { is.Summary = "fresh" })
	if err != nil {
		t.Fatal(err)
	}
	find := func(body map[string]any) bool {
		ids, _ := searchAll(t, c, body)
		return slices.Contains(ids, is.ID)
	}
	if find(map[string]any{"jql": "project = SUP"}) {
		t.Error("a new issue is found at once despite the search lag")
	}
	if !find(map[string]any{"jql": "project = SUP", "reconcileIssues": []int64{atoi(t, is.ID)}}) {
		t.Error("reconcileIssues does not bring the new issue back")
	}
	c.get("/rest/api/3/issue/"+is.Key, http.StatusOK)
	e.Advance(2 * time.Minute)
	if !find(map[string]any{"jql": "project = SUP"}) {
		t.Error("the new issue is still missing after the lag")
	}
	c.post("/rest/api/3/search/jql", map[string]any{"jql": "", "reconcileIssues": make([]int64, 51)}, http.StatusBadRequest)
}

func atoi(t *testing.T, s string) int64 {
	var n int64
	if err := json.Unmarshal([]byte(s), &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestStateIsTheFullIssue(t *testing.T) {
	e, _ := newEmu(t, Options{Issues: 30, Seed: 9})
	key := findIssue(t, e, func(is *Issue) bool { return len(is.Comments) == 150 })
	st, err := e.State(key)
	if err != nil {
		t.Fatal(err)
	}
	is, _ := e.Issue(key)
	if len(st.Comments) != 150 || len(st.Changelog) != len(is.Histories) {
		t.Errorf("state has %d comments and %d histories, want 150 and %d", len(st.Comments), len(st.Changelog), len(is.Histories))
	}
	issue := decodeAs[jira.Issue](t, st.Issue)
	if issue.Key != key || issue.Fields.Comment.Total != 150 {
		t.Errorf("state issue %s with %d comments", issue.Key, issue.Fields.Comment.Total)
	}
	first := decodeAs[jira.Comment](t, st.Comments[0])
	if string(first.ID) != is.Comments[0].ID {
		t.Error("state comments are not oldest first")
	}
	if _, err := e.State("NOPE-1"); err == nil {
		t.Error("state of an unknown issue")
	}
}

func TestTouchMovesUpdated(t *testing.T) {
	e, _, sink := newHookedEmu(t, Options{Issues: 40, Seed: 8})
	for _, pick := range []func(*Issue) bool{
		func(is *Issue) bool { return is.SLA == nil },
		func(is *Issue) bool { return len(is.SLA) == 2 && is.SLA[0].Error == "" },
	} {
		key := findIssue(t, e, pick)
		before, _ := e.Issue(key)
		n := len(sink.deliveries())
		if err := e.Update(key, func(*Issue) {}); err != nil {
			t.Fatal(err)
		}
		wait(t, e)
		after, _ := e.Issue(key)
		if !after.Updated.After(before.Updated) || len(after.Histories) != len(before.Histories) {
			t.Errorf("%s: touch moved updated %s -> %s, histories %d -> %d", key, before.Updated, after.Updated, len(before.Histories), len(after.Histories))
		}
		if got := len(sink.deliveries()) - n; got != 1 {
			t.Errorf("%s: touch sent %d webhooks, want 1", key, got)
		}
	}
}

// TestEpicMovesWithoutItsIssues: an issue of an epic may live in another
// project and shows the epic as its parent; when the epic moves, the issue
// keeps its key and shows the epic's new one, and only the epic's webhook
// is sent, as in Jira. An epic with issues is not deleted.
func TestEpicMovesWithoutItsIssues(t *testing.T) {
	e, c, sink := newHookedEmu(t, Options{Issues: 20, Seed: 8})
	epic, err := e.Create("SUP", func(is *Issue) { is.Type, is.Summary = "Epic", "the epic" })
	if err != nil {
		t.Fatal(err)
	}
	story, err := e.Create("OPS", func(is *Issue) { is.Type, is.Summary, is.Parent = "Story", "its story", epic.Key })
	if err != nil {
		t.Fatal(err)
	}
	if story.Parent != epic.Key || story.Type != "Story" || story.Project != "OPS" {
		t.Errorf("the epic's story: parent %q, type %q, project %q", story.Parent, story.Type, story.Project)
	}
	if got, _ := e.Issue(epic.Key); len(got.Subtasks) != 0 {
		t.Errorf("the epic lists its story as a sub-task: %v", got.Subtasks)
	}
	wait(t, e)
	before := len(sink.deliveries())
	newKey, err := e.Move(epic.Key, "OPS")
	if err != nil {
		t.Fatal(err)
	}
	is := decodeAs[jira.Issue](t, c.get("/rest/api/3/issue/"+story.Key, http.StatusOK))
	if is.Key != story.Key || is.Fields.Parent == nil || is.Fields.Parent.Key != newKey {
		t.Errorf("GET %s after the epic moved: key %s, parent %+v, want parent %s", story.Key, is.Key, is.Fields.Parent, newKey)
	}
	wait(t, e)
	after := sink.deliveries()[before:]
	if len(after) != 1 {
		t.Fatalf("webhooks for the move: got %d, want 1 (the epic's)", len(after))
	}
	if ev, _ := jira.DecodeWebhook(after[0].body); ev.Issue.Key != newKey {
		t.Errorf("the move's webhook is for %s, want %s", ev.Issue.Key, newKey)
	}
	if err := e.Delete(newKey); !errors.Is(err, ErrInvalid) {
		t.Errorf("deleting an epic with issues: got %v, want ErrInvalid", err)
	}
	if _, err := e.Create("OPS", func(is *Issue) { is.Type, is.Summary, is.Parent = "Sub-task", "a sub-task", newKey }); err != nil {
		t.Errorf("a sub-task of the epic in its project: %v", err)
	}
}
