package bench

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/export"
	"github.com/jiraduck/jiraduck/internal/store"
)

// P3 runs `jiraduck serve` as a child process on a copy of the large store,
// with the emulator in this process sending it a storm of webhooks over the
// issues of one month. The child's memory through the storm is P7's serve
// figure. One more run takes both figures with the settings
// docs/configuration.md gives for a small server (leanSettings).

// leanSettings are the settings of a serve process on a small server: a
// quarter of the default buffer pool, and freed memory returned at once.
var leanSettings = map[string]string{"JIRADUCK_DUCKDB_MEMORY_LIMIT": "128MB", "JIRADUCK_DUCKDB_RELEASE_MEMORY": "true"}

// leanLabel names the measures of the run with leanSettings.
const leanLabel = "; 128MB cap, memory released"

func (b *bench) stormScenario(ctx context.Context) error {
	month, inMonth, err := busiestMonth(ctx, b.base)
	if err != nil {
		return fmt.Errorf("P3: %w", err)
	}
	if inMonth < b.sz.stormOn {
		return fmt.Errorf("P3: the busiest month %s holds %d issues, fewer than the %d the storm needs", month, inMonth, b.sz.stormOn)
	}
	for run := range b.runsFor(true) {
		if err := b.stormRun(ctx, month, run, nil); err != nil {
			return fmt.Errorf("P3: %w", err)
		}
	}
	if err := b.stormRun(ctx, month, 0, leanSettings); err != nil {
		return fmt.Errorf("P3 with %s: %w", strings.TrimPrefix(leanLabel, "; "), err)
	}
	return nil
}

// busiestMonth is the month of issue creation holding the most issues.
func busiestMonth(ctx context.Context, dataDir string) (string, int, error) {
	db, err := store.OpenMemory(ctx)
	if err != nil {
		return "", 0, err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, fmt.Sprintf(`ATTACH %s AS src (READ_ONLY)`, store.Quote(filepath.Join(dataDir, store.FileName)))); err != nil {
		return "", 0, err
	}
	var month string
	var n int
	err = db.QueryRowContext(ctx, `SELECT strftime(created_at AT TIME ZONE 'UTC', '%Y-%m') AS m, count(*) AS n FROM src.issues GROUP BY m ORDER BY n DESC, m LIMIT 1`).Scan(&month, &n)
	return month, n, err
}

