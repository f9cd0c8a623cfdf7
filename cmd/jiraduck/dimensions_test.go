package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/internal/dimensions"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/export"
)

// TestBackfillDimensions: backfill ends with the dimension tables and says
// so; --dimensions-only refreshes them alone, finding them unchanged; the
// query command sees their views; a flag beside --dimensions-only is a
// usage error.
func TestBackfillDimensions(t *testing.T) {
	log := logrus.New()
	log.SetOutput(io.Discard)
	em, err := emulator.New(emulator.Options{Issues: 15, Months: 2, Seed: 5, Email: "dims@example.test", APIToken: "tok", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close() // closed again, early, before the rebuild
	url, err := em.Start(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "data")
	environ := []string{"JIRADUCK_DATA_DIR=" + dir, "JIRA_BASE_URL=" + url, "JIRA_EMAIL=dims@example.test", "JIRA_API_TOKEN=tok",
		"JIRADUCK_LOG_FORMAT=json", "JIRADUCK_LOG_LEVEL=warn"}

	// Every table: the emulator's site has Jira Software and JSM.
	tables := len(dimensions.Sources())
	out, errOut, code := runCmd(t, environ, "backfill")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("dimension tables: %d changed, 0 unchanged, 0 skipped, 0 failed", tables)) {
		t.Fatalf("backfill: got code %d, stdout %q, stderr %q; want the dimension tables changed", code, out, apptest.LastBytes(errOut, 500))
	}
	m, err := export.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := 0
	for _, p := range m.Partitions {
		if p.Month == "" {
			files++
		}
	}
	if files != tables {
		t.Errorf("got %d dimension files in the manifest, want %d", files, tables)
	}

	out, errOut, code = runCmd(t, environ, "backfill", "--dimensions-only")
	if code != 0 || !strings.HasPrefix(out, fmt.Sprintf("dimensions ok: dimension tables: 0 changed, %d unchanged", tables)) || !strings.Contains(out, "0 files exported") {
		t.Errorf("backfill --dimensions-only: got code %d, stdout %q, stderr %q; want %d unchanged, nothing exported", code, out, apptest.LastBytes(errOut, 500), tables)
	}

	out, errOut, code = runCmd(t, environ, "query", "--format", "csv", "SELECT count(*) AS n FROM jira_projects")
	if code != 0 || out != "n\n2\n" {
		t.Errorf("query jira_projects: got code %d, stdout %q, stderr %q; want the 2 projects", code, out, errOut)
	}

	// rebuild derives them again from the stored objects, without Jira,
	// and writes the same files.
	before := map[string]string{}
	for _, p := range m.Partitions {
		if p.Month == "" {
			before[p.Table] = p.SHA256
		}
	}
	em.Close()
	out, errOut, code = runCmd(t, environ, "rebuild")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("%d dimension tables (", tables)) {
		t.Fatalf("rebuild: got code %d, stdout %q, stderr %q; want the %d dimension tables re-derived", code, out, apptest.LastBytes(errOut, 500), tables)
	}
	m, err = export.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Partitions {
		if p.Month == "" && p.SHA256 != before[p.Table] {
			t.Errorf("rebuild: %s's file differs from the one the refresh wrote", p.Table)
		}
	}

	_, errOut, code = runCmd(t, environ, "backfill", "--dimensions-only", "--force")
	if code != 2 || !strings.Contains(errOut, "--dimensions-only takes no other flag") {
		t.Errorf("with --force: got code %d, stderr %q; want 2 and the reason", code, errOut)
	}
}
