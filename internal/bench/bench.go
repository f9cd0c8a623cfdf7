// Package bench measures the targets of docs/benchmarks.md on the
// machine it runs on, against the emulator on loopback. Each scenario is a
// function of *bench; the stores they need (15,000 and 100,000 issues by
// default) are built once per invocation and copied for every run, so that
// every run starts from the same state.
package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/files"
	"github.com/jiraduck/jiraduck/internal/logx"
	"github.com/sirupsen/logrus"
)

// scenarioNames are the scenarios in the order they run; each is described
// by its section in docs/benchmarks.md.
var scenarioNames = []string{"P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8"}

var scenarioTitles = map[string]string{
	"P1": "webhook acknowledgement under load",
	"P2": "webhook to Parquet freshness",
	"P3": "bulk edit storm",
	"P4": "backfill",
	"P5": "rebuild against DuckDB alone",
	"P6": "SLA poll",
	"P7": "memory",
	"P8": "fresh under sustained load",
}

// Options choose what a benchmark runs and at which size; the command line
// validates them.
type Options struct {
	Scenarios  map[string]bool // names from Scenarios
	Issues     int             // issues of the large store
	Runs       int             // runs per scenario; 0: each scenario's default
	Quick      bool            // every scenario small; no timing judged
	JSON       bool            // the report as JSON instead of a table
	Dir        string          // build and keep the stores here ("": a temporary folder)
	Reuse      bool            // with Dir: reuse the stores a previous run built there
	Keep       bool            // keep the temporary folder
	RSSIssues  int             // issues of P7's large rebuild (0: skipped)
	RSSCap     int64           // bytes a child process may hold before it is killed (0: no limit)
	ProfileDir string          // CPU profiles of every child process and scenario go here
	Rate       int             // P1 webhooks per second (0: DefaultRate)
	RateFor    time.Duration   // how long P1 sends (0: 60 s, 2 s with Quick)
}

// DefaultRate is P1's rate of signed webhooks per second unless
// Options.Rate sets it.
const DefaultRate = 1000

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
	slowSite int           // P4 issues backfilled with Jira answering slowly
}

func sizesFor(o Options) benchSizes {
	rate := o.Rate
	if rate <= 0 {
		rate = DefaultRate
	}
	var sz benchSizes
	if o.Quick {
		sz = benchSizes{big: 300, mid: 100, months: 6, ackFor: 2 * time.Second, ackBody: 100,
			edits: 4, editGap: 20 * time.Millisecond, latency: 150 * time.Millisecond, storm: 300, stormOn: 30,
			slaOpen: 101, slaDelay: 100 * time.Millisecond, rss: o.RSSIssues, slowSite: 40}
	} else {
		n := o.Issues
		sz = benchSizes{big: n, mid: max(n*15/100, 100), months: 24, ackFor: 60 * time.Second, ackBody: 2000,
			edits: 50, editGap: 200 * time.Millisecond, latency: 150 * time.Millisecond, storm: max(n/10, 10), stormOn: max(n/100, 1),
			slaOpen: max((n*1345+50000)/100000, 10), slaDelay: 100 * time.Millisecond, rss: o.RSSIssues,
			slowSite: min(max(n/50, 100), 2000)}
	}
	sz.ackRate = rate
	if o.RateFor > 0 {
		sz.ackFor = o.RateFor
	}
	return sz
}

// bench is one invocation of the benchmark.
type bench struct {
	o     Options
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

// Scenarios are the names of the scenarios, in the order they run.
func Scenarios() []string { return slices.Clone(scenarioNames) }

// Known tells whether name is a scenario.
func Known(name string) bool { return scenarioTitles[name] != "" }

// Run measures the chosen scenarios, writes the report to stdout and
// progress lines to stderr. With Quick, a wrong result (anything lost, not
// visible, calls out of bounds) is an error. The scenarios that run jiraduck
// as a child process start the running executable.
func Run(ctx context.Context, o Options, stdout, stderr io.Writer) error {
	b := &bench{o: o, sz: sizesFor(o), rep: newReport(), log: stderr, start: time.Now()}
	b.quiet = logx.Discard()
	b.rep.Quick, b.rep.Issues = o.Quick, b.sz.big
	b.rep.Machine = describeMachine(ctx)
	if err := b.prepareDir(); err != nil {
		return err
	}
	defer b.cleanup()

	err := b.run(ctx)
	b.rep.Took = time.Since(b.start).Round(time.Second).String()
	b.rep.Machine.LoadAtEnd = loadAverage()
	if o.JSON {
		if jerr := b.rep.writeJSON(stdout); jerr != nil && err == nil {
			err = jerr
		}
	} else {
		b.rep.writeTable(stdout)
	}
	if err != nil {
		return err
	}
	if o.Quick {
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
	if b.o.Dir != "" {
		d, err := filepath.Abs(b.o.Dir)
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
	if b.o.Dir == "" && !b.o.Keep {
		os.RemoveAll(b.dir)
	} else {
		b.progress("stores kept in %s", b.dir)
	}
}

// run runs the chosen scenarios. The order builds each store once: the
// medium site for P1 and P2, the large store (P4) for P5, P3 and P7; the
// cheap and independent P6 comes first.
func (b *bench) run(ctx context.Context) error {
	want := b.o.Scenarios
	steps := []struct {
		needed bool
		run    func(context.Context) error
	}{
		{want["P6"], b.slaScenario},
		{want["P1"] || want["P2"], b.siteScenarios},
		{want["P3"] || want["P4"] || want["P5"] || want["P7"] || want["P8"], b.buildBase},
		{want["P5"] || want["P7"], b.rebuildScenario},
		{want["P3"] || want["P7"], b.stormScenario},
		{want["P8"], b.sustainedScenario},
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
	if b.o.Dir == "" {
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
	case b.o.Runs > 0:
		return b.o.Runs
	case b.o.Quick:
		return 1
	case cheap:
		return 3
	}
	return 1
}

// timed records a timing against its target; --quick judges no timing.
func (b *bench) timed(scenario, name, unit string, g goal, limit, value float64) *measure {
	if b.o.Quick {
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
	if b.o.ProfileDir == "" {
		return ""
	}
	_ = os.MkdirAll(b.o.ProfileDir, files.DirMode)
	p, _ := filepath.Abs(filepath.Join(b.o.ProfileDir, name+".pprof"))
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
		"JIRADUCK_SLA_POLL_SCHEDULE": "", "JIRADUCK_RECONCILE_SCHEDULE": "", "JIRADUCK_SNAPSHOT_SCHEDULE": "", "JIRADUCK_DIMENSIONS_SCHEDULE": "",
	}
}

// mb converts bytes to megabytes (10^6, as RSS targets are read).
func megabytes(n int64) float64 { return float64(n) / 1e6 }
