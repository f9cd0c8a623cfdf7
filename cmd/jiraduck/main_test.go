package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"testing"

	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/migrations"
)

// runCmd runs the binary's entry point in-process with a private data dir and
// returns stdout, stderr and the exit code main would use.
func runCmd(t *testing.T, environ []string, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, environ: environ}
	err := run(context.Background(), args, e)
	code := exitCode(err, &stderr)
	return stdout.String(), stderr.String(), code
}

func TestMigrateThenNoop(t *testing.T) {
	t.Parallel()
	environ := apptest.DataEnv(t)
	files, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("embedded migrations: %v, %d files", err, len(files))
	}
	// The version is the highest migration's number: the numbers need not
	// be contiguous, so it need not be the count of files.
	top, err := strconv.Atoi(strings.SplitN(files[len(files)-1], "_", 2)[0])
	if err != nil {
		t.Fatalf("migration %s: %v", files[len(files)-1], err)
	}
	want := fmt.Sprintf("schema version %d (applied %d migration(s))", top, len(files))
	out, errOut, code := runCmd(t, environ, "migrate")
	if code != 0 || !strings.Contains(out, want) {
		t.Fatalf("first migrate: code %d out %q err %q", code, out, errOut)
	}
	out, _, code = runCmd(t, environ, "migrate")
	if code != 0 || !strings.Contains(out, "(up to date)") {
		t.Errorf("second migrate: got code %d out %q, want 0 and up to date", code, out)
	}
}

func TestSQL(t *testing.T) {
	t.Parallel()
	environ := apptest.DataEnv(t)
	cases := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"count on a fresh store", []string{"sql", "select count(*) AS n from issues"}, 0, "0\n(1 row)", ""},
		{"csv", []string{"sql", "--format", "csv", "select 1 AS a, 'x,y' AS b"}, 0, "a,b\n1,\"x,y\"\n", ""},
		{"json", []string{"sql", "--format=json", "select 2 AS a"}, 0, `"a": 2`, ""},
		{"bad statement", []string{"sql", "selec 1"}, 1, "", "syntax error"},
		{"missing table", []string{"sql", "select * from nope"}, 1, "", "nope"},
		{"no statement", []string{"sql"}, 2, "", "no statement"},
		{"bad format", []string{"sql", "--format", "xml", "select 1"}, 2, "", "unknown format"},
		{"bad flag", []string{"sql", "--nope", "select 1"}, 2, "", "flag provided but not defined"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runCmd(t, environ, tc.args...)
			if code != tc.wantCode {
				t.Fatalf("got code %d, want %d (out %q, err %q)", code, tc.wantCode, out, errOut)
			}
			if !strings.Contains(out, tc.wantOut) {
				t.Errorf("stdout: got %q, want it to contain %q", out, tc.wantOut)
			}
			if !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("stderr: got %q, want it to contain %q", errOut, tc.wantErr)
			}
		})
	}
}

func TestSQLTableAlignment(t *testing.T) {
	t.Parallel()
	out, _, code := runCmd(t, apptest.DataEnv(t), "sql", "select * from (values ('a', 1), ('bbbb', 22)) t(name, n) order by n")
	if code != 0 {
		t.Fatalf("code %d", code)
	}
	want := "name   n\n----  --\na      1\nbbbb  22\n(2 rows)\n"
	if out != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

func TestJSONOutputIsValid(t *testing.T) {
	t.Parallel()
	out, _, code := runCmd(t, apptest.DataEnv(t), "sql", "--format", "json", "select [1,2] AS l, NULL AS z, TIMESTAMPTZ '2024-01-01 00:00:00+00' AS t")
	if code != 0 {
		t.Fatalf("code %d", code)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("invalid JSON %q: %v", out, err)
	}
	if len(rows) != 1 || rows[0]["t"] != "2024-01-01T00:00:00Z" || rows[0]["z"] != nil {
		t.Errorf("got %v", rows)
	}
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		environ  []string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no command", nil, nil, 2, "no command"},
		{"unknown command", nil, []string{"frobnicate"}, 2, "unknown command"},
		{"bad setting names the variable", []string{"JIRADUCK_WORKERS=many"}, []string{"migrate"}, 2, "JIRADUCK_WORKERS"},
		{"bad url names the variable", []string{"JIRA_BASE_URL=nope"}, []string{"sql", "select 1"}, 2, "JIRA_BASE_URL"},
		{"migrate with an argument", nil, []string{"migrate", "extra"}, 2, "no arguments"},
		{"help", nil, []string{"help"}, 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			environ := append(apptest.DataEnv(t), tc.environ...)
			_, errOut, code := runCmd(t, environ, tc.args...)
			if code != tc.wantCode {
				t.Errorf("got code %d, want %d (stderr %q)", code, tc.wantCode, errOut)
			}
			if !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("stderr: got %q, want it to contain %q", errOut, tc.wantErr)
			}
			if strings.Count(strings.TrimSpace(errOut), "\n") > 0 && tc.wantCode == 2 && tc.args != nil {
				t.Errorf("got a multi-line error %q, want one line", errOut)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	out, _, code := runCmd(t, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "jiraduck ") || !strings.Contains(out, "DuckDB v1.") {
		t.Errorf("got code %d out %q", code, out)
	}
}

func TestConfigRedactsSecrets(t *testing.T) {
	t.Parallel()
	environ := append(apptest.DataEnv(t), "JIRA_API_TOKEN=supersecret-token-1", "JIRA_EMAIL=a@b", "JIRA_WEBHOOK_SECRET=supersecret-hook-2")
	out, errOut, code := runCmd(t, environ, "config")
	if code != 0 {
		t.Fatalf("code %d: %s", code, errOut)
	}
	if strings.Contains(out, "supersecret") {
		t.Errorf("config output shows a secret: %s", out)
	}
	if !strings.Contains(out, "JIRA_API_TOKEN") || !strings.Contains(out, "[redacted]") {
		t.Errorf("config output lacks the redacted token line: %s", out)
	}
}

func TestSQLStartingWithAComment(t *testing.T) {
	t.Parallel()
	out, errOut, code := runCmd(t, apptest.DataEnv(t), "sql", "--format", "csv", "-- how many issues?\nSELECT count(*) AS n FROM issues")
	if code != 0 || out != "n\n0\n" {
		t.Errorf("got code %d out %q err %q", code, out, errOut)
	}
}
