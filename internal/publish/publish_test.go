package publish_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jiraduck/jiraduck/internal/publish"
	"github.com/jiraduck/jiraduck/internal/publish/s3test"
	"github.com/sirupsen/logrus"
)

const (
	testBucket = "lake"
	testPrefix = "teams/jira-data"
	testSite   = "acme"
	siteRoot   = testPrefix + "/site=" + testSite + "/jira/"
)

// localTree is a published tree written by hand: files under parquet/jira
// and a manifest listing them, partitions in "partitions" and the tables
// without months in a list of their own, as the exporter may list them.
type localTree struct {
	t   *testing.T
	dir string
	// entries by path under parquet/jira.
	entries map[string]map[string]any
}

func newLocalTree(t *testing.T) *localTree {
	return &localTree{t: t, dir: t.TempDir(), entries: map[string]map[string]any{}}
}

func (l *localTree) root() string { return filepath.Join(l.dir, "parquet", "jira") }

// put writes a file of size random bytes at rel (table/month=M/data.parquet
// or table/data.parquet) and lists it.
func (l *localTree) put(rel string, size int, seed uint64) {
	l.t.Helper()
	b := make([]byte, size)
	r := rand.New(rand.NewPCG(seed, uint64(size)))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	p := filepath.Join(l.root(), filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		l.t.Fatal(err)
	}
	// Replaced by rename, as the exporter does.
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o640); err != nil {
		l.t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		l.t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	parts := strings.Split(rel, "/")
	e := map[string]any{"table": parts[0], "rows": 1, "bytes": size, "sha256": hex.EncodeToString(sum[:]), "written_at": time.Now().UTC()}
	if len(parts) == 3 {
		e["month"] = strings.TrimPrefix(parts[1], "month=")
	} else {
		e["path"] = rel
	}
	l.entries[rel] = e
}

func (l *localTree) remove(rel string) {
	l.t.Helper()
	if err := os.Remove(filepath.Join(l.root(), filepath.FromSlash(rel))); err != nil {
		l.t.Fatal(err)
	}
	delete(l.entries, rel)
}

func (l *localTree) writeManifest() {
	l.t.Helper()
	partitions, tables := []map[string]any{}, []map[string]any{}
	rels := make([]string, 0, len(l.entries))
	for rel := range l.entries {
		rels = append(rels, rel)
	}
	sort.Strings(rels)
	for _, rel := range rels {
		if _, ok := l.entries[rel]["month"]; ok {
			partitions = append(partitions, l.entries[rel])
		} else {
			tables = append(tables, l.entries[rel])
		}
	}
	b, err := json.MarshalIndent(map[string]any{"generated_at": time.Now().UTC(), "partitions": partitions, "tables": tables}, "", "  ")
	if err != nil {
		l.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(l.root(), "manifest.json"), b, 0o640); err != nil {
		l.t.Fatal(err)
	}
}

// want is what the bucket must hold: every listed file and the manifest, by
// key, with the local file's SHA-256.
func (l *localTree) want() map[string]string {
	l.t.Helper()
	local, err := publish.LocalFiles(l.dir)
	if err != nil {
		l.t.Fatal(err)
	}
	out := map[string]string{}
	for rel, sum := range local {
		out[siteRoot+rel] = sum
	}
	return out
}

func testOptions(srv *s3test.Server, dir string, log logrus.FieldLogger) publish.Options {
	return publish.Options{DataDir: dir, Bucket: testBucket, Prefix: testPrefix, Site: testSite,
		Endpoint: srv.Endpoint, Region: srv.Region, PathStyle: true,
		Credentials: publish.Credentials{AccessKeyID: srv.Access, SecretAccessKey: srv.Secret, NoInstanceMetadata: true},
		Attempts:    2, MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, Logger: log}
}

func newPublisher(t *testing.T, opts publish.Options) *publish.Publisher {
	t.Helper()
	p, err := publish.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func pass(t *testing.T, p *publish.Publisher, o publish.PassOptions) publish.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := p.Pass(ctx, o)
	if err != nil {
		t.Fatalf("pass: %v", err)
	}
	return res
}

func checkBucket(t *testing.T, srv *s3test.Server, l *localTree) {
	t.Helper()
	if diff := cmp.Diff(l.want(), srv.Objects(testBucket, siteRoot)); diff != "" {
		t.Fatalf("bucket differs from the local tree (-want +got):\n%s", diff)
	}
}

