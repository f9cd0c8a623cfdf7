package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/files"
	"github.com/jiraduck/jiraduck/internal/logx"
	"github.com/sirupsen/logrus"
)

// The benchmark command measures the targets of docs/benchmarks.md on the
// machine it runs on, against the emulator on loopback. Each scenario is a
// function of *bench; the stores they need (15,000 and 100,000 issues by
// default) are built once per invocation and copied for every run, so that
// every run starts from the same state.

const benchUsage = "[--scenario NAME|all] [--issues N] [--runs R] [--quick] [--json] [--dir DIR [--reuse] [--keep]] [--rss-issues N] [--rss-cap MB] [--profile-dir DIR]"

// scenarioNames are the scenarios in the order they run; each is described
// by its section in docs/benchmarks.md.
var scenarioNames = []string{"P1", "P2", "P3", "P4", "P5", "P6", "P7"}

var scenarioTitles = map[string]string{
	"P1": "webhook acknowledgement under load",
	"P2": "webhook to Parquet freshness",
	"P3": "bulk edit storm",
	"P4": "backfill",
	"P5": "rebuild against DuckDB alone",
	"P6": "SLA poll",
	"P7": "memory",
}

// benchOptions are the command line.
type benchOptions struct {
	scenarios  map[string]bool
	issues     int
	runs       int
	quick      bool
	json       bool
	dir        string
	reuse      bool
	keep       bool
	rssIssues  int
	rssCap     int64
	profileDir string
}

// benchSizes are the sizes of every scenario, derived from --issues (the
// size of the large store) or --quick.
type benchSizes struct {
	big    int // P3, P4, P5: issues stored
	mid    int // P1, P2: issues stored
	months int // months the emulator spreads issues over

	ackRate  int           // P1 webhooks per second
	ackFor   time.Duration // P1 duration
	ackBody  int           // distinct webhook bodies captured for P1
	edits    int           // P2 edits per latency and run
	editGap  time.Duration // P2 pause between edits
	latency  time.Duration // P2 second Jira latency
	storm    int           // P3 events
	stormOn  int           // P3 distinct issues
	slaOpen  int           // P6 open issues
	slaDelay time.Duration // P6 latency per Jira call
	rss      int           // P7 issues of the large rebuild (0: skipped)
}

func sizesFor(o benchOptions) benchSizes {
	if o.quick {
		return benchSizes{big: 300, mid: 200, months: 6, ackRate: 200, ackFor: 2 * time.Second, ackBody: 100,
			edits: 4, editGap: 20 * time.Millisecond, latency: 150 * time.Millisecond, storm: 300, stormOn: 30,
			slaOpen: 101, slaDelay: 100 * time.Millisecond, rss: o.rssIssues}
	}
	n := o.issues
	return benchSizes{big: n, mid: max(n*15/100, 100), months: 24, ackRate: 200, ackFor: 60 * time.Second, ackBody: 2000,
		edits: 50, editGap: 200 * time.Millisecond, latency: 150 * time.Millisecond, storm: max(n/10, 10), stormOn: max(n/100, 1),
		slaOpen: max((n*1345+50000)/100000, 10), slaDelay: 100 * time.Millisecond, rss: o.rssIssues}
}

// bench is one invocation of the benchmark.
type bench struct {
	o     benchOptions
	sz    benchSizes
	rep   *report
	dir   string
	quiet logrus.FieldLogger
	log   io.Writer // progress lines
	start time.Time

	// base is the data directory of the large store, built by P4 and
	// copied by the scenarios that need it.
	base string
}

