package emulator

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// created is what one start of an emulator created, by kind of id.
type created map[string][]string

// createEverything makes one thing of every kind that gets an id, and
// returns the ids by kind.
func createEverything(t *testing.T, e *Emulator) created {
	t.Helper()
	out := created{}
	keys := e.Keys()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(e.Update(keys[3], func(is *Issue) { is.Summary = "edited after start" }))
	is, err := e.Issue(keys[3])
	must(err)
	out["changelog"] = append(out["changelog"], is.Histories[len(is.Histories)-1].ID)
	c, err := e.AddComment(keys[3], Comment{Body: Text("a comment after start")})
	must(err)
	out["comment"] = append(out["comment"], c.ID)
	w, err := e.AddWorklog(keys[3], Worklog{Spent: time.Hour})
	must(err)
	out["worklog"] = append(out["worklog"], w.ID)
	a, err := e.AddAttachment(keys[3], Attachment{Filename: "after.txt"}, []byte("bytes"))
	must(err)
	out["attachment"] = append(out["attachment"], a.ID)
	rl, err := e.AddRemoteLink(keys[3], RemoteLink{URL: "https://example.test/after"})
	must(err)
	out["remotelink"] = append(out["remotelink"], strconv.FormatInt(rl.ID, 10))
	l, err := e.AddLink(keys[3], keys[4], "Relates")
	must(err)
	out["issuelink"] = append(out["issuelink"], l)
	n, err := e.Create("SUP", func(is *Issue) { is.Summary = "created after start" })
	must(err)
	out["issue"] = append(out["issue"], n.ID)
	n, err = e.Issue(n.Key)
	must(err)
	for _, h := range n.Histories {
		out["changelog"] = append(out["changelog"], h.ID)
	}
	return out
}

// deliveryIDs records the X-Atlassian-Webhook-Identifier of every delivery.
type deliveryIDs struct {
	mu  sync.Mutex
	ids []string
}

func (d *deliveryIDs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	d.ids = append(d.ids, r.Header.Get("X-Atlassian-Webhook-Identifier"))
	d.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

// TestRestartNeverReusesIDs: an emulator started again with the same seed
// serves the same generated site, but what it creates and the webhooks it
// sends never take an id the previous start gave out, so that a store that
// kept the previous start's changes takes the new ones.
func TestRestartNeverReusesIDs(t *testing.T) {
	var starts []created
	var deliveries [][]string
	var untouched []*State
	for range 2 {
		hooks := &deliveryIDs{}
		srv := httptest.NewServer(hooks)
		e, err := New(Options{Issues: 30, Seed: 7, WebhookURL: srv.URL, WebhookSecret: "s"})
		if err != nil {
			t.Fatal(err)
		}
		st, err := e.State(e.Keys()[10])
		if err != nil {
			t.Fatal(err)
		}
		untouched = append(untouched, st)
		starts = append(starts, createEverything(t, e))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err = e.WaitWebhooks(ctx)
		cancel()
		e.Close()
		srv.Close()
		if err != nil {
			t.Fatal(err)
		}
		hooks.mu.Lock()
		deliveries = append(deliveries, slices.Clone(hooks.ids))
		hooks.mu.Unlock()
	}
	for kind, first := range starts[0] {
		for _, id := range starts[1][kind] {
			if slices.Contains(first, id) {
				t.Errorf("%s id %s: given out by both starts (first %v, second %v)", kind, id, first, starts[1][kind])
			}
		}
	}
	if len(deliveries[0]) == 0 || len(deliveries[1]) == 0 {
		t.Fatalf("got %d and %d deliveries, want some from each start", len(deliveries[0]), len(deliveries[1]))
	}
	for _, id := range deliveries[1] {
		if slices.Contains(deliveries[0], id) {
			t.Errorf("delivery id %s: sent by both starts", id)
		}
	}
	if a, b := fmt.Sprint(untouched[0]), fmt.Sprint(untouched[1]); a != b {
		t.Errorf("an untouched generated issue differs between starts with the same seed:\n%s\n%s", a, b)
	}
}

// TestIDBase: a given IDBase gives exact, reproducible ids, the issue
// created first is found by its id, and a base among the generated ids is
// refused.
func TestIDBase(t *testing.T) {
	const base = 5_000_000
	var runs []created
	for range 2 {
		e, c := newEmu(t, Options{Issues: 30, Seed: 7, IDBase: base})
		got := createEverything(t, e)
		runs = append(runs, got)
		for kind, ids := range got {
			if ids[0] != strconv.Itoa(base) {
				t.Errorf("%s: first id got %s, want %d", kind, ids[0], base)
			}
		}
		c.get("/rest/api/3/issue/"+strconv.Itoa(base), http.StatusOK)
		c.get("/rest/api/3/issue/"+strconv.Itoa(base+1), http.StatusNotFound)
		c.get("/rest/api/3/issue/10029", http.StatusOK)
		c.get("/rest/api/3/issue/10030", http.StatusNotFound)
	}
	if fmt.Sprint(runs[0]) != fmt.Sprint(runs[1]) {
		t.Errorf("the same IDBase gave different ids: %v and %v", runs[0], runs[1])
	}
	for _, b := range []int64{-1, 10000, 10029} {
		if _, err := New(Options{Issues: 30, Seed: 7, IDBase: b}); !errors.Is(err, ErrInvalid) {
			t.Errorf("IDBase %d: got %v, want ErrInvalid", b, err)
		}
	}
}