// TestPublishEditsReachBucket publishes a tree, then edits, adds and removes
// files: after each pass the bucket holds exactly the local files (SHA-256
// of the content read back), and a pass uploads only what changed.
func TestPublishEditsReachBucket(t *testing.T) {
	srv := s3test.Start(t, testBucket)
	l := newLocalTree(t)
	p := newPublisher(t, testOptions(srv, l.dir, nil))
	steps := []struct {
		name         string
		edit         func()
		wantUploaded int // manifest included
		wantDeleted  int
	}{
		{"first pass uploads every file and the manifest", func() {
			l.put("issues/month=2024-01/data.parquet", 3000, 1)
			l.put("issues/month=2024-02/data.parquet", 2000, 2)
			l.put("comments/month=2024-01/data.parquet", 1000, 3)
			l.put("projects/data.parquet", 500, 4)
		}, 5, 0},
		{"an edited partition and the manifest", func() { l.put("issues/month=2024-02/data.parquet", 2100, 5) }, 2, 0},
		{"a new month and an edited table without months", func() {
			l.put("issues/month=2024-03/data.parquet", 700, 6)
			l.put("projects/data.parquet", 510, 7)
		}, 3, 0},
		{"a removed partition goes after the manifest", func() { l.remove("comments/month=2024-01/data.parquet") }, 1, 1},
		{"nothing changed, nothing uploaded", nil, 0, 0},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.edit != nil {
				s.edit()
				l.writeManifest()
			}
			res := pass(t, p, publish.PassOptions{})
			checkBucket(t, srv, l)
			if res.Uploaded != s.wantUploaded || res.Deleted != s.wantDeleted {
				t.Errorf("uploaded %d, deleted %d; want %d, %d", res.Uploaded, res.Deleted, s.wantUploaded, s.wantDeleted)
			}
			if st := p.Status(); st.BacklogFiles != 0 || !st.BacklogOldest.IsZero() || st.LastError != "" {
				t.Errorf("status after the pass: backlog %d files since %v, error %q; want none", st.BacklogFiles, st.BacklogOldest, st.LastError)
			}
		})
	}
}

// TestPublishMultipart uploads a file larger than the multipart threshold in
// parts: the object's content is the file's.
func TestPublishMultipart(t *testing.T) {
	srv := s3test.Start(t, testBucket)
	l := newLocalTree(t)
	l.put("issues/month=2024-01/data.parquet", 12<<20+123, 1)
	l.put("issues/month=2024-02/data.parquet", 1000, 2)
	l.writeManifest()
	opts := testOptions(srv, l.dir, nil)
	opts.MultipartAbove, opts.PartSize = 5<<20, 5<<20
	res := pass(t, newPublisher(t, opts), publish.PassOptions{})
	if res.Uploaded != 3 {
		t.Errorf("uploaded %d files, want 3", res.Uploaded)
	}
	checkBucket(t, srv, l)
}

// killingTransport kills the server once the request count reaches after:
// the upload in flight fails as a crash of the server would make it fail.
type killingTransport struct {
	srv   *s3test.Server
	after int64
	n     atomic.Int64
}

