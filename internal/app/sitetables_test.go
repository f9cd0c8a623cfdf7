package app_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/sirupsen/logrus"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/internal/dimensions"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/export"
	"github.com/jiraduck/jiraduck/internal/jobs"
	"github.com/jiraduck/jiraduck/internal/normalize"
	"github.com/jiraduck/jiraduck/internal/store"
)

// sitetablesAll are the tables of the site's objects besides issues: the
// dimension tables and the two link tables.
var sitetablesAll = []string{"projects", "users", "versions", "components", "statuses", "priorities", "issue_types",
	"resolutions", "issue_link_types", "fields", "boards", "sprints", "service_desks", "request_types", "organizations",
	"issue_sprints", "issue_organizations"}

// sitetablesLinks are the link tables, partitioned by their issue's month.
var sitetablesLinks = map[string]bool{"issue_sprints": true, "issue_organizations": true}

// sitetablesProducts are the tables of Jira Software and of Jira Service
// Management.
var sitetablesProducts = map[dimensions.Product][]string{
	dimensions.Software:    {"boards", "sprints"},
	dimensions.ServiceDesk: {"service_desks", "request_types", "organizations"},
}

// sitetablesRead is a table's published files as DuckDB reads them.
func sitetablesRead(dir, table string) string {
	if sitetablesLinks[table] {
		return fmt.Sprintf("read_parquet('%s', union_by_name = true)", filepath.Join(export.Root(dir), table, "month=*", "*.parquet"))
	}
	return fmt.Sprintf("read_parquet('%s')", filepath.Join(export.Root(dir), table, "data.parquet"))
}

