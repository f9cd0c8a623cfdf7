package main

import (
	"context"
	"strings"
	"time"

	"github.com/jiraduck/jiraduck/internal/bench"
)

const benchUsage = "[--scenario NAME|all] [--issues N] [--runs R] [--quick] [--json] [--dir DIR [--reuse] [--keep]] [--rss-issues N] [--rss-cap MB] [--profile-dir DIR] [--rate N] [--rate-for D]"

func runBench(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "bench", benchUsage)
	scenario := fs.String("scenario", "all", "scenarios to run: all, or a comma-separated list of P1..P8")
	issues := fs.Int("issues", 100000, "issues of the large store (P3-P5, P7); the other sizes scale with it")
	runs := fs.Int("runs", 0, "runs per scenario (default: 3 where a run is cheap, 1 for P1, P4 and the large P7 rebuild)")
	quick := fs.Bool("quick", false, "every scenario small, a few seconds each: a smoke test of correctness, timings not judged")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	dir := fs.String("dir", "", "build the stores here and keep them (default: a temporary folder, removed at the end)")
	reuse := fs.Bool("reuse", false, "with --dir: reuse the stores a previous run built there (P4 is then not measured)")
	keep := fs.Bool("keep", false, "keep the temporary folder")
	rss := fs.Int("rss-issues", -1, "issues of the large rebuild of P7 (default 10 x --issues; 0 skips it)")
	profileDir := fs.String("profile-dir", "", "write a CPU profile of every child process and scenario here, and each child's log at debug level")
	rssCap := fs.Int("rss-cap", 8000, "kill a child process whose resident set passes this many MB (0: no limit); its figure is then reported as a miss")
	rate := fs.Int("rate", bench.DefaultRate, "P1: signed webhooks sent per second")
	rateFor := fs.Duration("rate-for", 0, "P1: how long to send at --rate (default 60s; 2s with --quick)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("bench takes no arguments")
	}
	o := bench.Options{Issues: *issues, Runs: *runs, Quick: *quick, JSON: *asJSON, Dir: *dir, Reuse: *reuse, Keep: *keep,
		RSSIssues: *rss, RSSCap: int64(*rssCap) * 1e6, ProfileDir: *profileDir, Rate: *rate, RateFor: *rateFor, Scenarios: map[string]bool{}}
	if o.Issues < 1000 && !o.Quick {
		return usagef("bench: --issues must be at least 1000 (use --quick for a smoke test)")
	}
	if o.Runs < 0 || o.Runs > 20 {
		return usagef("bench: --runs must be between 1 and 20")
	}
	if o.Rate < 1 || o.Rate > 100000 {
		return usagef("bench: --rate must be between 1 and 100000 webhooks per second")
	}
	if o.RateFor < 0 || (o.RateFor > 0 && o.RateFor < 100*time.Millisecond) {
		return usagef("bench: --rate-for must be at least 100ms")
	}
	if o.Reuse && o.Dir == "" {
		return usagef("bench: --reuse needs --dir")
	}
	if o.RSSIssues < 0 {
		o.RSSIssues = 10 * o.Issues
		if o.Quick {
			// Ten times the large store too, so that the clone is made the
			// same way as at the design's sizes.
			o.RSSIssues = 3000
		}
	}
	for _, s := range strings.Split(*scenario, ",") {
		s = strings.ToUpper(strings.TrimSpace(s))
		switch {
		case s == "ALL":
			for _, n := range bench.Scenarios() {
				o.Scenarios[n] = true
			}
		case bench.Known(s):
			o.Scenarios[s] = true
		default:
			return usagef("bench: unknown scenario %q (want all or P1..P8)", s)
		}
	}
	return bench.Run(ctx, o, e.stdout, e.stderr)
}
