package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/jiraduck/jiraduck/internal/app/apptest"
)

func TestDescribeBuild(t *testing.T) {
	t.Parallel()
	stamped := func(version string, settings ...string) *debug.BuildInfo {
		info := &debug.BuildInfo{Main: debug.Module{Path: "github.com/jiraduck/jiraduck", Version: version}}
		for i := 0; i+1 < len(settings); i += 2 {
			info.Settings = append(info.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return info
	}
	const full = "519269b1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e6f7"
	cases := []struct {
		name             string
		version, commit  string
		info             *debug.BuildInfo
		wantVer, wantRev string
	}{
		{"no build info", "dev", "unknown", nil, "dev", "unknown"},
		{"ldflags win", "v1.2.0", "abc1234", stamped("v0.0.0-x", "vcs.revision", full), "v1.2.0", "abc1234"},
		{"go build, clean tree", "dev", "unknown", stamped("(devel)", "vcs.revision", full, "vcs.modified", "false"), "dev", "519269b1d2c3"},
		{"go build, modified tree", "dev", "unknown", stamped("(devel)", "vcs.revision", full, "vcs.modified", "true"), "dev", "519269b1d2c3-dirty"},
		{"go build with a module version", "dev", "unknown", stamped("v0.0.0-20261206074400-519269b1d2c3+dirty", "vcs.revision", full, "vcs.modified", "true"),
			"v0.0.0-20261206074400-519269b1d2c3+dirty", "519269b1d2c3-dirty"},
		{"built outside version control", "dev", "unknown", stamped("(devel)"), "dev", "unknown"},
		{"short revision", "dev", "unknown", stamped("", "vcs.revision", "abc"), "dev", "abc"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ver, rev := describeBuild(tc.version, tc.commit, tc.info)
			if ver != tc.wantVer || rev != tc.wantRev {
				t.Errorf("got (%q, %q), want (%q, %q)", ver, rev, tc.wantVer, tc.wantRev)
			}
		})
	}
}

// plain is jiraduck as go build makes it, without the race detector and
// stamped with its commit where the checkout allows (see vcsFlags), built
// once: TestVersionOfAPlainGoBuild reads its stamp, and the benchmark's child
// processes run it.
var plain = apptest.Builder{Plain: true}

// unstampable says why go build cannot stamp the commit here, "" when it
// can: git on the path and a checkout with a .git folder (the go command
// finds a repository by that folder: in a git worktree, whose .git is a
// file, it stamps nothing).
func unstampable() string {
	git, err := exec.LookPath("git")
	if err != nil {
		return "git not installed"
	}
	top, err := exec.Command(git, "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return fmt.Sprintf("not in a git checkout: %v", err)
	}
	if st, err := os.Stat(filepath.Join(strings.TrimSpace(string(top)), ".git")); err != nil || !st.IsDir() {
		return "no .git folder: the go command stamps no revision here"
	}
	return ""
}

// vcsFlags asks go build to stamp the commit where it can. -buildvcs=true
// is go build's own default ("auto" in a checkout), spelled out because
// GOFLAGS may turn it off; where it cannot stamp, it would fail the build.
func vcsFlags() []string {
	if unstampable() != "" {
		return nil
	}
	return []string{"-buildvcs=true"}
}

// TestVersionOfAPlainGoBuild: a binary built with go build, without the
// Makefile's -ldflags, names the commit it was built from.
func TestVersionOfAPlainGoBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped in -short mode")
	}
	t.Parallel()
	if why := unstampable(); why != "" {
		t.Skip(why)
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	bin := plain.Program(t).Path
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("version: %v", err)
	}
	want := string(head[:12])
	if !regexp.MustCompile(`\(commit ` + want + `(-dirty)?, `).Match(out) {
		t.Errorf("got %q, want the commit %s", strings.TrimSpace(string(out)), want)
	}
}
