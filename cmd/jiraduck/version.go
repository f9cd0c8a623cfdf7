package main

import (
	"context"
	"fmt"
	"runtime"

	"github.com/jiraduck/jiraduck/internal/store"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = "unknown"
)

func runVersion(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "version", "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("version takes no arguments")
	}
	duck, err := store.EngineVersion(ctx)
	if err != nil {
		duck = "unknown"
	}
	fmt.Fprintf(e.stdout, "jiraduck %s (commit %s, %s, DuckDB %s, %s/%s)\n", version, commit, runtime.Version(), duck, runtime.GOOS, runtime.GOARCH)
	return nil
}
