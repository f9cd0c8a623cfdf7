package emulator

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"
)

// detailIssue is the part of GET issue the issue-detail columns read.
type detailIssue struct {
	Key    string `json:"key"`
	Fields struct {
		TimeOriginalEstimate          *int64 `json:"timeoriginalestimate"`
		TimeEstimate                  *int64 `json:"timeestimate"`
		TimeSpent                     *int64 `json:"timespent"`
		AggregateTimeOriginalEstimate *int64 `json:"aggregatetimeoriginalestimate"`
		AggregateTimeEstimate         *int64 `json:"aggregatetimeestimate"`
		AggregateTimeSpent            *int64 `json:"aggregatetimespent"`
		TimeTracking                  struct {
			OriginalEstimate         string `json:"originalEstimate"`
			OriginalEstimateSeconds  *int64 `json:"originalEstimateSeconds"`
			RemainingEstimateSeconds *int64 `json:"remainingEstimateSeconds"`
			TimeSpentSeconds         *int64 `json:"timeSpentSeconds"`
		} `json:"timetracking"`
		Votes struct {
			Votes int `json:"votes"`
		} `json:"votes"`
		Security *struct {
			Name string `json:"name"`
		} `json:"security"`
		Subtasks []struct {
			Key string `json:"key"`
		} `json:"subtasks"`
		Attachment []struct {
			Filename string `json:"filename"`
		} `json:"attachment"`
		Description json.RawMessage `json:"description"`
		Comment     struct {
			Comments []struct {
				Body         json.RawMessage `json:"body"`
				UpdateAuthor map[string]any  `json:"updateAuthor"`
			} `json:"comments"`
		} `json:"comment"`
	} `json:"fields"`
	Changelog struct {
		Histories []struct {
			HistoryMetadata *struct {
				Type                string `json:"type"`
				ActivityDescription string `json:"activityDescription"`
			} `json:"historyMetadata"`
			Items []struct {
				FieldID        string  `json:"fieldId"`
				From           *string `json:"from"`
				To             *string `json:"to"`
				TmpFromAccount *string `json:"tmpFromAccountId"`
				TmpToAccount   *string `json:"tmpToAccountId"`
			} `json:"items"`
		} `json:"histories"`
	} `json:"changelog"`
}

// mediaAlts lists the alt text of the media nodes of an ADF document.
func mediaAlts(doc json.RawMessage) []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch n := v.(type) {
		case []any:
			for _, c := range n {
				walk(c)
			}
		case map[string]any:
			if n["type"] == "media" {
				a, _ := n["attrs"].(map[string]any)
				alt, _ := a["alt"].(string)
				out = append(out, alt)
			}
			walk(n["content"])
		}
	}
	var v any
	_ = json.Unmarshal(doc, &v)
	walk(v)
	return out
}

