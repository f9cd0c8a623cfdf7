package jira

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// webhookRoutes is the expected routing of every webhook fixture.
var webhookRoutes = map[string]struct {
	event   string
	targets []Target
}{
	"_server_dc_for_contrast/comment_created__mattermost.json":                           {"comment_created", []Target{{ID: "10013"}}},
	"_server_dc_for_contrast/jira_issue_updated__issue_comment_deleted__mattermost.json": {"jira:issue_updated", []Target{{Key: "PRJX-14", ID: "10013"}}},
	"_server_dc_for_contrast/jira_issue_updated__issue_comment_edited__mattermost.json":  {"jira:issue_updated", []Target{{Key: "PRJX-14", ID: "10013"}}},
	"_server_dc_for_contrast/jira_issue_updated__issue_commented__mattermost.json":       {"jira:issue_updated", []Target{{Key: "PRJA-42", ID: "10231"}}},

	"attachment_created/basic__zulip_SUSPECT_hand_edited.json": {"attachment_created", []Target{{Key: "BUG-15", ID: "10000"}}},

	"comment_created/plain__mattermost.json":                    {"comment_created", []Target{{Key: "TES-41", ID: "10040"}}},
	"comment_created/plain__pinpt.json":                         {"comment_created", []Target{{Key: "TES-1", ID: "11901"}}},
	"comment_created/with_user_mention__mattermost_EDITED.json": {"comment_created", []Target{{Key: "TES-41", ID: "10040"}}},
	"comment_deleted/plain__mattermost.json":                    {"comment_deleted", []Target{{Key: "KT-7", ID: "10357"}}},
	"comment_deleted/plain__pinpt.json":                         {"comment_deleted", []Target{{Key: "TES-1", ID: "11901"}}},
	"comment_updated/plain__mattermost.json":                    {"comment_updated", []Target{{Key: "TES-41", ID: "10040"}}},
	"comment_updated/plain__pinpt.json":                         {"comment_updated", []Target{{Key: "TES-1", ID: "11901"}}},

	"issuelink_created/blocks__pinpt.json":    {"issuelink_created", []Target{{ID: "20192"}, {ID: "20734"}}},
	"issuelink_created/cloners__pinpt.json":   {"issuelink_created", []Target{{ID: "18715"}, {ID: "11917"}}},
	"issuelink_created/duplicate__pinpt.json": {"issuelink_created", []Target{{ID: "18715"}, {ID: "11917"}}},
	"issuelink_created/relates__pinpt.json":   {"issuelink_created", []Target{{ID: "18715"}, {ID: "11917"}}},
	"issuelink_deleted/blocks__pinpt.json":    {"issuelink_deleted", []Target{{ID: "20192"}, {ID: "20734"}}},

	"jira_issue_created/basic__mattermost.json":                      {"jira:issue_created", []Target{{Key: "TES-41", ID: "10040"}}},
	"jira_issue_created/basic__pinpt.json":                           {"jira:issue_created", []Target{{Key: "GOLD-189", ID: "20942"}}},
	"jira_issue_created/many_custom_fields__mattermost.json":         {"jira:issue_created", []Target{{Key: "KT-22", ID: "10509"}}},
	"jira_issue_created/with_security_level__mattermost_EDITED.json": {"jira:issue_created", []Target{{Key: "TES-41", ID: "10040"}}},

	"jira_issue_deleted/basic__mattermost.json": {"jira:issue_deleted", []Target{{Key: "IDT-19", ID: "10303", Delete: true}}},
	"jira_issue_deleted/basic__pinpt.json":      {"jira:issue_deleted", []Target{{Key: "TIGR-361", ID: "20733", Delete: true}}},

	"jira_issue_updated/assignee_changed__mattermost.json":                                      {"jira:issue_updated", []Target{{Key: "TES-41", ID: "10040"}}},
	"jira_issue_updated/assignee_removed__mattermost.json":                                      {"jira:issue_updated", []Target{{Key: "TES-41", ID: "10040"}}},
	"jira_issue_updated/attachment_added__mattermost_EDITED.json":                               {"jira:issue_updated", []Target{{Key: "TES-41", ID: "10040"}}},
	"jira_issue_updated/components__mattermost.json":                                            {"jira:issue_updated", []Target{{Key: "TES-10", ID: "10360"}}},
	"jira_issue_updated/custom_number_field__mattermost.json":                                   {"jira:issue_updated", []Target{{Key: "TES-14", ID: "10368"}}},
	"jira_issue_updated/description_2__pinpt.json":                                              {"jira:issue_updated", []Target{{Key: "PROD-1142", ID: "21644"}}},
	"jira_issue_updated/description__pinpt.json":                                                {"jira:issue_updated", []Target{{Key: "GOLD-137", ID: "20706"}}},
	"jira_issue_updated/description_edited__mattermost.json":                                    {"jira:issue_updated", []Target{{Key: "TES-41", ID: "10040"}}},
	"jira_issue_updated/duedate_set__pinpt.json":                                                {"jira:issue_updated", []Target{{Key: "TES-22", ID: "11927"}}},
	"jira_issue_updated/duedate_unset__pinpt.json":                                              {"jira:issue_updated", []Target{{Key: "TES-22", ID: "11927"}}},
	"jira_issue_updated/fix_version__mattermost_EDITED.json":                                    {"jira:issue_updated", []Target{{Key: "TES-41", ID: "10040"}}},
	"jira_issue_updated/issue_assigned__pinpt.json":                                             {"jira:issue_updated", []Target{{Key: "TES-12", ID: "11917"}}},
	"jira_issue_updated/issue_assigned_empty_changelog__mattermost_SUSPECT_handmade.json":       {"jira:issue_updated", []Target{{Key: "TEST-123", ID: "10001"}}},
	"jira_issue_updated/issue_moved_project_status_workflow_key__pinpt.json":                    {"jira:issue_updated", []Target{{Key: "GOLD-208", ID: "19518"}}},
	"jira_issue_updated/issue_type__mattermost_EDITED.json":                                     {"jira:issue_updated", []Target{{Key: "TES-41", ID: "10040"}}},
	"jira_issue_updated/issuetype__pinpt.json":                                                  {"jira:issue_updated", []Target{{Key: "TES-20", ID: "11925"}}},
	"jira_issue_updated/labels__mattermost_EDITED.json":                                         {"jira:issue_updated", []Target{{Key: "TES-41", ID: "10040"}}},
	"jira_issue_updated/labels__pinpt.json":                                                     {"jira:issue_updated", []Target{{Key: "TES-12", ID: "11917"}}},
	"jira_issue_updated/multiple_custom_fields__mattermost_EDITED.json":                         {"jira:issue_updated", []Target{{Key: "TES-41", ID: "10040"}}},
	"jira_issue_updated/multiple_items_fixversion_assignee_customfield__mattermost_EDITED.json": {"jira:issue_updated", []Target{{Key: "TES-41", ID: "10040"}}},
	"jira_issue_updated/priority_lowered__mattermost.json":                                      {"jira:issue_updated", []Target{{Key: "TES-41", ID: "10040"}}},
	"jira_issue_updated/priority_raised__mattermost.json":                                       {"jira:issue_updated", []Target{{Key: "TES-41", ID: "10040"}}},
	"jira_issue_updated/rank__mattermost_EDITED.json":                                           {"jira:issue_updated", []Target{{Key: "TES-41", ID: "10040"}}},
	"jira_issue_updated/reopened_resolution_and_status__mattermost.json":                        {"jira:issue_updated", []Target{{Key: "TES-41", ID: "10040"}}},
	"jira_issue_updated/resolution_and_status__pinpt.json":                                      {"jira:issue_updated", []Target{{Key: "TES-19", ID: "11924"}}},
	"jira_issue_updated/resolved_resolution_and_status__mattermost.json":                        {"jira:issue_updated", []Target{{Key: "TES-41", ID: "10040"}}},
	"jira_issue_updated/sprint__mattermost_EDITED.json":                                         {"jira:issue_updated", []Target{{Key: "TES-41", ID: "10040"}}},
	"jira_issue_updated/sprint__pinpt.json":                                                     {"jira:issue_updated", []Target{{Key: "GOLD-208", ID: "19518"}}},
	"jira_issue_updated/status_in_progress__mattermost.json":                                    {"jira:issue_updated", []Target{{Key: "TES-41", ID: "10040"}}},
	"jira_issue_updated/summary_renamed__mattermost_EDITED.json":                                {"jira:issue_updated", []Target{{Key: "TES-41", ID: "10040"}}},

	"other_events/board_configuration_changed__pinpt.json": {"board_configuration_changed", nil},
	"other_events/board_created__pinpt.json":               {"board_created", nil},
	"other_events/board_deleted__pinpt.json":               {"board_deleted", nil},
	"other_events/board_updated__pinpt.json":               {"board_updated", nil},
	"other_events/project_created__pinpt.json":             {"project_created", nil},
	"other_events/project_deleted__pinpt.json":             {"project_deleted", nil},
	"other_events/project_updated__pinpt.json":             {"project_updated", nil},
	"other_events/sprint_closed__pinpt.json":               {"sprint_closed", nil},
	"other_events/sprint_created__pinpt.json":              {"sprint_created", nil},
	"other_events/sprint_deleted__pinpt.json":              {"sprint_deleted", nil},
	"other_events/sprint_started__pinpt.json":              {"sprint_started", nil},
	"other_events/sprint_updated__pinpt.json":              {"sprint_updated", nil},
	"other_events/user_created__pinpt.json":                {"user_created", nil},
	"other_events/user_updated__pinpt.json":                {"user_updated", nil},

	"worklog_created/basic__zulip.json": {"worklog_created", []Target{{ID: "10014"}}},
	"worklog_deleted/basic__zulip.json": {"worklog_deleted", []Target{{ID: "10014"}}},
	"worklog_updated/basic__zulip.json": {"worklog_updated", []Target{{ID: "10014"}}},
}

