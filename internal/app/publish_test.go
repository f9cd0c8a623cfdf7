package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/jobs"
	"github.com/jiraduck/jiraduck/internal/publish"
	"github.com/jiraduck/jiraduck/internal/publish/s3test"
	"github.com/sirupsen/logrus"
)

// publishVars are the settings of a serve publishing to srv's bucket.
func publishVars(srv *s3test.Server, bucket string) map[string]string {
	return map[string]string{
		"JIRADUCK_PUBLISH_URL": "s3://" + bucket + "/jira-data", "JIRADUCK_PUBLISH_ENDPOINT": srv.Endpoint,
		"JIRADUCK_PUBLISH_REGION": srv.Region, "JIRADUCK_PUBLISH_PATH_STYLE": "true", "JIRADUCK_SITE": "acme",
		"AWS_ACCESS_KEY_ID": srv.Access, "AWS_SECRET_ACCESS_KEY": srv.Secret, "AWS_EC2_METADATA_DISABLED": "true",
	}
}

const publishRoot = "jira-data/site=acme/jira/"

// publishDiff compares the bucket with the local tree: every file the local
// manifest lists and the manifest itself, with the SHA-256 of the content
// read back from the server; "" when they are equal.
func publishDiff(t *testing.T, srv *s3test.Server, bucket, dataDir string) string {
	t.Helper()
	local, err := publish.LocalFiles(dataDir)
	if err != nil {
		return err.Error()
	}
	want := map[string]string{}
	for rel, sum := range local {
		want[publishRoot+rel] = sum
	}
	return cmp.Diff(want, srv.Objects(bucket, publishRoot))
}

