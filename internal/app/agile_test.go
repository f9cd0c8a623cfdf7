package app_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/internal/dimensions"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/export"
	"github.com/jiraduck/jiraduck/internal/jira"
	"github.com/jiraduck/jiraduck/internal/jira/client"
	"github.com/jiraduck/jiraduck/internal/store"
	sqlfiles "github.com/jiraduck/jiraduck/sql"
	"github.com/sirupsen/logrus"
)

// agileViews opens the analyst views over a site's published Parquet.
func agileViews(t *testing.T, dir string) *sql.DB {
	t.Helper()
	db := apptest.MemoryDB(t)
	views, err := export.Views(export.Root(dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range views {
		if _, err := db.Exec(v.SQL); err != nil {
			t.Fatalf("view %s: %v", v.Name, err)
		}
	}
	return db
}

// agilePairs returns "key:id" of every row of q (two text columns), sorted.
func agilePairs(t *testing.T, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a, b string
		if err := rows.Scan(&a, &b); err != nil {
			t.Fatal(err)
		}
		out = append(out, a+":"+b)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// agileExpected is what the emulator says the link tables hold: "key:id"
// of every issue's sprints and organizations.
func agileExpected(t *testing.T, em *emulator.Emulator) (sprints, orgs []string) {
	t.Helper()
	for _, k := range em.Keys() {
		is, err := em.Issue(k)
		if err != nil {
			t.Fatal(err)
		}
		ids, _ := is.Custom[emulator.FieldSprint].([]string)
		for _, id := range ids {
			sprints = append(sprints, k+":"+id)
		}
		ids, _ = is.Custom[emulator.FieldOrganizations].([]string)
		for _, id := range ids {
			orgs = append(orgs, k+":"+id)
		}
	}
	sort.Strings(sprints)
	sort.Strings(orgs)
	return sprints, orgs
}

// TestAgileTablesEndToEnd: a backfill of the emulator publishes
// issue_sprints, issue_organizations and story_points as the emulator's
// issues hold them; moving an issue to a sprint and sharing a request with
// an organization reach the Parquet through their jira:issue_updated; a
// sprint webhook is accepted; the example queries add up.
func TestAgileTablesEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serve and an emulator")
	}
	t.Parallel()
	live := apptest.BackfilledWith(t, emulator.Options{Issues: 120, Months: 6, Seed: 21, Clock: apptest.Frozen()}, nil)
	em := live.Emulator
	wantSprints, wantOrgs := agileExpected(t, em)
	if len(wantSprints) == 0 || len(wantOrgs) == 0 {
		t.Fatalf("the emulator's site has %d sprint and %d organization links, want some of each", len(wantSprints), len(wantOrgs))
	}
	db := agileViews(t, live.Dir)
	check := func(t *testing.T) {
		t.Helper()
		wantSprints, wantOrgs := agileExpected(t, em)
		if got := agilePairs(t, db, `SELECT issue_key, sprint_id FROM jira_issue_sprints`); !slices.Equal(got, wantSprints) {
			t.Errorf("jira_issue_sprints: got %d rows, want %d: got %v, want %v", len(got), len(wantSprints), agileHead(got), agileHead(wantSprints))
		}
		if got := agilePairs(t, db, `SELECT issue_key, organization_id FROM jira_issue_organizations`); !slices.Equal(got, wantOrgs) {
			t.Errorf("jira_issue_organizations: got %d rows, want %d: got %v, want %v", len(got), len(wantOrgs), agileHead(got), agileHead(wantOrgs))
		}
	}
	t.Run("backfill", func(t *testing.T) {
		check(t)
		// Each link row sits in its issue's month.
		if n := apptest.QueryInt(t, db, `SELECT count(*) FROM jira_issue_sprints s JOIN jira_issues i USING (issue_key) WHERE s.month <> i.month`); n != 0 {
			t.Errorf("got %d sprint rows outside their issue's month, want 0", n)
		}
		var points []string
		for _, k := range em.Keys() {
			is, _ := em.Issue(k)
			if v, ok := is.Custom[emulator.FieldStoryPoints].(float64); ok {
				points = append(points, k+":"+strconv.FormatFloat(v, 'f', 1, 64))
			}
		}
		sort.Strings(points)
		got := agilePairs(t, db, `SELECT issue_key, CAST(story_points AS VARCHAR) FROM jira_issues WHERE story_points IS NOT NULL`)
		if len(points) == 0 || !slices.Equal(got, points) {
			t.Errorf("story_points: got %v, want %v (the Story Points field, found by name)", agileHead(got), agileHead(points))
		}
	})

	var active, future emulator.Sprint
	for _, sp := range em.Sprints() {
		switch {
		case sp.State == "active":
			active = sp
		case sp.State == "future" && future.ID == 0:
			future = sp
		}
	}
	t.Run("move an issue to a sprint", func(t *testing.T) {
		key := ""
		for _, k := range em.Keys() {
			is, _ := em.Issue(k)
			ids, _ := is.Custom[emulator.FieldSprint].([]string)
			if is.Project == "OPS" && is.Type != "Sub-task" && !slices.Contains(ids, strconv.FormatInt(future.ID, 10)) {
				key = k
				break
			}
		}
		apptest.Must(t, em.MoveToSprint(key, future.ID))
		live.Settle(t)
		check(t)
		got := agilePairs(t, db, `SELECT sprint_id, sprint_state FROM jira_issue_sprints WHERE issue_key = ?`, key)
		if want := strconv.FormatInt(future.ID, 10) + ":future"; !slices.Contains(got, want) {
			t.Errorf("%s: got sprints %v, want %s among them", key, got, want)
		}
	})
	t.Run("share a request with an organization", func(t *testing.T) {
		key := ""
		for _, k := range em.Keys() {
			is, _ := em.Issue(k)
			ids, _ := is.Custom[emulator.FieldOrganizations].([]string)
			if is.Project == "SUP" && !slices.Contains(ids, "5") {
				key = k
				break
			}
		}
		apptest.Must(t, em.AddOrganization(key, 5))
		live.Settle(t)
		check(t)
		if got := agilePairs(t, db, `SELECT organization_id, organization_name FROM jira_issue_organizations WHERE issue_key = ?`, key); !slices.Contains(got, "5:Stark Logistics") {
			t.Errorf("%s: got organizations %v, want 5:Stark Logistics among them", key, got)
		}
	})
	t.Run("sprint webhooks are accepted", func(t *testing.T) {
		if _, err := em.CloseSprint(active.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := em.StartSprint(future.ID); err != nil {
			t.Fatal(err)
		}
		live.Settle(t)
		for _, ev := range []string{"sprint_closed", "sprint_started"} {
			n := apptest.StoredValue(t, live, `SELECT count(*) FROM webhook_events WHERE webhook_event = '`+ev+`'`)
			if n != "1" {
				t.Errorf("%s: got %s stored events, want 1", ev, n)
			}
		}
	})
	t.Run("velocity example", func(t *testing.T) {
		// The example reads the sprints' state from jira_sprints, which
		// the backfill command refreshes after the issues.
		_, err := live.Service.Dimensions().Refresh(context.Background(), "sprints")
		apptest.Must(t, err)
		live.Settle(t)
		// Views made before jira_sprints had a file read none.
		agileCheckVelocity(t, agileViews(t, live.Dir), em)
	})
	t.Run("organization example", func(t *testing.T) {
		q, err := fs.ReadFile(sqlfiles.FS, "example_organization_sla_by_month.sql")
		apptest.Must(t, err)
		rows, err := db.Query(string(q))
		apptest.Must(t, err)
		defer rows.Close()
		tickets := 0
		for rows.Next() {
			var id, name, month string
			var n, withSLA, breached int
			var rate sql.NullFloat64
			apptest.Must(t, rows.Scan(&id, &name, &month, &n, &withSLA, &breached, &rate))
			if breached > withSLA || withSLA > n {
				t.Errorf("%s %s: got %d tickets, %d with an SLA, %d breached", name, month, n, withSLA, breached)
			}
			tickets += n
		}
		apptest.Must(t, rows.Err())
		if _, orgs := agileExpected(t, em); tickets != len(orgs) {
			t.Errorf("got %d tickets over organizations and months, want %d", tickets, len(orgs))
		}
	})
}

// agileCheckVelocity holds sql/example_sprint_velocity.sql to the
// emulator: the points of the done issues whose last sprint is each closed
// sprint.
func agileCheckVelocity(t *testing.T, db *sql.DB, em *emulator.Emulator) {
	t.Helper()
	want := map[string]float64{}
	for _, k := range em.Keys() {
		is, _ := em.Issue(k)
		ids, _ := is.Custom[emulator.FieldSprint].([]string)
		pts, ok := is.Custom[emulator.FieldStoryPoints].(float64)
		if len(ids) == 0 || !ok || (is.Status != emulator.StatusDone && is.Status != emulator.StatusClosed) {
			continue
		}
		last := slices.MaxFunc(ids, func(a, b string) int {
			x, _ := strconv.Atoi(a)
			y, _ := strconv.Atoi(b)
			return x - y
		})
		want[last] += pts
	}
	closed := map[string]bool{}
	for _, sp := range em.Sprints() {
		if sp.State == "closed" {
			closed[strconv.FormatInt(sp.ID, 10)] = true
		}
	}
	q, err := fs.ReadFile(sqlfiles.FS, "example_sprint_velocity.sql")
	apptest.Must(t, err)
	rows, err := db.Query(string(q))
	apptest.Must(t, err)
	defer rows.Close()
	seen := 0
	var previous time.Time
	for rows.Next() {
		var id, name, board string
		var start, complete sql.NullTime
		var done, notDone, noEstimate int
		var points, left float64
		apptest.Must(t, rows.Scan(&id, &name, &board, &start, &complete, &done, &points, &notDone, &left, &noEstimate))
		// The sprints' state is jira_sprints': a sprint closed since its
		// issues were fetched is listed once its webhook refreshed it.
		if !closed[id] {
			t.Errorf("sprint %s (%s): listed, but the emulator has it %s", id, name, agileSprintState(em, id))
			continue
		}
		seen++
		if points != want[id] {
			t.Errorf("sprint %s (%s): got %v points completed, want %v", id, name, points, want[id])
		}
		if !start.Valid || start.Time.Before(previous) {
			t.Errorf("sprint %s (%s): got start %v after %v, want the sprints by start date", id, name, start.Time, previous)
		}
		previous = start.Time
	}
	apptest.Must(t, rows.Err())
	if seen == 0 {
		t.Error("the velocity example listed no closed sprint")
	}
}

// agileSprintState is the emulator's state of a sprint, by id.
func agileSprintState(em *emulator.Emulator, id string) string {
	for _, sp := range em.Sprints() {
		if strconv.FormatInt(sp.ID, 10) == id {
			return sp.State
		}
	}
	return "unknown"
}

func agileHead(s []string) []string { return s[:min(len(s), 8)] }

// TestAgileSourcesAgainstTheEmulator: every Jira Software and Jira Service
// Management table's Fetch returns the emulator's objects and Row derives
// the rows the emulator's state says; on a site without the products, their
// Fetch fails with Jira's 404, which the refresh reads as "not on this
// site".
func TestAgileSourcesAgainstTheEmulator(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an emulator")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sources := map[string]dimensions.Source{}
	for _, s := range dimensions.Sources() {
		if s.Product == dimensions.Software || s.Product == dimensions.ServiceDesk {
			sources[s.Table] = s
		}
	}
	var tables []string
	for name := range sources {
		tables = append(tables, name)
	}
	sort.Strings(tables)
	if want := []string{"boards", "organizations", "request_types", "service_desks", "sprints"}; !slices.Equal(tables, want) {
		t.Fatalf("got tables %v, want %v", tables, want)
	}
	em, c := agileEmulator(t, emulator.Options{Issues: 20, Seed: 3})
	// A sprint made after start, with no dates yet, is listed too.
	extra, err := em.CreateSprint(1, "OPS Sprint extra", "")
	apptest.Must(t, err)
	want := map[string][]string{}
	for _, b := range em.Boards() {
		want["boards"] = append(want["boards"], fmt.Sprintf("%d|%s|%s|10001|%s", b.ID, b.Name, b.Type, b.Project))
	}
	for _, sp := range em.Sprints() {
		want["sprints"] = append(want["sprints"], fmt.Sprintf("%d|%d|%s|%s|%s|%s|%s|%s", sp.ID, sp.Board, sp.Name, sp.State,
			agileTimeText(sp.Start), agileTimeText(sp.End), agileTimeText(sp.Complete), agileOrNull(sp.Goal)))
	}
	want["service_desks"] = []string{"1|10000|SUP|Support"}
	for _, o := range em.Organizations() {
		want["organizations"] = append(want["organizations"], fmt.Sprintf("%d|%s|%s", o.ID, o.Name, agileTimeText(o.Created)))
	}
	for _, table := range tables {
		t.Run(table, func(t *testing.T) {
			s := sources[table]
			objs, err := s.Fetch(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range objs {
				row, err := s.Row(o)
				if err != nil {
					t.Fatalf("row of %s: %v", o.ID, err)
				}
				if len(row) != len(s.Columns) {
					t.Fatalf("row of %s: got %d values, want %d columns", o.ID, len(row), len(s.Columns))
				}
				if fmt.Sprint(row[0]) != o.ID {
					t.Errorf("row of %s: got id %v, want the object's", o.ID, row[0])
				}
				got = append(got, agileRowText(row))
			}
			if table == "request_types" {
				if len(got) != 5 || !strings.HasPrefix(got[0], "1|1|Get IT help|") || !strings.HasSuffix(got[4], "|[1 2]") {
					t.Errorf("got %v, want the five request types of desk 1", got)
				}
				return
			}
			if !slices.Equal(got, want[table]) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want[table], "\n"))
			}
		})
	}
	if !slices.ContainsFunc(want["sprints"], func(s string) bool { return strings.HasPrefix(s, strconv.FormatInt(extra.ID, 10)+"|") }) {
		t.Error("the sprint made after start is not among the expected rows")
	}

	t.Run("a site without the products", func(t *testing.T) {
		_, c := agileEmulator(t, emulator.Options{Issues: 5, Seed: 3, WithoutSoftware: true, WithoutServiceManagement: true})
		for _, table := range tables {
			if _, err := sources[table].Fetch(ctx, c); !errors.Is(err, jira.ErrNotFound) {
				t.Errorf("%s: got %v, want Jira's 404", table, err)
			}
		}
	})
}

