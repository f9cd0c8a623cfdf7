// Command jiraduck mirrors a Jira Cloud site into an embedded DuckDB database
// and publishes it as monthly Parquet partitions. Run `jiraduck help` for the
// list of subcommands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, environ: os.Environ(), dotenv: ".env"})
	stop()
	os.Exit(exitCode(err, os.Stderr))
}