// publishHealthOf reads serve's health with detail (GET /admin/health).
func publishHealthOf(t *testing.T, addr string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/admin/health", nil)
	req.Header.Set("Authorization", "Bearer "+app.SiteAdmin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a struct {
		Health map[string]any `json:"health"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatal(err)
	}
	return a.Health
}

// TestPublishEndToEnd: emulator, serve and a real S3 server. After a
// backfill and a burst of edits (new comments, changed fields, a deleted
// issue), every local partition and manifest.json are in the bucket with the
// same SHA-256, and the health shows no backlog.
func TestPublishEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	t.Parallel()
	srv := s3test.Start(t, "lake")
	live := apptest.StartLiveSite(t, 60, apptest.Frozen(), publishVars(srv, "lake"))
	ctx := context.Background()
	if _, err := jobs.Backfill(ctx, live.Service.Client(), live.Service.Store(), live.Service.Processor(), jobs.BackfillOptions{}); err != nil {
		t.Fatal(err)
	}
	live.Settle(t)
	keys := live.Emulator.Keys()
	for i, k := range keys[:30] {
		switch i % 3 {
		case 0:
			apptest.Must(t, live.Emulator.Update(k, func(is *emulator.Issue) { is.Summary = fmt.Sprintf("edited in the burst %d", i) }))
		case 1:
			_, err := live.Emulator.AddComment(k, emulator.Comment{Body: emulator.Text(fmt.Sprintf("comment %d of the burst", i))})
			apptest.Must(t, err)
		case 2:
			apptest.Must(t, live.Emulator.Update(k, func(is *emulator.Issue) { is.Labels = append(is.Labels, "burst") }))
		}
	}
	apptest.Must(t, live.Emulator.Delete(keys[40]))
	live.Settle(t)
	settled := time.Now()
	apptest.WaitFor(t, 60*time.Second, func() error {
		if d := publishDiff(t, srv, "lake", live.Dir); d != "" {
			return fmt.Errorf("bucket differs from the local tree (-want +got):\n%s", d)
		}
		return nil
	})
	inBucket := time.Since(settled)
	local, _ := publish.LocalFiles(live.Dir)
	if len(local) < 4 {
		t.Fatalf("local tree lists %d files, want the partitions of several tables and months", len(local))
	}
	st := live.Service.Publisher().Status()
	apptest.Figures(t, "publish-e2e", "issues", len(keys), "edits", 31, "files", len(local), "uploaded", st.Uploaded,
		"uploaded_bytes", st.UploadedBytes, "deleted", st.Deleted, "bucket_equal_after_settle_ms", inBucket.Milliseconds())
	apptest.WaitFor(t, 30*time.Second, func() error {
		h := publishHealthOf(t, live.Service.Addr())
		p, _ := h["publish"].(map[string]any)
		if p == nil || p["backlog_files"] != float64(0) || p["last_upload_at"] == nil {
			return fmt.Errorf("health's publish section %v, want no backlog and a last upload", p)
		}
		return nil
	})
	resp, err := http.Get("http://" + live.Service.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"jiraduck_publish_backlog_files 0", "jiraduck_publish_files_uploaded_total"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestPublishOutageKeepsBacklog: while the bucket is missing, serve keeps
// exporting, the backlog grows and the health is degraded (not down); the
// credentials appear nowhere in the health or the status page. Once the
// bucket exists, the backlog reaches it.
func TestPublishOutageKeepsBacklog(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	t.Parallel()
	srv := s3test.Start(t)
	// serve's own log, at debug level, to look for the credentials in.
	var logs apptest.LockedBuffer
	log := logrus.New()
	log.SetOutput(&logs)
	log.SetLevel(logrus.DebugLevel)
	dir := t.TempDir()
	site, err := app.StartSite(context.Background(), app.SiteOptions{Emulator: emulator.Options{Issues: 20, Months: 3, Seed: 11, Clock: apptest.Frozen()},
		DataDir: dir, Vars: publishVars(srv, "later"), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { site.Close() })
	live := &apptest.LiveSite{Site: site, Dir: dir}
	ctx := context.Background()
	if _, err := jobs.Backfill(ctx, live.Service.Client(), live.Service.Store(), live.Service.Processor(), jobs.BackfillOptions{}); err != nil {
		t.Fatal(err)
	}
	live.Settle(t)
	apptest.WaitFor(t, 30*time.Second, func() error {
		h := publishHealthOf(t, live.Service.Addr())
		p, _ := h["publish"].(map[string]any)
		if h["status"] != "degraded" || p == nil || p["backlog_files"] == float64(0) || !strings.Contains(fmt.Sprint(p["error"]), "does not exist") {
			return fmt.Errorf("health %v, want degraded with a backlog and the missing bucket named", h)
		}
		return nil
	})
	for _, path := range []string{"/webhooks/jira/health", "/", "/admin/health"} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+live.Service.Addr()+path, nil)
		req.Header.Set("Authorization", "Bearer "+app.SiteAdmin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), srv.Secret) || strings.Contains(string(body), srv.Access) {
			t.Errorf("%s shows the credentials", path)
		}
		if path == "/" && (!strings.Contains(string(body), `id="publish-backlog"`) || !strings.Contains(string(body), "s3://later/jira-data (site acme)")) {
			t.Errorf("status page has no bucket section or setting")
		}
	}
	srv.CreateBucket("later")
	// What the loop's next try does (it waits a while after a failure
	// that needs an operator), and what jiraduck publish does.
	if _, err := live.Service.Publisher().Pass(ctx, publish.PassOptions{}); err != nil {
		t.Fatal(err)
	}
	apptest.WaitFor(t, time.Minute, func() error {
		if d := publishDiff(t, srv, "later", live.Dir); d != "" {
			return fmt.Errorf("bucket differs from the local tree (-want +got):\n%s", d)
		}
		return nil
	})
	apptest.Must(t, site.Service.Close())
	if !strings.Contains(logs.String(), "publish failed") {
		t.Errorf("serve's log does not report the failure")
	}
	for _, secret := range []string{srv.Secret, srv.Access} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("serve's log shows the credential %q", secret)
		}
	}
}
