package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jiraduck/jiraduck/internal/files"
	"github.com/jiraduck/jiraduck/internal/store"
)

// child is a jiraduck subcommand run as a process of its own, so that its
// memory can be measured apart from the benchmark's (which holds the emulator
// and the client). The binary is this one; a test binary plays it through
// JIRADUCK_TEST_AS_MAIN (see the TestMain of cmd/jiraduck).
type childProc struct {
	name   string
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr bytes.Buffer
	log    *limitedBuffer // writes into stderr
	start  time.Time
	done   chan struct{}
	took   time.Duration
	cpu    time.Duration // user + system time, once it exited
	err    error

	mu      sync.Mutex
	peakRSS int64 // bytes, the largest VmRSS or VmHWM seen
	samples int
	// limit, when positive, is the resident set at which the child is
	// killed: on a shared machine a runaway child must not push others
	// out of memory. capped says it happened.
	limit  int64
	capped bool
}

// childEnv is the complete environment of a child: nothing is inherited but
// the path and the home and temporary folders, so that no setting of the
// caller's shell leaks in.
func childEnv(vars map[string]string, profile string) []string {
	env := []string{"JIRADUCK_TEST_AS_MAIN=1", "JIRADUCK_LOG_FORMAT=json", "JIRADUCK_LOG_LEVEL=warn"}
	// DuckDB's memory settings and the Go runtime's pass through, so
	// figures can be taken with the settings a site runs with.
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "JIRADUCK_DUCKDB_MEMORY_LIMIT", "JIRADUCK_DUCKDB_RELEASE_MEMORY", "DUCKDB_JE_MALLOC_CONF", "GOGC", "GOMEMLIMIT"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	if profile != "" {
		// A profiled child logs at debug level: its log is written beside
		// the profile (see startChild), a timeline of what it did.
		env = append(env, "JIRADUCK_CPUPROFILE="+profile, "JIRADUCK_LOG_LEVEL=debug")
	}
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

// startChild runs `jiraduck <args>` with the given settings in dir (where a
// stray .env cannot be picked up) and samples its memory until it exits;
// limit (bytes, 0 for none) kills it when its resident set grows past it.
func startChild(name, dir string, vars map[string]string, profile string, limit int64, args ...string) (*childProc, error) {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	c := &childProc{name: name, done: make(chan struct{}), limit: limit}
	c.cmd = exec.Command(exe, args...)
	c.cmd.Env = childEnv(vars, profile)
	c.cmd.Dir = dir
	c.cmd.Stdout = &c.stdout
	c.log = &limitedBuffer{b: &c.stderr, max: 1 << 20}
	c.cmd.Stderr = c.log
	c.start = time.Now()
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go c.sample()
	go func() {
		c.err = c.cmd.Wait()
		c.took = time.Since(c.start)
		c.cpu = c.cmd.ProcessState.UserTime() + c.cmd.ProcessState.SystemTime()
		if profile != "" {
			_ = os.WriteFile(strings.TrimSuffix(profile, ".pprof")+".log", c.stderr.Bytes(), files.FileMode)
		}
		// ru_maxrss of the child is not used: os/exec starts it with
		// vfork, and exec records the parent's high-water mark as the
		// child's, so it reports this process's size, not the child's.
		close(c.done)
	}()
	return c, nil
}

// sample reads VmRSS and VmHWM of the child every 50 ms while it runs.
// VmHWM is the kernel's high-water mark of the child's own memory, so only
// growth in its last 50 ms could be missed.
func (c *childProc) sample() {
	pid := c.cmd.Process.Pid
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if rss, hwm, err := procMemory(pid); err == nil {
			c.observe(max(rss, hwm))
			if c.limit > 0 && rss > c.limit {
				c.mu.Lock()
				c.capped = true
				c.mu.Unlock()
				c.cmd.Process.Kill()
			}
		}
		select {
		case <-c.done:
			return
		case <-t.C:
		}
	}
}

func (c *childProc) observe(bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.samples++
	c.peakRSS = max(c.peakRSS, bytes)
}

// PeakRSS is the largest resident set seen so far, in bytes.
func (c *childProc) PeakRSS() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peakRSS
}

// currentRSS is the child's resident set now, in bytes (0 once it exited).
func (c *childProc) currentRSS() int64 {
	rss, _, err := procMemory(c.cmd.Process.Pid)
	if err != nil {
		return 0
	}
	return rss
}

