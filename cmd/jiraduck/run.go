package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

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
		{"backfill", "[--jql Q] [--parallel N] [--force] [--since T] [--sla-only]", "fetch every issue in scope from Jira", runBackfill},
		{"poll-sla", "[--dry-run]", "one SLA poll pass", runPollSLA},
		{"reconcile", "[--since D] [--dry-run] [--force]", "compare Jira with the store; fetch missing or stale issues, remove deleted ones", runReconcile},
		{"rebuild", "[--batch N]", "re-derive every table and partition from the stored raw payloads", runRebuild},
		{"export", "[--table T] [--month YYYY-MM]", "write Parquet partitions now", runExport},
		{"snapshot", "[--out PATH]", "write a consistent self-contained .duckdb copy for analysts", runSnapshot},
		{"query", "[--format table|csv|json|parquet] [--out FILE] SQL", "read-only SQL over the exported Parquet (analyst views)", runQuery},
		{"sql", "[--format table|csv|json] SQL", "maintenance SQL on the canonical store", runSQL},
		{"migrate", "", "apply pending migrations and print the schema version", runMigrate},
		{"import", "--raw-dir DIR", "load a raw layout written by the Python data broker", runImport},
		{"emulator", emulatorUsage, "a local fake Jira Cloud for demos, tests and benchmarks", runEmulator},
		{"demo", "[--data-dir DIR] [--issues N] [--events N]", "emulator + serve + a burst of webhooks, then sample queries", runDemo},
		{"bench", benchUsage, "measure the design's performance targets P1-P7 on loopback", runBench},
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
	}
	return fs
}

// parseFlags parses args; a bad flag becomes a usage error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("%s: %v", fs.Name(), err)
	}
	return nil
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

// isTerminal reports whether w is a character device (a person is watching).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// joinArgs joins the positional arguments of a SQL command.
func joinArgs(args []string) string { return strings.TrimSpace(strings.Join(args, " ")) }

// splitSQL separates a SQL command's flags from its statement. A statement
// may start with a "--" comment, which the flag parser would take for a flag:
// the first argument holding white space, and everything after it, is SQL.
func splitSQL(args []string) (flags, statement []string) {
	for i, a := range args {
		if strings.ContainsAny(a, " \t\n\r") {
			return args[:i], args[i:]
		}
	}
	return args, nil
}
