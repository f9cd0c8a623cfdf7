package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// The structure tests compare the emulator's JSON with captured Jira
// payloads: at every object level the keys the capture always has must be
// there, keys the capture never has are reported unless listed as a known
// extra, and keys both have must hold the same JSON type (null matches any).
// Custom fields (customfield_*) are site-specific and skipped.

type shapeRules struct {
	// extra lists "path.key" the emulator may add; missing lists
	// "path.key" the emulator may lack. A rule starting with "*" matches
	// every path ending with the rest.
	extra, missing map[string]bool
}

func allowed(rules map[string]bool, path string) bool {
	if rules[path] {
		return true
	}
	for r := range rules {
		if strings.HasPrefix(r, "*") && strings.HasSuffix(path, r[1:]) {
			return true
		}
	}
	return false
}

// alwaysMissing are keys the emulator leaves out on purpose everywhere:
// hidden e-mail addresses (Jira's privacy setting), percent when nothing was
// logged, and the estimates nobody set.
var alwaysMissing = set("*.emailAddress", "*.percent", "*.timetracking.originalEstimate", "*.timetracking.remainingEstimate",
	"*.timetracking.originalEstimateSeconds", "*.timetracking.remainingEstimateSeconds")

func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	}
	return "null"
}

func compareValues(t *testing.T, path string, wants, gots []any, r shapeRules) {
	t.Helper()
	wants, gots = nonNull(wants), nonNull(gots)
	if len(wants) == 0 || len(gots) == 0 {
		return
	}
	wk, gk := jsonKind(wants[0]), jsonKind(gots[0])
	if wk != gk {
		t.Errorf("%s: got %s, capture has %s", path, gk, wk)
		return
	}
	if isADF(wants[0]) && isADF(gots[0]) {
		// Rich text differs in content, not in shape; the ADF tests cover it.
		return
	}
	switch wk {
	case "object":
		var wm, gm []map[string]any
		for _, w := range wants {
			if m, ok := w.(map[string]any); ok {
				wm = append(wm, m)
			}
		}
		for _, g := range gots {
			if m, ok := g.(map[string]any); ok {
				gm = append(gm, m)
			}
		}
		compareObjects(t, path, wm, gm, r)
	case "array":
		var we, ge []any
		for _, w := range wants {
			we = append(we, w.([]any)...)
		}
		for _, g := range gots {
			if a, ok := g.([]any); ok {
				ge = append(ge, a...)
			}
		}
		compareValues(t, path+"[]", we, ge, r)
	}
}

func isADF(v any) bool {
	m, ok := v.(map[string]any)
	return ok && m["type"] == "doc"
}

func nonNull(vs []any) []any {
	var out []any
	for _, v := range vs {
		if v != nil {
			out = append(out, v)
		}
	}
	return out
}

func compareObjects(t *testing.T, path string, wants, gots []map[string]any, r shapeRules) {
	t.Helper()
	count := map[string]int{}
	for _, w := range wants {
		for k := range w {
			count[k]++
		}
	}
	skip := func(k string) bool { return strings.HasPrefix(k, "customfield_") }
	reported := map[string]bool{}
	for _, g := range gots {
		for k, n := range count {
			if _, ok := g[k]; !ok && n == len(wants) && !skip(k) && !allowed(r.missing, path+"."+k) && !allowed(alwaysMissing, path+"."+k) && !reported["-"+k] {
				reported["-"+k] = true
				t.Errorf("%s: key %q missing (the capture always has it)", path, k)
			}
		}
		for k := range g {
			if _, ok := count[k]; !ok && !skip(k) && !allowed(r.extra, path+"."+k) && !reported["+"+k] {
				reported["+"+k] = true
				t.Errorf("%s: key %q is not in the capture", path, k)
			}
		}
	}
	keys := make([]string, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if skip(k) {
			continue
		}
		var wv, gv []any
		for _, w := range wants {
			if v, ok := w[k]; ok {
				wv = append(wv, v)
			}
		}
		for _, g := range gots {
			if v, ok := g[k]; ok {
				gv = append(gv, v)
			}
		}
		compareValues(t, path+"."+k, wv, gv, r)
	}
}