func (k *killingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if k.n.Add(1) == k.after {
		k.srv.Kill()
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestPublishServerKilledMidUpload kills the server in the middle of a
// multipart upload: the pass fails, the backlog stays (in a new process as
// well), the manifest is not uploaded, and once the server is back a pass
// makes the bucket equal to the local tree.
func TestPublishServerKilledMidUpload(t *testing.T) {
	srv := s3test.Start(t, testBucket)
	l := newLocalTree(t)
	l.put("issues/month=2024-01/data.parquet", 11<<20, 1)
	l.put("comments/month=2024-01/data.parquet", 2000, 2)
	l.writeManifest()
	opts := testOptions(srv, l.dir, nil)
	opts.MultipartAbove, opts.PartSize, opts.Workers = 5<<20, 5<<20, 1
	// Requests in order: the listing of a bucket not recorded yet, comments'
	// put, issues' start and first part; the server dies with the second.
	kill := &killingTransport{srv: srv, after: 5}
	opts.HTTPClient = &http.Client{Transport: kill}
	p := newPublisher(t, opts)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := p.Pass(ctx, publish.PassOptions{}); err == nil {
		t.Fatal("pass with the server killed: got no error")
	}
	if kill.n.Load() < 5 {
		t.Fatalf("the pass made %d requests, fewer than the server was to die at", kill.n.Load())
	}
	if st := p.Status(); st.BacklogFiles < 2 || st.Failures != 1 || st.Permanent {
		t.Errorf("status: backlog %d files, %d failures, permanent %v; want at least the issues file and the manifest, 1, false",
			st.BacklogFiles, st.Failures, st.Permanent)
	}
	srv.Restart()
	if got := srv.Objects(testBucket, siteRoot); got[siteRoot+"manifest.json"] != "" {
		t.Errorf("the manifest reached the bucket before every file it lists")
	}
	// A new process finds the backlog in the data directory, and when the
	// last file went.
	again := newPublisher(t, testOptions(srv, l.dir, nil))
	dry := pass(t, again, publish.PassOptions{DryRun: true})
	if got, want := again.Status().LastUpload, p.Status().LastUpload; want.IsZero() || !got.Equal(want) {
		t.Errorf("last upload in a new process: got %v, want %v (the comments file's)", got, want)
	}
	if dry.Plan.Files() < 2 {
		t.Errorf("backlog after the failure: %v, want the issues file and the manifest", publish.Describe(dry.Plan))
	}
	pass(t, again, publish.PassOptions{})
	checkBucket(t, srv, l)
}

// TestPublishRefused: a missing bucket and refused credentials fail the pass
// with an error that says what to do, marked permanent (so the loop does not
// retry it at once); nothing local is touched, the backlog is kept, the
// publisher reports itself stale, and the credentials appear in no log line
// and no error. Once the bucket exists, a pass uploads everything.
func TestPublishRefused(t *testing.T) {
	srv := s3test.Start(t, testBucket)
	cases := []struct {
		name    string
		change  func(o *publish.Options)
		want    string
		secrets []string
	}{
		{"missing bucket", func(o *publish.Options) { o.Bucket = "no-such-bucket" }, "does not exist", nil},
		{"wrong secret", func(o *publish.Options) { o.Credentials.SecretAccessKey = "wrong-secret-Hx9QmL2vB7" },
			"refused the credentials", []string{"wrong-secret-Hx9QmL2vB7"}},
		{"unknown access key", func(o *publish.Options) {
			o.Credentials.AccessKeyID, o.Credentials.SecretAccessKey = "AKIAUNKNOWNKEY77", "unknown-secret-Rt5YpN8cW1"
		}, "refused the credentials", []string{"AKIAUNKNOWNKEY77", "unknown-secret-Rt5YpN8cW1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newLocalTree(t)
			l.put("issues/month=2024-01/data.parquet", 1000, 1)
			l.writeManifest()
			before := l.want()
			var logs bytes.Buffer
			log := logrus.New()
			log.SetOutput(&logs)
			log.SetLevel(logrus.DebugLevel)
			opts := testOptions(srv, l.dir, log)
			c.change(&opts)
			p := newPublisher(t, opts)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); p.Run(ctx) }()
			deadline := time.Now().Add(30 * time.Second)
			for p.Status().Failures == 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			st := p.Status()
			cancel()
			<-done
			err := errorOf(st)
			if err == "" || !strings.Contains(err, c.want) {
				t.Fatalf("error %q, want one saying %q", err, c.want)
			}
			if !st.Permanent {
				t.Errorf("error %q not marked permanent", err)
			}
			if !st.Stale(time.Now(), time.Hour) {
				t.Errorf("publisher not stale after a permanent failure")
			}
			if st.BacklogFiles != 2 {
				t.Errorf("backlog %d files, want 2 (the partition and the manifest)", st.BacklogFiles)
			}
			if diff := cmp.Diff(before, l.want()); diff != "" {
				t.Errorf("local tree changed (-before +after):\n%s", diff)
			}
			for _, s := range append(c.secrets, srv.Secret) {
				if strings.Contains(logs.String(), s) || strings.Contains(err, s) {
					t.Errorf("credential %q in the log or the error:\n%s\n%s", s, logs.String(), err)
				}
			}
			if !strings.Contains(logs.String(), "publish failed") {
				t.Errorf("the failure was not logged:\n%s", logs.String())
			}
		})
	}
	t.Run("the bucket created later gets everything", func(t *testing.T) {
		l := newLocalTree(t)
		l.put("issues/month=2024-01/data.parquet", 1000, 1)
		l.writeManifest()
		opts := testOptions(srv, l.dir, nil)
		opts.Bucket = "late-bucket"
		p := newPublisher(t, opts)
		if _, err := p.Pass(context.Background(), publish.PassOptions{}); err == nil || !publish.IsPermanent(err) {
			t.Fatalf("pass before the bucket exists: got %v, want a permanent error", err)
		}
		srv.CreateBucket("late-bucket")
		if _, err := p.Pass(context.Background(), publish.PassOptions{}); err != nil {
			t.Fatal(err)
		}
		local, _ := publish.LocalFiles(l.dir)
		got := srv.Objects("late-bucket", siteRoot)
		if len(got) != len(local) {
			t.Errorf("bucket holds %d files, want %d", len(got), len(local))
		}
	})
}

