package app_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/export"
	"github.com/jiraduck/jiraduck/internal/normalize"
	"github.com/jiraduck/jiraduck/internal/store"
)

// The reliability tests have a short variant, run by `go test` (and CI), and
// a long one for the figures of docs/reliability.md, run with
// JIRADUCK_TEST_LONG=1. Both are skipped with -short.

// mutator makes random changes of every kind Jira sends a webhook for, the
// way people and automation change a site while jiraduck follows it.
type mutator struct {
	em  *emulator.Emulator
	rng *rand.Rand

	mu    sync.Mutex
	kinds map[string]int
}

func newMutator(em *emulator.Emulator, seed uint64) *mutator {
	return &mutator{em: em, rng: rand.New(rand.NewPCG(seed, 7)), kinds: map[string]int{}}
}

// mutationKinds and their weights.
var mutationKinds = []struct {
	name   string
	weight int
}{
	{"update", 28}, {"comment", 14}, {"edit_comment", 5}, {"delete_comment", 4}, {"transition", 8},
	{"remote_link", 6}, {"delete_remote_link", 3}, {"attachment", 4}, {"delete_attachment", 2},
	{"link", 4}, {"delete_link", 2}, {"worklog", 3}, {"create", 3}, {"delete", 1}, {"move", 1},
}

// step makes one random change. Changes that raced a deletion, or that had
// nothing to act on, count as skipped.
func (m *mutator) step() error {
	m.mu.Lock()
	total := 0
	for _, k := range mutationKinds {
		total += k.weight
	}
	n := m.rng.IntN(total)
	kind := ""
	for _, k := range mutationKinds {
		if n < k.weight {
			kind = k.name
			break
		}
		n -= k.weight
	}
	r1, r2, r3 := m.rng.Uint64(), m.rng.Uint64(), m.rng.IntN(1<<30)
	m.mu.Unlock()

	em := m.em
	keys := em.Keys()
	if len(keys) == 0 {
		return nil
	}
	key := keys[r1%uint64(len(keys))]
	other := keys[r2%uint64(len(keys))]
	is, err := em.Issue(key)
	if err != nil {
		return m.done("skipped", nil)
	}
	switch kind {
	case "update":
		err = em.Update(key, func(i *emulator.Issue) {
			i.Summary = fmt.Sprintf("edited %d", r3)
			if r3%3 == 0 {
				i.Labels = append(i.Labels, fmt.Sprintf("l%d", r3%7))
			}
			if r3%5 == 0 {
				i.Priority = []string{"Highest", "High", "Medium", "Low"}[r3%4]
			}
		})
	case "comment":
		_, err = em.AddComment(key, emulator.Comment{Body: emulator.Text(fmt.Sprintf("comment %d\n\nwith a second paragraph", r3))})
	case "edit_comment":
		if len(is.Comments) == 0 {
			return m.done("skipped", nil)
		}
		err = em.EditComment(key, is.Comments[r3%len(is.Comments)].ID, emulator.Text(fmt.Sprintf("edited comment %d", r3)))
	case "delete_comment":
		if len(is.Comments) == 0 {
			return m.done("skipped", nil)
		}
		err = em.DeleteComment(key, is.Comments[r3%len(is.Comments)].ID)
	case "transition":
		statuses := []string{emulator.StatusToDo, emulator.StatusProgress, emulator.StatusReview, emulator.StatusDone}
		err = em.Transition(key, statuses[r3%len(statuses)])
	case "remote_link":
		_, err = em.AddRemoteLink(key, emulator.RemoteLink{URL: fmt.Sprintf("https://runbooks.example.test/%d", r3), Title: "runbook"})
	case "delete_remote_link":
		if len(is.RemoteLinks) == 0 {
			return m.done("skipped", nil)
		}
		err = em.DeleteRemoteLink(key, is.RemoteLinks[r3%len(is.RemoteLinks)].ID)
	case "attachment":
		_, err = em.AddAttachment(key, emulator.Attachment{Filename: fmt.Sprintf("log-%d.txt", r3), MimeType: "text/plain"},
			[]byte(fmt.Sprintf("attachment bytes %d\n", r3)))
	case "delete_attachment":
		if len(is.Attachments) == 0 {
			return m.done("skipped", nil)
		}
		err = em.DeleteAttachment(key, is.Attachments[r3%len(is.Attachments)].ID)
	case "link":
		if other == key {
			return m.done("skipped", nil)
		}
		_, err = em.AddLink(key, other, []string{"Blocks", "Relates", "Duplicate"}[r3%3])
	case "delete_link":
		if len(is.Links) == 0 {
			return m.done("skipped", nil)
		}
		err = em.DeleteLink(is.Links[r3%len(is.Links)].ID)
	case "worklog":
		_, err = em.AddWorklog(key, emulator.Worklog{Spent: time.Duration(1+r3%8) * 15 * time.Minute})
	case "create":
		_, err = em.Create([]string{"SUP", "OPS"}[r3%2], func(i *emulator.Issue) { i.Summary = fmt.Sprintf("created %d", r3) })
	case "delete":
		err = em.Delete(key)
	case "move":
		to := "OPS"
		if is.Project == "OPS" {
			to = "SUP"
		}
		if is.Parent != "" || len(is.Subtasks) > 0 {
			return m.done("skipped", nil)
		}
		_, err = em.Move(key, to)
	}
	return m.done(kind, err)
}

