package app_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/internal/dimensions"
	"github.com/jiraduck/jiraduck/internal/export"
	"github.com/jiraduck/jiraduck/internal/jira/client"
	"github.com/jiraduck/jiraduck/internal/jobs"
	"github.com/jiraduck/jiraduck/internal/store"
)

// dimsPlatformTables are the tables every Jira Cloud site serves.
var dimsPlatformTables = []string{"projects", "users", "versions", "components", "statuses", "priorities", "issue_types",
	"resolutions", "issue_link_types", "fields"}

// dimsFile is the published file of a dimension table.
func dimsFile(dir, table string) string {
	return filepath.Join(export.Root(dir), table, "data.parquet")
}

// dimsQuery answers q, in which {t} names a dimension table's file and
// {issues}... a partitioned table's files, on db.
func dimsValue(db *sql.DB, dir, q string) (string, error) {
	q = strings.NewReplacer("{projects}", dimsRead(dir, "projects"), "{users}", dimsRead(dir, "users"),
		"{versions}", dimsRead(dir, "versions"), "{issue_link_types}", dimsRead(dir, "issue_link_types")).Replace(q)
	var v sql.NullString
	if err := db.QueryRow(q).Scan(&v); err != nil {
		return "", err
	}
	return v.String, nil
}

func dimsRead(dir, table string) string {
	return fmt.Sprintf("read_parquet('%s')", dimsFile(dir, table))
}

func dimsPartitions(dir, table string) string {
	return fmt.Sprintf("read_parquet('%s', union_by_name = true)", filepath.Join(export.Root(dir), table, "month=*", "*.parquet"))
}

// TestDimensionsEndToEnd: a backfill of the emulator fills every platform
// table and publishes it; every account id the issue-level tables hold
// resolves in users; each kind of webhook about the site's objects
// (project, version, user, issue link type) refreshes its table, and its
// file, within seconds.
func TestDimensionsEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	live := apptest.StartLiveSite(t, 80, nil, nil)
	svc := live.Service
	if _, err := jobs.Backfill(ctx, svc.Client(), svc.Store(), svc.Processor(), jobs.BackfillOptions{Parallel: 4}); err != nil {
		t.Fatal(err)
	}
	res, err := svc.Dimensions().Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	live.Settle(t)
	db := apptest.MemoryDB(t)

	t.Run("every platform table is filled and published", func(t *testing.T) {
		got := map[string]dimensions.TableResult{}
		for _, tr := range res.Tables {
			got[tr.Table] = tr
		}
		m, err := export.ReadManifest(live.Dir)
		if err != nil {
			t.Fatal(err)
		}
		listed := map[string]store.PublishedPartition{}
		for _, p := range m.Partitions {
			if p.Month == "" {
				listed[p.Table] = p
			}
		}
		for _, table := range dimsPlatformTables {
			tr := got[table]
			if tr.Outcome != dimensions.OutcomeChanged || tr.Rows == 0 {
				t.Errorf("%s: got %s with %d rows, want changed with rows", table, tr.Outcome, tr.Rows)
				continue
			}
			n := apptest.QueryInt(t, db, fmt.Sprintf("SELECT count(*) FROM %s", dimsRead(live.Dir, table)))
			if n != tr.Rows {
				t.Errorf("%s: the file has %d rows, want %d", table, n, tr.Rows)
			}
			if p := listed[table]; p.Path != table+"/data.parquet" || p.Rows != int64(n) {
				t.Errorf("%s: got manifest entry %+v, want %s/data.parquet with %d rows", table, p, table, n)
			}
		}
	})

	t.Run("every account id resolves in users", func(t *testing.T) {
		refs := []string{}
		for table, cols := range map[string][]string{
			"issues":      {"creator_account_id", "reporter_account_id", "assignee_account_id"},
			"comments":    {"author_account_id", "update_author_account_id"},
			"worklogs":    {"author_account_id", "update_author_account_id"},
			"changelog":   {"author_account_id", "from_account_id", "to_account_id"},
			"attachments": {"author_account_id"},
		} {
			for _, c := range cols {
				refs = append(refs, fmt.Sprintf("SELECT %s AS id FROM %s", c, dimsPartitions(live.Dir, table)))
			}
		}
		q := fmt.Sprintf(`SELECT count(DISTINCT id), string_agg(DISTINCT id, ', ') FILTER (WHERE id NOT IN (SELECT account_id FROM %s))
			FROM (%s) WHERE id IS NOT NULL AND id <> ''`, dimsRead(live.Dir, "users"), strings.Join(refs, " UNION ALL "))
		var all int
		var missing sql.NullString
		if err := db.QueryRow(q).Scan(&all, &missing); err != nil {
			t.Fatal(err)
		}
		if all == 0 {
			t.Fatal("no account id in the issue-level tables")
		}
		if missing.Valid {
			t.Errorf("account ids not in users: %s", missing.String)
		}
	})

	waitValue := func(t *testing.T, q, want string) {
		t.Helper()
		apptest.WaitFor(t, 20*time.Second, func() error {
			got, err := dimsValue(db, live.Dir, q)
			if err != nil {
				return err
			}
			if got != want {
				return fmt.Errorf("%s: got %q, want %q", q, got, want)
			}
			return nil
		})
	}
	em := live.Emulator

	t.Run("project_updated", func(t *testing.T) {
		apptest.Must(t, em.RenameProject("OPS", "Platform Operations"))
		waitValue(t, "SELECT name FROM {projects} WHERE key = 'OPS'", "Platform Operations")
	})

	t.Run("jira:version_created and jira:version_released", func(t *testing.T) {
		id, err := em.AddVersion("OPS", "7.0", "2031-02-28")
		apptest.Must(t, err)
		waitValue(t, fmt.Sprintf("SELECT CAST(released AS VARCHAR) || ' ' || CAST(release_date AS VARCHAR) FROM {versions} WHERE id = '%s'", id),
			"false 2031-02-28")
		apptest.Must(t, em.ReleaseVersion(id, true))
		waitValue(t, fmt.Sprintf("SELECT CAST(released AS VARCHAR) FROM {versions} WHERE id = '%s'", id), "true")
	})

	t.Run("user_created", func(t *testing.T) {
		id, err := em.AddUser("Ada Quill", "ada.quill@example.com", "atlassian")
		apptest.Must(t, err)
		waitValue(t, fmt.Sprintf("SELECT display_name || ' ' || email FROM {users} WHERE account_id = '%s'", id), "Ada Quill ada.quill@example.com")
	})

	t.Run("issue link type, through the issuelink event that uses it", func(t *testing.T) {
		id, err := em.AddLinkType("Causes", "is caused by", "causes")
		apptest.Must(t, err)
		keys := apptest.QueryInt(t, db, fmt.Sprintf("SELECT count(*) FROM %s", dimsPartitions(live.Dir, "issues")))
		if keys < 2 {
			t.Fatal("fewer than two issues")
		}
		var a, b string
		if err := db.QueryRow(fmt.Sprintf("SELECT min(issue_key), max(issue_key) FROM %s", dimsPartitions(live.Dir, "issues"))).Scan(&a, &b); err != nil {
			t.Fatal(err)
		}
		if _, err := em.AddLink(a, b, "Causes"); err != nil {
			t.Fatal(err)
		}
		waitValue(t, fmt.Sprintf("SELECT name || ' / ' || inward || ' / ' || outward FROM {issue_link_types} WHERE id = '%s'", id),
			"Causes / is caused by / causes")
	})
}

