package main

import (
	"context"
	"strings"
	"testing"

	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/internal/jobs"
	"github.com/jiraduck/jiraduck/internal/publish"
	"github.com/jiraduck/jiraduck/internal/publish/s3test"
)

func publishEnviron(srv *s3test.Server, bucket string) []string {
	return []string{"JIRADUCK_PUBLISH_URL=s3://" + bucket + "/jira-data", "JIRADUCK_PUBLISH_ENDPOINT=" + srv.Endpoint,
		"JIRADUCK_PUBLISH_REGION=" + srv.Region, "JIRADUCK_PUBLISH_PATH_STYLE=true", "JIRADUCK_SITE=acme",
		"AWS_ACCESS_KEY_ID=" + srv.Access, "AWS_SECRET_ACCESS_KEY=" + srv.Secret, "AWS_EC2_METADATA_DISABLED=true"}
}

// TestPublishCommandUsage: the settings and the command line are checked
// before anything is read.
func TestPublishCommandUsage(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		environ  []string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"not configured", apptest.DataEnv(t), []string{"publish"}, 2, "JIRADUCK_PUBLISH_URL: not set"},
		{"an argument", apptest.DataEnv(t), []string{"publish", "now"}, 2, "publish takes no arguments"},
		{"an unknown flag", apptest.DataEnv(t), []string{"publish", "--force"}, 2, "flag provided but not defined"},
		{"a bad bucket URL", append(apptest.DataEnv(t), "JIRADUCK_PUBLISH_URL=s3://Bad_Bucket", "JIRADUCK_SITE=acme"),
			[]string{"publish"}, 2, "invalid setting JIRADUCK_PUBLISH_URL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, errOut, code := runCmd(t, c.environ, c.args...)
			if code != c.wantCode || !strings.Contains(errOut, c.wantErr) {
				t.Errorf("code %d, stderr %q; want %d and %q", code, errOut, c.wantCode, c.wantErr)
			}
		})
	}
}

// TestPublishCommand runs publish beside a serve that holds the store: a
// dry run lists the files and changes nothing, a pass uploads them with a
// one-line summary, --all finds nothing left to do, and a missing bucket
// fails with exit code 1 and a clear message.
func TestPublishCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator test skipped in -short mode")
	}
	t.Parallel()
	srv := s3test.Start(t, "lake")
	empty := append(apptest.DataEnv(t), publishEnviron(srv, "lake")...)
	if out, errOut, code := runCmd(t, empty, "publish"); code != 0 || !strings.Contains(out, "nothing to publish") {
		t.Fatalf("publish of an empty data dir: code %d out %q err %q, want 0 and nothing to publish", code, out, errOut)
	}

	// serve names its site as the commands do, in its manifest too.
	live := apptest.StartLiveSite(t, 20, apptest.Frozen(), map[string]string{"JIRADUCK_SITE": "acme"})
	if _, err := jobs.Backfill(context.Background(), live.Service.Client(), live.Service.Store(), live.Service.Processor(), jobs.BackfillOptions{}); err != nil {
		t.Fatal(err)
	}
	live.Settle(t)
	environ := append(apptest.SiteEnviron(live), publishEnviron(srv, "lake")...)
	steps := []struct {
		name     string
		environ  []string
		args     []string
		wantCode int
		wantOut  []string
		wantErr  string
	}{
		{"dry run", environ, []string{"publish", "--dry-run"}, 0,
			[]string{"upload issues/month=", "upload manifest.json", "dry run: would upload", "to s3://lake/jira-data/site=acme/jira/"}, ""},
		{"push", environ, []string{"publish"}, 0, []string{"published to s3://lake/jira-data/site=acme/jira/: uploaded", "backlog 0 file(s)"}, ""},
		{"all finds nothing to do", environ, []string{"publish", "--all", "--dry-run"}, 0, []string{"dry run: would upload 0 file(s) (0 bytes) and delete 0"}, ""},
		{"missing bucket", append(apptest.SiteEnviron(live), publishEnviron(srv, "gone")...), []string{"publish"}, 1, nil, "bucket gone does not exist"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			out, errOut, code := runCmd(t, s.environ, s.args...)
			if code != s.wantCode || !strings.Contains(errOut, s.wantErr) {
				t.Fatalf("code %d, stderr %q; want %d and %q", code, errOut, s.wantCode, s.wantErr)
			}
			for _, w := range s.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(out+errOut, srv.Secret) {
				t.Errorf("the secret key was printed")
			}
		})
	}
	// The analyst views carry the site's name, as the bucket's layout does.
	if out, errOut, code := runCmd(t, environ, "query", "--format", "csv", "SELECT DISTINCT site FROM jira_issues"); code != 0 || out != "site\nacme\n" {
		t.Errorf("query of the site column: code %d, out %q, err %q; want 0 and acme", code, out, errOut)
	}
	// Without the setting (an analyst's copy), query takes the site's name
	// from the manifest serve wrote.
	var unnamed []string
	for _, kv := range environ {
		if !strings.HasPrefix(kv, "JIRADUCK_SITE=") && !strings.HasPrefix(kv, "JIRADUCK_PUBLISH_") {
			unnamed = append(unnamed, kv)
		}
	}
	if out, errOut, code := runCmd(t, unnamed, "query", "--format", "csv", "SELECT DISTINCT site FROM jira_issues"); code != 0 || out != "site\nacme\n" {
		t.Errorf("query of the site column without JIRADUCK_SITE: code %d, out %q, err %q; want 0 and acme, the manifest's", code, out, errOut)
	}
	local, err := publish.LocalFiles(live.Dir)
	if err != nil {
		t.Fatal(err)
	}
	remote := srv.Objects("lake", "jira-data/site=acme/jira/")
	for rel, sum := range local {
		if got := remote["jira-data/site=acme/jira/"+rel]; got != sum {
			t.Errorf("%s in the bucket: sha256 %q, want %q", rel, got, sum)
		}
	}
}
