package app_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/jobs"
	"github.com/jiraduck/jiraduck/internal/store"
)

// backfilled is a live site whose store holds every issue of the emulator.
func backfilled(t *testing.T, issues int, extra map[string]string) *apptest.LiveSite {
	t.Helper()
	// Jira's clock is the wall clock here: the poll's "done within the last
	// day" is measured against it.
	return apptest.BackfilledWith(t, emulator.Options{Issues: issues, Months: 3, Seed: 11, Now: time.Now().UTC()}, extra)
}

func TestSLAPollUpdatesHealsAndCounts(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator test skipped in -short mode")
	}
	t.Parallel()
	live := backfilled(t, 150, nil)
	em, ctx := live.Emulator, context.Background()
	deps := live.Service.JobDeps()

	// Pick open issues: one with a running SLA, one to resolve and one done
	// issue to reopen, all without a webhook.
	var ticking, toResolve, toReopen string
	for _, k := range em.Keys() {
		is, _ := em.Issue(k)
		running := false
		for _, s := range is.SLA {
			running = running || (s.Ongoing != nil && !s.Ongoing.Paused)
		}
		switch {
		case running && ticking == "" && is.Status != emulator.StatusDone:
			ticking = k
		case is.Status != emulator.StatusDone && is.Status != emulator.StatusClosed && toResolve == "" && k != ticking:
			toResolve = k
		case is.Status == emulator.StatusDone && toReopen == "":
			toReopen = k
		}
	}
	if ticking == "" || toResolve == "" || toReopen == "" {
		t.Fatalf("emulator lacks the issues this test needs: %q %q %q", ticking, toResolve, toReopen)
	}
	elapsed := func() string {
		return apptest.StoredValue(t, live, "SELECT coalesce(sum(elapsed_millis), 0) FROM sla WHERE cycle = 'ongoing' AND issue_key = '"+ticking+"'")
	}
	before := elapsed()

	em.Advance(2 * time.Hour)
	if err := em.Silent().Transition(toResolve, emulator.StatusDone); err != nil {
		t.Fatal(err)
	}
	// A done issue is polled only when updated within the last day.
	if err := em.Silent().Update(toReopen, func(i *emulator.Issue) {}); err != nil {
		t.Fatal(err)
	}
	live.Settle(t)
	res, err := jobs.PollSLA(ctx, deps, jobs.SLAPollOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Updated == 0 || res.Healed == 0 {
		t.Errorf("dry run: got %+v, want updates and heals counted", res)
	}
	if elapsed() != before {
		t.Errorf("a dry run wrote SLA values")
	}

	em.ResetStats()
	res, err = jobs.PollSLA(ctx, deps, jobs.SLAPollOptions{})
	if err != nil {
		t.Fatal(err)
	}
	live.Settle(t)
	calls := em.Stats().Calls[emulator.EndpointBulkFetch]
	if max := int64((res.Candidates+99)/100) + 1; calls > max {
		t.Errorf("bulk calls: got %d for %d candidates, want at most %d", calls, res.Candidates, max)
	}
	if got := elapsed(); got == before {
		t.Errorf("ongoing SLA of %s not updated by the poll (still %s)", ticking, got)
	}
	if st := apptest.StoredValue(t, live, "SELECT status FROM issues WHERE issue_key = '"+toResolve+"'"); st != emulator.StatusDone {
		t.Errorf("issue resolved without a webhook: stored status %q, want Done (healed)", st)
	}
	if res.Healed < 1 || res.Updated < 1 || res.Failed != 0 {
		t.Errorf("poll: got %+v", res)
	}

	// Reopened in Jira while Done here: healed too.
	if err := em.Silent().Transition(toResolve, emulator.StatusToDo); err != nil {
		t.Fatal(err)
	}
	if res, err := jobs.PollSLA(ctx, deps, jobs.SLAPollOptions{}); err != nil || res.Healed == 0 {
		is, _ := em.Issue(toResolve)
		t.Fatalf("poll after a reopening: got %+v, %v; emulator status %q", res, err, is.Status)
	}
	live.Settle(t)
	if st := apptest.StoredValue(t, live, "SELECT status FROM issues WHERE issue_key = '"+toResolve+"'"); st != emulator.StatusToDo {
		t.Errorf("issue reopened without a webhook: stored status %q, want To Do", st)
	}

	// Jira failing: errors are counted and reported, not hidden.
	apptest.Must(t, em.SetFaults(emulator.Faults{ErrorRate: 1}))
	res, err = jobs.PollSLA(ctx, deps, jobs.SLAPollOptions{})
	apptest.Must(t, em.SetFaults(emulator.Faults{}))
	if err == nil || res.Failed == 0 {
		t.Errorf("poll against a failing Jira: got %+v, %v; want failures counted and an error", res, err)
	}
}