// sitetablesStrings returns the first column of every row of q, sorted.
func sitetablesStrings(t *testing.T, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var v sql.NullString
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v.String)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// sitetablesIDs lists the value of idKey of every object a REST list of the
// emulator answers, paging through it: a plain array, a PageBean (values,
// startAt, isLast), the service desk API's page (values, start,
// isLastPage), or an object holding the array under listKey.
func sitetablesIDs(t *testing.T, live *apptest.LiveSite, path, listKey, idKey string) []string {
	t.Helper()
	var out []string
	for start := 0; ; {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		url := fmt.Sprintf("%s%s%sstartAt=%d&start=%d", live.Config.JiraBaseURL, path, sep, start, start)
		req, err := http.NewRequest(http.MethodGet, url, nil)
		apptest.Must(t, err)
		req.SetBasicAuth(live.Config.JiraEmail, live.Config.JiraAPIToken.Reveal())
		resp, err := http.DefaultClient.Do(req)
		apptest.Must(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		apptest.Must(t, err)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		var items []map[string]any
		last := true
		if err := json.Unmarshal(body, &items); err != nil {
			var page map[string]json.RawMessage
			apptest.Must(t, json.Unmarshal(body, &page))
			key := "values"
			if listKey != "" {
				key = listKey
			}
			apptest.Must(t, json.Unmarshal(page[key], &items))
			var isLast, isLastPage bool
			_ = json.Unmarshal(page["isLast"], &isLast)
			_ = json.Unmarshal(page["isLastPage"], &isLastPage)
			_, paged := page["isLast"]
			_, sdPaged := page["isLastPage"]
			last = (!paged && !sdPaged) || isLast || isLastPage
		}
		for _, it := range items {
			out = append(out, fmt.Sprint(it[idKey]))
		}
		if last || len(items) == 0 {
			break
		}
		start += len(items)
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// sitetablesExpected is what the emulator holds, per table: the ids of its
// objects (for the link tables "issue_key:id"), sorted.
func sitetablesExpected(t *testing.T, live *apptest.LiveSite, db *sql.DB) map[string][]string {
	t.Helper()
	em := live.Emulator
	want := map[string][]string{
		"projects":         sitetablesIDs(t, live, "/rest/api/3/project/search", "", "id"),
		"statuses":         sitetablesIDs(t, live, "/rest/api/3/status", "", "id"),
		"priorities":       sitetablesIDs(t, live, "/rest/api/3/priority/search", "", "id"),
		"issue_types":      sitetablesIDs(t, live, "/rest/api/3/issuetype", "", "id"),
		"resolutions":      sitetablesIDs(t, live, "/rest/api/3/resolution/search", "", "id"),
		"issue_link_types": sitetablesIDs(t, live, "/rest/api/3/issueLinkType", "issueLinkTypes", "id"),
		"fields":           sitetablesIDs(t, live, "/rest/api/3/field", "", "id"),
		"service_desks":    sitetablesIDs(t, live, "/rest/servicedeskapi/servicedesk", "", "id"),
	}
	for _, p := range want["projects"] {
		want["versions"] = append(want["versions"], sitetablesIDs(t, live, "/rest/api/3/project/"+p+"/version", "", "id")...)
		want["components"] = append(want["components"], sitetablesIDs(t, live, "/rest/api/3/project/"+p+"/component", "", "id")...)
	}
	for _, d := range want["service_desks"] {
		want["request_types"] = append(want["request_types"], sitetablesIDs(t, live, "/rest/servicedeskapi/servicedesk/"+d+"/requesttype", "", "id")...)
	}
	for _, b := range em.Boards() {
		want["boards"] = append(want["boards"], strconv.FormatInt(b.ID, 10))
	}
	for _, sp := range em.Sprints() {
		want["sprints"] = append(want["sprints"], strconv.FormatInt(sp.ID, 10))
	}
	for _, o := range em.Organizations() {
		want["organizations"] = append(want["organizations"], strconv.FormatInt(o.ID, 10))
	}
	// users: every account users/search lists, and the portal customers
	// the issues name, which only a lookup by id finds.
	listed := sitetablesIDs(t, live, "/rest/api/3/users/search", "", "accountId")
	customers := map[string]bool{}
	for _, u := range em.Users() {
		if u.AccountType == "customer" {
			customers[u.AccountID] = true
		}
	}
	for _, id := range sitetablesStrings(t, db, sitetablesAccountRefs(live.Dir)) {
		if customers[id] {
			listed = append(listed, id)
		}
	}
	want["users"] = listed
	want["issue_sprints"], want["issue_organizations"] = agileExpected(t, em)
	for table := range want {
		sort.Strings(want[table])
		want[table] = slices.Compact(want[table])
	}
	return want
}

// sitetablesAccountRefs selects every distinct account id the published
// tables name: the issue-level ones and the site tables' leads.
func sitetablesAccountRefs(dir string) string {
	var refs []string
	for _, tc := range []struct {
		table string
		cols  []string
	}{
		{"issues", []string{"creator_account_id", "reporter_account_id", "assignee_account_id"}},
		{"comments", []string{"author_account_id", "update_author_account_id"}},
		{"worklogs", []string{"author_account_id", "update_author_account_id"}},
		{"changelog", []string{"author_account_id", "from_account_id", "to_account_id"}},
		{"attachments", []string{"author_account_id"}},
		{"projects", []string{"lead_account_id"}},
		{"components", []string{"lead_account_id"}},
	} {
		read := fmt.Sprintf("read_parquet('%s', union_by_name = true)", filepath.Join(export.Root(dir), tc.table, "month=*", "*.parquet"))
		if _, dim := dimensions.Lookup(tc.table); dim {
			read = sitetablesRead(dir, tc.table)
		}
		for _, c := range tc.cols {
			refs = append(refs, fmt.Sprintf("SELECT %s AS id FROM %s", c, read))
		}
	}
	return fmt.Sprintf("SELECT DISTINCT id FROM (%s) WHERE id IS NOT NULL AND id <> ''", strings.Join(refs, " UNION ALL "))
}

// sitetablesIDQuery selects what sitetablesExpected lists of a table from
// its published files.
func sitetablesIDQuery(dir, table string) string {
	col := map[string]string{"users": "account_id", "fields": "field_id",
		"issue_sprints": "issue_key || ':' || sprint_id", "issue_organizations": "issue_key || ':' || organization_id"}[table]
	if col == "" {
		col = "id"
	}
	return fmt.Sprintf("SELECT CAST(%s AS VARCHAR) FROM %s", col, sitetablesRead(dir, table))
}

// sitetablesValue is the one value q answers, as text.
func sitetablesValue(db *sql.DB, q string, args ...any) (string, error) {
	var v sql.NullString
	if err := db.QueryRow(q, args...).Scan(&v); err != nil {
		return "", err
	}
	return v.String, nil
}

// TestSiteTablesEndToEnd: a backfill of the emulator fills every table of
// the site's objects (the platform's, Jira Software's and JSM's, and the
// two link tables) with the objects the emulator holds; the manifest lists
// each file with its checksum; the query command's views and the snapshot
// see each; every account id the published tables name resolves in users;
// and every webhook of boards, sprints and the service project refreshes
// its table's file within seconds.
func TestSiteTablesEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serve and an emulator")
	}
	t.Parallel()
	ctx := context.Background()
	live := apptest.StartLiveSiteWith(t, emulator.Options{Issues: 50, Months: 4, Seed: 31}, nil)
	svc := live.Service
	if _, err := jobs.Backfill(ctx, svc.Client(), svc.Store(), svc.Processor(), jobs.BackfillOptions{Parallel: 4}); err != nil {
		t.Fatal(err)
	}
	// What the backfill command does after the issues.
	res, err := svc.Dimensions().Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	live.Settle(t)
	db := apptest.MemoryDB(t)
	want := sitetablesExpected(t, live, db)

	t.Run("every table holds the emulator's objects", func(t *testing.T) {
		outcomes := map[string]string{}
		for _, tr := range res.Tables {
			outcomes[tr.Table] = tr.Outcome
		}
		for _, table := range sitetablesAll {
			t.Run(table, func(t *testing.T) {
				if o, dim := outcomes[table]; !sitetablesLinks[table] && (!dim || o != dimensions.OutcomeChanged) {
					t.Errorf("refresh: got outcome %q, want changed", o)
				}
				if len(want[table]) == 0 {
					t.Fatal("the emulator holds no object of the table")
				}
				if got := sitetablesStrings(t, db, sitetablesIDQuery(live.Dir, table)); !slices.Equal(got, want[table]) {
					t.Errorf("got %d rows, want %d: got %v, want %v", len(got), len(want[table]), agileHead(got), agileHead(want[table]))
				}
			})
		}
	})

	t.Run("a few values", func(t *testing.T) {
		em := live.Emulator
		var closed emulator.Sprint
		for _, sp := range em.Sprints() {
			if sp.State == "closed" {
				closed = sp
				break
			}
		}
		kanban := em.Boards()[1]
		org := em.Organizations()[4]
		tests := []struct {
			name, q, want string
		}{
			{"project", `SELECT name || '|' || project_type FROM {projects} WHERE key = 'SUP'`, "Support|service_desk"},
			{"closed sprint", fmt.Sprintf(`SELECT name || '|' || state || '|' || board_id || '|' || strftime(start_at AT TIME ZONE 'UTC', '%%Y-%%m-%%d %%H:%%M') FROM {sprints} WHERE id = '%d'`, closed.ID),
				fmt.Sprintf("%s|closed|%d|%s", closed.Name, closed.Board, closed.Start.UTC().Format("2006-01-02 15:04"))},
			{"kanban board", fmt.Sprintf(`SELECT name || '|' || type || '|' || project_key FROM {boards} WHERE id = '%d'`, kanban.ID),
				kanban.Name + "|kanban|" + kanban.Project},
			{"organization", fmt.Sprintf(`SELECT name FROM {organizations} WHERE id = '%d'`, org.ID), org.Name},
			{"service desk", `SELECT project_key FROM {service_desks}`, "SUP"},
			{"request types of the desk", `SELECT count(*) FILTER (WHERE service_desk_id = (SELECT id FROM {service_desks})) FROM {request_types}`,
				strconv.Itoa(len(want["request_types"]))},
			{"every linked sprint is a sprint", `SELECT count(*) FROM {issue_sprints} WHERE sprint_id NOT IN (SELECT id FROM {sprints})`, "0"},
			{"every linked organization is an organization",
				`SELECT count(*) FROM {issue_organizations} WHERE organization_id NOT IN (SELECT id FROM {organizations})`, "0"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				q := tt.q
				for _, table := range sitetablesAll {
					q = strings.ReplaceAll(q, "{"+table+"}", sitetablesRead(live.Dir, table))
				}
				got, err := sitetablesValue(db, q)
				if err != nil {
					t.Fatal(err)
				}
				if got != tt.want {
					t.Errorf("got %q, want %q", got, tt.want)
				}
			})
		}
	})

	t.Run("the manifest lists every file with its checksum", func(t *testing.T) {
		m, err := export.ReadManifest(live.Dir)
		apptest.Must(t, err)
		listed := map[string][]store.PublishedPartition{}
		for _, p := range m.Partitions {
			listed[p.Table] = append(listed[p.Table], p)
		}
		for _, table := range sitetablesAll {
			parts := listed[table]
			if len(parts) == 0 {
				t.Errorf("%s: not in the manifest", table)
				continue
			}
			rows := 0
			for _, p := range parts {
				wantPath := table + "/data.parquet"
				if sitetablesLinks[table] {
					wantPath = table + "/month=" + p.Month + "/data.parquet"
				}
				if p.Path != wantPath || (p.Month == "") == sitetablesLinks[table] {
					t.Errorf("%s: got path %q month %q, want %s", table, p.Path, p.Month, wantPath)
				}
				if sum := apptest.FileSHA256(t, filepath.Join(export.Root(live.Dir), p.Path)); p.SHA256 != sum {
					t.Errorf("%s: got sha256 %s in the manifest, want the file's %s", p.Path, p.SHA256, sum)
				}
				rows += int(p.Rows)
			}
			if rows != len(want[table]) {
				t.Errorf("%s: got %d rows in the manifest, want %d", table, rows, len(want[table]))
			}
		}
	})

	t.Run("query and the snapshot see every view", func(t *testing.T) {
		root := export.Root(live.Dir)
		qdb, err := store.OpenConfined(ctx, []string{root}, nil)
		apptest.Must(t, err)
		defer qdb.Close()
		views, err := export.Views(root)
		apptest.Must(t, err)
		for _, v := range views {
			apptest.Must(t, store.Exec(ctx, qdb, v.SQL))
		}
		snap := export.SnapshotPath(live.Dir)
		if _, err := export.Snapshot(ctx, svc.Store(), snap); err != nil {
			t.Fatal(err)
		}
		sdb, err := sql.Open("duckdb", snap+"?access_mode=read_only")
		apptest.Must(t, err)
		defer sdb.Close()
		for _, table := range sitetablesAll {
			for name, q := range map[string]string{
				"query":              "SELECT count(*) FROM jira_" + table,
				"snapshot view":      "SELECT count(*) FROM jira_" + table,
				"snapshot _meta":     fmt.Sprintf("SELECT rows FROM _meta WHERE table_name = '%s' AND description <> ''", table),
				"snapshot its table": "SELECT count(*) FROM " + table,
			} {
				on := sdb
				if name == "query" {
					on = qdb
				}
				got, err := sitetablesValue(on, q)
				if err != nil {
					t.Errorf("%s: %s: %v", table, name, err)
					continue
				}
				if got != strconv.Itoa(len(want[table])) {
					t.Errorf("%s: %s: got %s rows, want %d", table, name, got, len(want[table]))
				}
			}
		}
	})

	t.Run("every account id resolves in users", func(t *testing.T) {
		refs := sitetablesStrings(t, db, sitetablesAccountRefs(live.Dir))
		users := sitetablesStrings(t, db, sitetablesIDQuery(live.Dir, "users"))
		var missing []string
		for _, id := range refs {
			if _, ok := slices.BinarySearch(users, id); !ok {
				missing = append(missing, id)
			}
		}
		if len(refs) == 0 || len(missing) > 0 {
			t.Errorf("got %d of %d account ids missing from users (%v), want every one there", len(missing), len(refs), agileHead(missing))
		}
		// The site tables of Jira Software and JSM name no account.
		for _, table := range slices.Concat(sitetablesProducts[dimensions.Software], sitetablesProducts[dimensions.ServiceDesk]) {
			s, _ := dimensions.Lookup(table)
			for _, c := range s.Columns {
				if strings.Contains(c.Name, "account") || strings.HasSuffix(c.Name, "_user") {
					t.Errorf("%s.%s holds account ids: add it to the check", table, c.Name)
				}
			}
		}
	})

	t.Run("webhooks", func(t *testing.T) {
		sitetablesWebhooks(t, live, db)
	})
}

