package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/intake"
	"github.com/jiraduck/jiraduck/internal/pipeline"
	"github.com/jiraduck/jiraduck/internal/store"
	"github.com/sirupsen/logrus"
)

// ackProxy stands between the emulator and serve and records the answer to
// every webhook delivery: what was acknowledged is what must be reflected.
// While serve is down it answers 502, which Jira (and the emulator) retry.
type ackProxy struct {
	target string
	client *http.Client

	mu       sync.Mutex
	acked    map[string]int // delivery id -> 2xx status of the first ack
	attempts int
	refused  int
}

func newAckProxy(target string) *ackProxy {
	return &ackProxy{target: target, acked: map[string]int{},
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}}
}

func (p *ackProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, p.target, bytes.NewReader(body))
	req.Header = r.Header.Clone()
	resp, err := p.client.Do(req)
	p.mu.Lock()
	p.attempts++
	if err != nil {
		p.refused++
		p.mu.Unlock()
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		id := r.Header.Get("X-Atlassian-Webhook-Identifier")
		if _, ok := p.acked[id]; !ok {
			p.acked[id] = resp.StatusCode
		}
	}
	p.mu.Unlock()
	w.WriteHeader(resp.StatusCode)
	w.Write(answer)
}

func (p *ackProxy) stats() (acked map[string]int, attempts, refused int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	acked = map[string]int{}
	for k, v := range p.acked {
		acked[k] = v
	}
	return acked, p.attempts, p.refused
}

// serveProc is serve running as a separate process (this test binary playing
// jiraduck).
type serveProc struct {
	t       *testing.T
	environ []string
	addr    string
	logDir  string
	dataDir string
	cmd     *exec.Cmd
	starts  int
}

// runJob asks the running serve to start a job now, through the admin API.
func (c *serveProc) runJob(name string) {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+c.addr+"/admin/jobs/"+name+"/run", nil)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+app.SiteAdmin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("run job %s: %v", name, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		c.t.Fatalf("run job %s: status %d, want 202", name, resp.StatusCode)
	}
}

func (c *serveProc) start() {
	c.t.Helper()
	c.starts++
	logFile, err := os.Create(filepath.Join(c.logDir, fmt.Sprintf("serve-%02d.log", c.starts)))
	if err != nil {
		c.t.Fatal(err)
	}
	cmd := built.Program(c.t).Command(c.environ, "serve")
	cmd.Dir = c.logDir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.cmd = cmd
	err = apptest.Poll(90*time.Second, func() error {
		resp, err := http.Get("http://" + c.addr + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("healthz: status %d", resp.StatusCode)
		}
		return nil
	})
	if err == nil {
		return
	}
	c.kill()
	b, _ := os.ReadFile(logFile.Name())
	c.t.Fatalf("serve did not come up (%v):\n%s", err, apptest.LastBytes(string(b), 3000))
}

// kill ends serve with SIGKILL: no shutdown code runs.
func (c *serveProc) kill() {
	if c.cmd == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	_ = c.cmd.Wait()
	c.cmd = nil
}

// stop ends serve with SIGTERM and waits for a clean exit.
func (c *serveProc) stop() {
	c.t.Helper()
	if c.cmd == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			c.t.Errorf("serve exited after SIGTERM: %v", err)
		}
	case <-time.After(90 * time.Second):
		c.kill()
		c.t.Error("serve did not stop within 90s of SIGTERM")
	}
	c.cmd = nil
}

