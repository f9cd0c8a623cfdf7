package dimensions

import (
	"context"
	"slices"
	"testing"
	"time"
)

// TestTriggerDebounce: a table is due once its events pause for Quiet, or
// MaxWait after its first event while they keep coming; an event names
// every table that lists it, and one no table lists is not wanted.
func TestTriggerDebounce(t *testing.T) {
	r := NewRefresher(Deps{}, platformSources())
	tr := NewTrigger(r, TriggerOptions{Quiet: time.Second, MaxWait: 5 * time.Second})
	if !tr.Wants("jira:version_released") || !tr.Wants("issuelink_created") || tr.Wants("jira:issue_updated") {
		t.Fatal("Wants: got the wrong event types")
	}
	tr.Changed([]string{"project_deleted"})
	t0 := tr.first["projects"]
	if ready, next := tr.due(t0.Add(500 * time.Millisecond)); len(ready) != 0 || next != 500*time.Millisecond {
		t.Errorf("before the quiet: got %v due, next in %v; want none, next in 500ms", ready, next)
	}
	// Events keep coming every half second: the wait ends at MaxWait.
	for i := 1; i <= 12; i++ {
		tr.mu.Lock()
		for _, table := range []string{"projects", "versions", "components"} {
			tr.last[table] = t0.Add(time.Duration(i) * 500 * time.Millisecond)
		}
		tr.mu.Unlock()
		ready, _ := tr.due(t0.Add(time.Duration(i)*500*time.Millisecond + time.Millisecond))
		if i < 10 && len(ready) != 0 {
			t.Fatalf("at %v: got %v due, want none before MaxWait", time.Duration(i)*500*time.Millisecond, ready)
		}
		if i == 10 {
			slices.Sort(ready)
			if want := []string{"components", "projects", "versions"}; !slices.Equal(ready, want) {
				t.Fatalf("at MaxWait: got %v due, want %v", ready, want)
			}
		}
	}
	if ready, next := tr.due(t0.Add(time.Hour)); len(ready) != 0 || next >= 0 {
		t.Errorf("after: got %v due, next %v; want nothing waiting", ready, next)
	}
	tr.Changed([]string{"user_created"})
	if ready, _ := tr.due(tr.last["users"].Add(time.Second)); !slices.Equal(ready, []string{"users"}) {
		t.Errorf("after the quiet: got %v, want users", ready)
	}
}

// TestTriggerCatchesUpOnStoredEvents: an event stored after its table's
// last refresh (serve stopped or crashed before the refresh ran) refreshes
// the table when the trigger starts again; the webhook itself refreshes
// it too.
func TestTriggerCatchesUpOnStoredEvents(t *testing.T) {
	ctx := context.Background()
	em, url := startEmulator(t, 5)
	s, w := openStore(t)
	r := NewRefresher(Deps{Client: newClient(t, url), Store: s, Writer: w}, platformSources())
	if err := r.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Refresh(ctx, "projects"); err != nil {
		t.Fatal(err)
	}
	if err := em.Silent().RenameProject("OPS", "Renamed While Down"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec(`INSERT INTO webhook_events (webhook_event, received_at, state) VALUES ('project_updated', ?, 'done')`,
		time.Now().UTC().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	name := func() string {
		var n string
		_ = s.DB().QueryRow(`SELECT name FROM dim_projects WHERE key = 'OPS'`).Scan(&n)
		return n
	}
	tr := NewTrigger(r, TriggerOptions{Quiet: 10 * time.Millisecond, MaxWait: 50 * time.Millisecond})
	tr.Start(ctx)
	defer tr.Close()
	waitFor(t, func() bool { return name() == "Renamed While Down" })

	if err := em.Silent().RenameProject("OPS", "Renamed Again"); err != nil {
		t.Fatal(err)
	}
	tr.Changed([]string{"project_updated"})
	waitFor(t, func() bool { return name() == "Renamed Again" })
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
