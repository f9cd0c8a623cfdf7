package app_test

import (
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/internal/dimensions"
	"github.com/jiraduck/jiraduck/internal/store"
)

// docMetricRows returns the rows of docs/operations.md's metrics table by
// family: its label names and its meaning.
func docMetricRows(t *testing.T) map[string]struct {
	labels  []string
	meaning string
} {
	t.Helper()
	raw, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]struct {
		labels  []string
		meaning string
	}{}
	tick := regexp.MustCompile("`([^`]+)`")
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, "| `jiraduck_") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), "|")
		if len(cells) < 4 {
			t.Fatalf("metrics table row with %d cells: %q", len(cells), line)
		}
		name := strings.Trim(cells[0], "|` ")
		var labels []string
		for _, m := range tick.FindAllStringSubmatch(cells[2], -1) {
			labels = append(labels, m[1])
		}
		sort.Strings(labels)
		rows[name] = struct {
			labels  []string
			meaning string
		}{labels, strings.Join(cells[3:], "|")}
	}
	return rows
}

// TestJobMetricsAsDocumented runs each of serve's jobs once, as its schedule
// or POST /admin/jobs/{name}/run does, and holds docs/operations.md to what
// /metrics then shows: the label names of the jiraduck_job_* families, and
// which item states each job exports.
func TestJobMetricsAsDocumented(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator test skipped in -short mode")
	}
	t.Parallel()
	// Hourly schedules register every job without running one meanwhile.
	live := apptest.StartLiveSite(t, 10, nil, map[string]string{"JIRADUCK_SLA_POLL_SCHEDULE": "@every 1h",
		"JIRADUCK_RECONCILE_SCHEDULE": "@every 1h", "JIRADUCK_SNAPSHOT_SCHEDULE": "@every 1h"})
	var names []string
	for _, j := range live.Service.Scheduler().Jobs() {
		if err := live.Service.Scheduler().RunNow(j); err != nil {
			t.Fatalf("job %s: %v", j.Name, err)
		}
		names = append(names, j.Name)
	}
	sort.Strings(names)
	if want := []string{"dimensions", "reconcile", "retention", "sla-poll", "snapshot"}; !slices.Equal(names, want) {
		t.Fatalf("serve's jobs: got %v, want %v", names, want)
	}
	s := scrape(t, live.Service.Addr())
	doc := docMetricRows(t)

	for name, f := range s {
		if !strings.HasPrefix(name, "jiraduck_job_") {
			continue
		}
		labels := map[string]bool{}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = true
			}
		}
		var got []string
		for l := range labels {
			got = append(got, l)
		}
		sort.Strings(got)
		row, ok := doc[name]
		if !ok {
			t.Errorf("%s: exposed, not in the metrics table", name)
			continue
		}
		if !slices.Equal(got, row.labels) {
			t.Errorf("%s: labels got %v, the table says %v", name, got, row.labels)
		}
	}

	// "`sla-poll`: updated, healed, ...;" in the meaning of job_items; a
	// job the table names without a colon exports none.
	documented := map[string][]string{}
	perJob := regexp.MustCompile("`([a-z-]+)`: ([a-z_]+(?:, [a-z_]+)*)")
	for _, m := range perJob.FindAllStringSubmatch(doc["jiraduck_job_items_total"].meaning, -1) {
		states := strings.Split(m[2], ", ")
		sort.Strings(states)
		documented[m[1]] = states
	}
	for _, job := range names {
		var exposed []string
		for _, m := range s.matching("jiraduck_job_items_total", "job_name", job) {
			for _, l := range m.GetLabel() {
				if l.GetName() == "state" {
					exposed = append(exposed, l.GetValue())
				}
			}
		}
		sort.Strings(exposed)
		if !slices.Equal(exposed, documented[job]) {
			t.Errorf("job %s: exports item states %v, the table says %v", job, exposed, documented[job])
		}
		if s.sum("jiraduck_job_runs_total", "job_name", job, "status", "ok") != 1 {
			t.Errorf("job %s: got %v ok runs, want 1", job, s.sum("jiraduck_job_runs_total", "job_name", job, "status", "ok"))
		}
	}
}

// docsTableColumns returns the columns docs/analysts.md lists for a table,
// in order, each as "name TYPE", from the column table under the heading
// "#### jira_<table>".
func docsTableColumns(t *testing.T, doc, table string) []string {
	t.Helper()
	var out []string
	in := false
	tick := regexp.MustCompile("`([^`]+)`")
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, "#") {
			head := strings.TrimSpace(strings.TrimLeft(line, "#"))
			in = strings.HasPrefix(line, "#### ") && (head == "jira_"+table || strings.HasPrefix(head, "jira_"+table+":"))
			continue
		}
		if !in || !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), "|")
		if len(cells) < 3 {
			t.Fatalf("%s: column row with %d cells: %q", table, len(cells), line)
		}
		for _, m := range tick.FindAllStringSubmatch(cells[0], -1) {
			out = append(out, m[1]+" "+strings.TrimSpace(cells[1]))
		}
	}
	return out
}

// TestSiteTablesAsDocumented holds docs/analysts.md to the tables of the
// site's objects: each dimension table's section lists exactly its
// source's columns, in order, with their types; each link table's section
// exactly the columns the store writes.
func TestSiteTablesAsDocumented(t *testing.T) {
	raw, err := os.ReadFile("../../docs/analysts.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	for _, s := range dimensions.Sources() {
		t.Run(s.Table, func(t *testing.T) {
			var want []string
			for _, c := range s.Columns {
				want = append(want, c.Name+" "+c.Type)
			}
			if got := docsTableColumns(t, doc, s.Table); !slices.Equal(got, want) {
				t.Errorf("docs/analysts.md, jira_%s:\ngot  %v\nwant %v", s.Table, got, want)
			}
		})
	}
	for _, table := range []string{"issue_sprints", "issue_organizations"} {
		t.Run(table, func(t *testing.T) {
			var got []string
			for _, c := range docsTableColumns(t, doc, table) {
				got = append(got, strings.Fields(c)[0])
			}
			if want := store.TableColumns(table); len(want) == 0 || !slices.Equal(got, want) {
				t.Errorf("docs/analysts.md, jira_%s:\ngot  %v\nwant %v", table, got, want)
			}
		})
	}
}
