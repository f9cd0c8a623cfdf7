package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"

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
	info, _ := debug.ReadBuildInfo()
	ver, rev := describeBuild(version, commit, info)
	fmt.Fprintf(e.stdout, "jiraduck %s (commit %s, %s, DuckDB %s, %s/%s)\n", ver, rev, runtime.Version(), duck, runtime.GOOS, runtime.GOARCH)
	return nil
}

// describeBuild returns the version and commit to show: those set with
// -ldflags (make build), else what the go command stamped into the binary
// from version control (a plain go build or go install), with "-dirty" when
// the tree had uncommitted changes.
func describeBuild(ver, rev string, info *debug.BuildInfo) (string, string) {
	if info == nil {
		return ver, rev
	}
	if ver == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		ver = info.Main.Version
	}
	if rev != "unknown" {
		return ver, rev
	}
	var vcsRev string
	var modified bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			vcsRev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if vcsRev == "" {
		return ver, rev
	}
	rev = vcsRev[:min(len(vcsRev), 12)]
	if modified {
		rev += "-dirty"
	}
	return ver, rev
}
