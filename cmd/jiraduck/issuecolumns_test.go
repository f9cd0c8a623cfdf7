package main

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/export"
	"github.com/jiraduck/jiraduck/internal/store"
)

// TestIssueColumnsChangeRewritesEveryPartition: after JIRA_FIELD_MAP
// changes, a command that publishes one month must not leave the other
// months with the old columns. Every issues partition gets the same columns
// in the same order, with the values of issues nobody refetched, and a
// column whose setting was removed leaves every partition and the store.
func TestIssueColumnsChangeRewritesEveryPartition(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator test skipped in -short mode")
	}
	live, _ := publishedSite(t, 60)
	m, err := export.ReadManifest(live.dir)
	must(t, err)
	var months []string
	for _, p := range m.Partitions {
		if p.Table == "issues" {
			months = append(months, p.Month)
		}
	}
	if len(months) < 2 {
		t.Fatalf("issues months: got %v, want at least 2", months)
	}
	fieldMap := func(v string) []string { return append(siteEnviron(live), "JIRA_FIELD_MAP="+v) }
	severity, systems := emulator.FieldSeverity+":severity", emulator.FieldAffectedSystems+":affected_systems"
	steps := []struct {
		name    string
		environ []string
		// args is the command that runs with the new settings: it
		// publishes one month only, or nothing at all.
		args     []string
		wantCols []string
	}{
		{name: "field added", environ: fieldMap(severity), args: []string{"export", "--month", months[0]},
			wantCols: []string{"severity"}},
		{name: "second field, through a batch command", environ: fieldMap(severity + "," + systems), args: []string{"rebuild"},
			wantCols: []string{"severity", "affected_systems"}},
		{name: "order changed", environ: fieldMap(systems + "," + severity), args: []string{"export", "--table", "comments"},
			wantCols: []string{"affected_systems", "severity"}},
		{name: "field removed", environ: fieldMap(systems), args: []string{"export", "--month", months[len(months)-1]},
			wantCols: []string{"affected_systems"}},
		{name: "map unset", environ: siteEnviron(live), args: []string{"export", "--month", months[0]}},
	}
	db := memoryDB(t)
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if out, errOut, code := runCmd(t, st.environ, st.args...); code != 0 {
				t.Fatalf("%v: code %d\n%s\n%s", st.args, code, out, errOut)
			}
			want := store.IssueColumns([]string{"first_response", "time_to_resolution"}, st.wantCols)
			for _, month := range months {
				path := export.PartitionPath(live.dir, "issues", month)
				if got := parquetColumns(t, db, path); !slices.Equal(got, want) {
					t.Errorf("issues %s columns:\n got %v\nwant %v", month, got, want)
				}
			}
			s, err := store.Open(context.Background(), app.StorePath(live.Config), store.Options{ReadOnly: true})
			must(t, err)
			defer s.Close()
			// The values come from the stored payloads: the files hold as
			// many as the store, which has some.
			for _, col := range st.wantCols {
				var files, stored int
				q := fmt.Sprintf(`SELECT count(%s) FROM read_parquet('%s')`, col, filepath.Join(export.Root(live.dir), "issues", "month=*", "*.parquet"))
				must(t, db.QueryRow(q).Scan(&files))
				must(t, s.DB().QueryRow(fmt.Sprintf(`SELECT count(%s) FROM issues`, col)).Scan(&stored))
				if files == 0 || files != stored {
					t.Errorf("%s values in the files: got %d, want %d (the store's), more than 0", col, files, stored)
				}
			}
			have, err := s.IssueColumnNames(context.Background())
			must(t, err)
			for _, c := range have {
				if !slices.Contains(want, c) {
					t.Errorf("store's issues keeps column %s that no setting asks for", c)
				}
			}
			checkPartitions(t, live.dir, s.DB())
		})
	}
}