// webhookFixtures lists every webhook fixture, relative to webhooks/.
func webhookFixtures(t testing.TB) []string {
	t.Helper()
	requireFixtures(t)
	root := filepath.Join(fixtureDir, "webhooks")
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".json") {
			rel, _ := filepath.Rel(root, path)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestWebhookRouting(t *testing.T) {
	files := webhookFixtures(t)
	if len(files) != len(webhookRoutes) {
		t.Errorf("got %d webhook fixtures, the routing table has %d", len(files), len(webhookRoutes))
	}
	for _, rel := range files {
		t.Run(rel, func(t *testing.T) {
			want, ok := webhookRoutes[rel]
			if !ok {
				t.Fatalf("fixture %s has no expected routing", rel)
			}
			ev, err := DecodeWebhook(fixture(t, "webhooks/"+rel))
			if err != nil {
				t.Fatalf("DecodeWebhook: %v", err)
			}
			if ev.WebhookEvent != want.event {
				t.Errorf("event: got %q, want %q", ev.WebhookEvent, want.event)
			}
			if ev.Timestamp < 1e12 {
				t.Errorf("timestamp: got %d, want epoch milliseconds", ev.Timestamp)
			}
			if diff := cmp.Diff(want.targets, ev.Targets()); diff != "" {
				t.Errorf("targets (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWebhookDetails(t *testing.T) {
	ev, err := DecodeWebhook(fixture(t, "webhooks/issuelink_created/blocks__pinpt.json"))
	if err != nil {
		t.Fatal(err)
	}
	if ev.IssueLink.ID != "22768" || ev.IssueLink.IssueLinkType == nil || ev.IssueLink.IssueLinkType.Name == "" {
		t.Errorf("issue link: got %+v", ev.IssueLink)
	}
	ev, err = DecodeWebhook(fixture(t, "webhooks/comment_created/plain__pinpt.json"))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Comment == nil || ev.Comment.ID != "19259" {
		t.Errorf("comment: got %+v", ev.Comment)
	}
	ev, err = DecodeWebhook(fixture(t, "webhooks/attachment_created/basic__zulip_SUSPECT_hand_edited.json"))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Attachment == nil || ev.Attachment.ID != "10000" || ev.Attachment.Filename != "screenshot.png" {
		t.Errorf("attachment: got %+v", ev.Attachment)
	}
	if got := ev.Time().UnixMilli(); got != 1565964017153 {
		t.Errorf("time: got %d", got)
	}
}

func TestDecodeWebhookLenientIDs(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []Target
	}{
		{"link ids as strings", `{"timestamp":"1594081854017","webhookEvent":"issuelink_created","issueLink":{"id":"1","sourceIssueId":"20192","destinationIssueId":"20734"}}`,
			[]Target{{ID: "20192"}, {ID: "20734"}}},
		{"issue id as number", `{"timestamp":1,"webhookEvent":"jira:issue_updated","issue":{"id":10040,"key":"TES-41"}}`,
			[]Target{{Key: "TES-41", ID: "10040"}}},
		{"worklog issue id as number", `{"timestamp":1,"webhookEvent":"worklog_updated","worklog":{"id":10066,"issueId":10014}}`,
			[]Target{{ID: "10014"}}},
		{"same issue on both ends", `{"timestamp":1,"webhookEvent":"issuelink_deleted","issueLink":{"id":1,"sourceIssueId":5,"destinationIssueId":5}}`,
			[]Target{{ID: "5"}}},
		{"matched webhook ids", `{"timestamp":1,"webhookEvent":"jira:issue_created","matchedWebhookIds":[1,"2"],"issue":{"id":"7","key":"A-1"}}`,
			[]Target{{Key: "A-1", ID: "7"}}},
		{"comment deleted re-fetches", `{"timestamp":1,"webhookEvent":"comment_deleted","comment":{"id":"3"},"issue":{"id":"7","key":"A-1"}}`,
			[]Target{{Key: "A-1", ID: "7"}}},
		{"no timestamp", `{"webhookEvent":"jira:issue_created","issue":{"key":"A-1"}}`, []Target{{Key: "A-1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := DecodeWebhook([]byte(tt.body))
			if err != nil {
				t.Fatalf("DecodeWebhook: %v", err)
			}
			if diff := cmp.Diff(tt.want, ev.Targets()); diff != "" {
				t.Errorf("targets (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeWebhookRejects(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"empty", ``, "empty body"},
		{"spaces", "  \n", "empty body"},
		{"array", `[{"webhookEvent":"jira:issue_created"}]`, "not a json object"},
		{"string", `"jira:issue_created"`, "not a json object"},
		{"null", `null`, "not a json object"},
		{"truncated", `{"webhookEvent":"jira:issue_created","issue":{"key":"A-1"`, "unexpected end"},
		{"trailing garbage", `{"webhookEvent":"jira:issue_created"} x`, "invalid character"},
		{"no event", `{"timestamp":1,"issue":{"key":"A-1"}}`, "no webhookEvent"},
		{"bad key", `{"webhookEvent":"jira:issue_created","issue":{"key":"../etc-1"}}`, "invalid issue key"},
		{"key with newline", `{"webhookEvent":"jira:issue_created","issue":{"key":"A-1\n"}}`, "invalid issue key"},
		{"bad issue id", `{"webhookEvent":"jira:issue_created","issue":{"id":"1/2","key":"A-1"}}`, "not a numeric id"},
		{"bad link id", `{"webhookEvent":"issuelink_created","issueLink":{"sourceIssueId":"x","destinationIssueId":2}}`, "not a numeric id"},
		{"object as id", `{"webhookEvent":"worklog_created","worklog":{"issueId":{"a":1}}}`, "want a string or a number"},
		{"bad timestamp", `{"timestamp":"soon","webhookEvent":"jira:issue_created"}`, "timestamp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeWebhook([]byte(tt.body))
			if err == nil {
				t.Fatal("got no error")
			}
			if !errors.Is(err, ErrInvalidWebhook) {
				t.Errorf("got %v, want ErrInvalidWebhook", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, want it to mention %q", err, tt.want)
			}
		})
	}
}

func FuzzDecodeWebhook(f *testing.F) {
	root := filepath.Join(fixtureDir, "webhooks")
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".json") {
			if b, err := os.ReadFile(path); err == nil {
				f.Add(b)
			}
		}
		return nil
	})
	f.Add([]byte(`{"timestamp":1,"webhookEvent":"issuelink_created","issueLink":{"id":1,"sourceIssueId":"2","destinationIssueId":3}}`))
	f.Add([]byte(`{"webhookEvent":"comment_created","comment":{"self":"https://x/rest/api/2/issue/10/comment/11"}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := DecodeWebhook(body)
		if err != nil {
			return
		}
		if ev.WebhookEvent == "" {
			t.Fatal("decoded an event without a type")
		}
		for _, tg := range ev.Targets() {
			if tg.Key == "" && tg.ID == "" {
				t.Fatalf("empty target from %q", body)
			}
			if tg.Key != "" && !ValidKey(tg.Key) {
				t.Fatalf("target key %q is not valid", tg.Key)
			}
			if tg.ID != "" && !isNumericID(tg.ID) {
				t.Fatalf("target id %q is not numeric", tg.ID)
			}
			if tg.Delete && ev.WebhookEvent != "jira:issue_deleted" {
				t.Fatalf("delete target for %s", ev.WebhookEvent)
			}
		}
	})
}