// stormRun is one run of P3; settings, when given, are added to serve's
// environment, and the run's measures are named with leanLabel.
func (b *bench) stormRun(ctx context.Context, month string, run int, settings map[string]string) error {
	label, profile, name := "", fmt.Sprintf("P3-serve-%d", run+1), fmt.Sprintf("P3 run %d", run+1)
	if settings != nil {
		label, profile, name = leanLabel, "P3-serve-lean", "P3 run with"+strings.TrimPrefix(leanLabel, ";")
	}
	sv, err := b.serveCopy(ctx, "storm-run", settings, profile)
	if err != nil {
		return err
	}
	defer sv.close()
	dir, addr, em, c, startedAt := sv.dir, sv.addr, sv.em, sv.c, sv.startedAt
	ready := time.Since(startedAt)
	idleRSS := c.currentRSS()
	before, err := scrapeCounters(addr)
	if err != nil {
		return err
	}

	b.progress("%s: %d events over %d issues of %s, %d issues stored (serve ready in %s, RSS %.0f MB)", name,
		b.sz.storm, b.sz.stormOn, month, b.sz.big, ready.Round(time.Millisecond), megabytes(idleRSS))
	em.ResetStats()
	stormStart := time.Now()
	res, err := em.Storm(ctx, emulator.StormOptions{Events: b.sz.storm, Issues: b.sz.stormOn, Month: month})
	if err != nil {
		return err
	}
	lastEvent := time.Now()
	want := map[string]int64{}
	for _, k := range res.Keys {
		is, err := em.Issue(k)
		if err != nil {
			return err
		}
		want[k] = is.Updated.UnixMilli()
	}
	db, err := store.OpenMemory(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	path := export.PartitionPath(dir, "issues", month)
	deliveredAfter := time.Duration(-1)
	deadline := lastEvent.Add(10 * time.Minute)
	var visible time.Duration
	for {
		if deliveredAfter < 0 && em.Stats().Webhooks.Pending == 0 {
			deliveredAfter = time.Since(lastEvent)
		}
		missing, err := staleKeys(ctx, db, path, want)
		if err == nil && missing == 0 {
			visible = time.Since(lastEvent)
			break
		}
		select {
		case <-c.done:
			return fmt.Errorf("serve exited %s after the storm with %d of %d issues not visible (%v); serve logged: %s",
				time.Since(lastEvent).Round(time.Second), missing, len(want), c.err, c.logTail(2000))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d issues not visible 10 minutes after the storm (last error %v); serve logged: %s",
				missing, len(want), err, c.logTail(2000))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	if deliveredAfter < 0 {
		deliveredAfter = visible
	}
	// Let follow-up fetches finish before counting them.
	if err := waitIdle(ctx, addr, em); err != nil {
		return err
	}
	st := em.Stats()
	var fetches int64
	for _, k := range res.Keys {
		fetches += st.IssueFetches[k]
	}
	calls := int64(0)
	for _, n := range st.Calls {
		calls += n
	}
	after, err := scrapeCounters(addr)
	if err != nil {
		return err
	}
	partitions := after.sum("jiraduck_partitions_exported_total") - before.sum("jiraduck_partitions_exported_total")
	issueParts := after.get(`jiraduck_partitions_exported_total{table="issues"}`) - before.get(`jiraduck_partitions_exported_total{table="issues"}`)
	accepted := after.sumPrefix(`jiraduck_webhooks_received_total{code="202"`) - before.sumPrefix(`jiraduck_webhooks_received_total{code="202"`)
	running := c.PeakRSS()
	if err := c.stop(2 * time.Minute); err != nil {
		b.rep.note("P3 run %d: serve did not stop cleanly: %v", run+1, err)
	}
	peak := max(running, c.PeakRSS())
	if run == 0 {
		if err := b.measureGrowth(ctx, dir, label); err != nil {
			return err
		}
	}

	perIssue := float64(fetches) / float64(len(res.Keys))
	lost := float64(int64(b.sz.storm) - st.Webhooks.Delivered + st.Webhooks.Duplicates)
	refused := float64(b.sz.storm) - accepted
	if settings != nil {
		// The lean run adds what it is for: the two figures it changes,
		// and that nothing is lost with those settings.
		b.timed("P3", "all visible in Parquet after the last event"+label, "s", goalAtMost, 8, visible.Seconds())
		b.rep.add("P3", "webhooks lost or refused"+label, "", goalExactly, 0, lost+refused)
		b.timed("P7", fmt.Sprintf("serve peak RSS under P3 (%d issues stored)%s", b.sz.big, label), "MB", goalAtMost, 300, megabytes(peak))
		b.progress("%s: visible %s after the last event (delivered after %s); serve peak RSS %.0f MB",
			name, visible.Round(time.Millisecond), deliveredAfter.Round(time.Millisecond), megabytes(peak))
		return nil
	}
	b.rep.info("P3", "serve ready on the copied store", "s", ready.Seconds())
	b.rep.info("P3", "storm: events made by the emulator in", "s", lastEvent.Sub(stormStart).Seconds())
	b.rep.info("P3", "webhooks all delivered after the last event", "s", deliveredAfter.Seconds())
	b.timed("P3", "all visible in Parquet after the last event", "s", goalAtMost, 8, visible.Seconds())
	if b.o.Quick {
		// A storm of a few seconds cannot show coalescing; what must hold
		// is that one fetch serves one event or more.
		b.rep.add("P3", "fetches per issue, at most one per event", "", goalAtMost, float64(b.sz.storm)/float64(len(res.Keys)), perIssue)
	} else {
		b.rep.add("P3", "fetches per issue", "", goalAtMost, 1.2, perIssue)
	}
	b.rep.add("P3", "webhooks lost: events - delivered", "", goalExactly, 0, lost)
	b.rep.add("P3", "webhooks refused: events - answered 202", "", goalExactly, 0, refused)
	b.rep.info("P3", "Jira calls (all endpoints)", "", float64(calls))
	b.rep.info("P3", "partition files written (all tables)", "", partitions)
	b.rep.info("P3", "issues partition files written", "", issueParts)
	b.servePhases("P3", before, after)
	b.rep.info("P7", "serve RSS idle with the large store", "MB", megabytes(idleRSS))
	// What serve peaked at before it was told to stop, apart from the
	// checkpoint it makes when it stops.
	b.rep.info("P7", "serve peak RSS under P3 until its stop", "MB", megabytes(running))
	b.timed("P7", fmt.Sprintf("serve peak RSS under P3 (%d issues stored)", b.sz.big), "MB", goalAtMost, 300, megabytes(peak))
	b.recordLoad("P3")
	b.progress("P3 run %d: visible %s after the last event (delivered after %s); %.2f fetches per issue; %.0f partition files; serve peak RSS %.0f MB",
		run+1, visible.Round(time.Millisecond), deliveredAfter.Round(time.Millisecond), perIssue, partitions, megabytes(peak))
	return nil
}

// staleKeys counts the issues of want whose exported updated_at is older
// than the emulator's.
func staleKeys(ctx context.Context, db *sql.DB, path string, want map[string]int64) (int, error) {
	rows, err := db.QueryContext(ctx, `SELECT issue_key, epoch_ms(updated_at) FROM read_parquet(?)`, path)
	if err != nil {
		return len(want), err
	}
	defer rows.Close()
	fresh := 0
	for rows.Next() {
		var k string
		var ms sql.NullInt64
		if err := rows.Scan(&k, &ms); err != nil {
			return len(want), err
		}
		if w, ok := want[k]; ok && ms.Valid && ms.Int64 >= w {
			fresh++
		}
	}
	if err := rows.Err(); err != nil {
		return len(want), err
	}
	return len(want) - fresh, nil
}

// waitIdle waits until serve's queue is empty and the emulator has seen no
// call for half a second.
func waitIdle(ctx context.Context, addr string, em *emulator.Emulator) error {
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(5 * time.Minute)
	last, quietSince := int64(-1), time.Now()
	for time.Now().Before(deadline) {
		var h struct {
			QueueDepth int `json:"queue_depth"`
		}
		resp, err := client.Get("http://" + addr + "/webhooks/jira/health")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
		}
		calls := int64(0)
		for _, n := range em.Stats().Calls {
			calls += n
		}
		if calls != last {
			last, quietSince = calls, time.Now()
		}
		if err == nil && h.QueueDepth == 0 && time.Since(quietSince) > 500*time.Millisecond {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("serve not idle after 5 minutes")
}

// promSamples are the samples of a Prometheus text exposition, by series.
type promSamples map[string]float64

func scrapeCounters(addr string) (promSamples, error) {
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := promSamples{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

func (c promSamples) get(series string) float64 { return c[series] }

// sum adds every series of a metric.
func (c promSamples) sum(name string) float64 {
	t := 0.0
	for k, v := range c {
		if k == name || strings.HasPrefix(k, name+"{") {
			t += v
		}
	}
	return t
}

// sumPrefix adds the series that start with prefix (labels are sorted by
// name in the exposition).
func (c promSamples) sumPrefix(prefix string) float64 {
	t := 0.0
	for k, v := range c {
		if strings.HasPrefix(k, prefix) {
			t += v
		}
	}
	return t
}

// servedCopy is serve started as a child process on a copy of the large
// store, with an emulator of the same site sending it webhooks: what P3 and
// P8 measure.
type servedCopy struct {
	dir, addr string
	em        *emulator.Emulator
	c         *childProc
	startedAt time.Time
	cleanup   []func()
}

// serveCopy copies the large store into name under the bench folder, starts
// an emulator whose webhooks go to serve and serve on the copy (settings
// added to its environment), and waits until serve is ready.
func (b *bench) serveCopy(ctx context.Context, name string, settings map[string]string, profile string) (_ *servedCopy, err error) {
	sv := &servedCopy{dir: filepath.Join(b.dir, name)}
	defer func() {
		if err != nil {
			sv.close()
		}
	}()
	os.RemoveAll(sv.dir)
	sv.cleanup = append(sv.cleanup, func() { os.RemoveAll(sv.dir) })
	if err := copyDataDir(b.base, sv.dir); err != nil {
		return nil, err
	}
	if sv.addr, err = app.FreeLoopbackAddr(); err != nil {
		return nil, err
	}
	eo := b.emulatorOptions(b.sz.big)
	eo.WebhookURL = "http://" + sv.addr + "/webhooks/jira"
	if sv.em, err = emulator.New(eo); err != nil {
		return nil, err
	}
	sv.cleanup = append(sv.cleanup, func() { sv.em.Close() })
	url, err := sv.em.Start(ctx, "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	vars := jiraVars(url, sv.dir)
	vars["JIRADUCK_LISTEN"] = sv.addr
	maps.Copy(vars, settings)
	sv.startedAt = time.Now()
	if sv.c, err = startChild("serve", b.dir, vars, b.profile(profile), b.o.RSSCap, "serve"); err != nil {
		return nil, err
	}
	sv.cleanup = append(sv.cleanup, func() { sv.c.stop(2 * time.Minute) })
	readyCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := waitReady(readyCtx, sv.c, sv.addr); err != nil {
		return nil, err
	}
	return sv, nil
}

// close stops serve, then the emulator, and removes the copy.
func (sv *servedCopy) close() {
	for i := len(sv.cleanup) - 1; i >= 0; i-- {
		sv.cleanup[i]()
	}
	sv.cleanup = nil
}