// TestDimensionsMissingProduct: a table whose product answers 404 is
// skipped with a note on the status page, and health stays green.
func TestDimensionsMissingProduct(t *testing.T) {
	ctx := context.Background()
	live := apptest.StartLiveSite(t, 5, nil, nil)
	svc := live.Service
	src := dimensions.Source{
		Table:   "dims_boards_probe",
		Columns: []dimensions.Column{{Name: "id", Type: "VARCHAR"}},
		Key:     []string{"id"},
		Product: dimensions.Software,
		Fetch: func(ctx context.Context, c *client.Client) ([]dimensions.Object, error) {
			_, err := c.PagedValues(ctx, "boards", "/rest/agile/1.0/no-such-api", nil, 50)
			return nil, err
		},
		Row: func(o dimensions.Object) ([]any, error) { return []any{o.ID}, nil },
	}
	r := dimensions.NewRefresher(dimensions.Deps{Client: svc.Client(), Store: svc.Store(), Writer: svc.Writer()}, []dimensions.Source{src})
	apptest.Must(t, r.Ensure(ctx))
	for range 2 {
		res, err := r.Refresh(ctx)
		if err != nil {
			t.Fatalf("got %v, want a skip without an error", err)
		}
		if o := res.Tables[0].Outcome; o != dimensions.OutcomeSkipped {
			t.Fatalf("got %s, want skipped", o)
		}
	}
	base := "http://" + live.Config.Listen
	page := dimsGet(t, base+"/")
	if !strings.Contains(page, "dims_boards_probe") || !strings.Contains(page, "Jira Software&#39;s API answered 404") {
		t.Errorf("the status page does not note the skipped table:\n%s", apptest.LastBytes(page, 2000))
	}
	var health struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal([]byte(dimsGet(t, base+"/webhooks/jira/health")), &health); err != nil {
		t.Fatal(err)
	}
	if health.Status != "ok" {
		t.Errorf("got health %q, want ok", health.Status)
	}
	states, err := svc.Store().DimensionStates(ctx)
	apptest.Must(t, err)
	if st := states["dims_boards_probe"]; st.Status != store.DimensionSkipped || st.Failures != 0 {
		t.Errorf("got %+v, want skipped, no failure", st)
	}
}

func dimsGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}