func runBench(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "bench", benchUsage)
	scenario := fs.String("scenario", "all", "scenarios to run: all, or a comma-separated list of P1..P7")
	issues := fs.Int("issues", 100000, "issues of the large store (P3-P5, P7); the other sizes scale with it")
	runs := fs.Int("runs", 0, "runs per scenario (default: 3 where a run is cheap, 1 for P1, P4 and the large P7 rebuild)")
	quick := fs.Bool("quick", false, "every scenario small, a few seconds each: a smoke test of correctness, timings not judged")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	dir := fs.String("dir", "", "build the stores here and keep them (default: a temporary folder, removed at the end)")
	reuse := fs.Bool("reuse", false, "with --dir: reuse the stores a previous run built there (P4 is then not measured)")
	keep := fs.Bool("keep", false, "keep the temporary folder")
	rss := fs.Int("rss-issues", -1, "issues of the large rebuild of P7 (default 10 x --issues; 0 skips it)")
	profileDir := fs.String("profile-dir", "", "write a CPU profile of every child process and scenario here")
	rssCap := fs.Int("rss-cap", 8000, "kill a child process whose resident set passes this many MB (0: no limit); its figure is then reported as a miss")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("bench takes no arguments")
	}
	o := benchOptions{issues: *issues, runs: *runs, quick: *quick, json: *asJSON, dir: *dir, reuse: *reuse, keep: *keep,
		rssIssues: *rss, rssCap: int64(*rssCap) * 1e6, profileDir: *profileDir, scenarios: map[string]bool{}}
	if o.issues < 1000 && !o.quick {
		return usagef("bench: --issues must be at least 1000 (use --quick for a smoke test)")
	}
	if o.runs < 0 || o.runs > 20 {
		return usagef("bench: --runs must be between 1 and 20")
	}
	if o.reuse && o.dir == "" {
		return usagef("bench: --reuse needs --dir")
	}
	if o.rssIssues < 0 {
		o.rssIssues = 10 * o.issues
		if o.quick {
			// Ten times the large store too, so that the clone is made the
			// same way as at the design's sizes.
			o.rssIssues = 3000
		}
	}
	for _, s := range strings.Split(*scenario, ",") {
		s = strings.ToUpper(strings.TrimSpace(s))
		switch {
		case s == "ALL":
			for _, n := range scenarioNames {
				o.scenarios[n] = true
			}
		case scenarioTitles[s] != "":
			o.scenarios[s] = true
		default:
			return usagef("bench: unknown scenario %q (want all or P1..P7)", s)
		}
	}
	b := &bench{o: o, sz: sizesFor(o), rep: newReport(), log: e.stderr, start: time.Now()}
	b.quiet = logx.Discard()
	b.rep.Quick, b.rep.Issues = o.quick, b.sz.big
	b.rep.Machine = describeMachine(ctx)
	if err := b.prepareDir(); err != nil {
		return err
	}
	defer b.cleanup()

	err := b.run(ctx)
	b.rep.Took = time.Since(b.start).Round(time.Second).String()
	b.rep.Machine.LoadAtEnd = loadAverage()
	if o.json {
		if jerr := b.rep.writeJSON(e.stdout); jerr != nil && err == nil {
			err = jerr
		}
	} else {
		b.rep.writeTable(e.stdout)
	}
	if err != nil {
		return err
	}
	if o.quick {
		if missed := b.rep.failed(); len(missed) > 0 {
			var names []string
			for _, m := range missed {
				names = append(names, m.Scenario+" "+m.Name)
			}
			return fmt.Errorf("bench --quick: wrong results: %s", strings.Join(names, "; "))
		}
	}
	return nil
}

func (b *bench) prepareDir() error {
	if b.o.dir != "" {
		d, err := filepath.Abs(b.o.dir)
		if err != nil {
			return err
		}
		b.dir = d
		return os.MkdirAll(d, files.DirMode)
	}
	d, err := os.MkdirTemp("", "jiraduck-bench-")
	if err != nil {
		return err
	}
	b.dir = d
	return nil
}

func (b *bench) cleanup() {
	if b.o.dir == "" && !b.o.keep {
		os.RemoveAll(b.dir)
	} else {
		b.progress("stores kept in %s", b.dir)
	}
}