// checkShape compares got with the capture at rel.
func checkShape(t *testing.T, rel string, got []byte, r shapeRules) {
	t.Helper()
	var want, have any
	if err := json.Unmarshal(fixture(t, rel), &want); err != nil {
		t.Fatalf("capture %s: %v", rel, err)
	}
	if err := json.Unmarshal(got, &have); err != nil {
		t.Fatalf("answer: %v: %.200s", err, got)
	}
	compareValues(t, "$", []any{want}, []any{have}, r)
}

func set(keys ...string) map[string]bool {
	m := map[string]bool{}
	for _, k := range keys {
		m[k] = true
	}
	return m
}

var jiraTimeRe = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}$`)

// timeKeys are the keys whose string values are Jira timestamps.
var timeKeys = set("created", "updated", "resolutiondate", "statuscategorychangedate", "started", "jira", "lastViewed")

// checkTimes walks v and fails for every timestamp not in Jira's format.
func checkTimes(t *testing.T, path string, v any, offsets map[string]bool) int {
	t.Helper()
	n := 0
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			if s, ok := c.(string); ok && timeKeys[k] && !strings.HasPrefix(path, "$.renderedFields") {
				if !jiraTimeRe.MatchString(s) {
					t.Errorf("%s.%s: %q is not in Jira's timestamp format", path, k, s)
				} else {
					offsets[s[len(s)-5:]] = true
				}
				n++
				continue
			}
			n += checkTimes(t, path+"."+k, c, offsets)
		}
	case []any:
		for _, c := range x {
			n += checkTimes(t, path+"[]", c, offsets)
		}
	}
	return n
}

func TestIssueShape(t *testing.T) {
	e, c := newEmu(t, Options{Issues: 300, Seed: 11})
	// An issue with links in both directions, sub-tasks, attachments and
	// comments exercises every nested shape of the captures.
	key := findIssue(t, e, func(is *Issue) bool {
		in, out := false, false
		for _, l := range is.Links {
			in, out = in || !l.Outward, out || l.Outward
		}
		return in && out && len(is.Attachments) > 0 && len(is.Comments) > 0
	})
	withSubtasks := findIssue(t, e, func(is *Issue) bool { return len(is.Subtasks) > 0 && len(is.Comments) > 0 })
	rules := shapeRules{
		extra: set(
			// Sub-tasks carry their parent; neither capture is a sub-task.
			"$.fields.parent",
			// Jira omits these when empty or for some project types.
			"$.fields.attachment[].thumbnail", "$.fields.comment.comments[].visibility",
			"$.fields.progress.percent", "$.fields.aggregateprogress.percent",
			"$.fields.timetracking.timeSpent", "$.fields.timetracking.timeSpentSeconds",
			"$.fields.worklog.worklogs[].author", "$.fields.worklog.worklogs[].updateAuthor", "$.fields.worklog.worklogs[].self",
			"$.fields.worklog.worklogs[].created", "$.fields.worklog.worklogs[].updated", "$.fields.worklog.worklogs[].started",
			"$.fields.worklog.worklogs[].timeSpent", "$.fields.worklog.worklogs[].timeSpentSeconds", "$.fields.worklog.worklogs[].id",
			"$.fields.worklog.worklogs[].issueId",
			// One of the captures has no reporter, the other no components.
			"$.fields.components[].description",
			// Requested with expand=changelog; the xsoar capture lacks it
			// although it asked.
			"$.changelog",
			// renderedFields fields the captures leave out.
			"$.renderedFields.parent",
			// Company-managed issue types lack entityId in the xsoar
			// capture; the emulator writes it for every type.
			"*.issuetype.entityId",
		),
		missing: set(
			// The xsoar capture asked for names and transitions.
			"$.names", "$.transitions",
			// Team-managed projects carry entityId; company-managed ones do
			// not, and the emulator writes it for every type.
			"$.fields.project.projectCategory",
		),
	}
	for _, rel := range []string{
		"rest/issue/get_issue_v3_expand_renderedFields_names_transitions__xsoar_real_anonymised.json",
		"rest/issue/get_issue_v3_default_fields__mtroja98_real.json",
	} {
		for _, k := range []string{key, withSubtasks} {
			t.Run(rel+"/"+k, func(t *testing.T) {
				body := c.get("/rest/api/3/issue/"+k+"?fields=*all&expand=renderedFields,changelog", http.StatusOK)
				r := rules
				if strings.Contains(rel, "mtroja98") {
					// The default-fields capture has no renderedFields.
					r.extra = copySet(rules.extra, "$.fields.timetracking", "$.renderedFields", "$.fields.reporter", "$.fields.priority", "$.fields.labels",
						"$.fields.environment", "$.fields.issuelinks[].id", "$.fields.issuelinks[].self", "$.fields.issuelinks[].type",
						"$.fields.issuelinks[].inwardIssue", "$.fields.issuelinks[].outwardIssue", "$.fields.subtasks[].id",
						"$.fields.subtasks[].key", "$.fields.subtasks[].self", "$.fields.subtasks[].fields",
						"$.fields.attachment[].self", "$.fields.attachment[].id", "$.fields.attachment[].filename",
						"$.fields.attachment[].author", "$.fields.attachment[].created", "$.fields.attachment[].size",
						"$.fields.attachment[].mimeType", "$.fields.attachment[].content", "$.fields.comment.comments[].self",
						"$.fields.comment.comments[].id", "$.fields.comment.comments[].author", "$.fields.comment.comments[].body",
						"$.fields.comment.comments[].updateAuthor", "$.fields.comment.comments[].created",
						"$.fields.comment.comments[].updated", "$.fields.comment.comments[].jsdPublic", "$.fields.components[].self",
						"$.fields.components[].id", "$.fields.components[].name", "$.fields.aggregateprogress.percent",
						"$.fields.issuerestriction.issuerestrictions")
				} else {
					// statusCategory is a field of recent sites only.
					r.extra = copySet(rules.extra, "$.fields.statusCategory", "$.renderedFields.statusCategory", "$.renderedFields.comment.comments[].visibility",
						"$.renderedFields.attachment[].thumbnail")
				}
				checkShape(t, rel, body, r)
				var v any
				json.Unmarshal(body, &v)
				offsets := map[string]bool{}
				if n := checkTimes(t, "$", v, offsets); n < 5 {
					t.Errorf("only %d timestamps checked", n)
				}
			})
		}
	}
}

func copySet(base map[string]bool, more ...string) map[string]bool {
	m := set(more...)
	for k := range base {
		m[k] = true
	}
	return m
}

func TestTimestampOffsetsVary(t *testing.T) {
	e, c := newEmu(t, Options{Issues: 60, Seed: 5})
	offsets := map[string]bool{}
	for _, k := range e.Keys() {
		var v any
		json.Unmarshal(c.get("/rest/api/3/issue/"+k, http.StatusOK), &v)
		checkTimes(t, "$", v, offsets)
	}
	for _, want := range []string{"+0000", "-0500", "+0530"} {
		if !offsets[want] {
			t.Errorf("no timestamp with offset %s among %v", want, offsets)
		}
	}
	if !offsets["+0100"] && !offsets["+0200"] {
		t.Errorf("no European offset among %v", offsets)
	}
}

func TestCommentPageShape(t *testing.T) {
	_, c := newEmu(t, Options{Issues: 20, Seed: 2})
	body := c.get("/rest/api/3/issue/SUP-1/comment?expand=renderedBody", http.StatusOK)
	checkShape(t, "rest/comment/get_issue_comments_expand_renderedBody__xsoar_real_anonymised.json", body,
		shapeRules{extra: set("$.comments[].visibility")})
}

func TestChangelogPageShape(t *testing.T) {
	e, c := newEmu(t, Options{Issues: 20, Seed: 2})
	key := findIssue(t, e, func(is *Issue) bool { return len(is.Histories) > 3 && len(is.Histories) < 50 })
	body := c.get("/rest/api/3/issue/"+key+"/changelog", http.StatusOK)
	// Jira writes no fieldId for some items (Key, Workflow,
	// RemoteIssueLink), as the webhook captures show. The capture changes
	// no user field and no automation touched it: changes of assignee and
	// reporter carry tmpFromAccountId/tmpToAccountId in real Cloud
	// changelogs, and historyMetadata is in Atlassian's Changelog schema.
	detail := []string{"$.values[].historyMetadata", "$.values[].items[].tmpFromAccountId", "$.values[].items[].tmpToAccountId"}
	rules := shapeRules{extra: set(append(detail, "$.values[].author.avatarUrls")...), missing: set("$.values[].items[].fieldId")}
	checkShape(t, "rest/changelog/get_issue_changelog_paged_values_isLast__digitalservice_real_anonymised.json", body, rules)
	// The documented example shows a page that is not the last: nextPage.
	body = c.get("/rest/api/3/issue/SUP-2/changelog?maxResults=2", http.StatusOK)
	checkShape(t, "rest/changelog/get_issue_changelog_paged__openapi_example.json", body,
		shapeRules{extra: set(append(detail, "$.values[].author.accountType")...), missing: rules.missing})
}

func TestSearchPageShape(t *testing.T) {
	_, c := newEmu(t, Options{Issues: 30, Seed: 2})
	body := c.post("/rest/api/3/search/jql", map[string]any{"jql": "project = OPS", "fields": []string{"summary", "issuetype", "description", "assignee", "status"}, "maxResults": 3}, http.StatusOK)
	checkShape(t, "rest/search/post_search_jql_page1_nextPageToken_isLast_false__mtroja98_real.json", body, shapeRules{})
}

func TestFieldsShape(t *testing.T) {
	_, c := newEmu(t, Options{Issues: 1})
	body := c.get("/rest/api/3/field", http.StatusOK)
	checkShape(t, "rest/field/get_fields__openapi_example.json", body, shapeRules{
		extra: set("$[].schema.items", "$[].schema.custom", "$[].schema.customId", "$[].untranslatedName"),
		// Key and Images have no schema in Jira; custom fields have custom
		// instead of system.
		missing: set("$[].schema", "$[].schema.system"),
	})
	fields := decodeAs[[]map[string]any](t, body)
	sla := 0
	kinds := map[string]bool{}
	for _, f := range fields {
		if s, ok := f["schema"].(map[string]any); ok {
			kinds[fmt.Sprint(s["type"])] = true
			if s["custom"] == slaFieldType {
				sla++
			}
		}
	}
	if sla != 2 {
		t.Errorf("got %d SLA fields, want 2", sla)
	}
	for _, k := range []string{"string", "number", "option", "array", "user", "date", "datetime"} {
		if !kinds[k] {
			t.Errorf("no field of schema type %s", k)
		}
	}
}

func TestRemoteLinksShape(t *testing.T) {
	e, c := newEmu(t, Options{Issues: 200, Seed: 2})
	key := findIssue(t, e, func(is *Issue) bool {
		for _, l := range is.RemoteLinks {
			if l.AppName != "" {
				return true
			}
		}
		return false
	})
	body := c.get("/rest/api/3/issue/"+key+"/remotelink", http.StatusOK)
	checkShape(t, "rest/remotelink/get_issue_remotelinks__openapi_example.json", body, shapeRules{
		extra:   set("$[].object.summary"),
		missing: set("$[].object.summary", "$[].object.status.icon.link", "$[].object.status.icon.title", "$[].object.status.icon.url16x16"),
	})
	for _, l := range decodeAs[[]map[string]any](t, body) {
		if _, ok := l["id"].(float64); !ok {
			t.Errorf("remote link id %v is not a number", l["id"])
		}
	}
}

func TestAttachmentMetadataShape(t *testing.T) {
	e, c := newEmu(t, Options{Issues: 60, Seed: 2})
	key := findIssue(t, e, func(is *Issue) bool {
		return len(is.Attachments) > 0 && strings.HasPrefix(is.Attachments[0].MimeType, "image/")
	})
	is, _ := e.Issue(key)
	body := c.get("/rest/api/3/attachment/"+is.Attachments[0].ID, http.StatusOK)
	checkShape(t, "rest/attachment/get_attachment_metadata__openapi_example.json", body, shapeRules{
		extra:   set("$.author.emailAddress", "$.author.timeZone"),
		missing: set("$.author.key", "$.author.name"),
	})
}

// slaShapes collects the SLA values of every issue, keyed by shape.
func slaShapes(t *testing.T, e *Emulator, c *client) map[string]json.RawMessage {
	t.Helper()
	out := map[string]json.RawMessage{}
	for _, k := range e.Keys() {
		body := c.get("/rest/api/3/issue/"+k+"?fields="+FieldTimeToResolution+","+FieldTimeToFirstResp, http.StatusOK)
		var is struct {
			Fields map[string]json.RawMessage `json:"fields"`
		}
		json.Unmarshal(body, &is)
		for _, raw := range is.Fields {
			var v struct {
				ErrorMessage    string           `json:"errorMessage"`
				CompletedCycles []map[string]any `json:"completedCycles"`
				OngoingCycle    map[string]any   `json:"ongoingCycle"`
			}
			json.Unmarshal(raw, &v)
			switch {
			case string(raw) == "null":
				out["null"] = raw
			case v.ErrorMessage != "":
				out["error"] = raw
			case v.OngoingCycle != nil && v.OngoingCycle["paused"] == true:
				out["paused"] = raw
			case v.OngoingCycle != nil && v.OngoingCycle["breached"] == true:
				out["ongoing breached"] = raw
			case v.OngoingCycle != nil:
				out["ongoing"] = raw
			case len(v.CompletedCycles) > 0 && v.CompletedCycles[len(v.CompletedCycles)-1]["breached"] == true:
				out["completed breached"] = raw
			case len(v.CompletedCycles) > 0:
				out["completed"] = raw
			default:
				out["never started"] = raw
			}
		}
	}
	return out
}

func TestSLAShapes(t *testing.T) {
	now := time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)
	// Two months of issues, so that some requests are young enough for an
	// SLA that is still running and not breached.
	e, c := newEmu(t, Options{Issues: 600, Months: 2, Seed: 4, Now: now, Clock: frozen(now)})
	shapes := slaShapes(t, e, c)
	for _, want := range []string{"null", "error", "paused", "ongoing breached", "ongoing", "completed", "completed breached", "never started"} {
		if _, ok := shapes[want]; !ok {
			t.Errorf("no SLA value of shape %q among %d issues", want, len(e.Keys()))
		}
	}
	ongoing := set("$.ongoingCycle.breachTime")
	for shape, raw := range shapes {
		switch shape {
		case "null":
		case "error":
			var capture struct {
				Fields map[string]any `json:"fields"`
			}
			json.Unmarshal(fixture(t, "rest/issue/get_issue_v3_expand_renderedFields_names_transitions__xsoar_real_anonymised.json"), &capture)
			var got any
			json.Unmarshal(raw, &got)
			compareValues(t, "$", []any{capture.Fields["customfield_10071"]}, []any{got}, shapeRules{})
		case "ongoing", "ongoing breached", "paused":
			checkShape(t, "jsm/sla_custom_field_ongoing_cycle__seculayer_cloud_real.json", raw, shapeRules{missing: ongoing})
		default:
			checkShape(t, "jsm/sla_custom_field_values_one_request__seculayer_cloud_real.json", []byte(`{"customfield_12084":`+string(raw)+`}`), shapeRules{})
		}
	}
	var breached struct {
		OngoingCycle struct {
			RemainingTime struct{ Millis int64 } `json:"remainingTime"`
		} `json:"ongoingCycle"`
	}
	json.Unmarshal(shapes["ongoing breached"], &breached)
	if breached.OngoingCycle.RemainingTime.Millis >= 0 {
		t.Errorf("breached SLA has remaining %d ms, want negative", breached.OngoingCycle.RemainingTime.Millis)
	}
}

func TestErrorBodies(t *testing.T) {
	_, c := newEmu(t, Options{Issues: 5})
	cases := []struct {
		name, rel string
		do        func() []byte
	}{
		{"404 issue", "errors/404_issue_does_not_exist_or_no_permission__openapi_example.json", func() []byte {
			return c.get("/rest/api/3/issue/NOPE-1", http.StatusNotFound)
		}},
		{"401", "errors/401_client_must_be_authenticated__real.json", func() []byte {
			return c.as("", "").get("/rest/api/3/issue/SUP-1", http.StatusUnauthorized)
		}},
		{"410 legacy search", "errors/410_legacy_search_removed__real.json", func() []byte {
			return c.post("/rest/api/3/search", map[string]any{"jql": "project = SUP"}, http.StatusGone)
		}},
		{"400 jql", "errors/400_search_jql_invalid_project_warningMessages__real.json", func() []byte {
			return c.post("/rest/api/3/search/jql", map[string]any{"jql": "project = KAN"}, http.StatusBadRequest)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.do()
			checkShape(t, tc.rel, got, shapeRules{})
			// The bodies are the captured ones, up to formatting.
			if want := compactJSON(t, fixture(t, tc.rel)); compactJSON(t, got) != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
	if got := c.post("/rest/api/3/search/jql", map[string]any{"jql": "project = KAN"}, http.StatusBadRequest); !strings.Contains(string(got), "The value 'KAN' does not exist for the field 'project'.") {
		t.Errorf("got %s", got)
	}
}

func compactJSON(t *testing.T, b []byte) string {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(v)
	return string(out)
}
