package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/internal/export"
)

// TestEverySubcommandRefusesStrayArguments: a flag after an argument is
// parsed, never silently dropped; an unknown one, or an argument a command
// does not take, is a usage error (exit 2) before anything is written.
func TestEverySubcommandRefusesStrayArguments(t *testing.T) {
	t.Parallel()
	takesSQL := map[string]bool{"query": true, "sql": true}
	for _, c := range commands() {
		cases := [][]string{
			{c.name, "extra", "--no-such-flag"},
			{c.name, "extra", "-no-such-flag=1"},
		}
		if !takesSQL[c.name] {
			cases = append(cases, []string{c.name, "extra"}, []string{c.name, "--", "extra"})
		}
		for _, args := range cases {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "data")
				out, errOut, code := runCmd(t, []string{"JIRADUCK_DATA_DIR=" + dir, "JIRADUCK_LOG_FORMAT=json"}, args...)
				if code != 2 {
					t.Fatalf("got exit code %d, want 2 (stdout %q, stderr %q)", code, out, errOut)
				}
				if !strings.Contains(errOut, "no-such-flag") && !strings.Contains(errOut, "takes no arguments") &&
					!strings.Contains(errOut, "no arguments") {
					t.Errorf("stderr: got %q, want it to name the flag or the argument", errOut)
				}
				if _, err := os.Stat(dir); !os.IsNotExist(err) {
					t.Errorf("data dir: got %v, want nothing created", err)
				}
			})
		}
	}
}

// TestFlagsAfterTheStatement: query and sql honour flags written after the
// SQL, and a statement may still start with a "--" comment.
func TestFlagsAfterTheStatement(t *testing.T) {
	t.Parallel()
	environ := apptest.DataEnv(t)
	dataDir := strings.TrimPrefix(environ[0], "JIRADUCK_DATA_DIR=")
	if err := os.MkdirAll(export.Root(dataDir), 0o750); err != nil {
		t.Fatal(err)
	}
	outFile := filepath.Join(t.TempDir(), "x.csv")
	cases := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"sql format after the statement", []string{"sql", "SELECT 1 AS a", "--format", "csv"}, 0, "a\n1\n", ""},
		{"sql format= after the statement", []string{"sql", "SELECT 1 AS a", "--format=json"}, 0, "[\n  {\n    \"a\": 1\n  }\n]\n", ""},
		{"sql comment first, flag after", []string{"sql", "-- count\nSELECT 2 AS b", "--format", "csv"}, 0, "b\n2\n", ""},
		{"sql comment first, flag before", []string{"sql", "--format", "csv", "-- count\nSELECT 3 AS c"}, 0, "c\n3\n", ""},
		{"sql unquoted words around a flag", []string{"sql", "SELECT", "--format", "csv", "4 AS d"}, 0, "d\n4\n", ""},
		{"sql negative number stays sql", []string{"sql", "--format", "csv", "SELECT", "-5", "AS", "e"}, 0, "e\n-5\n", ""},
		{"sql after the end of flags", []string{"sql", "--format", "csv", "--", "SELECT 6 AS f"}, 0, "f\n6\n", ""},
		{"sql unknown flag after the statement", []string{"sql", "SELECT 1", "--formt", "csv"}, 2, "", "flag provided but not defined: -formt"},
		{"sql flag without its value", []string{"sql", "SELECT 1", "--format"}, 2, "", "flag needs an argument: -format"},
		{"sql help after the statement", []string{"sql", "SELECT 1", "-h"}, 0, "", "docs/configuration.md"},
		{"query out after the statement", []string{"query", "SELECT 42 AS n", "--format", "csv", "--out", outFile}, 0, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runCmd(t, environ, tc.args...)
			if code != tc.wantCode {
				t.Fatalf("got exit code %d, want %d (stdout %q, stderr %q)", code, tc.wantCode, out, errOut)
			}
			if out != tc.wantOut {
				t.Errorf("stdout: got %q, want %q", out, tc.wantOut)
			}
			if !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("stderr: got %q, want it to contain %q", errOut, tc.wantErr)
			}
		})
	}
	got, err := os.ReadFile(outFile)
	if err != nil || string(got) != "n\n42\n" {
		t.Errorf("query --out after the statement: got %q (%v), want \"n\\n42\\n\"", got, err)
	}
}

func TestFlagName(t *testing.T) {
	t.Parallel()
	cases := []struct {
		arg      string
		name     string
		hasValue bool
		ok       bool
	}{
		{"--out", "out", false, true},
		{"-out", "out", false, true},
		{"--format=csv", "format", true, true},
		{"-h", "h", false, true},
		{"-- a comment\nSELECT 1", "", false, false},
		{"--x\nSELECT 1", "", false, false},
		{"--", "", false, false},
		{"-", "", false, false},
		{"-5", "", false, false},
		{"--=x", "", false, false},
		{"SELECT 1", "", false, false},
	}
	for _, tc := range cases {
		t.Run(tc.arg, func(t *testing.T) {
			name, hasValue, ok := flagName(tc.arg)
			if name != tc.name || hasValue != tc.hasValue || ok != tc.ok {
				t.Errorf("got (%q, %v, %v), want (%q, %v, %v)", name, hasValue, ok, tc.name, tc.hasValue, tc.ok)
			}
		})
	}
}

