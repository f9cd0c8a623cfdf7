// Command jiraduck mirrors a Jira Cloud site into an embedded DuckDB database
// and publishes it as monthly Parquet partitions. Run `jiraduck help` for the
// list of subcommands.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/files"
)

func main() {
	// Nothing jiraduck creates is group-writable, whatever umask it was
	// started with: DuckDB creates the WAL and its temporary files itself.
	files.RestrictUmask()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// JIRADUCK_CPUPROFILE=file writes a CPU profile of the command, for the
	// benchmark notes and for operators chasing a slow job.
	if path := os.Getenv("JIRADUCK_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			if err := pprof.StartCPUProfile(f); err == nil {
				defer pprof.StopCPUProfile()
			}
		} else {
			fmt.Fprintln(os.Stderr, "jiraduck: cpu profile:", err)
		}
	}
	limitGoMemory(os.Args[1:], os.Environ())
	err := run(ctx, os.Args[1:], &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, environ: os.Environ(), dotenv: ".env"})
	stop()
	code := exitCode(err, os.Stderr)
	pprof.StopCPUProfile()
	os.Exit(code)
}

// limitGoMemory sets the Go heap's limit of the command's memory plan for
// the whole process. Invalid settings are left for the command to report.
func limitGoMemory(args, environ []string) {
	if len(args) == 0 {
		return
	}
	if cfg, err := config.Load(environ, ".env"); err == nil {
		app.LimitGoMemory(cfg, args[0])
	}
}
