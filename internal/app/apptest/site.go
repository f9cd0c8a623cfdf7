// Package apptest starts sites for tests, checks what they published and
// runs jiraduck as a process of its own: the helpers the integration tests of
// internal/app and the command tests of cmd/jiraduck share.
package apptest

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/export"
	"github.com/jiraduck/jiraduck/internal/jobs"
	"github.com/sirupsen/logrus"
)

// LiveSite is a site for one test.
type LiveSite struct {
	*app.Site
	// Dir is the site's data directory.
	Dir string
}

// StartLiveSite starts a site of issues generated issues over three months,
// on the given clock (nil for the wall clock), with extra settings.
func StartLiveSite(t *testing.T, issues int, clock func() time.Time, extra map[string]string) *LiveSite {
	t.Helper()
	return StartLiveSiteWith(t, emulator.Options{Issues: issues, Months: 3, Seed: 11, Clock: clock}, extra)
}

// StartLiveSiteWith starts a site on the given emulator options.
func StartLiveSiteWith(t *testing.T, eo emulator.Options, extra map[string]string) *LiveSite {
	t.Helper()
	return StartTunedLiveSite(t, eo, extra, nil)
}

// StartTunedLiveSite starts a site whose validated settings tune adjusts.
func StartTunedLiveSite(t *testing.T, eo emulator.Options, extra map[string]string, tune func(*config.Config)) *LiveSite {
	t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	if os.Getenv("JIRADUCK_TEST_LOG") != "" {
		log.SetOutput(os.Stderr)
		log.SetLevel(logrus.DebugLevel)
	}
	dir := t.TempDir()
	s, err := app.StartSite(context.Background(), app.SiteOptions{
		Emulator: eo, DataDir: dir, Vars: extra, Tune: tune, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &LiveSite{Site: s, Dir: dir}
}

// Settle waits until the site's serve has processed every webhook and
// exported every change, and fails the test after 90 s. It shadows
// app.Site's Settle, which l.Site.Settle still reaches.
func (l *LiveSite) Settle(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := l.Site.Settle(ctx); err != nil {
		t.Fatal(err)
	}
}

// QueryInt returns the one integer q answers on db.
func QueryInt(t *testing.T, db *sql.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// Reference exports what the emulator says every stored issue is, through a
// fresh store and the same normalizer, into dir.
func (l *LiveSite) Reference(t *testing.T, keys []string) string {
	t.Helper()
	return ReferenceExport(t, l.Emulator, l.Config, l.Service.Catalog().Options(), keys)
}

// Frozen returns a site clock that does not move, so every fetch and the
// comparison see the same SLA values.
func Frozen() func() time.Time {
	t := time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)
	return func() time.Time { return t }
}

// PublishedSite backfills a site of n issues, waits until it is exported,
// stops its serve and returns it with a copy of its published files (a data
// dir holding parquet/jira) to compare later exports with.
func PublishedSite(t *testing.T, n int) (*LiveSite, string) {
	t.Helper()
	live := StartLiveSite(t, n, Frozen(), nil)
	if _, err := jobs.Backfill(context.Background(), live.Service.Client(), live.Service.Store(), live.Service.Processor(), jobs.BackfillOptions{}); err != nil {
		t.Fatal(err)
	}
	live.Settle(t)
	// Copied once serve has stopped: a settled exporter may still be
	// replacing the manifest, whose temporary file the walk would race.
	Must(t, live.Service.Close())
	before := t.TempDir()
	CopyTree(t, export.Root(live.Dir), filepath.Join(before, "parquet", "jira"))
	return live, before
}

// SiteEnviron is the environment of a site's serve, for running commands
// against its data directory (serve must be stopped).
func SiteEnviron(l *LiveSite) []string {
	return []string{"JIRADUCK_DATA_DIR=" + l.Dir, "JIRA_BASE_URL=" + l.Config.JiraBaseURL, "JIRA_EMAIL=" + l.Config.JiraEmail,
		"JIRA_API_TOKEN=" + l.Config.JiraAPIToken.Reveal(), "JIRADUCK_LOG_FORMAT=json", "JIRADUCK_LOG_LEVEL=warn"}
}

// CopyTree copies the files under src to dst.
func CopyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// BackfilledWith is a live site of the given emulator whose store holds
// every issue, exported.
func BackfilledWith(t *testing.T, opts emulator.Options, extra map[string]string) *LiveSite {
	t.Helper()
	live := StartLiveSiteWith(t, opts, extra)
	res, err := jobs.Backfill(context.Background(), live.Service.Client(), live.Service.Store(), live.Service.Processor(), jobs.BackfillOptions{Parallel: 8})
	if err != nil {
		t.Fatal(err)
	}
	if res.Fetched != opts.Issues {
		t.Fatalf("backfill fetched %d, want %d", res.Fetched, opts.Issues)
	}
	live.Settle(t)
	return live
}

// StoredValue returns the first column of the first row of q on the store.
func StoredValue(t *testing.T, l *LiveSite, q string) string {
	t.Helper()
	FlushIntake(t, l.Service)
	res, err := l.Service.Store().RunSQL(context.Background(), q, 1)
	if err != nil || len(res.Rows) == 0 {
		t.Fatalf("%s: %v", q, err)
	}
	return fmt.Sprint(res.Rows[0][0])
}

// Must fails the test on a non-nil err.
func Must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// FlushIntake waits until the events svc acknowledged are in its store.
func FlushIntake(t *testing.T, svc *app.Service) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := svc.Intake().Flush(ctx); err != nil {
		t.Fatalf("webhook journal not moved to the store: %v", err)
	}
}

// DataEnv is an environment whose data directory is a new folder of the
// test's, logging JSON.
func DataEnv(t *testing.T) []string {
	return []string{"JIRADUCK_DATA_DIR=" + filepath.Join(t.TempDir(), "data"), "JIRADUCK_LOG_FORMAT=json"}
}