// sitetablesWebhooks makes each change of a board, a sprint or the service
// project on the emulator, whose webhook must refresh the table's file.
func sitetablesWebhooks(t *testing.T, live *apptest.LiveSite, db *sql.DB) {
	em := live.Emulator
	var scrum emulator.Board
	for _, b := range em.Boards() {
		if b.Type == "scrum" && scrum.ID == 0 {
			scrum = b
		}
	}
	var active, future emulator.Sprint
	for _, sp := range em.Sprints() {
		switch {
		case sp.Board == scrum.ID && sp.State == "active":
			active = sp
		case sp.Board == scrum.ID && sp.State == "future" && future.ID == 0:
			future = sp
		}
	}
	if active.ID == 0 || future.ID == 0 {
		t.Fatalf("board %d has no active or no future sprint", scrum.ID)
	}
	var made, orphan emulator.Sprint
	var board emulator.Board
	moved := ""
	for _, k := range em.Keys() {
		is, _ := em.Issue(k)
		if is.Project == "OPS" && is.Type != "Sub-task" {
			moved = k
			break
		}
	}
	tests := []struct {
		event string
		do    func() error
		// q reads the file of the table the event refreshes; want is
		// its answer once refreshed.
		q    func() string
		want string
	}{
		{"sprint_created", func() (err error) {
			made, err = em.CreateSprint(scrum.ID, "OPS Sprint hardening", "Pay the debt")
			return err
		},
			func() string {
				return fmt.Sprintf("SELECT name || '|' || state || '|' || goal || '|' || board_id FROM {sprints} WHERE id = '%d'", made.ID)
			},
			fmt.Sprintf("OPS Sprint hardening|future|Pay the debt|%d", scrum.ID)},
		{"sprint_updated", func() error { _, err := em.UpdateSprint(made.ID, "OPS Sprint hardened", "Paid"); return err },
			func() string {
				return fmt.Sprintf("SELECT name || '|' || goal FROM {sprints} WHERE id = '%d'", made.ID)
			},
			"OPS Sprint hardened|Paid"},
		{"sprint_closed", func() error { _, err := em.CloseSprint(active.ID); return err },
			func() string {
				return fmt.Sprintf("SELECT state || '|' || (complete_at IS NOT NULL) FROM {sprints} WHERE id = '%d'", active.ID)
			},
			"closed|true"},
		{"sprint_started", func() error { _, err := em.StartSprint(future.ID); return err },
			func() string {
				return fmt.Sprintf("SELECT state || '|' || (start_at IS NOT NULL) FROM {sprints} WHERE id = '%d'", future.ID)
			},
			"active|true"},
		{"sprint_deleted", func() error { _, err := em.DeleteSprint(made.ID); return err },
			func() string { return fmt.Sprintf("SELECT count(*) FROM {sprints} WHERE id = '%d'", made.ID) }, "0"},
		{"board_created", func() (err error) { board, err = em.CreateBoard("OPS triage", "kanban", "OPS"); return err },
			func() string {
				return fmt.Sprintf("SELECT name || '|' || type || '|' || project_key FROM {boards} WHERE id = '%d'", board.ID)
			},
			"OPS triage|kanban|OPS"},
		{"board_updated", func() error { _, err := em.RenameBoard(board.ID, "OPS intake"); return err },
			func() string { return fmt.Sprintf("SELECT name FROM {boards} WHERE id = '%d'", board.ID) }, "OPS intake"},
		{"board_deleted", func() error { _, err := em.DeleteBoard(board.ID); return err },
			func() string { return fmt.Sprintf("SELECT count(*) FROM {boards} WHERE id = '%d'", board.ID) }, "0"},
		// Jira lists sprints only through their board: a deleted
		// board's sprint, still on its issues, is looked up by id.
		{"board_deleted (its sprints stay)", func() error {
			b, err := em.CreateBoard("OPS release train", "scrum", "OPS")
			if err != nil {
				return err
			}
			orphan, err = em.CreateSprint(b.ID, "OPS train 1", "")
			if err != nil {
				return err
			}
			if err := em.MoveToSprint(moved, orphan.ID); err != nil {
				return err
			}
			live.Settle(t)
			if _, err := em.DeleteBoard(b.ID); err != nil {
				return err
			}
			live.Settle(t)
			_, err = live.Service.Dimensions().Refresh(context.Background(), "boards", "sprints")
			return err
		},
			func() string {
				return fmt.Sprintf("SELECT name || '|' || state || '|' || (SELECT count(*) FROM {boards} WHERE id = s.board_id) FROM {sprints} s WHERE id = '%d'", orphan.ID)
			},
			"OPS train 1|future|0"},
		// JSM sends no webhook of its own for service desks or request
		// types: they follow their project's project_* events.
		{"project_updated (service desks)", func() error { return em.RenameProject("SUP", "Customer Care") },
			func() string { return "SELECT project_name FROM {service_desks} WHERE project_key = 'SUP'" }, "Customer Care"},
	}
	for _, tt := range tests {
		t.Run(tt.event, func(t *testing.T) {
			apptest.Must(t, tt.do())
			apptest.WaitFor(t, 20*time.Second, func() error {
				q := tt.q()
				for _, table := range []string{"sprints", "boards", "service_desks"} {
					q = strings.ReplaceAll(q, "{"+table+"}", sitetablesRead(live.Dir, table))
				}
				got, err := sitetablesValue(db, q)
				if err != nil {
					return err
				}
				if got != tt.want {
					return fmt.Errorf("got %q, want %q", got, tt.want)
				}
				return nil
			})
		})
	}
	t.Run("every event type a table lists was sent and stored", func(t *testing.T) {
		for _, ev := range []string{"sprint_created", "sprint_updated", "sprint_closed", "sprint_started", "sprint_deleted",
			"board_created", "board_updated", "board_deleted", "project_updated"} {
			if n := apptest.StoredValue(t, live, `SELECT count(*) FROM webhook_events WHERE webhook_event = '`+ev+`'`); n == "0" {
				t.Errorf("%s: got no stored event, want one", ev)
			}
		}
	})
}

