package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode"

	"github.com/jiraduck/jiraduck/internal/config"
)

// env is what a command may touch of the outside world; tests supply their own.
type env struct {
	stdin   io.Reader
	stdout  io.Writer
	stderr  io.Writer
	environ []string
	// dotenv is the .env file read before the environment ("" reads none).
	dotenv string
}

// command is one subcommand of the binary.
type command struct {
	name    string
	usage   string // arguments, shown after the name
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

// commands lists every subcommand in the order `help` shows them.
func commands() []command {
	return []command{
		{"serve", "", "webhook receiver, workers, exporter, cron jobs and status page", runServe},
		{"backfill", "[--jql Q] [--parallel N] [--force] [--since T] [--sla-only | --dimensions-only]", "fetch every issue in scope from Jira, then the site's projects, users, versions...", runBackfill},
		{"poll-sla", "[--dry-run]", "one SLA poll pass", runPollSLA},
		{"reconcile", "[--since D] [--dry-run] [--force]", "compare Jira with the store; fetch missing or stale issues, remove deleted ones", runReconcile},
		{"rebuild", "[--batch N]", "re-derive every table and partition from the stored raw payloads", runRebuild},
		{"export", "[--table T] [--month YYYY-MM]", "write Parquet partitions now", runExport},
		{"snapshot", "[--out PATH]", "write a consistent self-contained .duckdb copy for analysts", runSnapshot},
		{"publish", "[--dry-run] [--all]", "copy the Parquet tree to the bucket of JIRADUCK_PUBLISH_URL now", runPublish},
		{"query", "[--format table|csv|json|parquet] [--out FILE] SQL", "read-only SQL over the exported Parquet (analyst views)", runQuery},
		{"sql", "[--format table|csv|json] SQL", "maintenance SQL on the canonical store", runSQL},
		{"migrate", "", "apply pending migrations and print the schema version", runMigrate},
		{"import", "--raw-dir DIR", "load a raw layout written by the Python data broker", runImport},
		{"emulator", emulatorUsage, "a local fake Jira Cloud for demos, tests and benchmarks", runEmulator},
		{"demo", "[--data-dir DIR] [--issues N] [--events N]", "emulator + serve + a backfill and a burst of webhooks, then sample queries", runDemo},
		{"bench", benchUsage, "measure the design's performance targets P1-P8 on loopback", runBench},
		{"config", "", "print the effective settings, secrets redacted", runConfig},
		{"version", "", "print the version", runVersion},
	}
}

// usageError is a mistake in the command line: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// errSilent is returned after a command already printed its failure.
var errSilent = errors.New("failed")

func run(ctx context.Context, args []string, e *env) error {
	if len(args) == 0 {
		printHelp(e.stderr)
		return usagef("no command given")
	}
	name := args[0]
	switch name {
	case "help", "-h", "--help":
		printHelp(e.stdout)
		return nil
	case "--version", "-v":
		name = "version"
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, e, args[1:])
		}
	}
	return usagef("unknown command %q (run jiraduck help)", name)
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "jiraduck keeps an always-fresh DuckDB and Parquet copy of a Jira Cloud site.")
	fmt.Fprintln(w, "\nUsage: jiraduck <command> [flags]\n\nCommands:")
	cs := commands()
	width := 0
	for _, c := range cs {
		if len(c.name) > width {
			width = len(c.name)
		}
	}
	for _, c := range cs {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary)
	}
	fmt.Fprintln(w, "\nSettings come from the environment and ./.env; see docs/configuration.md.")
	fmt.Fprintln(w, "Run jiraduck <command> -h for a command's flags.")
}

// exitCode maps an error to the process exit code and prints it: 0 ok,
// 1 failure, 2 usage error or invalid setting.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ue *usageError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "jiraduck: "+ue.msg)
		return 2
	case config.IsError(err):
		fmt.Fprintln(stderr, "jiraduck: invalid setting "+err.Error())
		return 2
	case errors.Is(err, errSilent):
		return 1
	}
	fmt.Fprintln(stderr, "jiraduck: "+err.Error())
	return 1
}

// newFlags returns a FlagSet that reports errors as usage errors.
func newFlags(e *env, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: jiraduck %s %s\n", name, usage)
		fs.PrintDefaults()
		if name == "query" || name == "sql" {
			fmt.Fprintln(e.stderr, "Flags may come before or after the statement; -- ends the flags.")
		}
		if footer, ok := usageFooters[name]; ok {
			if footer != "" {
				fmt.Fprintln(e.stderr, footer)
			}
			return
		}
		fmt.Fprintln(e.stderr, "Settings come from the environment and ./.env; see docs/configuration.md.")
	}
	return fs
}

// usageFooters end the help of the commands that read no jiraduck settings
// (or only a few); the others point to docs/configuration.md.
var usageFooters = map[string]string{
	"demo":     "",
	"bench":    "",
	"version":  "",
	"emulator": "Credentials come from JIRA_EMAIL/JIRA_API_TOKEN and JIRA_SLA_EMAIL/JIRA_SLA_API_TOKEN; see docs/emulator.md.",
}

// parseFlags parses args, flags and arguments in any order, so that a flag
// written after an argument is honoured rather than taken for one; a bad
// flag becomes a usage error. "--" ends the flags. fs.Args() returns the
// arguments afterwards.
//
// Only an argument shaped like a flag (-name or --name, optionally =value,
// the name starting with a letter) is parsed as one: a SQL statement that
// starts with a "-- comment", a negative number or a lone "-" stays an
// argument.
func parseFlags(fs *flag.FlagSet, args []string) error {
	var positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		name, hasValue, ok := flagName(a)
		if !ok {
			positional = append(positional, a)
			continue
		}
		one := []string{a}
		if f := fs.Lookup(name); f != nil && !hasValue && !isBoolFlag(f) && i+1 < len(args) {
			// The flag's value is the next argument, whatever it looks like.
			i++
			one = append(one, args[i])
		}
		if err := fs.Parse(one); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return usagef("%s: %v", fs.Name(), err)
		}
	}
	// Parsing "--" and the arguments leaves them in fs.Args().
	if err := fs.Parse(append([]string{"--"}, positional...)); err != nil {
		return usagef("%s: %v", fs.Name(), err)
	}
	return nil
}

// flagName returns the name of a flag-shaped argument and whether it carries
// its value (-name=value).
func flagName(a string) (name string, hasValue, ok bool) {
	switch {
	case strings.HasPrefix(a, "--"):
		name = a[2:]
	case strings.HasPrefix(a, "-"):
		name = a[1:]
	default:
		return "", false, false
	}
	name, _, hasValue = strings.Cut(name, "=")
	if name == "" || !unicode.IsLetter(rune(name[0])) || strings.ContainsFunc(name, unicode.IsSpace) {
		return "", false, false
	}
	return name, hasValue, true
}

// isBoolFlag reports whether f takes no value, as the flag package decides.
func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// loadConfig reads the settings of the command's environment.
func (e *env) loadConfig() (*config.Config, error) {
	return config.Load(e.environ, e.dotenv)
}

func runConfig(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "config", "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("config takes no arguments")
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	settings := cfg.Redacted()
	sort.Slice(settings, func(i, j int) bool { return settings[i].Name < settings[j].Name })
	width := 0
	for _, s := range settings {
		width = max(width, len(s.Name))
	}
	for _, s := range settings {
		fmt.Fprintf(e.stdout, "%-*s  %s\n", width, s.Name, s.Value)
	}
	return nil
}

// joinArgs joins the positional arguments of a SQL command.
func joinArgs(args []string) string { return strings.TrimSpace(strings.Join(args, " ")) }