func (m *mutator) done(kind string, err error) error {
	if errors.Is(err, emulator.ErrNotFound) || errors.Is(err, emulator.ErrInvalid) {
		kind, err = "skipped", nil
	}
	if err == nil {
		m.mu.Lock()
		m.kinds[kind]++
		m.mu.Unlock()
	}
	return err
}

// Made returns how many changes of each kind were made.
func (m *mutator) Made() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]int{}
	for k, v := range m.kinds {
		out[k] = v
	}
	return out
}

// run makes n changes from workers goroutines.
func (m *mutator) run(t *testing.T, n, workers int, pause time.Duration) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	per := (n + workers - 1) / workers
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				if err := m.step(); err != nil {
					errs <- err
					return
				}
				if pause > 0 {
					time.Sleep(pause)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("mutation: %v", err)
	}
}

// primaryKeys of the analyst tables, as the store declares them.
var primaryKeys = map[string]string{
	"issues":       "issue_key",
	"comments":     "comment_id",
	"attachments":  "attachment_id",
	"changelog":    "change_id, item_index",
	"issuelinks":   "issue_key, link_id",
	"remote_links": "issue_key, remote_link_id",
	"sla":          "issue_key, field_id, cycle, cycle_index",
	"issue_fields": "issue_key, field_id",
	"worklogs":     "worklog_id",
	"inline_media": "issue_key, comment_id, media_index",

	"issue_sprints":       "issue_key, sprint_id",
	"issue_organizations": "issue_key, organization_id",
	// The dimension tables, one file each.
	"projects":         "id",
	"users":            "account_id",
	"versions":         "id",
	"components":       "id",
	"statuses":         "id",
	"priorities":       "id",
	"issue_types":      "id",
	"resolutions":      "id",
	"issue_link_types": "id",
	"fields":           "field_id",
	"boards":           "id",
	"sprints":          "id",
	"service_desks":    "id",
	"request_types":    "id",
	"organizations":    "id",
}

// checkNoDuplicates asserts that no table's Parquet, read across every
// month, holds a primary key twice, and returns the rows per table.
func checkNoDuplicates(t *testing.T, dataDir string) map[string]int {
	t.Helper()
	db := apptest.MemoryDB(t)
	rows := map[string]int{}
	for _, table := range normalize.Tables {
		glob := filepath.Join(export.Root(dataDir), table, "month=*", "*.parquet")
		if files, _ := filepath.Glob(glob); len(files) == 0 {
			continue
		}
		var all, distinct int
		q := fmt.Sprintf("SELECT count(*), count(DISTINCT (%s)) FROM read_parquet('%s')", primaryKeys[table], glob)
		if err := db.QueryRow(q).Scan(&all, &distinct); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		if all != distinct {
			t.Errorf("%s: %d rows but %d distinct primary keys (%s): duplicated rows", table, all, distinct, primaryKeys[table])
		}
		rows[table] = all
	}
	return rows
}

// treeState is a listing of every file under a folder with its size and
// modification time, to tell what a test touched.
type treeState map[string]string

func snapshotTree(t *testing.T, root string) treeState {
	t.Helper()
	out := treeState{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		out[rel] = fmt.Sprintf("%v %d %d", info.Mode(), info.Size(), info.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// changedOutside lists what changed between two listings outside the given
// folders (relative to the listed root).
func changedOutside(before, after treeState, inside ...string) []string {
	within := func(p string) bool {
		for _, in := range inside {
			if p == in || strings.HasPrefix(p, in+string(filepath.Separator)) {
				return true
			}
		}
		return false
	}
	var out []string
	for p, v := range after {
		if within(p) {
			continue
		}
		if b, ok := before[p]; !ok {
			out = append(out, "created "+p)
		} else if b != v && !strings.HasPrefix(v, "d") {
			out = append(out, "changed "+p)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok && !within(p) {
			out = append(out, "removed "+p)
		}
	}
	sort.Strings(out)
	return out
}

// eventStates counts the store's webhook events per state.
func eventStates(t *testing.T, db *sql.DB) map[string]int {
	t.Helper()
	out := map[string]int{}
	rs, err := db.Query(`SELECT state, count(*) FROM webhook_events GROUP BY state`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	for rs.Next() {
		var s string
		var n int
		if err := rs.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		out[s] = n
	}
	return out
}

// reopenStore opens the canonical store of cfg once serve has stopped.
func reopenStore(cfg *config.Config) (*store.Store, error) {
	return store.Open(context.Background(), app.StorePath(cfg), store.Options{})
}

// settleWithin is apptest.LiveSite's Settle with a deadline of the caller's choosing.
func settleWithin(t *testing.T, l *apptest.LiveSite, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := l.Site.Settle(ctx); err != nil {
		t.Fatal(err)
	}
}
