// Package publish copies the published Parquet tree (parquet/jira: the
// partitions, the tables without months and manifest.json) to S3-compatible
// object storage, under <prefix>/site=<site>/jira/, so that one bucket holds
// many Jira sites and engines read them with hive partitions site and month.
//
// A pass uploads every file whose remote copy differs from the local one,
// then manifest.json, then deletes what the manifest no longer lists: the
// bucket's manifest never lists a file the bucket lacks. What the bucket
// holds is recorded in publish/state.json in the data directory, so that a
// pass uploads only what changed, and what is not uploaded yet (the backlog)
// survives crashes, restarts and outages.
package publish

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jiraduck/jiraduck/internal/logx"
	"github.com/sirupsen/logrus"
)

// Credentials are the static credentials and the profile of the standard
// AWS chain given by the settings; the SDK reads the rest of the chain.
type Credentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	Profile                                    string
	NoInstanceMetadata                         bool
}

// Options configure a Publisher.
type Options struct {
	// DataDir is the data directory: the tree is DataDir/parquet/jira.
	DataDir string
	// Bucket, Prefix and Site place the tree at
	// s3://Bucket/Prefix/site=Site/jira/.
	Bucket, Prefix, Site string
	// Endpoint is an S3-compatible server's URL; empty: AWS.
	Endpoint  string
	Region    string
	PathStyle bool
	// Credentials go first in the AWS chain when they hold a key.
	Credentials Credentials
	// HTTPClient replaces the SDK's (tests).
	HTTPClient *http.Client
	// Workers is how many files upload at once (default 4).
	Workers int
	// Attempts is how often one request is tried before the pass fails
	// (default 5); the SDK backs off between attempts.
	Attempts int
	// MultipartAbove is the size past which a file goes in parts of
	// PartSize (defaults 64 MiB and 16 MiB; S3 wants parts of 5 MiB at
	// least, but for the last).
	MultipartAbove, PartSize int64
	// Interval is how often the loop looks for a backlog without being
	// notified (default 1 min).
	Interval time.Duration
	// MinBackoff and MaxBackoff pace the passes after a failure (defaults
	// 1 s and 2 min); a permanent failure waits MaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// StaleAfter is the age of the backlog past which the publisher is
	// unhealthy (default 15 min).
	StaleAfter time.Duration
	Logger     logrus.FieldLogger
}

// Publisher copies the tree to the bucket: as a loop in serve, woken after
// each export pass, or one pass at a time from a command.
type Publisher struct {
	opts   Options
	log    logrus.FieldLogger
	bucket *bucket
	notify chan struct{}

	mu sync.Mutex // serialises passes in this process; lockFile, across processes

	stateMu sync.Mutex
	status  Status
}

// Status is what health, the status page and the metrics show.
type Status struct {
	// Destination is s3://bucket/prefix/site=<site>/jira/.
	Destination string
	// Backlog is what the bucket lacks: files to upload or delete (the
	// manifest counted), bytes to upload, and since when the oldest of
	// them waits (zero when there is none).
	BacklogFiles  int
	BacklogBytes  int64
	BacklogOldest time.Time
	// LastUpload is when the last file reached the bucket; LastPass when
	// the last pass ended well.
	LastUpload, LastPass time.Time
	// LastError is the failure of the latest pass ("" after a good one),
	// Failures how many passes failed in a row; Permanent says the failure
	// waits for an operator (missing bucket, refused credentials).
	LastError string
	Failures  int
	Permanent bool
	// Totals since the process started.
	Uploaded, Deleted, FailedPasses int64
	UploadedBytes                   int64
}

// Stale reports whether the backlog is older than the threshold, or the
// publisher fails for a reason that waits for an operator.
func (s Status) Stale(now time.Time, after time.Duration) bool {
	if s.Permanent && s.Failures > 0 {
		return true
	}
	return !s.BacklogOldest.IsZero() && now.Sub(s.BacklogOldest) > after
}

