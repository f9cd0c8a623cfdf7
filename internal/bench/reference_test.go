package bench

import (
	"bufio"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/jira/client"
	"github.com/jiraduck/jiraduck/internal/normalize"
)

// TestReferenceDerivesEveryTable: P5's reference, DuckDB SQL alone, writes
// as many rows of each analyst table as jiraduck's normalizer derives
// from the same bundles, so the rebuild is compared with the same work.
func TestReferenceDerivesEveryTable(t *testing.T) {
	ctx := context.Background()
	em, err := emulator.New(emulator.Options{Issues: 60, Months: 3, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(em.Handler())
	defer srv.Close()
	c, err := client.New(client.Options{BaseURL: srv.URL, Email: "bench@example.com", APIToken: "x"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ndjson := filepath.Join(dir, "raw.ndjson")
	f, err := os.Create(ndjson)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	opts := normalize.Options{SLAFields: map[string]string{
		emulator.FieldTimeToResolution: "time_to_resolution", emulator.FieldTimeToFirstResp: "first_response"},
		SprintFields: []string{emulator.FieldSprint}, OrganizationFields: []string{emulator.FieldOrganizations}}
	want := map[string]int64{}
	for _, key := range em.Keys() {
		b, err := c.FetchIssue(ctx, key, client.FetchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		payload, err := b.Compacted().Encode()
		if err != nil {
			t.Fatal(err)
		}
		w.Write(payload)
		w.WriteByte('\n')
		r, err := normalize.FromBundle(b, opts)
		if err != nil {
			t.Fatal(err)
		}
		want["issues"]++
		want["comments"] += int64(len(r.Comments))
		want["attachments"] += int64(len(r.Attachments))
		want["changelog"] += int64(len(r.Changelog))
		want["issuelinks"] += int64(len(r.IssueLinks))
		want["remote_links"] += int64(len(r.RemoteLinks))
		want["sla"] += int64(len(r.SLA))
		want["issue_fields"] += int64(len(r.Fields))
		want["worklogs"] += int64(len(r.Worklogs))
		want["inline_media"] += int64(len(r.InlineMedia))
		want["issue_sprints"] += int64(len(r.IssueSprints))
		want["issue_organizations"] += int64(len(r.IssueOrganizations))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, got, err := referenceCopy(ctx, ndjson, filepath.Join(dir, "reference"))
	if err != nil {
		t.Fatal(err)
	}
	if len(referenceTables) != len(normalize.Tables) {
		t.Errorf("reference tables: got %d, want the %d of normalize", len(referenceTables), len(normalize.Tables))
	}
	for _, table := range normalize.Tables {
		if want[table] == 0 {
			t.Errorf("%s: the emulator's issues have no rows of it, so the test proves nothing", table)
		}
		if got[table] != want[table] {
			t.Errorf("%s: reference wrote %d rows, normalize derives %d", table, got[table], want[table])
		}
	}
}
