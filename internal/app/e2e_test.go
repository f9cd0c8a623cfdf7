package app_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/export"
	"github.com/jiraduck/jiraduck/internal/store"
)

// testClock is a frozen clock the test moves by hand, so SLA values read by
// serve and by the comparison are the same.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// analyst opens the exported Parquet of dir through the analyst views.
func analyst(t *testing.T, dir string) *sql.DB {
	t.Helper()
	db, err := store.OpenMemory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	views, err := export.Views(export.Root(dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range views {
		if _, err := db.Exec(v.SQL); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	t.Parallel()
	clock := &testClock{t: time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)}
	live := apptest.StartLiveSite(t, 40, clock.now, nil)
	em := live.Emulator
	keys := em.Keys()
	var sup []string
	for _, k := range keys {
		if strings.HasPrefix(k, "SUP-") {
			sup = append(sup, k)
		}
	}
	if len(sup) < 12 {
		t.Fatalf("the generated site has %d SUP issues, want at least 12", len(sup))
	}
	// sup[9] must have a running SLA to watch it tick.
	for i, k := range sup {
		is, _ := em.Issue(k)
		running := false
		for _, s := range is.SLA {
			running = running || (s.Ongoing != nil && !s.Ongoing.Paused)
		}
		if running && i != 9 {
			sup[9], sup[i] = sup[i], sup[9]
			break
		}
		if running {
			break
		}
	}

	// Every kind of change Jira sends a webhook for.
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// SLA values tick with Jira's clock, without a webhook: an edit shows the
	// new elapsed time. (Ticks without edits are the SLA poll's job.) The
	// clock moves first so every later fetch sees the same time as the
	// comparison at the end.
	elapsed := func() int {
		return apptest.QueryInt(t, analyst(t, live.Dir), `SELECT coalesce(sum(elapsed_millis), 0) FROM jira_sla WHERE issue_key = ? AND cycle = 'ongoing'`, sup[9])
	}
	must(em.Update(sup[9], func(i *emulator.Issue) { i.Summary = "before the tick" }))
	live.Settle(t)
	slaBefore := elapsed()
	clock.mu.Lock()
	clock.t = clock.t.Add(3 * time.Hour)
	clock.mu.Unlock()
	must(em.Update(sup[9], func(i *emulator.Issue) { i.Summary = "sla ticked" }))
	live.Settle(t)
	if after := elapsed(); after <= slaBefore {
		t.Errorf("ongoing SLA elapsed of %s: got %d after 3h, want more than %d", sup[9], after, slaBefore)
	}

	must(em.Update(sup[0], func(i *emulator.Issue) { i.Summary = "edited summary" }))
	for i := 0; i < 149; i++ {
		_, err := em.Silent().AddComment(sup[1], emulator.Comment{Body: emulator.Text(fmt.Sprintf("bulk comment %d", i))})
		must(err)
	}
	_, err := em.AddComment(sup[1], emulator.Comment{Body: emulator.Text("the 150th comment")})
	must(err)
	for i := 0; i < 110; i++ {
		must(em.Silent().Update(sup[2], func(is *emulator.Issue) { is.Summary = fmt.Sprintf("rename %d", i) }))
	}
	must(em.Update(sup[2], func(is *emulator.Issue) { is.Summary = "final name" }))
	_, err = em.AddAttachment(sup[3], emulator.Attachment{Filename: "../../report\x00.txt", MimeType: "text/plain", Size: 42}, nil)
	must(err)
	_, err = em.AddLink(sup[4], sup[5], "Blocks")
	must(err)
	_, err = em.AddRemoteLink(sup[6], emulator.RemoteLink{URL: "https://runbooks.example.test/db?token=abc", Title: "runbook"})
	must(err)
	created, err := em.Create("SUP", func(i *emulator.Issue) { i.Summary = "created during the test" })
	must(err)
	newKey, err := em.Move(sup[7], "OPS")
	must(err)
	must(em.Update(sup[8], func(i *emulator.Issue) { i.Summary = "about to be deleted" }))
	live.Settle(t)
	must(em.Delete(sup[8]))
	target := emulator.StatusDone
	if is, _ := em.Issue(sup[10]); is.Status == emulator.StatusDone {
		target = emulator.StatusToDo // a reopening
	}
	must(em.Transition(sup[10], target))
	_, err = em.AddWorklog(sup[11], emulator.Worklog{Spent: time.Hour})
	must(err)
	live.Settle(t)

	db := analyst(t, live.Dir)
	stored := func() []string {
		rows, err := db.Query(`SELECT issue_key FROM jira_issues ORDER BY issue_key`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var k string
			rows.Scan(&k)
			out = append(out, k)
		}
		return out
	}()
	want := map[string]bool{sup[0]: true, sup[1]: true, sup[2]: true, sup[3]: true, sup[4]: true, sup[5]: true,
		sup[6]: true, created.Key: true, newKey: true, sup[9]: true, sup[10]: true, sup[11]: true}
	if len(stored) != len(want) {
		t.Errorf("stored issues: got %v, want %d issues %v", stored, len(want), want)
	}
	for _, k := range stored {
		if !want[k] {
			t.Errorf("unexpected issue %s stored (deleted or old key?)", k)
		}
	}
	withComments, _ := em.Issue(sup[1])
	if n := apptest.QueryInt(t, db, `SELECT count(*) FROM jira_comments WHERE issue_key = ?`, sup[1]); n != len(withComments.Comments) || n < 150 {
		t.Errorf("comments of %s: got %d, want %d (paged past the embedded 100)", sup[1], n, len(withComments.Comments))
	}
	if n := apptest.QueryInt(t, db, `SELECT count(DISTINCT change_id) FROM jira_changelog WHERE issue_key = ?`, sup[2]); n <= 100 {
		t.Errorf("histories of %s: got %d, want more than 100", sup[2], n)
	}
	if n := apptest.QueryInt(t, db, `SELECT count(*) FROM jira_issues WHERE summary = 'edited summary'`); n != 1 {
		t.Errorf("edited summary not visible")
	}
	linked, _ := em.Issue(sup[4])
	if n := apptest.QueryInt(t, db, `SELECT count(*) FROM jira_issuelinks WHERE issue_key = ? AND linked_issue_key = ?`, sup[4], sup[5]); n != 1 {
		t.Errorf("issue link %s -> %s: got %d rows, want 1", sup[4], sup[5], n)
	}
	if n := apptest.QueryInt(t, db, `SELECT count(*) FROM jira_issuelinks WHERE issue_key = ? AND linked_issue_key = ?`, sup[5], sup[4]); n != 1 {
		t.Errorf("issue link %s <- %s: got %d rows, want 1 (both ends are fetched)", sup[5], sup[4], n)
	}
	if n := apptest.QueryInt(t, db, `SELECT count(*) FROM jira_issuelinks WHERE issue_key = ?`, sup[4]); n != len(linked.Links) {
		t.Errorf("links of %s: got %d, want %d", sup[4], n, len(linked.Links))
	}
	if n := apptest.QueryInt(t, db, `SELECT count(*) FROM jira_remote_links WHERE url LIKE '%token=REDACTED%'`); n != 1 {
		t.Errorf("remote link with a redacted token: got %d, want 1", n)
	}
	var path sql.NullString
	db.QueryRow(`SELECT local_path FROM jira_attachments WHERE issue_key = ? AND filename LIKE '%report%'`, sup[3]).Scan(&path)
	if !path.Valid || strings.Contains(path.String, "..") || !strings.HasPrefix(path.String, filepath.Join("attachments", sup[3])) {
		t.Errorf("attachment path: got %v", path)
	} else if st, err := os.Stat(filepath.Join(live.Dir, path.String)); err != nil || st.Size() != 42 {
		t.Errorf("attachment file: %v %v", st, err)
	}
	var status string
	db.QueryRow(`SELECT status FROM jira_issues WHERE issue_key = ?`, sup[10]).Scan(&status)
	if status != target {
		t.Errorf("transitioned issue: got status %q, want %q", status, target)
	}
	apptest.CompareExports(t, live.Dir, live.Reference(t, stored))

	// Untouched months are not rewritten.
	before, err := export.ReadManifest(live.Dir)
	if err != nil {
		t.Fatal(err)
	}
	iss, _ := em.Issue(sup[0])
	month := iss.Created.UTC().Format("2006-01")
	must(em.Update(sup[0], func(i *emulator.Issue) { i.Summary = "edited again" }))
	live.Settle(t)
	if n := apptest.QueryInt(t, analyst(t, live.Dir), `SELECT count(*) FROM jira_issues WHERE summary = 'edited again'`); n != 1 {
		t.Fatalf("second edit not visible after settling (webhooks %+v)", em.Stats().Webhooks)
	}
	after, err := export.ReadManifest(live.Dir)
	if err != nil {
		t.Fatal(err)
	}
	old := map[string]store.PublishedPartition{}
	for _, p := range before.Partitions {
		old[p.Table+"@"+p.Month] = p
	}
	rewritten := 0
	for _, p := range after.Partitions {
		o := old[p.Table+"@"+p.Month]
		if p.WrittenAt.Equal(o.WrittenAt) {
			continue
		}
		rewritten++
		if p.Month != month {
			t.Errorf("partition %s@%s was rewritten by a change in %s", p.Table, p.Month, month)
		}
	}
	if rewritten == 0 {
		t.Errorf("no partition of %s was rewritten after an edit", month)
	}
}