// New builds a Publisher; it makes no request.
func New(ctx context.Context, opts Options) (*Publisher, error) {
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.Attempts <= 0 {
		opts.Attempts = 5
	}
	if opts.PartSize <= 0 {
		opts.PartSize = 16 << 20
	}
	if opts.MultipartAbove <= 0 {
		opts.MultipartAbove = 64 << 20
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Minute
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 2 * time.Minute
	}
	if opts.StaleAfter <= 0 {
		opts.StaleAfter = 15 * time.Minute
	}
	log := opts.Logger
	if log == nil {
		log = logx.Discard()
	}
	b, err := newBucket(ctx, opts)
	if err != nil {
		return nil, opts.scrubErr(err)
	}
	p := &Publisher{opts: opts, log: log.WithField("component", "publish"), bucket: b, notify: make(chan struct{}, 1)}
	p.status.Destination = p.Destination()
	return p, nil
}

// root is the key prefix of the site's tree: <prefix>/site=<site>/jira/.
func (p *Publisher) root() string {
	r := "site=" + p.opts.Site + "/jira/"
	if p.opts.Prefix != "" {
		r = p.opts.Prefix + "/" + r
	}
	return r
}

// Destination is where the tree goes, as a URL.
func (p *Publisher) Destination() string { return "s3://" + p.opts.Bucket + "/" + p.root() }

// identity names the destination in the state file: the same bucket name on
// another server is another bucket.
func (p *Publisher) identity() string {
	id := p.Destination()
	if p.opts.Endpoint != "" {
		id += " at " + p.opts.Endpoint
	}
	return id
}

func (p *Publisher) treeRoot() string { return filepath.Join(p.opts.DataDir, "parquet", "jira") }

// Notify wakes the loop: an export pass rewrote the manifest.
func (p *Publisher) Notify() {
	select {
	case p.notify <- struct{}{}:
	default:
	}
}

// StaleAfter is the age of the backlog past which Status.Stale holds.
func (p *Publisher) StaleAfter() time.Duration { return p.opts.StaleAfter }

// Status reports the backlog and the latest passes.
func (p *Publisher) Status() Status {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	return p.status
}