// TestIssueDetailGenerated: the generated site carries everything the
// issue-detail columns read, consistent with itself: estimates whose
// remaining part follows the work logged, aggregates over real sub-tasks,
// votes, security levels, user-field changes with account ids, automation
// metadata, images of the issue's own attachments, and update authors who
// hide their e-mail.
func TestIssueDetailGenerated(t *testing.T) {
	e, c := newEmu(t, Options{Issues: 300, Seed: 11})
	var got struct {
		estimated, aggregates, voted, secured, tmpIDs, metadata, linkedMedia, hiddenUpdateAuthor int
	}
	seconds := map[string][3]int64{}
	issues := map[string]detailIssue{}
	for _, k := range e.Keys() {
		var is detailIssue
		if err := json.Unmarshal(c.get("/rest/api/3/issue/"+k+"?expand=changelog", http.StatusOK), &is); err != nil {
			t.Fatal(err)
		}
		issues[k] = is
		f := is.Fields
		var est, spent int64
		if f.TimeOriginalEstimate != nil {
			got.estimated++
			est = *f.TimeOriginalEstimate
			if f.TimeTracking.OriginalEstimateSeconds == nil || *f.TimeTracking.OriginalEstimateSeconds != est || f.TimeTracking.OriginalEstimate == "" {
				t.Errorf("%s: timetracking %+v disagrees with timeoriginalestimate %d", k, f.TimeTracking, est)
			}
			if f.TimeSpent != nil {
				spent = *f.TimeSpent
			}
			if want := max(est-spent, 0); f.TimeEstimate == nil || *f.TimeEstimate != want {
				t.Errorf("%s: timeestimate got %v, want %d (estimate %d, spent %d)", k, f.TimeEstimate, want, est, spent)
			}
		} else if f.TimeEstimate != nil {
			t.Errorf("%s: a remaining estimate without an estimate", k)
		}
		if f.TimeSpent != nil {
			spent = *f.TimeSpent
		}
		seconds[k] = [3]int64{est, spent}
		if f.Votes.Votes > 0 {
			got.voted++
		}
		if f.Security != nil && f.Security.Name != "" {
			got.secured++
		}
		for _, h := range is.Changelog.Histories {
			if h.HistoryMetadata != nil && h.HistoryMetadata.Type != "" && h.HistoryMetadata.ActivityDescription != "" {
				got.metadata++
			}
			for _, it := range h.Items {
				if it.FieldID != "assignee" && it.FieldID != "reporter" {
					continue
				}
				if it.TmpToAccount == nil && it.To != nil || it.TmpToAccount != nil && (it.To == nil || *it.TmpToAccount != *it.To) {
					t.Errorf("%s: %s change to %v carries tmpToAccountId %v", k, it.FieldID, it.To, it.TmpToAccount)
				}
				got.tmpIDs++
			}
		}
		var names []string
		for _, a := range f.Attachment {
			names = append(names, a.Filename)
		}
		docs := []json.RawMessage{f.Description}
		for _, cm := range f.Comment.Comments {
			docs = append(docs, cm.Body)
			if _, ok := cm.UpdateAuthor["emailAddress"]; cm.UpdateAuthor != nil && !ok {
				got.hiddenUpdateAuthor++
			}
		}
		for _, d := range docs {
			for _, alt := range mediaAlts(d) {
				if slices.Contains(names, alt) {
					got.linkedMedia++
				}
			}
		}
	}
	// Aggregates add the sub-tasks' figures to the parent's own.
	for k, is := range issues {
		if len(is.Fields.Subtasks) == 0 {
			continue
		}
		want := seconds[k]
		for _, st := range is.Fields.Subtasks {
			want[0] += seconds[st.Key][0]
			want[1] += seconds[st.Key][1]
		}
		agg := func(p *int64) int64 {
			if p == nil {
				return 0
			}
			return *p
		}
		if g := [2]int64{agg(is.Fields.AggregateTimeOriginalEstimate), agg(is.Fields.AggregateTimeSpent)}; g != [2]int64{want[0], want[1]} {
			t.Errorf("%s: aggregate estimate and spent got %v, want %v", k, g, want[:2])
		}
		got.aggregates++
	}
	for name, n := range map[string]int{"estimated": got.estimated, "parents with aggregates": got.aggregates, "voted": got.voted,
		"with a security level": got.secured, "user-field changes": got.tmpIDs, "histories with metadata": got.metadata,
		"media showing an attachment": got.linkedMedia, "update authors without e-mail": got.hiddenUpdateAuthor} {
		if n == 0 {
			t.Errorf("%s: got none among %d issues, want some", name, len(issues))
		}
	}
}

func TestEstimateText(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{2217960 * time.Second, "15w 2d 6m"},
		{90 * time.Minute, "1h 30m"},
		{8 * time.Hour, "1d"},
		{0, "0m"},
	} {
		if got := estimateText(tc.d); got != tc.want {
			t.Errorf("estimateText(%v): got %q, want %q", tc.d, got, tc.want)
		}
	}
}