// TestExportRefusesABadMonth: a month that is not YYYY-MM is a usage error
// before the store is opened (or created).
func TestExportRefusesABadMonth(t *testing.T) {
	t.Parallel()
	for _, month := range []string{"2024-13", "2024-00", "2024-1", "24-01", "2024/01", "2024-01-01", "january"} {
		t.Run(month, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			_, errOut, code := runCmd(t, []string{"JIRADUCK_DATA_DIR=" + dir}, "export", "--month", month)
			if code != 2 || !strings.Contains(errOut, "not a month YYYY-MM") {
				t.Errorf("got exit code %d, stderr %q, want 2 and \"not a month YYYY-MM\"", code, errOut)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("data dir: got %v, want nothing created", err)
			}
		})
	}
}

// TestConfigRefusesSettingsServeWouldFailOn: the settings of the issue that
// passed `config` and then made serve fail or misbehave.
func TestConfigRefusesSettingsServeWouldFailOn(t *testing.T) {
	t.Parallel()
	for _, setting := range []string{
		"JIRADUCK_SNAPSHOT_SCHEDULE=@every 0s",
		"JIRADUCK_SNAPSHOT_SCHEDULE=*/61 * * * *",
		"JIRADUCK_LISTEN=127.0.0.1:99999",
	} {
		t.Run(setting, func(t *testing.T) {
			variable, _, _ := strings.Cut(setting, "=")
			_, errOut, code := runCmd(t, append(apptest.DataEnv(t), setting), "config")
			if code != 2 || !strings.HasPrefix(errOut, "jiraduck: invalid setting "+variable+": ") {
				t.Errorf("got exit code %d, stderr %q, want 2 and an invalid setting naming %s", code, errOut, variable)
			}
		})
	}
}

// TestInvalidSettingStopsTheCommandsThatReadSettings: as docs/configuration.md
// says, every command that reads the settings stops at start on an invalid
// one, with exit code 2 and one line naming it, before it opens or creates
// the store; version reads none.
func TestInvalidSettingStopsTheCommandsThatReadSettings(t *testing.T) {
	args := map[string][]string{
		"serve": nil, "backfill": nil, "poll-sla": nil, "reconcile": nil, "rebuild": nil,
		"export": nil, "snapshot": nil, "query": {"SELECT 1"}, "sql": {"SELECT 1"}, "migrate": nil,
		"import": {"--raw-dir", "raw"}, "config": nil, "publish": nil,
		// The emulator reads only its credentials and the log settings.
		"emulator": {"--listen", "127.0.0.1:0"},
	}
	for name, rest := range args {
		setting := "JIRADUCK_WORKERS=many"
		if name == "emulator" {
			setting = "JIRADUCK_LOG_LEVEL=loud"
		}
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			// A command that starts despite the setting (the emulator
			// did) serves until the deadline.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var stderr bytes.Buffer
			e := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &stderr, environ: []string{"JIRADUCK_DATA_DIR=" + dir, setting}}
			code := exitCode(run(ctx, append([]string{name}, rest...), e), &stderr)
			errOut := stderr.String()
			variable, _, _ := strings.Cut(setting, "=")
			if code != 2 || !strings.HasPrefix(errOut, "jiraduck: invalid setting "+variable+": ") || strings.Count(errOut, "\n") != 1 {
				t.Errorf("got exit code %d, stderr %q, want 2 and one line naming %s", code, errOut, variable)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("data dir: got %v, want nothing created", err)
			}
		})
	}
	t.Run("version", func(t *testing.T) {
		if _, errOut, code := runCmd(t, []string{"JIRADUCK_WORKERS=many"}, "version"); code != 0 {
			t.Errorf("got exit code %d (%q), want 0: version reads no setting", code, errOut)
		}
	})
}

// TestHelpNamesWhereSettingsAre: the help of a command that reads the
// settings points to docs/configuration.md; that of one that reads none
// does not send the reader there.
func TestHelpNamesWhereSettingsAre(t *testing.T) {
	t.Parallel()
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			_, errOut, code := runCmd(t, nil, c.name, "-h")
			if code != 0 || !strings.HasPrefix(errOut, "Usage: jiraduck "+c.name) {
				t.Fatalf("got exit code %d, stderr %q, want 0 and the usage", code, errOut)
			}
			_, quiet := usageFooters[c.name]
			if points := strings.Contains(errOut, "docs/configuration.md"); points == quiet {
				t.Errorf("points to docs/configuration.md: got %v, want %v:\n%s", points, !quiet, errOut)
			}
		})
	}
}

// TestEmulatorIDBase: --id-base chooses the first id of what is created
// after start; one among the generated ids is a usage error.
func TestEmulatorIDBase(t *testing.T) {
	t.Parallel()
	_, errOut, code := runCmd(t, nil, "emulator", "--issues", "10", "--id-base", "5")
	if code != 2 || !strings.Contains(errOut, "id base 5 is not above the generated ids") {
		t.Errorf("got exit code %d, stderr %q, want 2 and the reason", code, errOut)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out apptest.LockedBuffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: io.Discard}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"emulator", "--listen", "127.0.0.1:0", "--issues", "10", "--id-base", "900000"}, e)
	}()
	apptest.WaitFor(t, time.Minute, func() error {
		if !strings.Contains(out.String(), "jira emulator on") {
			return fmt.Errorf("the emulator did not start: %q", out.String())
		}
		return nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Errorf("got %v, want the emulator to start and stop", err)
	}
}
