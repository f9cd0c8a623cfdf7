package apptest

import (
	"net"
	"testing"
	"time"
)

// LoopbackListener binds 127.0.0.1:0 once, for a serve started in-process:
// the test knows the address before serve starts, and no other socket can
// take the port between picking it and binding it. app.StartService owns the
// listener from then on; the cleanup only matters when it never got it.
func LoopbackListener(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// WaitFor asks cond every few milliseconds until it returns nil, and fails
// the test with cond's last answer when timeout passes first.
func WaitFor(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	if err := Poll(timeout, cond); err != nil {
		t.Fatalf("after %v: %v", timeout, err)
	}
}

// Poll asks cond until it returns nil or timeout passes, and then returns
// cond's last answer. It is WaitFor for callers that must not end the test
// (a helper that kills a child process first, or reports with t.Errorf).
func Poll(timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	wait := time.Millisecond
	for {
		err := cond()
		if err == nil || !time.Now().Before(deadline) {
			return err
		}
		time.Sleep(wait)
		// Fast at first, for conditions that hold almost at once; then
		// no busier than 50 ms, for those that wait on a job.
		wait = min(2*wait, 50*time.Millisecond)
	}
}