func errorOf(st publish.Status) string { return st.LastError }

// TestPublishDryRunAndAll: a dry run lists what would go and changes
// nothing; --all finds what the bucket lost or holds beyond the tree, which
// the record of earlier passes cannot know.
func TestPublishDryRunAndAll(t *testing.T) {
	srv := s3test.Start(t, testBucket)
	l := newLocalTree(t)
	l.put("issues/month=2024-01/data.parquet", 1000, 1)
	l.put("projects/data.parquet", 300, 2)
	l.writeManifest()
	p := newPublisher(t, testOptions(srv, l.dir, nil))

	dry := pass(t, p, publish.PassOptions{DryRun: true})
	want := []string{"upload issues/month=2024-01/data.parquet (1000 bytes)", "upload projects/data.parquet (300 bytes)"}
	if got := publish.Describe(dry.Plan); len(got) != 3 || !cmp.Equal(got[:2], want) || !strings.HasPrefix(got[2], "upload manifest.json") {
		t.Errorf("dry run lists %q, want %q and the manifest", got, want)
	}
	if got := srv.Objects(testBucket, siteRoot); len(got) != 0 {
		t.Errorf("dry run uploaded %d files", len(got))
	}
	pass(t, p, publish.PassOptions{})

	// Behind the publisher's back: a lost partition and a stray file.
	srv.Delete(testBucket, siteRoot+"issues/month=2024-01/data.parquet")
	srv.Put(testBucket, siteRoot+"issues/month=1999-01/data.parquet", []byte("stray"))
	if res := pass(t, p, publish.PassOptions{DryRun: true}); res.Plan.Files() != 0 {
		t.Errorf("the record trusted: plan %q, want nothing", publish.Describe(res.Plan))
	}
	dryAll := pass(t, p, publish.PassOptions{DryRun: true, All: true})
	// The stray file was not uploaded from here: it is reported and left
	// (TestPublishLeavesOthersFiles).
	wantAll := []string{"upload issues/month=2024-01/data.parquet (1000 bytes)",
		"leave issues/month=1999-01/data.parquet (in the bucket, not uploaded from here)"}
	if got := publish.Describe(dryAll.Plan); !cmp.Equal(got, wantAll) {
		t.Errorf("dry run with --all lists %q, want %q", got, wantAll)
	}
	res := pass(t, p, publish.PassOptions{All: true})
	if res.Uploaded != 1 || res.Deleted != 0 {
		t.Errorf("--all uploaded %d and deleted %d, want 1 and 0", res.Uploaded, res.Deleted)
	}
	srv.Delete(testBucket, siteRoot+"issues/month=1999-01/data.parquet")
	checkBucket(t, srv, l)
}

