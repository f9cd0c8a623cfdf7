package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/emulator"
)

const emulatorUsage = "[--listen ADDR] [--issues N] [--months M] [--seed S] [--projects SUP,OPS] [--webhook-url U] [--webhook-secret S] [--latency D] [--error-rate F] [--throttle-rate F] [--search-lag D] [--now T] [--id-base N]"

// runEmulator serves a local fake Jira Cloud until ctx ends. It accepts the
// JIRA_EMAIL/JIRA_API_TOKEN (and SLA) credentials it is started with, so that
// a jiraduck started with the same environment can talk to it.
func runEmulator(ctx context.Context, e *env, args []string) error {
	vars := environMap(e.environ)
	fs := newFlags(e, "emulator", emulatorUsage)
	listen := fs.String("listen", emulator.DefaultListen, "address to serve on")
	issues := fs.Int("issues", emulator.DefaultIssues, "issues to generate")
	months := fs.Int("months", emulator.DefaultMonths, "months before the reference time the issues are spread over")
	seed := fs.Int64("seed", emulator.DefaultSeed, "seed of the generated data: the same seed gives the same site")
	projects := fs.String("projects", emulator.DefaultProjects, "project keys; the first is a Jira Service Management project")
	webhookURL := fs.String("webhook-url", "", "where changes send their webhooks (none when empty)")
	// The secret's default is applied after parsing, so that -h never prints it.
	webhookSecret := fs.String("webhook-secret", "", "HMAC secret that signs webhooks (default $JIRA_WEBHOOK_SECRET)")
	latency := fs.Duration("latency", 0, "latency added to every REST call")
	errorRate := fs.Float64("error-rate", 0, "fraction of REST calls answered 500, 502 or 503")
	throttleRate := fs.Float64("throttle-rate", 0, "fraction of REST calls answered 429")
	searchLag := fs.Duration("search-lag", 0, "how long a new issue stays out of search results")
	now := fs.String("now", "", `reference time the generated data ends at, RFC 3339 or "now" (default a fixed date, so a seed always gives the same data)`)
	idBase := fs.Int64("id-base", 0, "first id of what is created after start (default: from the clock, so that a restart never reuses an id)")
	noSoftware := fs.Bool("without-software", false, "a site without Jira Software: no boards, sprints or sprint field, the agile API answers 404")
	noServiceDesk := fs.Bool("without-service-management", false, "a site without Jira Service Management's organizations, service desks and request types: their API answers 404")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("emulator takes no arguments")
	}
	if *webhookSecret == "" {
		*webhookSecret = vars["JIRA_WEBHOOK_SECRET"]
	}
	opts := emulator.Options{
		Issues:        *issues,
		Months:        *months,
		Seed:          *seed,
		IDBase:        *idBase,
		WebhookURL:    *webhookURL,
		WebhookSecret: *webhookSecret,
		Email:         vars["JIRA_EMAIL"],
		APIToken:      vars["JIRA_API_TOKEN"],
		SLAEmail:      vars["JIRA_SLA_EMAIL"],
		SLAAPIToken:   vars["JIRA_SLA_API_TOKEN"],
		Faults:        emulator.Faults{Latency: *latency, ErrorRate: *errorRate, ThrottleRate: *throttleRate, SearchLag: *searchLag},

		WithoutSoftware:          *noSoftware,
		WithoutServiceManagement: *noServiceDesk,
	}
	for _, p := range strings.Split(*projects, ",") {
		if p = strings.TrimSpace(p); p != "" {
			opts.Projects = append(opts.Projects, strings.ToUpper(p))
		}
	}
	switch *now {
	case "":
	case "now":
		opts.Now = time.Now()
	default:
		t, err := time.Parse(time.RFC3339, *now)
		if err != nil {
			return usagef("emulator: --now %q is not RFC 3339 or \"now\"", *now)
		}
		opts.Now = t
	}
	if opts.Email != "" && opts.APIToken == "" {
		return usagef("emulator: JIRA_EMAIL is set but JIRA_API_TOKEN is not")
	}
	if opts.Email == "" && opts.SLAEmail != "" {
		return usagef("emulator: JIRA_SLA_EMAIL needs JIRA_EMAIL and JIRA_API_TOKEN too")
	}
	// The log settings are the only jiraduck settings the emulator reads;
	// they are checked as every other command checks them.
	logVars := map[string]string{}
	for _, k := range []string{"JIRADUCK_LOG_LEVEL", "JIRADUCK_LOG_FORMAT"} {
		if v, ok := vars[k]; ok {
			logVars[k] = v
		}
	}
	cfg, err := config.FromMap(logVars)
	if err != nil {
		return err
	}
	opts.Logger = app.NewLogger(cfg, e.stderr).WithField("component", "emulator")

	em, err := emulator.New(opts)
	if errors.Is(err, emulator.ErrInvalid) {
		return usagef("emulator: %v", err)
	}
	if err != nil {
		return err
	}
	url, err := em.Start(ctx, *listen)
	if err != nil {
		em.Close()
		return err
	}
	accounts := "no credentials configured: every request is accepted"
	if opts.Email != "" {
		accounts = "account " + opts.Email
		if opts.SLAEmail != "" {
			accounts += ", SLA account " + opts.SLAEmail
		}
	}
	fmt.Fprintf(e.stdout, "jira emulator on %s (%d issues over %d months, seed %d, projects %s; %s)\n",
		url, *issues, *months, *seed, strings.Join(opts.Projects, ","), accounts)
	<-ctx.Done()
	return em.Close()
}

// environMap turns KEY=value pairs into a map; a later pair wins, as in a
// process environment.
func environMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}
