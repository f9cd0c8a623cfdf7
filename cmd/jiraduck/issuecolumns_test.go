package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/app/apptest"
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
	t.Parallel()
	live, _ := apptest.PublishedSite(t, 60)
	m, err := export.ReadManifest(live.Dir)
	apptest.Must(t, err)
	var months []string
	for _, p := range m.Partitions {
		if p.Table == "issues" {
			months = append(months, p.Month)
		}
	}
	if len(months) < 2 {
		t.Fatalf("issues months: got %v, want at least 2", months)
	}
	fieldMap := func(v string) []string { return append(apptest.SiteEnviron(live), "JIRA_FIELD_MAP="+v) }
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
		{name: "map unset", environ: apptest.SiteEnviron(live), args: []string{"export", "--month", months[0]}},
	}
	db := apptest.MemoryDB(t)
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if out, errOut, code := runCmd(t, st.environ, st.args...); code != 0 {
				t.Fatalf("%v: code %d\n%s\n%s", st.args, code, out, errOut)
			}
			want := store.IssueColumns([]string{"first_response", "time_to_resolution"}, st.wantCols)
			for _, month := range months {
				path := export.PartitionPath(live.Dir, "issues", month)
				if got := apptest.ParquetColumns(t, db, path); !slices.Equal(got, want) {
					t.Errorf("issues %s columns:\n got %v\nwant %v", month, got, want)
				}
			}
			s, err := store.Open(context.Background(), app.StorePath(live.Config), store.Options{ReadOnly: true})
			apptest.Must(t, err)
			defer s.Close()
			// The values come from the stored payloads: the files hold as
			// many as the store, which has some.
			for _, col := range st.wantCols {
				var files, stored int
				q := fmt.Sprintf(`SELECT count(%s) FROM read_parquet('%s')`, col, filepath.Join(export.Root(live.Dir), "issues", "month=*", "*.parquet"))
				apptest.Must(t, db.QueryRow(q).Scan(&files))
				apptest.Must(t, s.DB().QueryRow(fmt.Sprintf(`SELECT count(%s) FROM issues`, col)).Scan(&stored))
				if files == 0 || files != stored {
					t.Errorf("%s values in the files: got %d, want %d (the store's), more than 0", col, files, stored)
				}
			}
			have, err := s.IssueColumnNames(context.Background())
			apptest.Must(t, err)
			for _, c := range have {
				if !slices.Contains(want, c) {
					t.Errorf("store's issues keeps column %s that no setting asks for", c)
				}
			}
			apptest.CheckPartitions(t, live.Dir, s.DB())
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
	t.Parallel()
	live, _ := apptest.PublishedSite(t, 40)
	m, err := export.ReadManifest(live.Dir)
	apptest.Must(t, err)
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
		{name: "metric added", environ: append(apptest.SiteEnviron(live), "JIRA_SLA_FIELDS="+slaFields),
			sla: []string{"first_response", "time_to_resolution", "resolution_sla"}},
		{name: "setting removed", environ: apptest.SiteEnviron(live), sla: []string{"first_response", "time_to_resolution"}},
	}
	db := apptest.MemoryDB(t)
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if out, errOut, code := runCmd(t, st.environ, "export", "--month", months[0]); code != 0 {
				t.Fatalf("export: code %d\n%s\n%s", code, out, errOut)
			}
			want := store.IssueColumns(st.sla, nil)
			for _, month := range months {
				if got := apptest.ParquetColumns(t, db, export.PartitionPath(live.Dir, "issues", month)); !slices.Equal(got, want) {
					t.Errorf("issues %s columns:\n got %v\nwant %v", month, got, want)
				}
			}
			if len(st.sla) < 3 {
				return
			}
			var files int
			q := fmt.Sprintf(`SELECT count(resolution_sla_goal_millis) FROM read_parquet('%s')`,
				filepath.Join(export.Root(live.Dir), "issues", "month=*", "*.parquet"))
			apptest.Must(t, db.QueryRow(q).Scan(&files))
			if files == 0 {
				t.Error("resolution_sla values in the files: got 0, want those of the stored SLA payloads")
			}
		})
	}
}

// TestExportOfAnEmptyStore: export says there is nothing to export, and
// how issues get there, instead of reporting zero partitions; query does not
// send the user back to export.
func TestExportOfAnEmptyStore(t *testing.T) {
	t.Parallel()
	environ := apptest.DataEnv(t)
	out, errOut, code := runCmd(t, environ, "export")
	if code != 0 || !strings.Contains(out, "nothing to export") || !strings.Contains(out, "backfill") || strings.Contains(out, "exported 0") {
		t.Errorf("export of an empty store: code %d, stdout %q, stderr %q; want 0 and a line saying there is nothing to export", code, out, errOut)
	}
	_, errOut, code = runCmd(t, environ, "query", "SELECT count(*) FROM jira_issues")
	if code == 0 || strings.Contains(errOut, "export first") || !strings.Contains(errOut, "backfill") {
		t.Errorf("query after it: code %d, stderr %q; want a failure that names backfill, not export", code, errOut)
	}
}