// TestPublishChangedWhileReading: a file replaced after the manifest was
// written (the exporter's next pass) is not uploaded as the manifest's, and
// the manifest waits for the next one, so the bucket's manifest never lists
// content the bucket lacks.
func TestPublishChangedWhileReading(t *testing.T) {
	srv := s3test.Start(t, testBucket)
	l := newLocalTree(t)
	l.put("issues/month=2024-01/data.parquet", 1000, 1)
	l.put("issues/month=2024-02/data.parquet", 1000, 2)
	l.writeManifest()
	// Rewritten without a new manifest yet.
	manifest, _ := os.ReadFile(filepath.Join(l.root(), "manifest.json"))
	l.put("issues/month=2024-02/data.parquet", 1100, 3)
	if err := os.WriteFile(filepath.Join(l.root(), "manifest.json"), manifest, 0o640); err != nil {
		t.Fatal(err)
	}
	p := newPublisher(t, testOptions(srv, l.dir, nil))
	res := pass(t, p, publish.PassOptions{})
	if res.Changed != 1 || res.Uploaded != 1 {
		t.Errorf("changed %d, uploaded %d; want 1, 1", res.Changed, res.Uploaded)
	}
	if got := srv.Objects(testBucket, siteRoot); got[siteRoot+"manifest.json"] != "" || len(got) != 1 {
		t.Errorf("bucket holds %v, want only the unchanged partition", got)
	}
	l.writeManifest()
	pass(t, p, publish.PassOptions{})
	checkBucket(t, srv, l)
}

// TestPublishBacklogAge: the backlog's age is measured from the first time a
// pass saw it (or the file's writing, for a backlog a crash left), and the
// publisher is stale once it is older than the threshold.
func TestPublishBacklogAge(t *testing.T) {
	srv := s3test.Start(t, testBucket)
	l := newLocalTree(t)
	l.put("issues/month=2024-01/data.parquet", 1000, 1)
	l.entries["issues/month=2024-01/data.parquet"]["written_at"] = time.Now().Add(-time.Hour).UTC()
	l.writeManifest()
	opts := testOptions(srv, l.dir, nil)
	opts.Bucket = "missing-for-now"
	p := newPublisher(t, opts)
	_, _ = p.Pass(context.Background(), publish.PassOptions{})
	st := p.Status()
	if age := time.Since(st.BacklogOldest); age < 59*time.Minute {
		t.Errorf("backlog age %v, want the hour since the file was written", age)
	}
	tests := []struct {
		name  string
		after time.Duration
		want  bool
	}{
		{"older than the threshold", 15 * time.Minute, true},
		{"younger than the threshold", 2 * time.Hour, true}, // the failure is permanent
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := st.Stale(time.Now(), tc.after); got != tc.want {
				t.Errorf("stale after %v: got %v, want %v", tc.after, got, tc.want)
			}
		})
	}
	fresh := publish.Status{BacklogOldest: time.Now().Add(-time.Minute)}
	if fresh.Stale(time.Now(), 15*time.Minute) {
		t.Errorf("a backlog of one minute counts as stale")
	}
}

// TestPublishPassesTakeTurns: two publishers of one data directory (serve's
// and a publish command) passing at once take turns on the lock: both end
// well, and the bucket and the record hold the tree once.
func TestPublishPassesTakeTurns(t *testing.T) {
	srv := s3test.Start(t, testBucket)
	l := newLocalTree(t)
	for i := range 12 {
		l.put(fmt.Sprintf("issues/month=2024-%02d/data.parquet", i+1), 20000, uint64(i))
	}
	l.writeManifest()
	a, b := newPublisher(t, testOptions(srv, l.dir, nil)), newPublisher(t, testOptions(srv, l.dir, nil))
	results := make(chan publish.Result, 2)
	errs := make(chan error, 2)
	for _, p := range []*publish.Publisher{a, b} {
		go func() {
			res, err := p.Pass(context.Background(), publish.PassOptions{})
			results <- res
			errs <- err
		}()
	}
	uploaded := 0
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		uploaded += (<-results).Uploaded
	}
	if uploaded != 13 {
		t.Errorf("the two passes uploaded %d files, want the 12 partitions and the manifest once", uploaded)
	}
	checkBucket(t, srv, l)
}