// Run makes a pass at start (the backlog a previous process left), after
// each Notify and every Interval, until ctx ends. After a failed pass it
// tries again after a backoff, 1 s doubling to MaxBackoff, or MaxBackoff at
// once for a failure that needs an operator, however often it is notified
// meanwhile: a bucket that is gone is not asked many times a second, and
// one that comes back gets the backlog without waiting for an export. It
// makes no last pass: the caller does (Final) once the exporter's last pass
// is over.
func (p *Publisher) Run(ctx context.Context) {
	t := time.NewTicker(p.opts.Interval)
	defer t.Stop()
	backoff := time.Duration(0)
	for {
		_, err := p.Pass(ctx, PassOptions{})
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if IsPermanent(err) {
				backoff = p.opts.MaxBackoff
			} else {
				backoff = min(max(2*backoff, p.opts.MinBackoff), p.opts.MaxBackoff)
			}
			n := p.Status().Failures
			// One line per failure streak step, not one per pass.
			if n <= 3 || n%20 == 0 {
				p.log.WithError(err).WithFields(logrus.Fields{"failures": n, "retry_in_ms": backoff.Milliseconds()}).Error("publish failed; the backlog is kept and tried again")
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		select {
		case <-ctx.Done():
			return
		case <-p.notify:
		case <-t.C:
		}
	}
}

// Final makes a last pass bounded by timeout, at shutdown: what it cannot
// upload stays in the backlog for the next start.
func (p *Publisher) Final(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, err := p.Pass(ctx, PassOptions{})
	return err
}

// PassOptions tune one pass.
type PassOptions struct {
	// DryRun plans and changes nothing, remotely or locally.
	DryRun bool
	// All lists the bucket (and reads each object's checksum) instead of
	// trusting the record of what it holds.
	All bool
}

// Result is what a pass did or, dry, would do.
type Result struct {
	Plan Plan
	// Uploaded files and bytes (the manifest counted), Deleted files.
	Uploaded      int
	UploadedBytes int64
	Deleted       int
	// Changed is how many files changed locally while the pass read
	// them: they and the manifest go in the next pass.
	Changed int
	// Backlog is what is left.
	Backlog Plan
	// Nothing is true when nothing is published locally yet.
	Nothing bool
}

// Pass makes the bucket hold the local tree: uploads, then the manifest,
// then deletes. One pass runs at a time, in this process and across
// processes (serve and the publish command).
func (p *Publisher) Pass(ctx context.Context, o PassOptions) (Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var res Result
	var err error
	if o.DryRun {
		res, err = p.pass(ctx, o)
	} else {
		var unlock func()
		unlock, err = lockFile(ctx, filepath.Join(StateDir(p.opts.DataDir), "lock"))
		if err == nil {
			res, err = p.pass(ctx, o)
			unlock()
		}
	}
	err = p.opts.scrubErr(explain(err, p.opts.Bucket))
	if err != nil {
		err = fmt.Errorf("publish to %s: %w", p.Destination(), err)
	}
	if !o.DryRun {
		p.stateMu.Lock()
		st := &p.status
		st.Uploaded += int64(res.Uploaded)
		st.UploadedBytes += res.UploadedBytes
		st.Deleted += int64(res.Deleted)
		if err != nil {
			st.LastError, st.Permanent = err.Error(), IsPermanent(err)
			st.Failures++
			st.FailedPasses++
		} else {
			st.LastError, st.Permanent, st.Failures = "", false, 0
			st.LastPass = time.Now().UTC()
		}
		p.stateMu.Unlock()
	}
	return res, err
}

func (p *Publisher) pass(ctx context.Context, o PassOptions) (Result, error) {
	var res Result
	if err := ctx.Err(); err != nil {
		return res, err
	}
	st, err := loadState(p.opts.DataDir, p.identity())
	if err != nil {
		return res, err
	}
	// The last upload may be another process's: a batch command's, the
	// publish command's, this service's before a restart.
	p.stateMu.Lock()
	if st.LastUpload.After(p.status.LastUpload) {
		p.status.LastUpload = st.LastUpload
	}
	p.stateMu.Unlock()
	t, err := readTree(p.treeRoot())
	if errors.Is(err, errNoManifest) {
		res.Nothing = true
		return res, nil
	}
	if err != nil {
		return res, err
	}
	listed := o.All || st.unknown
	if listed {
		// Without a record (a first pass, a new machine, a lost or
		// another destination's state.json) the bucket may hold the tree
		// already: its listing, not an empty record, says what to upload.
		remote, err := p.bucket.list(ctx, p.root())
		if err != nil {
			// Unread, the bucket may lack anything: the backlog is the
			// record's (everything, without one). Not saved, so that the
			// next pass lists the bucket again.
			p.noteBacklog(st, plan(t, st.Objects), t)
			return res, err
		}
		// What no record says this server uploaded is another's: kept
		// foreign, never deleted.
		for rel, obj := range remote {
			prev, recorded := st.Objects[rel]
			obj.Foreign = st.unknown || !recorded || prev.Foreign
			remote[rel] = obj
		}
		st.Objects, st.unknown = remote, false
	}
	res.Plan = plan(t, st.Objects)
	if o.DryRun {
		res.Backlog = res.Plan
		return res, nil
	}
	if !listed && res.Plan.Files() == 0 {
		p.noteBacklog(st, res.Plan, t)
		return res, nil
	}
	oldest := st.notePending(res.Plan, t, time.Now().UTC())
	p.setBacklog(res.Plan, oldest)
	if err := st.save(p.opts.DataDir); err != nil {
		return res, err
	}
	err = p.apply(ctx, st, t, res.Plan, &res)
	left := plan(t, st.Objects)
	res.Backlog = left
	p.noteBacklog(st, left, t)
	if serr := st.save(p.opts.DataDir); serr != nil && err == nil {
		err = serr
	}
	if err == nil && res.Changed > 0 {
		p.Notify() // the exporter's next manifest lists them
	}
	return res, err
}

// noteBacklog records the backlog left in st and in the status.
func (p *Publisher) noteBacklog(st *state, left Plan, t *tree) {
	oldest := st.notePending(left, t, time.Now().UTC())
	p.setBacklog(left, oldest)
}

func (p *Publisher) setBacklog(left Plan, oldest time.Time) {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	p.status.BacklogFiles, p.status.BacklogBytes, p.status.BacklogOldest = left.Files(), left.Bytes(), oldest
}

// apply uploads the plan's files, Workers at once, then the manifest if every
// file the manifest lists is in the bucket as listed, then deletes. Each
// upload and delete is recorded at once, so a crash loses none of them.
func (p *Publisher) apply(ctx context.Context, st *state, t *tree, pl Plan, res *Result) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		recMu    sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	record := func(rel string, obj object, err error) {
		recMu.Lock()
		defer recMu.Unlock()
		if err != nil {
			if firstErr == nil {
				firstErr = err
				cancel() // the rest waits for the next pass
			}
			return
		}
		if obj.SHA256 == "" {
			delete(st.Objects, rel)
			res.Deleted++
		} else {
			st.Objects[rel] = obj
			st.LastUpload = obj.UploadedAt
			res.Uploaded++
			res.UploadedBytes += obj.Bytes
			p.stateMu.Lock()
			p.status.LastUpload = obj.UploadedAt
			p.stateMu.Unlock()
		}
		if err := st.save(p.opts.DataDir); err != nil && firstErr == nil {
			firstErr = err
			cancel()
		}
	}
	jobs := make(chan File)
	for range min(p.opts.Workers, max(1, len(pl.Uploads))) {
		wg.Go(func() {
			for f := range jobs {
				obj, changed, err := p.upload(ctx, f)
				if changed {
					recMu.Lock()
					res.Changed++
					recMu.Unlock()
					continue
				}
				record(f.Rel, obj, err)
			}
		})
	}
	for _, f := range pl.Uploads {
		if ctx.Err() != nil {
			break
		}
		jobs <- f
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if res.Changed > 0 {
		// The manifest lists files that the exporter has replaced since:
		// uploading it would list in the bucket what the bucket lacks.
		return nil
	}
	if pl.Manifest || st.Objects[ManifestName].SHA256 != t.manifestSHA {
		sum := t.manifestSHA
		err := p.bucket.put(ctx, p.root()+ManifestName, strings.NewReader(string(t.manifest)), int64(len(t.manifest)), sum)
		record(ManifestName, object{SHA256: sum, Bytes: int64(len(t.manifest)), UploadedAt: time.Now().UTC()}, err)
		if firstErr != nil {
			return firstErr
		}
	}
	for _, rel := range pl.Deletes {
		record(rel, object{}, p.bucket.delete(ctx, p.root()+rel))
		if firstErr != nil {
			return firstErr
		}
	}
	return nil
}

// upload puts one file, if it still holds what the manifest lists.
func (p *Publisher) upload(ctx context.Context, f File) (obj object, changed bool, err error) {
	local := filepath.Join(p.treeRoot(), filepath.FromSlash(f.Rel))
	fh, size, ok, err := openVerified(local, f.SHA256)
	if err != nil {
		return object{}, false, err
	}
	if !ok {
		return object{}, true, nil
	}
	defer fh.Close()
	start := time.Now()
	if err := p.bucket.put(ctx, p.root()+f.Rel, fh, size, f.SHA256); err != nil {
		return object{}, false, err
	}
	p.log.WithFields(logrus.Fields{"file": f.Rel, "bytes": size, "duration_ms": time.Since(start).Milliseconds()}).Debug("file uploaded")
	return object{SHA256: f.SHA256, Bytes: size, UploadedAt: time.Now().UTC()}, false, nil
}

// Describe lists a plan one line per file, for the dry run.
func Describe(pl Plan) []string {
	var out []string
	for _, f := range pl.Uploads {
		out = append(out, fmt.Sprintf("upload %s (%d bytes)", f.Rel, f.Bytes))
	}
	if pl.Manifest {
		out = append(out, fmt.Sprintf("upload %s (%d bytes)", ManifestName, pl.ManifestBytes))
	}
	for _, rel := range pl.Deletes {
		out = append(out, "delete "+rel)
	}
	for _, rel := range pl.Foreign {
		out = append(out, "leave "+rel+" (in the bucket, not uploaded from here)")
	}
	return out
}

// LocalFiles lists the local tree as the manifest lists it: path under
// parquet/jira to SHA-256, manifest.json included.
func LocalFiles(dataDir string) (map[string]string, error) {
	t, err := readTree(filepath.Join(dataDir, "parquet", "jira"))
	if err != nil {
		return nil, err
	}
	out := map[string]string{ManifestName: t.manifestSHA}
	for rel, f := range t.files {
		out[rel] = f.SHA256
	}
	return out, nil
}