// TestSLAFieldsChangeRewritesEveryPartition: a metric added through
// JIRA_SLA_FIELDS gets its four columns in every issues partition, filled
// from the stored payloads, and they leave every partition when the setting
// goes.
func TestSLAFieldsChangeRewritesEveryPartition(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator test skipped in -short mode")
	}
	live, _ := publishedSite(t, 40)
	m, err := export.ReadManifest(live.dir)
	must(t, err)
	var months []string
	for _, p := range m.Partitions {
		if p.Table == "issues" {
			months = append(months, p.Month)
		}
	}
	slaFields := emulator.FieldTimeToFirstResp + ":first_response," + emulator.FieldTimeToResolution + ":resolution_sla"
	steps := []struct {
		name    string
		environ []string
		sla     []string
	}{
		{name: "metric added", environ: append(siteEnviron(live), "JIRA_SLA_FIELDS="+slaFields),
			sla: []string{"first_response", "time_to_resolution", "resolution_sla"}},
		{name: "setting removed", environ: siteEnviron(live), sla: []string{"first_response", "time_to_resolution"}},
	}
	db := memoryDB(t)
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if out, errOut, code := runCmd(t, st.environ, "export", "--month", months[0]); code != 0 {
				t.Fatalf("export: code %d\n%s\n%s", code, out, errOut)
			}
			want := store.IssueColumns(st.sla, nil)
			for _, month := range months {
				if got := parquetColumns(t, db, export.PartitionPath(live.dir, "issues", month)); !slices.Equal(got, want) {
					t.Errorf("issues %s columns:\n got %v\nwant %v", month, got, want)
				}
			}
			if len(st.sla) < 3 {
				return
			}
			var files int
			q := fmt.Sprintf(`SELECT count(resolution_sla_goal_millis) FROM read_parquet('%s')`,
				filepath.Join(export.Root(live.dir), "issues", "month=*", "*.parquet"))
			must(t, db.QueryRow(q).Scan(&files))
			if files == 0 {
				t.Error("resolution_sla values in the files: got 0, want those of the stored SLA payloads")
			}
		})
	}
}

// TestServeRewritesPartitionsWhenIssueColumnsChange: serve started with a
// new JIRA_FIELD_MAP rewrites every issues partition from the stored
// payloads before it publishes anything else, with no Jira call needed.
func TestServeRewritesPartitionsWhenIssueColumnsChange(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator test skipped in -short mode")
	}
	live, _ := publishedSite(t, 40)
	restarted, err := app.StartSite(context.Background(), app.SiteOptions{
		Emulator: emulator.Options{Issues: 40, Months: 3, Seed: 11, Clock: frozen()}, DataDir: live.dir,
		Vars:   map[string]string{"JIRA_FIELD_MAP": emulator.FieldSeverity + ":severity", "JIRADUCK_LOG_LEVEL": "warn"},
		Logger: live.Service.Logger()})
	must(t, err)
	defer restarted.Close()
	again := &liveSite{Site: restarted, dir: live.dir}
	again.settle(t)
	want := store.IssueColumns([]string{"first_response", "time_to_resolution"}, []string{"severity"})
	db := memoryDB(t)
	m, err := export.ReadManifest(live.dir)
	must(t, err)
	n := 0
	for _, p := range m.Partitions {
		if p.Table != "issues" {
			continue
		}
		n++
		if got := parquetColumns(t, db, export.PartitionPath(live.dir, "issues", p.Month)); !slices.Equal(got, want) {
			t.Errorf("issues %s columns after serve started:\n got %v\nwant %v", p.Month, got, want)
		}
	}
	if n == 0 {
		t.Error("no issues partition published")
	}
	var values int
	q := fmt.Sprintf(`SELECT count(severity) FROM read_parquet('%s')`, filepath.Join(export.Root(live.dir), "issues", "month=*", "*.parquet"))
	must(t, db.QueryRow(q).Scan(&values))
	if values == 0 {
		t.Error("severity values in the files: got 0, want those of the stored payloads")
	}
}

// parquetColumns lists a Parquet file's columns in order.
func parquetColumns(t *testing.T, db *sql.DB, path string) []string {
	t.Helper()
	var out []string
	for _, c := range describeFile(t, db, path) {
		out = append(out, c[0])
	}
	return out
}

// describeFile lists a Parquet file's columns and their DuckDB types in
// order, without the hive month column DuckDB would add from the path.
func describeFile(t *testing.T, db *sql.DB, path string) [][2]string {
	t.Helper()
	rows, err := db.Query(fmt.Sprintf(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(%s, hive_partitioning = false))`,
		store.Quote(path)))
	must(t, err)
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var c [2]string
		must(t, rows.Scan(&c[0], &c[1]))
		out = append(out, c)
	}
	must(t, rows.Err())
	return out
}

// TestExportOfAnEmptyStore: export says there is nothing to export, and
// how issues get there, instead of reporting zero partitions; query does not
// send the user back to export.
func TestExportOfAnEmptyStore(t *testing.T) {
	t.Parallel()
	environ := dataEnv(t)
	out, errOut, code := runCmd(t, environ, "export")
	if code != 0 || !strings.Contains(out, "nothing to export") || !strings.Contains(out, "backfill") || strings.Contains(out, "exported 0") {
		t.Errorf("export of an empty store: code %d, stdout %q, stderr %q; want 0 and a line saying there is nothing to export", code, out, errOut)
	}
	_, errOut, code = runCmd(t, environ, "query", "SELECT count(*) FROM jira_issues")
	if code == 0 || strings.Contains(errOut, "export first") || !strings.Contains(errOut, "backfill") {
		t.Errorf("query after it: code %d, stderr %q; want a failure that names backfill, not export", code, errOut)
	}
}