// TestPublishLoopRetriesUntilTheServerReturns: serve's loop, woken while the
// server is down, fails, keeps the backlog and tries again by itself with
// backoff; once the server is back the bucket gets everything, with no
// export to wake it.
func TestPublishLoopRetriesUntilTheServerReturns(t *testing.T) {
	srv := s3test.Start(t, testBucket)
	l := newLocalTree(t)
	p := newPublisher(t, testOptions(srv, l.dir, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	defer func() { cancel(); <-done }()

	srv.Kill()
	l.put("issues/month=2024-01/data.parquet", 3000, 1)
	l.put("projects/data.parquet", 300, 2)
	l.writeManifest()
	p.Notify()
	waitUntil(t, func() bool { return p.Status().Failures >= 2 })
	if st := p.Status(); st.BacklogFiles != 3 || st.Permanent {
		t.Errorf("during the outage: backlog %d files, permanent %v; want 3, false", st.BacklogFiles, st.Permanent)
	}
	srv.Restart()
	waitUntil(t, func() bool { st := p.Status(); return st.Failures == 0 && st.BacklogFiles == 0 })
	checkBucket(t, srv, l)
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within a minute")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPublishWithoutRecordListsTheBucket: a publisher with no record of the
// bucket (a new machine, a lost state.json) reads the bucket's listing first
// and uploads only what differs, not the whole tree again.
func TestPublishWithoutRecordListsTheBucket(t *testing.T) {
	srv := s3test.Start(t, testBucket)
	l := newLocalTree(t)
	l.put("issues/month=2024-01/data.parquet", 3000, 1)
	l.put("issues/month=2024-02/data.parquet", 3000, 2)
	l.put("projects/data.parquet", 300, 3)
	l.writeManifest()
	pass(t, newPublisher(t, testOptions(srv, l.dir, nil)), publish.PassOptions{})
	if err := os.Remove(filepath.Join(publish.StateDir(l.dir), "state.json")); err != nil {
		t.Fatal(err)
	}
	l.put("issues/month=2024-02/data.parquet", 3100, 4)
	l.writeManifest()
	res := pass(t, newPublisher(t, testOptions(srv, l.dir, nil)), publish.PassOptions{})
	if res.Uploaded != 2 {
		t.Errorf("uploaded %d files without a record, want 2 (the changed partition and the manifest)", res.Uploaded)
	}
	checkBucket(t, srv, l)
	if _, err := os.Stat(filepath.Join(publish.StateDir(l.dir), "state.json")); err != nil {
		t.Errorf("the record was not written again: %v", err)
	}
}

// TestPublishLeavesOthersFiles: a server with no record of the bucket (a
// reinstall whose data directory is still nearly empty, or a second server
// given the same site name) finds files it did not upload: it overwrites
// those its tree has and deletes none of the others, even with --all; a
// file it uploaded itself and no longer lists is deleted as before.
func TestPublishLeavesOthersFiles(t *testing.T) {
	srv := s3test.Start(t, testBucket)
	first := newLocalTree(t)
	first.put("issues/month=2024-01/data.parquet", 3000, 1)
	first.put("issues/month=2024-02/data.parquet", 3000, 2)
	first.put("projects/data.parquet", 300, 3)
	first.writeManifest()
	pass(t, newPublisher(t, testOptions(srv, first.dir, nil)), publish.PassOptions{})

	second := newLocalTree(t)
	second.put("issues/month=2024-02/data.parquet", 2000, 4)
	second.writeManifest()
	p := newPublisher(t, testOptions(srv, second.dir, nil))
	for _, o := range []publish.PassOptions{{}, {All: true}} {
		res := pass(t, p, o)
		if res.Deleted != 0 {
			t.Errorf("pass %+v: deleted %d files another server uploaded, want 0", o, res.Deleted)
		}
		if got, want := res.Plan.Foreign, []string{"issues/month=2024-01/data.parquet", "projects/data.parquet"}; !slices.Equal(got, want) {
			t.Errorf("pass %+v: foreign files %v, want %v", o, got, want)
		}
	}
	remote := srv.Objects(testBucket, siteRoot)
	for _, rel := range []string{"issues/month=2024-01/data.parquet", "projects/data.parquet"} {
		if _, ok := remote[siteRoot+rel]; !ok {
			t.Errorf("%s, uploaded by the first server, is gone from the bucket", rel)
		}
	}
	if got, want := remote[siteRoot+"issues/month=2024-02/data.parquet"], second.want()[siteRoot+"issues/month=2024-02/data.parquet"]; got != want || got == "" {
		t.Errorf("the file both trees have: got %s in the bucket, want the second server's %s", got, want)
	}

	// Its own files it still deletes when its tree drops them.
	second.put("issues/month=2024-03/data.parquet", 1000, 5)
	second.writeManifest()
	pass(t, p, publish.PassOptions{})
	second.remove("issues/month=2024-03/data.parquet")
	second.writeManifest()
	if res := pass(t, p, publish.PassOptions{}); res.Deleted != 1 {
		t.Errorf("a file this server uploaded and no longer lists: deleted %d, want 1", res.Deleted)
	}
}