// wait waits for the child to exit and returns its error with the tail of
// its stderr.
func (c *childProc) wait(ctx context.Context) error {
	select {
	case <-c.done:
	case <-ctx.Done():
		c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("%s: %w", c.name, ctx.Err())
	}
	if c.Capped() {
		return fmt.Errorf("%s: killed when its resident set passed %.0f MB (--rss-cap)", c.name, megabytes(c.limit))
	}
	if c.err != nil {
		return fmt.Errorf("%s: %w: %s", c.name, c.err, tailText(c.stderr.String(), 2000))
	}
	return nil
}

// Capped reports whether the child was killed for passing its memory limit.
func (c *childProc) Capped() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.capped
}

// stop asks the child to shut down (SIGTERM) and waits, killing it after
// the grace period.
func (c *childProc) stop(grace time.Duration) error {
	select {
	case <-c.done:
		return c.err
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(grace):
		c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("%s did not stop within %s", c.name, grace)
	}
	var ee *exec.ExitError
	if errors.As(c.err, &ee) {
		return fmt.Errorf("%s exited with %d: %s", c.name, ee.ExitCode(), tailText(c.stderr.String(), 2000))
	}
	return c.err
}

// processCPU is the user and system time this process has used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procMemory reads VmRSS and VmHWM (bytes) from /proc/<pid>/status.
func procMemory(pid int) (rss, hwm int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		var dst *int64
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			dst = &rss
		case strings.HasPrefix(line, "VmHWM:"):
			dst = &hwm
		default:
			continue
		}
		fields := strings.Fields(line)
		if len(fields) >= 2 {
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			*dst = kb * 1024
		}
	}
	return rss, hwm, sc.Err()
}

// waitReady polls a serve's /readyz until it answers 200.
func waitReady(ctx context.Context, c *childProc, addr string) error {
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-c.done:
			return fmt.Errorf("%s exited before it was ready: %v: %s", c.name, c.err, tailText(c.stderr.String(), 2000))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w", c.name, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	mu  sync.Mutex
	b   *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := l.max - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// String is what was kept so far; it may be read while the child writes.
func (l *limitedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// logTail is the end of what a running child has logged so far.
func (c *childProc) logTail(n int) string { return tailText(c.log.String(), n) }

func tailText(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// copyDir copies a data directory (the store and everything exported), so
// that each run starts from the same state.
func copyDataDir(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, files.DirMode)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, files.FileMode)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}

// dirSize is the total size of the regular files under dir.
func dataDirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if st, err := d.Info(); err == nil {
				n += st.Size()
			}
		}
		return nil
	})
	return n
}

// machineInfo describes where the figures were taken.
type machineInfo struct {
	Cores       int    `json:"cores"`
	CPU         string `json:"cpu"`
	MemoryGB    string `json:"memory_gb"`
	Go          string `json:"go"`
	DuckDB      string `json:"duckdb"`
	Driver      string `json:"duckdb_go"`
	OS          string `json:"os"`
	Arch        string `json:"arch"`
	Revision    string `json:"revision,omitempty"`
	LoadAtStart string `json:"load_average_at_start"`
	LoadAtEnd   string `json:"load_average_at_end,omitempty"`
}

func describeMachine(ctx context.Context) machineInfo {
	mi := machineInfo{Cores: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
		CPU: "unknown", DuckDB: "unknown", Driver: "unknown", LoadAtStart: loadAverage()}
	if v, err := store.EngineVersion(ctx); err == nil {
		mi.DuckDB = v
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/duckdb/duckdb-go/v2" {
				mi.Driver = d.Version
			}
		}
		// The commit the binary was built from, "+" when the tree had
		// changes: figures belong to a version of the code.
		modified := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				mi.Revision = s.Value[:min(len(s.Value), 12)]
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && mi.Revision != "" {
			mi.Revision += "+"
		}
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				mi.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "MemTotal:") {
				if f := strings.Fields(line); len(f) >= 2 {
					kb, _ := strconv.ParseFloat(f[1], 64)
					mi.MemoryGB = fmt.Sprintf("%.1f", kb/1024/1024)
				}
			}
		}
	}
	return mi
}

// load1 is the one-minute load average of the machine (-1 when unknown).
func load1() float64 {
	f := strings.Fields(loadAverage())
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// loadAverage is the 1, 5 and 15 minute load of the machine: on a shared
// machine it says how much of it the benchmark had.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