func TestReconcileFindsWhatWebhooksMissed(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator test skipped in -short mode")
	}
	t.Parallel()
	live := backfilled(t, 80, nil)
	em, ctx := live.Emulator, context.Background()
	deps := live.Service.JobDeps()
	keys := em.Keys()

	created, err := em.Silent().Create("SUP", func(i *emulator.Issue) { i.Summary = "created while the webhook was lost" })
	apptest.Must(t, err)
	apptest.Must(t, em.Silent().Update(keys[3], func(i *emulator.Issue) { i.Summary = "edited while the webhook was lost" }))
	apptest.Must(t, em.Silent().Delete(keys[5]))

	res, err := jobs.Reconcile(ctx, deps, jobs.ReconcileOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Missing != 1 || res.Stale != 1 || res.Deleted != 1 {
		t.Errorf("dry run: got %+v, want 1 missing, 1 stale, 1 deleted", res)
	}
	res, err = jobs.Reconcile(ctx, deps, jobs.ReconcileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	live.Settle(t)
	if n := apptest.StoredValue(t, live, "SELECT count(*) FROM issues WHERE issue_key = '"+created.Key+"'"); n != "1" {
		t.Errorf("missing issue not fetched")
	}
	if s := apptest.StoredValue(t, live, "SELECT summary FROM issues WHERE issue_key = '"+keys[3]+"'"); s != "edited while the webhook was lost" {
		t.Errorf("stale issue not refreshed: %q", s)
	}
	if n := apptest.StoredValue(t, live, "SELECT count(*) FROM issues WHERE issue_key = '"+keys[5]+"'"); n != "0" {
		t.Errorf("deleted issue still stored")
	}
	if r := apptest.StoredValue(t, live, "SELECT deleted_reason FROM raw_issues WHERE issue_key = '"+keys[5]+"'"); !strings.Contains(r, "reconcile") {
		t.Errorf("deletion reason: got %q", r)
	}

	// A mass deletion (here: every SUP issue) is refused without --force.
	for _, k := range em.Keys() {
		if strings.HasPrefix(k, "SUP-") {
			// Sub-tasks go with their parent: a later key may be gone.
			if err := em.Silent().Delete(k); err != nil && !errors.Is(err, emulator.ErrNotFound) {
				t.Fatal(err)
			}
		}
	}
	res, err = jobs.Reconcile(ctx, deps, jobs.ReconcileOptions{})
	if !errors.Is(err, jobs.ErrTooManyDeletions) {
		t.Fatalf("mass deletion: got %+v, %v; want a refusal", res, err)
	}
	if n := apptest.StoredValue(t, live, "SELECT count(*) FROM issues WHERE issue_key LIKE 'SUP-%'"); n == "0" {
		t.Error("a refused reconcile deleted issues")
	}
	res, err = jobs.Reconcile(ctx, deps, jobs.ReconcileOptions{Force: true})
	if err != nil || res.Deleted == 0 {
		t.Errorf("forced: got %+v, %v", res, err)
	}
}

// TestReconcileConfirmsAbsentIssuesInBulk: stored issues the scope's search
// does not list (here every SUP issue, under a scope of project = OPS) are
// confirmed 100 to a bulk fetch, not one GET each. Those Jira returns are
// kept, one it left out is deleted, and issues it could not return are
// failures that delete nothing.
func TestReconcileConfirmsAbsentIssuesInBulk(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator test skipped in -short mode")
	}
	t.Parallel()
	live := backfilled(t, 250, nil)
	em, ctx := live.Emulator, context.Background()
	deps := live.Service.JobDeps()
	var sup []string
	for _, k := range em.Keys() {
		if strings.HasPrefix(k, "SUP-") {
			sup = append(sup, k)
		}
	}
	if len(sup) <= 100 {
		t.Fatalf("only %d SUP issues; the test needs more than one bulk fetch", len(sup))
	}
	apptest.Must(t, em.Silent().Delete(sup[7]))
	left := map[string]bool{}
	for _, k := range em.Keys() {
		left[k] = true
	}
	gone := 0
	for _, k := range sup {
		if !left[k] {
			gone++ // the deleted issue and its sub-tasks
		}
	}
	stored := func() string {
		return apptest.StoredValue(t, live, "SELECT count(*) FROM issues WHERE issue_key LIKE 'SUP-%'")
	}

	em.ResetStats()
	res, err := jobs.Reconcile(ctx, deps, jobs.ReconcileOptions{JQL: "project = OPS"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Deleted != gone || res.Kept != len(sup)-gone || res.Failed != 0 {
		t.Errorf("got %+v, want %d deleted and %d kept", res, gone, len(sup)-gone)
	}
	calls := em.Stats().Calls
	if want := int64((len(sup) + 99) / 100); calls[emulator.EndpointBulkFetch] != want || calls[emulator.EndpointIssue] != 0 {
		t.Errorf("calls to confirm %d issues: %d bulk fetches (want %d), %d GET issue (want 0)",
			len(sup), calls[emulator.EndpointBulkFetch], want, calls[emulator.EndpointIssue])
	}
	live.Settle(t)
	if n := stored(); n != strconv.Itoa(len(sup)-gone) {
		t.Errorf("SUP issues stored: %s, want %d", n, len(sup)-gone)
	}

	// Jira failing to return them: counted as failed, nothing deleted.
	apptest.Must(t, em.SetFaults(emulator.Faults{BulkErrorRate: 1}))
	res, err = jobs.Reconcile(ctx, deps, jobs.ReconcileOptions{JQL: "project = OPS"})
	apptest.Must(t, em.SetFaults(emulator.Faults{}))
	if err == nil || res.Failed != len(sup)-gone || res.Deleted != 0 || res.Kept != 0 {
		t.Errorf("bulk errors: got %+v, %v; want %d failed, none deleted, an error", res, err, len(sup)-gone)
	}
	live.Settle(t)
	if n := stored(); n != strconv.Itoa(len(sup)-gone) {
		t.Errorf("SUP issues stored after a failed confirmation: %s, want %d", n, len(sup)-gone)
	}
}

func TestCronJobsRunInsideServe(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator test skipped in -short mode")
	}
	t.Parallel()
	// Every second: more often than a setting may ask.
	live := apptest.StartTunedLiveSite(t, emulator.Options{Issues: 20, Months: 3, Seed: 11}, nil, func(c *config.Config) {
		c.SLAPollSchedule, c.ReconcileSchedule = "@every 1s", "@every 1s"
	})
	ctx := context.Background()
	seen := map[string]bool{}
	apptest.WaitFor(t, 30*time.Second, func() error {
		runs, err := live.Service.Store().LastRuns(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range runs {
			if r.Status == store.RunOK {
				seen[r.Job] = true
			}
		}
		if !seen["sla-poll"] || !seen["reconcile"] {
			return fmt.Errorf("jobs that ran: %v, want sla-poll and reconcile", seen)
		}
		return nil
	})
	// Reconcile (the first run compares the whole scope) fetched every issue.
	live.Settle(t)
	if n := apptest.StoredValue(t, live, "SELECT count(*) FROM issues"); n != "20" {
		t.Errorf("issues after a scheduled reconcile: got %s, want 20", n)
	}
	// Close stops the jobs: no run starts afterwards.
	if err := live.Service.Close(); err != nil {
		t.Fatal(err)
	}
	countRuns := func() int {
		st, err := store.Open(ctx, app.StorePath(live.Config), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		var n int
		if err := st.DB().QueryRow(`SELECT count(*) FROM sync_runs`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	n := countRuns()
	time.Sleep(2500 * time.Millisecond)
	if again := countRuns(); again != n {
		t.Errorf("runs after serve stopped: %d, then %d", n, again)
	}
}