// agileEmulator starts an emulator and a client of it.
func agileEmulator(t *testing.T, opts emulator.Options) (*emulator.Emulator, *client.Client) {
	t.Helper()
	opts.Email, opts.APIToken = "agile@example.test", "agile-token"
	em, err := emulator.New(opts)
	apptest.Must(t, err)
	t.Cleanup(func() { em.Close() })
	url, err := em.Start(context.Background(), "127.0.0.1:0")
	apptest.Must(t, err)
	c, err := client.New(client.Options{BaseURL: url, Email: opts.Email, APIToken: opts.APIToken})
	apptest.Must(t, err)
	return em, c
}

func agileTimeText(t time.Time) string {
	if t.IsZero() {
		return "<nil>"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func agileOrNull(s string) string {
	if s == "" {
		return "<nil>"
	}
	return s
}

// agileRowText writes a row as "a|b|c", times in RFC 3339.
func agileRowText(row []any) string {
	parts := make([]string, len(row))
	for i, v := range row {
		switch x := v.(type) {
		case time.Time:
			parts[i] = agileTimeText(x)
		default:
			parts[i] = fmt.Sprint(v)
		}
	}
	return strings.Join(parts, "|")
}

// TestAgileUpgradedStoreDerivesLinkTables: a store whose rows were derived
// by a release without issue_sprints, issue_organizations and story_points
// (its issue-columns record names no such tables, the tables are empty and
// the column NULL) derives them from the stored payloads when a batch
// command opens it, and publishes them: no fetch needed.
func TestAgileUpgradedStoreDerivesLinkTables(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serve and an emulator")
	}
	t.Parallel()
	ctx := context.Background()
	live := apptest.BackfilledWith(t, emulator.Options{Issues: 60, Months: 4, Seed: 23, Clock: apptest.Frozen()}, nil)
	wantSprints, wantOrgs := agileExpected(t, live.Emulator)
	cfg := live.Config
	apptest.Must(t, live.Service.Close())

	st, err := store.Open(ctx, app.StorePath(cfg), store.Options{})
	apptest.Must(t, err)
	var record string
	apptest.Must(t, st.DB().QueryRowContext(ctx, `SELECT json_extract_string(args, '$.issue_columns') FROM sync_runs
		WHERE job = 'rebuild' ORDER BY run_id DESC LIMIT 1`).Scan(&record))
	var rec struct {
		Tables map[string]json.RawMessage `json:"tables"`
	}
	var whole map[string]json.RawMessage
	apptest.Must(t, json.Unmarshal([]byte(record), &whole))
	apptest.Must(t, json.Unmarshal([]byte(record), &rec))
	delete(rec.Tables, "issue_sprints")
	delete(rec.Tables, "issue_organizations")
	whole["tables"], _ = json.Marshal(rec.Tables)
	old, _ := json.Marshal(whole)
	args, _ := json.Marshal(map[string]string{"issue_columns": string(old)})
	for _, q := range []string{`DELETE FROM issue_sprints`, `DELETE FROM issue_organizations`,
		`UPDATE issues SET story_points = NULL`, `UPDATE raw_issues SET row_hashes = NULL`} {
		_, err := st.DB().ExecContext(ctx, q)
		apptest.Must(t, err)
	}
	_, err = st.DB().ExecContext(ctx, `INSERT INTO sync_runs (job, started_at, finished_at, status, counts, args, cursor)
		VALUES ('rebuild', now(), now(), ?, '{}', ?, ?)`, store.RunOK, string(args), store.RebuildComplete)
	apptest.Must(t, err)
	apptest.Must(t, st.Close())

	log := logrus.New()
	log.SetOutput(io.Discard)
	b, err := app.OpenBatch(ctx, cfg, log, "export", app.BatchOptions{})
	apptest.Must(t, err)
	_, err = b.ExportDirty()
	b.Close()
	apptest.Must(t, err)
	db := agileViews(t, cfg.DataDir)
	if got := agilePairs(t, db, `SELECT issue_key, sprint_id FROM jira_issue_sprints`); !slices.Equal(got, wantSprints) {
		t.Errorf("jira_issue_sprints after the upgrade: got %d rows, want %d", len(got), len(wantSprints))
	}
	if got := agilePairs(t, db, `SELECT issue_key, organization_id FROM jira_issue_organizations`); !slices.Equal(got, wantOrgs) {
		t.Errorf("jira_issue_organizations after the upgrade: got %d rows, want %d", len(got), len(wantOrgs))
	}
	if n := apptest.QueryInt(t, db, `SELECT count(*) FROM jira_issues WHERE story_points IS NOT NULL`); n == 0 {
		t.Error("no story points in Parquet after the upgrade, want them derived again")
	}
}