// adminSQL runs a statement through the running serve's admin API and
// returns the first column of the first row.
func (c *serveProc) adminSQL(token, q string) (string, error) {
	body, _ := json.Marshal(map[string]string{"sql": q})
	req, _ := http.NewRequest(http.MethodPost, "http://"+c.addr+"/admin/sql", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var res store.Result
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || len(res.Rows) == 0 {
		return "", fmt.Errorf("admin sql %q: status %d: %v", q, resp.StatusCode, err)
	}
	return fmt.Sprint(res.Rows[0][0]), nil
}

// settleChild waits until the serve process has no pending event, no queued
// issue and no dirty partition.
func (c *serveProc) settle(token string, timeout time.Duration) error {
	err := apptest.Poll(timeout, func() error {
		v, err := c.adminSQL(token, `SELECT (SELECT count(*) FROM webhook_events WHERE state = 'pending') || ',' || (SELECT count(*) FROM dirty_partitions)`)
		if err != nil || v != "0,0" || !journalEmpty(c.dataDir) {
			return fmt.Errorf("pending events, dirty partitions: %s (%v)", v, err)
		}
		resp, err := http.Get("http://" + c.addr + "/webhooks/jira/health")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var h struct {
			QueueDepth int `json:"queue_depth"`
		}
		json.NewDecoder(resp.Body).Decode(&h)
		if h.QueueDepth != 0 {
			return fmt.Errorf("queue depth %d", h.QueueDepth)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("serve not settled after %v: %w", timeout, err)
	}
	return nil
}

// crashSite is an emulator whose webhooks go through an ackProxy to a serve
// process.
type crashSite struct {
	em      *emulator.Emulator
	proxy   *ackProxy
	srv     *serveProc
	dir     string
	cfg     *config.Config
	environ []string
}

func startCrashSite(t *testing.T, issues int, seed int64, extra map[string]string) *crashSite {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	addr, err := app.FreeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	proxy := newAckProxy("http://" + addr + "/webhooks/jira")
	front := httptest.NewServer(proxy)
	t.Cleanup(front.Close)
	log := logrus.New()
	log.SetOutput(io.Discard)
	em, err := emulator.New(emulator.Options{Issues: issues, Months: 3, Seed: seed, Clock: apptest.Frozen(),
		Email: app.SiteEmail, APIToken: app.SiteToken, WebhookURL: front.URL + "/webhooks/jira", WebhookSecret: app.SiteSecret,
		WebhookRetries: 12, WebhookBackoff: 100 * time.Millisecond, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	url, err := em.Start(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	vars := map[string]string{
		"JIRA_BASE_URL": url, "JIRA_EMAIL": app.SiteEmail, "JIRA_API_TOKEN": app.SiteToken, "JIRA_WEBHOOK_SECRET": app.SiteSecret,
		"JIRADUCK_DATA_DIR": dir, "JIRADUCK_LISTEN": addr, "JIRADUCK_ADMIN_TOKEN": app.SiteAdmin,
		"JIRADUCK_SLA_POLL_SCHEDULE": "", "JIRADUCK_RECONCILE_SCHEDULE": "", "JIRADUCK_SNAPSHOT_SCHEDULE": "",
		"JIRADUCK_LOG_FORMAT": "json", "JIRADUCK_LOG_LEVEL": "info",
	}
	for k, v := range extra {
		vars[k] = v
	}
	cfg, err := config.FromMap(vars)
	if err != nil {
		t.Fatal(err)
	}
	var environ []string
	for k, v := range vars {
		environ = append(environ, k+"="+v)
	}
	sort.Strings(environ)
	cs := &crashSite{em: em, proxy: proxy, dir: dir, cfg: cfg, environ: environ,
		srv: &serveProc{t: t, environ: environ, addr: addr, logDir: root, dataDir: dir}}
	t.Cleanup(cs.srv.kill)
	return cs
}

// verify stops serve and checks the data directory against the emulator
// and the acknowledgements. It returns the rows compared.
func (cs *crashSite) verify(t *testing.T) (acked int, rows int, audit apptest.PartitionAudit) {
	t.Helper()
	// One more download after the last restart: the first download of a
	// process removes the partial ones a kill left.
	keys := cs.em.Keys()
	if _, err := cs.em.AddAttachment(keys[0], emulator.Attachment{Filename: "after-the-crashes.txt"}, []byte("last")); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cs.em.WaitWebhooks(wctx); err != nil {
		t.Fatal(err)
	}
	if err := cs.srv.settle(app.SiteAdmin, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	cs.srv.stop()
	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(cs.dir, store.FileName), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	db := s.DB()

	// Every acknowledged delivery is stored and done.
	ackedIDs, _, _ := cs.proxy.stats()
	stateOf := map[string]string{}
	rs, err := db.Query(`SELECT delivery_id, state FROM webhook_events WHERE delivery_id IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var id, state string
		if err := rs.Scan(&id, &state); err != nil {
			t.Fatal(err)
		}
		stateOf[id] = state
	}
	rs.Close()
	lost, unfinished := 0, 0
	for id, status := range ackedIDs {
		st, ok := stateOf[id]
		switch {
		case !ok:
			lost++
			if lost <= 5 {
				t.Errorf("delivery %s was acknowledged with %d but is not stored", id, status)
			}
		case st != store.EventDone && st != store.EventIgnored:
			unfinished++
			if unfinished <= 5 {
				t.Errorf("delivery %s was acknowledged but its event is %s", id, st)
			}
		}
	}
	if lost+unfinished > 5 {
		t.Errorf("%d acknowledged deliveries lost, %d unfinished", lost, unfinished)
	}

	// The export equals the emulator's state, without duplicates, and every
	// partition is whole and agrees with the store and the manifest.
	cat := pipeline.NewCatalog(cs.cfg)
	if err := cat.Load(ctx, s); err != nil {
		t.Fatal(err)
	}
	keys = cs.em.Keys()
	ref := apptest.ReferenceExport(t, cs.em, cs.cfg, cat.Options(), keys)
	apptest.CompareExports(t, cs.dir, ref)
	perTable := checkNoDuplicates(t, cs.dir)
	for _, n := range perTable {
		rows += n
	}
	audit = apptest.CheckPartitions(t, cs.dir, db)
	var leftovers []string
	for _, pattern := range []string{".staging/*.parquet", ".staging/downloads/*", "parquet/jira/.*", "snapshot/.*", "attachments/*/.*"} {
		found, _ := filepath.Glob(filepath.Join(cs.dir, pattern))
		leftovers = append(leftovers, found...)
	}
	if len(leftovers) > 0 {
		t.Errorf("temporary files left behind after the restarts: %v", leftovers)
	}
	return len(ackedIDs), rows, audit
}

// TestCrashRecovery kills serve with SIGKILL at random moments of a webhook
// storm and restarts it. Every delivery serve acknowledged must end up
// processed, the export must equal Jira's final state, and no Parquet file
// may be partial, duplicated or disagree with the store or the manifest.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	t.Parallel()
	kills := apptest.Pick(3, 25)
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("JIRADUCK_TEST_SEED"); v != "" {
		fmt.Sscan(v, &seed)
	}
	t.Logf("kill timing seed %d (JIRADUCK_TEST_SEED reproduces it)", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	extra := map[string]string{"JIRADUCK_WORKERS": "4"}
	cs := startCrashSite(t, apptest.Pick(30, 150), 31, extra)
	start := time.Now()
	if out, errOut, code := runProcess(t, cs.environ, "backfill", "--parallel", "8"); code != 0 {
		t.Fatalf("backfill: code %d\n%s\n%s", code, out, errOut)
	}
	cs.srv.start()

	// Readers in another process follow the export the whole time.
	reader := startReader(t, cs.dir)

	m := newMutator(cs.em, 31)
	changes := kills * apptest.Pick(40, 60)
	mutated := make(chan struct{})
	go func() {
		defer close(mutated)
		// Spread over the kills: about 1.5s from one kill to the next.
		m.run(t, changes, 3, time.Duration(kills)*1500*time.Millisecond/time.Duration(changes/3))
	}()
	var downtime time.Duration
	for i := 0; i < kills; i++ {
		time.Sleep(time.Duration(200+rng.IntN(1300)) * time.Millisecond)
		cs.srv.kill()
		down := time.Now()
		time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
		cs.srv.start()
		downtime += time.Since(down)
		if apptest.LongRun() {
			// Snapshots too get interrupted: their staging file must not
			// stay. A schedule may not ask for one every few seconds.
			cs.srv.runJob("snapshot")
		}
	}
	<-mutated
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := cs.em.WaitWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
	readerStats := reader.stop(t)
	acked, rows, audit := cs.verify(t)
	st := cs.em.Stats().Webhooks
	_, attempts, refused := cs.proxy.stats()
	if st.Failed != 0 {
		t.Errorf("%d deliveries given up by the emulator", st.Failed)
	}
	apptest.Figures(t, "crash", "kills", kills, "restarts", cs.srv.starts-1, "downtime", downtime.Round(time.Millisecond),
		"changes", m.Made(), "events_sent", st.Events, "delivery_attempts", attempts, "refused_while_down", refused,
		"acknowledged", acked, "given_up", st.Failed, "rows_compared", rows, "partitions", audit.Files,
		"reader", readerStats, "took", time.Since(start).Round(time.Second))
}

// readerProc is a separate process that reads every partition in a loop.
type readerProc struct {
	cmd  *exec.Cmd
	stop func(t *testing.T) string
}

// startReader starts TestReaderProcess in another process on dir's export.
func startReader(t *testing.T, dir string) *readerProc {
	t.Helper()
	stopFile := filepath.Join(t.TempDir(), "stop")
	cmd := exec.Command(os.Args[0], "-test.run=^TestReaderProcess$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "JIRADUCK_TEST_READER_DIR="+dir, "JIRADUCK_TEST_READER_STOP="+stopFile)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &readerProc{cmd: cmd}
	r.stop = func(t *testing.T) string {
		t.Helper()
		if err := os.WriteFile(stopFile, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		text := out.String()
		i := strings.Index(text, "reader-stats")
		if err != nil || i < 0 {
			t.Errorf("reader process: %v\n%s", err, apptest.LastBytes(text, 4000))
			return ""
		}
		line := text[i:]
		if j := strings.IndexByte(line, '\n'); j >= 0 {
			line = line[:j]
		}
		return strings.TrimSpace(strings.TrimPrefix(line, "reader-stats"))
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return r
}

// journalEmpty reports whether the serve process in dir has moved every
// acknowledged webhook from its journal to the store.
func journalEmpty(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, intake.JournalName))
	return err == nil && st.Size() == 0
}
