package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/store"
)

// failWithPaths records failures whose errors carry paths of the data
// directory: a failed fetch, a failed run, a failed event.
func (f *statusFixture) failWithPaths(t *testing.T, dataDir string) (fetchErr string) {
	t.Helper()
	ctx := context.Background()
	fetchErr = "write attachment SUP-5: open " + filepath.Join(dataDir, "attachments", "SUP-5", "1_x.png") + ": no space left on device"
	err := f.store.WithTx(ctx, func(tx *store.Tx) error {
		for _, ff := range []store.FetchFailure{
			{Issue: "SUP-5", IssueKey: "SUP-5", Reason: "internal error", Error: fetchErr, LastFailed: time.Now()},
			{Issue: "10006", IssueID: "10006", Reason: "jira unavailable", Error: "fetch 10006: jira unavailable after 6 attempts", LastFailed: time.Now()},
		} {
			if err := store.RecordFetchFailure(ctx, tx, ff); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	run, err := f.store.StartRun(ctx, "snapshot", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.FinishRun(ctx, run, store.RunFailed, nil, errors.New(`IO Error: Cannot open file "`+filepath.Join(dataDir, "snapshot", "jira.duckdb.tmp")+`": Permission denied`)); err != nil {
		t.Fatal(err)
	}
	return fetchErr
}

// TestPublicPagesShowNoPaths: the pages that answer anyone say which checks
// fail and why in short, never a path of the data directory (nor, on the
// JSON endpoints, an error's text); GET /admin/health, behind the admin
// token, has the detail.
func TestPublicPagesShowNoPaths(t *testing.T) {
	f := newStatusFixture(t)
	f.seed(t)
	dataDir := filepath.Dir(f.store.Path())
	fetchErr := f.failWithPaths(t, dataDir)

	for _, target := range []string{"/", "/healthz", "/readyz", "/webhooks/jira/health"} {
		t.Run(target, func(t *testing.T) {
			_, body := f.get(t, target)
			if strings.Contains(body, dataDir) {
				t.Errorf("%s shows the data directory %s", target, dataDir)
			}
			// The status page shows the errors of runs and events, their
			// paths taken out; the JSON endpoints show none.
			if target != "/" && (strings.Contains(body, "no space left on device") || strings.Contains(body, "Permission denied")) {
				t.Errorf("%s shows an error's text", target)
			}
		})
	}

	var h Health
	_, body := f.get(t, "/webhooks/jira/health")
	if err := json.Unmarshal([]byte(body), &h); err != nil {
		t.Fatal(err)
	}
	if h.Status != "degraded" || h.FailedFetches != 2 || h.FetchFailureReasons["internal error"] != 1 || h.FetchFailureReasons["jira unavailable"] != 1 {
		t.Errorf("health: got status %q failed_fetches %d reasons %v, want degraded, 2, one internal error and one jira unavailable",
			h.Status, h.FailedFetches, h.FetchFailureReasons)
	}
	code, body := f.getRaw(t, "/readyz", "")
	var r struct {
		Ready  bool              `json:"ready"`
		Checks map[string]string `json:"checks"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	if want := "2 issues whose latest fetch failed (internal error: 1, jira unavailable: 1)"; code != http.StatusOK || r.Checks["fetches"] != want {
		t.Errorf("readyz: got %d fetches %q, want 200 and %q", code, r.Checks["fetches"], want)
	}
	_, page := f.get(t, "/")
	for _, want := range []string{"2 issues failing to fetch", `id="fetches"`, "SUP-5", "10006", "jira unavailable", "&lt;path&gt;"} {
		if !strings.Contains(page, want) {
			t.Errorf("status page lacks %q", want)
		}
	}

	if code, _ := f.getRaw(t, "/admin/health", ""); code != http.StatusUnauthorized {
		t.Errorf("admin health without the token: got %d, want 401", code)
	}
	code, body = f.getRaw(t, "/admin/health", testSecrets["JIRADUCK_ADMIN_TOKEN"])
	if code != http.StatusOK {
		t.Fatalf("admin health: got %d (%s), want 200", code, body)
	}
	var a AdminHealth
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatal(err)
	}
	errs := map[string]string{}
	for _, ff := range a.FetchFailures {
		errs[ff.Issue] = ff.Error
	}
	if errs["SUP-5"] != fetchErr || a.DataDir != dataDir || a.Health.FailedFetches != 2 {
		t.Errorf("admin health: got fetch errors %v, data dir %q, failed fetches %d; want the whole errors, %q and 2",
			errs, a.DataDir, a.Health.FailedFetches, dataDir)
	}
	for name, secret := range testSecrets {
		if strings.Contains(body, secret) {
			t.Errorf("admin health shows %s", name)
		}
	}
}

func (f *statusFixture) getRaw(t *testing.T, target, token string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func TestScrubPaths(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"open /var/lib/jiraduck/x.parquet: no space left", "open <path>: no space left"},
		{`IO Error: Cannot open file "/srv/data/jiraduck.duckdb": denied`, `IO Error: Cannot open file "<path>": denied`},
		{"fetch SUP-1: Get \"https://acme.atlassian.net/rest/api/3/issue/SUP-1\": EOF", "fetch SUP-1: Get \"https://acme.atlassian.net/rest/api/3/issue/SUP-1\": EOF"},
		{"/tmp/x", "<path>"},
		{"rename (/a/b, /c/d)", "rename (<path>, <path>)"},
		{"status 502", "status 502"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := scrubPaths(tc.in); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestUnsignedModeWarnsOnTheStatusPage: with JIRADUCK_ALLOW_UNSIGNED and no
// secret the page says so in a banner; with a secret it does not.
func TestUnsignedModeWarnsOnTheStatusPage(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(map[string]string)
		want bool
	}{
		{"unsigned", func(v map[string]string) { delete(v, "JIRA_WEBHOOK_SECRET"); v["JIRADUCK_ALLOW_UNSIGNED"] = "true" }, true},
		{"signed", func(v map[string]string) { v["JIRADUCK_ALLOW_UNSIGNED"] = "true" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newStatusFixtureWith(t, tc.mod)
			_, page := f.get(t, "/")
			if got := strings.Contains(page, `id="unsigned"`); got != tc.want {
				t.Errorf("unsigned banner shown: got %v, want %v", got, tc.want)
			}
		})
	}
}