// run runs the chosen scenarios. The order builds each store once: the
// medium site for P1 and P2, the large store (P4) for P5, P3 and P7; the
// cheap and independent P6 comes first.
func (b *bench) run(ctx context.Context) error {
	want := b.o.scenarios
	steps := []struct {
		needed bool
		run    func(context.Context) error
	}{
		{want["P6"], b.slaScenario},
		{want["P1"] || want["P2"], b.siteScenarios},
		{want["P3"] || want["P4"] || want["P5"] || want["P7"], b.buildBase},
		{want["P5"] || want["P7"], b.rebuildScenario},
		{want["P3"] || want["P7"], b.stormScenario},
		{want["P7"], b.largeRebuild},
	}
	for _, s := range steps {
		if !s.needed {
			continue
		}
		if err := s.run(ctx); err != nil {
			return err
		}
		b.saveProgress()
	}
	return nil
}

// saveProgress writes the results so far to the kept folder, so that a long
// run that fails late still leaves its figures.
func (b *bench) saveProgress() {
	if b.o.dir == "" {
		return
	}
	f, err := os.Create(filepath.Join(b.dir, "results.json"))
	if err != nil {
		return
	}
	defer f.Close()
	b.rep.Took = time.Since(b.start).Round(time.Second).String()
	_ = b.rep.writeJSON(f)
}

// runsFor is how many runs a scenario gets: --runs, else its default.
func (b *bench) runsFor(cheap bool) int {
	switch {
	case b.o.runs > 0:
		return b.o.runs
	case b.o.quick:
		return 1
	case cheap:
		return 3
	}
	return 1
}

// timed records a timing against its target; --quick judges no timing.
func (b *bench) timed(scenario, name, unit string, g goal, limit, value float64) *measure {
	if b.o.quick {
		return b.rep.info(scenario, name, unit, value)
	}
	return b.rep.add(scenario, name, unit, g, limit, value)
}

// recordLoad notes how busy the machine was at the end of a run: on a
// shared machine other work inflates every timing.
func (b *bench) recordLoad(scenario string) {
	b.rep.info(scenario, "machine load average (1 min) after the run", "", load1())
}

// progress prints one line of what the benchmark is doing.
func (b *bench) progress(format string, args ...any) {
	fmt.Fprintf(b.log, "[%s load %s] %s\n", time.Since(b.start).Round(time.Second), strings.Fields(loadAverage())[0], fmt.Sprintf(format, args...))
}

// profile is where a CPU profile of the named step goes ("" for none).
func (b *bench) profile(name string) string {
	if b.o.profileDir == "" {
		return ""
	}
	_ = os.MkdirAll(b.o.profileDir, files.DirMode)
	p, _ := filepath.Abs(filepath.Join(b.o.profileDir, name+".pprof"))
	return p
}

// emulatorOptions are those of every emulated site of a given size: the same
// seed and reference time give the same issues, so a store backfilled from
// one emulator matches a later emulator of the same size.
func (b *bench) emulatorOptions(issues int) emulator.Options {
	return emulator.Options{Issues: issues, Months: b.sz.months, Seed: 7, Logger: b.quiet,
		Email: app.SiteEmail, APIToken: app.SiteToken, WebhookSecret: app.SiteSecret}
}

// jiraVars are the settings of a jiraduck child talking to an emulator.
func jiraVars(url, dataDir string) map[string]string {
	return map[string]string{
		"JIRA_BASE_URL": url, "JIRA_EMAIL": app.SiteEmail, "JIRA_API_TOKEN": app.SiteToken, "JIRA_WEBHOOK_SECRET": app.SiteSecret,
		"JIRADUCK_DATA_DIR": dataDir, "JIRADUCK_ADMIN_TOKEN": app.SiteAdmin,
		"JIRADUCK_SLA_POLL_SCHEDULE": "", "JIRADUCK_RECONCILE_SCHEDULE": "", "JIRADUCK_SNAPSHOT_SCHEDULE": "",
	}
}

// mb converts bytes to megabytes (10^6, as RSS targets are read).
func megabytes(n int64) float64 { return float64(n) / 1e6 }
