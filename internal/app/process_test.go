package app_test

import (
	"os"
	"testing"

	"github.com/jiraduck/jiraduck/internal/app/apptest"
)

// built is jiraduck, built once for the tests that run it as a process.
var built apptest.Builder

func TestMain(m *testing.M) {
	code := m.Run()
	built.Remove()
	os.Exit(code)
}

// runProcess runs jiraduck as a separate process, for what only another
// process sees: file locks, the exit code.
func runProcess(t *testing.T, environ []string, args ...string) (string, string, int) {
	t.Helper()
	return built.Program(t).Run(t, environ, args...)
}
