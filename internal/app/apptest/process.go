package apptest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Program is jiraduck as a test runs it in a process of its own, for what
// only another process sees: file locks, a SIGKILL, the exit code.
type Program struct {
	// Path is the executable.
	Path string
	// Env is set before the caller's settings.
	Env []string
}

// TestBinary is the running test binary playing jiraduck: its TestMain
// calls main when JIRADUCK_TEST_AS_MAIN is set, as cmd/jiraduck's does.
func TestBinary() Program {
	return Program{Path: os.Args[0], Env: []string{"JIRADUCK_TEST_AS_MAIN=1"}}
}

// Command is the program run with args in a complete environment: nothing
// is inherited but the path, the home folder and the race detector's
// options (GORACE, which make test sets), so no setting of the caller's
// shell leaks in.
func (p Program) Command(environ []string, args ...string) *exec.Cmd {
	cmd := exec.Command(p.Path, args...)
	base := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	if v, ok := os.LookupEnv("GORACE"); ok {
		base = append(base, "GORACE="+v)
	}
	cmd.Env = append(append(base, p.Env...), environ...)
	return cmd
}

// RunTimeout bounds a Run: a command of the tests that has not ended by then
// is killed and fails its test, which names it, instead of holding the
// package until go test's timeout names only the test.
const RunTimeout = 5 * time.Minute

// Run runs the program to its end in a folder of its own (where no .env is
// picked up) and returns its output and exit code.
func (p Program) Run(t testing.TB, environ []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := p.Command(environ, args...)
	cmd.Dir = t.TempDir()
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 10 * time.Second // past its exit, a leftover child's pipes
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(RunTimeout, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	if !timer.Stop() {
		t.Fatalf("jiraduck %s still running after %s, killed:\nstdout: %s\nstderr: %s",
			strings.Join(args, " "), RunTimeout, LastBytes(stdout.String(), 2000), LastBytes(stderr.String(), 2000))
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

// A Builder builds the jiraduck binary once, for the tests of a package
// that is not cmd/jiraduck and so cannot play it, and for tests that need
// the binary a user builds.
type Builder struct {
	// Plain builds without the race detector even when the test binary has
	// it: a binary as go build makes it, for child processes whose speed
	// matters more than a second check of code the in-process tests check.
	Plain bool
	// Flags go to go build before the package.
	Flags []string

	once sync.Once
	dir  string
	prog Program
	err  error
}

// Program returns the built binary, building it on the first call. Unless
// Plain, it is built with the race detector when the test binary is, so
// that the child processes are checked as the in-process serve is.
func (b *Builder) Program(t testing.TB) Program {
	t.Helper()
	b.once.Do(func() {
		b.dir, b.err = os.MkdirTemp("", "jiraduck-bin-")
		if b.err != nil {
			return
		}
		exe := filepath.Join(b.dir, "jiraduck")
		args := append([]string{"build", "-o", exe}, b.Flags...)
		if raceEnabled && !b.Plain {
			args = append(args, "-race")
		}
		args = append(args, "github.com/jiraduck/jiraduck/cmd/jiraduck")
		// go test puts its own go command first on the path.
		cmd := exec.Command("go", args...)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("build jiraduck: %w\n%s", err, out)
			return
		}
		b.prog = Program{Path: exe}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.prog
}

// Remove deletes the built binary; a TestMain calls it after the tests ran.
func (b *Builder) Remove() {
	if b.dir != "" {
		os.RemoveAll(b.dir)
	}
}
