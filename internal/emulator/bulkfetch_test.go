package emulator

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	jiraclient "github.com/jiraduck/jiraduck/internal/jira/client"
)

// TestBulkFetchExpandShapes: a bulk fetch with every field and the
// changelog expanded answers like Jira Cloud: issues in ascending id order,
// the newest 40 histories newest first with the full total, the same
// embedded comment page as GET issue, and issues it cannot see left out of
// both lists.
func TestBulkFetchExpandShapes(t *testing.T) {
	e, c := newEmu(t, Options{Issues: 120, Seed: 9})
	manyHist := findIssue(t, e, func(is *Issue) bool { return len(is.Histories) > maxBulkHistories })
	manyComm := findIssue(t, e, func(is *Issue) bool { return len(is.Comments) > maxEmbedded })
	few := findIssue(t, e, func(is *Issue) bool { return len(is.Histories) > 0 && len(is.Histories) < maxBulkHistories })
	asked := []string{manyComm, manyHist, few, "SUP-99999", "99999999"}

	type page struct {
		StartAt    int               `json:"startAt"`
		MaxResults int               `json:"maxResults"`
		Total      int               `json:"total"`
		Histories  []json.RawMessage `json:"histories"`
		Comments   []json.RawMessage `json:"comments"`
	}
	type issue struct {
		ID        string `json:"id"`
		Key       string `json:"key"`
		Changelog *page  `json:"changelog"`
		Fields    struct {
			Comment *page `json:"comment"`
		} `json:"fields"`
	}
	res := decodeAs[struct {
		Issues      []issue           `json:"issues"`
		IssueErrors []json.RawMessage `json:"issueErrors"`
	}](t, c.post("/rest/api/3/issue/bulkfetch", map[string]any{
		"issueIdsOrKeys": asked, "fields": []string{"*all"}, "expand": []string{"changelog"},
		"fieldsByKeys": false, "properties": []string{},
	}, http.StatusOK))
	if len(res.Issues) != 3 || len(res.IssueErrors) != 0 {
		t.Fatalf("got %d issues and %d errors, want 3 and 0 (issues not found are left out of both)", len(res.Issues), len(res.IssueErrors))
	}
	var ids []int
	for _, is := range res.Issues {
		n, _ := strconv.Atoi(is.ID)
		ids = append(ids, n)
	}
	if !slices.IsSorted(ids) {
		t.Errorf("issue ids %v: want ascending order", ids)
	}
	for _, is := range res.Issues {
		want, _ := e.Issue(is.Key)
		t.Run(is.Key, func(t *testing.T) {
			cl := is.Changelog
			if cl == nil {
				t.Fatal("no changelog, although it was expanded")
			}
			wantN := min(len(want.Histories), maxBulkHistories)
			if cl.Total != len(want.Histories) || len(cl.Histories) != wantN || cl.MaxResults != wantN {
				t.Errorf("changelog: got total %d, %d histories, maxResults %d; want %d, %d, %d",
					cl.Total, len(cl.Histories), cl.MaxResults, len(want.Histories), wantN, wantN)
			}
			if len(cl.Histories) > 0 {
				var first struct {
					ID string `json:"id"`
				}
				_ = json.Unmarshal(cl.Histories[0], &first)
				if newest := want.Histories[len(want.Histories)-1].ID; first.ID != newest {
					t.Errorf("first embedded history: got %s, want the newest, %s", first.ID, newest)
				}
			}
			cm := is.Fields.Comment
			wantC := min(len(want.Comments), maxEmbedded)
			if cm == nil || cm.Total != len(want.Comments) || len(cm.Comments) != wantC || cm.StartAt != len(want.Comments)-wantC {
				t.Errorf("comment page: got %+v; want total %d, %d comments from %d", cm, len(want.Comments), wantC, len(want.Comments)-wantC)
			}
		})
	}
	// GET issue still embeds up to 100 histories.
	single := decodeAs[issue](t, c.get("/rest/api/3/issue/"+manyHist+"?expand=changelog", http.StatusOK))
	want, _ := e.Issue(manyHist)
	if got, wantN := len(single.Changelog.Histories), min(len(want.Histories), maxEmbedded); got != wantN {
		t.Errorf("GET issue embeds %d histories, want %d", got, wantN)
	}
}

