package intake

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

// objectWatcher is an ObjectEvents that wants the given types and records
// what it is told.
type objectWatcher struct {
	wants []string
	mu    sync.Mutex
	told  []string
}

func (o *objectWatcher) Wants(t string) bool { return slices.Contains(o.wants, t) }

func (o *objectWatcher) Changed(types []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.told = append(o.told, types...)
}

func (o *objectWatcher) seen() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.told)
}

// TestObjectEvents: the events of the site's other objects are accepted
// like any other (signed, stored, deduplicated), stored as done when they
// name no issue, and handed to Objects once stored; an issuelink event
// still fetches its issues too. Types Objects does not want stay ignored.
func TestObjectEvents(t *testing.T) {
	watcher := &objectWatcher{wants: []string{"project_updated", "user_created", "jira:version_released", "issuelink_created"}}
	h := newHarness(t, Options{Objects: watcher})
	read := func(rel string) []byte {
		b, err := os.ReadFile(filepath.Join(fixtureDir, filepath.FromSlash(rel)))
		if os.IsNotExist(err) {
			t.Skipf("fixture %s not present", rel)
		}
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name, body, delivery, want string
	}{
		{"project", string(read("webhooks/other_events/project_updated__pinpt.json")), "d-project", "done"},
		{"user", string(read("webhooks/other_events/user_created__pinpt.json")), "d-user", "done"},
		{"version", `{"timestamp":1719835200000,"webhookEvent":"jira:version_released","version":{"id":"10001","name":"1.2","released":true,"projectId":10000}}`, "d-version", "done"},
		{"issue link", `{"timestamp":1719835200001,"webhookEvent":"issuelink_created","issueLink":{"id":10040,"sourceIssueId":10001,"destinationIssueId":10002,"issueLinkType":{"id":10000,"name":"Blocks"}}}`, "d-link", "pending"},
		{"not wanted", `{"timestamp":1719835200002,"webhookEvent":"board_created","board":{"id":3}}`, "d-board", "ignored"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := h.accepted(t, h.post([]byte(tc.body), http.Header{"X-Atlassian-Webhook-Identifier": {tc.delivery}}))
			h.flush(t)
			var state string
			if err := h.s.DB().QueryRow(`SELECT state FROM webhook_events WHERE event_id = ?`, id).Scan(&state); err != nil {
				t.Fatal(err)
			}
			if state != tc.want {
				t.Errorf("got state %s, want %s", state, tc.want)
			}
			// A retry of the same delivery is a duplicate, as for issues.
			w := h.post([]byte(tc.body), http.Header{"X-Atlassian-Webhook-Identifier": {tc.delivery}})
			if w.Code != http.StatusOK || decodeAnswer(t, w).Status != "duplicate" {
				t.Errorf("retry: got %d %s, want 200 duplicate", w.Code, w.Body.String())
			}
		})
	}
	got := watcher.seen()
	slices.Sort(got)
	if want := []string{"issuelink_created", "jira:version_released", "project_updated", "user_created"}; !slices.Equal(got, want) {
		t.Errorf("Objects told %v, want %v (once each)", got, want)
	}
	var issueEvents int
	for _, e := range h.sink.events() {
		if e.Type == "issuelink_created" {
			issueEvents++
		}
	}
	if issueEvents != 1 {
		t.Errorf("got %d issuelink events for the queue, want 1", issueEvents)
	}
	// Unsigned, an object event is refused like any other.
	w := h.post([]byte(cases[0].body), http.Header{"X-Hub-Signature": {"sha256=00"}})
	if w.Code != http.StatusUnauthorized {
		t.Errorf("unsigned: got %d, want 401", w.Code)
	}
}
