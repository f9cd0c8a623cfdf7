package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/internal/dimensions"
	"github.com/jiraduck/jiraduck/internal/emulator"
)

// TestBackfillWithoutProducts: backfill of a site without Jira Software
// and Jira Service Management exits 0, says how many tables it skipped,
// logs one line per skipped table, and query answers their views with no
// row.
func TestBackfillWithoutProducts(t *testing.T) {
	log := logrus.New()
	log.SetOutput(io.Discard)
	em, err := emulator.New(emulator.Options{Issues: 12, Months: 2, Seed: 7, Email: "bare@example.test", APIToken: "tok", Logger: log,
		WithoutSoftware: true, WithoutServiceManagement: true})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	url, err := em.Start(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	environ := []string{"JIRADUCK_DATA_DIR=" + filepath.Join(t.TempDir(), "data"), "JIRA_BASE_URL=" + url, "JIRA_EMAIL=bare@example.test",
		"JIRA_API_TOKEN=tok", "JIRADUCK_LOG_FORMAT=json", "JIRADUCK_LOG_LEVEL=info"}
	var products []string
	for _, s := range dimensions.Sources() {
		if s.Product != dimensions.Platform {
			products = append(products, s.Table)
		}
	}
	all := len(dimensions.Sources())

	out, errOut, code := runCmd(t, environ, "backfill")
	want := fmt.Sprintf("dimension tables: %d changed, 0 unchanged, %d skipped, 0 failed", all-len(products), len(products))
	if code != 0 || !strings.Contains(out, want) {
		t.Fatalf("backfill: got code %d, stdout %q, stderr %q; want exit 0 and %q", code, out, apptest.LastBytes(errOut, 800), want)
	}
	skips := map[string]int{}
	for _, line := range strings.Split(errOut, "\n") {
		var entry struct {
			Msg, Table, Level string
		}
		if json.Unmarshal([]byte(line), &entry) != nil {
			continue
		}
		if entry.Msg == "dimension table skipped" {
			skips[entry.Table]++
		}
		if entry.Level == "error" || entry.Level == "warning" {
			t.Errorf("backfill logged %s: %s", entry.Level, line)
		}
	}
	for _, table := range products {
		if skips[table] != 1 {
			t.Errorf("%s: got %d log lines of its skip, want 1", table, skips[table])
		}
	}
	for _, table := range append(products, "issue_sprints", "issue_organizations") {
		t.Run("query jira_"+table, func(t *testing.T) {
			out, errOut, code := runCmd(t, environ, "query", "--format", "csv", "SELECT count(*) AS n FROM jira_"+table)
			if code != 0 || out != "n\n0\n" {
				t.Errorf("got code %d, stdout %q, stderr %q; want no row", code, out, errOut)
			}
		})
	}
}