// TestClientBulkMatchesSingle: an issue fetched through a bulk fetch and
// completed is the bundle FetchIssue makes of it, whatever its lists' sizes,
// with the SLA overlay read in bulk through the SLA account.
func TestClientBulkMatchesSingle(t *testing.T) {
	// A frozen clock: SLA times tick between the two fetches otherwise.
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	e, c := newEmu(t, Options{Issues: 120, Seed: 9, Now: now, Clock: frozen(now), SLAEmail: testSLAEmail, SLAAPIToken: testSLAToken})
	jc := newClient(t, c.base, true)
	ctx := context.Background()
	picks := map[string]func(*Issue) bool{
		"over 100 comments":         func(is *Issue) bool { return len(is.Comments) > maxEmbedded },
		"over 100 histories":        func(is *Issue) bool { return len(is.Histories) > maxEmbedded },
		"41 to 100 histories":       func(is *Issue) bool { return len(is.Histories) > maxBulkHistories && len(is.Histories) <= maxEmbedded },
		"few of each":               func(is *Issue) bool { return len(is.Histories) < 10 && len(is.Comments) < 10 },
		"remote links and two SLAs": func(is *Issue) bool { return len(is.RemoteLinks) > 0 && len(is.SLA) == 2 },
	}
	// The generated site has no issue with 41 to 100 histories: one grows
	// to 60 by edits.
	grown := findIssue(t, e, func(is *Issue) bool { return len(is.Histories) < 10 && len(is.Comments) < 10 })
	for i := 0; ; i++ {
		is, _ := e.Issue(grown)
		if len(is.Histories) >= 60 {
			break
		}
		if err := e.Update(grown, func(is *Issue) { is.Summary = "edit " + strconv.Itoa(i) }); err != nil {
			t.Fatal(err)
		}
	}
	opts := jiraclient.FetchOptions{SLAFieldIDs: []string{FieldTimeToResolution, FieldTimeToFirstResp}}
	var keys []string
	names := map[string]string{}
	for name, pick := range picks {
		k := findIssue(t, e, pick)
		keys = append(keys, k)
		names[k] = name
	}
	e.ResetStats()
	got, err := jc.FetchIssues(ctx, append(keys, "NOPE-1"), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Issues) != len(keys) || len(got.Failed) != 1 || got.Failed["NOPE-1"] == "" {
		t.Fatalf("got %d issues, failed %v; want %d and NOPE-1", len(got.Issues), got.Failed, len(keys))
	}
	st := e.Stats().Calls
	if st[EndpointBulkFetch] != 2 || st[EndpointIssue] != 0 {
		t.Errorf("calls: got %d bulk fetches and %d GET issue, want 2 (issues, SLA) and 0", st[EndpointBulkFetch], st[EndpointIssue])
	}
	for _, bi := range got.Issues {
		t.Run(names[bi.Asked], func(t *testing.T) {
			bulk, err := jc.CompleteIssue(ctx, bi)
			if err != nil {
				t.Fatal(err)
			}
			one, err := jc.FetchIssue(ctx, bi.Asked, opts)
			if err != nil {
				t.Fatal(err)
			}
			if !bulk.Complete() {
				t.Errorf("bulk bundle not complete: %+v %+v", bulk.State, bulk.Errors)
			}
			// The compacted issue keeps the embedded changelog's
			// maxResults, which differs by endpoint; the rest is the same.
			bulk.FetchedAt = one.FetchedAt
			bulk.Issue, one.Issue = withoutChangelog(t, bulk.Issue), withoutChangelog(t, one.Issue)
			x, _ := bulk.Encode()
			y, _ := one.Encode()
			if string(x) != string(y) {
				i := 0
				for i < min(len(x), len(y)) && x[i] == y[i] {
					i++
				}
				t.Errorf("bundles differ at byte %d:\nbulk   %.300s\nsingle %.300s", i, x[max(0, i-100):], y[max(0, i-100):])
			}
		})
	}
}

func withoutChangelog(t *testing.T, raw json.RawMessage) json.RawMessage {
	t.Helper()
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		t.Fatal(err)
	}
	delete(top, "changelog")
	out, err := json.Marshal(top)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