// TestSiteTablesWithoutProducts: on a site without Jira Software, or
// without Jira Service Management, a backfill succeeds; the product's
// tables are skipped with one log line each and a note on the status page,
// health stays ok, and every other table fills.
func TestSiteTablesWithoutProducts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serve and an emulator")
	}
	t.Parallel()
	tests := []struct {
		name    string
		opts    emulator.Options
		missing dimensions.Product
		link    string
		note    string
	}{
		{"without Jira Software", emulator.Options{WithoutSoftware: true}, dimensions.Software, "issue_sprints", "Jira Software"},
		{"without Jira Service Management", emulator.Options{WithoutServiceManagement: true}, dimensions.ServiceDesk, "issue_organizations",
			"Jira Service Management"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			var logs apptest.LockedBuffer
			log := logrus.New()
			log.SetOutput(&logs)
			log.SetFormatter(&logrus.JSONFormatter{})
			opts := tc.opts
			opts.Issues, opts.Months, opts.Seed = 30, 3, 41
			site, err := app.StartSite(ctx, app.SiteOptions{Emulator: opts, DataDir: t.TempDir(), Logger: log})
			apptest.Must(t, err)
			t.Cleanup(func() { site.Close() })
			live := &apptest.LiveSite{Site: site, Dir: site.Config.DataDir}
			svc := live.Service
			if _, err := jobs.Backfill(ctx, svc.Client(), svc.Store(), svc.Processor(), jobs.BackfillOptions{Parallel: 4}); err != nil {
				t.Fatal(err)
			}
			res, err := svc.Dimensions().Refresh(ctx)
			if err != nil {
				t.Fatalf("refresh: got %v, want no error", err)
			}
			live.Settle(t)
			skipped := sitetablesProducts[tc.missing]
			db := apptest.MemoryDB(t)
			for _, tr := range res.Tables {
				wantSkip := slices.Contains(skipped, tr.Table)
				switch {
				case wantSkip && tr.Outcome != dimensions.OutcomeSkipped:
					t.Errorf("%s: got %s, want skipped", tr.Table, tr.Outcome)
				case !wantSkip && (tr.Outcome != dimensions.OutcomeChanged || tr.Rows == 0):
					t.Errorf("%s: got %s with %d rows, want changed with rows", tr.Table, tr.Outcome, tr.Rows)
				case !wantSkip:
					if n := apptest.QueryInt(t, db, "SELECT count(*) FROM "+sitetablesRead(live.Dir, tr.Table)); n != tr.Rows {
						t.Errorf("%s: got %d rows in the file, want %d", tr.Table, n, tr.Rows)
					}
				}
			}
			lines := map[string]int{}
			for _, l := range strings.Split(logs.String(), "\n") {
				var entry struct {
					Msg   string `json:"msg"`
					Table string `json:"table"`
					Level string `json:"level"`
				}
				if json.Unmarshal([]byte(l), &entry) != nil {
					continue
				}
				if entry.Msg == "dimension table skipped" {
					lines[entry.Table]++
				}
				if entry.Level == "error" {
					t.Errorf("got an error logged: %s", l)
				}
			}
			for _, table := range skipped {
				if lines[table] != 1 {
					t.Errorf("%s: got %d log lines of its skip, want 1", table, lines[table])
				}
			}
			if len(lines) != len(skipped) {
				t.Errorf("got skip lines of %v, want of %v only", lines, skipped)
			}
			// The link table of the missing product: its field is not on
			// the site, so it holds no row, and its view still answers.
			views := agileViews(t, live.Dir)
			if n := apptest.QueryInt(t, views, "SELECT count(*) FROM jira_"+tc.link); n != 0 {
				t.Errorf("jira_%s: got %d rows, want 0", tc.link, n)
			}
			base := "http://" + live.Config.Listen
			page := dimsGet(t, base+"/")
			for _, table := range skipped {
				if !strings.Contains(page, table) {
					t.Errorf("the status page does not name %s", table)
				}
			}
			if !strings.Contains(page, tc.note+"&#39;s API answered 404") {
				t.Errorf("the status page does not say %s's API answered 404:\n%s", tc.note, apptest.LastBytes(page, 2000))
			}
			var health struct {
				Status string `json:"status"`
			}
			apptest.Must(t, json.Unmarshal([]byte(dimsGet(t, base+"/webhooks/jira/health")), &health))
			if health.Status != "ok" {
				t.Errorf("got health %q, want ok", health.Status)
			}
		})
	}
}

// TestSiteTablesInSyncKit: the analysts' sync kit (deploy/sync_data.sh)
// copies every partitioned table and every dimension table, so that a
// synced laptop has a view of each.
func TestSiteTablesInSyncKit(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/sync_data.sh")
	apptest.Must(t, err)
	lists := map[string][]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		for _, name := range []string{"tables", "dim_tables"} {
			if rest, ok := strings.CutPrefix(line, name+"=("); ok {
				lists[name] = strings.Fields(strings.TrimSuffix(rest, ")"))
			}
		}
	}
	var dims []string
	for _, s := range dimensions.Sources() {
		dims = append(dims, s.Table)
	}
	tests := []struct {
		name string
		want []string
	}{
		{"tables", normalize.Tables},
		{"dim_tables", dims},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := slices.Clone(lists[tt.name])
			want := slices.Clone(tt.want)
			sort.Strings(got)
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Errorf("deploy/sync_data.sh %s: got %v, want %v", tt.name, got, want)
			}
		})
	}
}
