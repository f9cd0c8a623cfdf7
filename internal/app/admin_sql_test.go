package app_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/internal/emulator"
)

func sqlBody(t *testing.T, q string) string {
	t.Helper()
	b, err := json.Marshal(map[string]string{"sql": q})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAdminSQLSandboxed posts what a holder of the admin token tried against
// serve: reading files beyond the data directory, writing files, attaching
// databases, installing extensions, changing settings, a transaction left
// open and an answer of gigabytes.
func TestAdminSQLSandboxed(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator test skipped in -short mode")
	}
	t.Parallel()
	live := apptest.StartLiveSite(t, 10, nil, map[string]string{"JIRADUCK_ADMIN_SQL_MAX_BYTES": "1048576"})
	addr := live.Service.Addr()
	outside := t.TempDir()
	dotenv := filepath.Join(outside, ".env")
	if err := os.WriteFile(dotenv, []byte("JIRA_SLA_API_TOKEN=s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	copied := filepath.Join(outside, "x.csv")
	refused := []struct {
		name, sql, says string
	}{
		{"read /etc/passwd", "SELECT * FROM read_text('/etc/passwd')", "Permission Error"},
		{"read the .env", "SELECT content FROM read_text('" + dotenv + "')", "Permission Error"},
		{"copy out", "COPY (SELECT 1) TO '" + copied + "'", "Permission Error"},
		{"copy over a partition", "COPY (SELECT 1) TO '" + filepath.Join(live.Dir, "parquet", "x.parquet") + "'", "COPY"},
		{"attach", "ATTACH '" + filepath.Join(outside, "o.duckdb") + "' AS o", "ATTACH"},
		{"attach in memory", "ATTACH ':memory:' AS m", "ATTACH"},
		{"install from a url", "SET custom_extension_repository = 'http://127.0.0.1:1'; INSTALL httpfs", "SET"},
		{"install", "INSTALL httpfs", "INSTALL/LOAD"},
		{"load", "LOAD httpfs", "INSTALL/LOAD"},
		{"external access off", "SET enable_external_access = false", "SET"},
		{"memory limit", "SET memory_limit = '2MB'", "SET"},
		{"reset the lock", "RESET lock_configuration", "SET"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			code, body := adminPost(t, addr, "/admin/sql", app.SiteAdmin, sqlBody(t, tc.sql))
			if code != http.StatusForbidden || !strings.Contains(body, tc.says) {
				t.Errorf("got %d %s, want 403 naming %s", code, body, tc.says)
			}
			if strings.Contains(body, "s3cret") || strings.Contains(body, "root:") {
				t.Errorf("the answer holds the file read: %s", body)
			}
		})
	}
	if _, err := os.Stat(copied); err == nil {
		t.Errorf("COPY wrote %s", copied)
	}

	t.Run("sql through the admin api", func(t *testing.T) {
		environ := append(apptest.SiteEnviron(live), "JIRADUCK_ADMIN_TOKEN="+app.SiteAdmin, "JIRADUCK_LISTEN="+addr)
		_, errOut, code := runProcess(t, environ, "sql", "ATTACH ':memory:' AS m")
		if code != 2 || !strings.Contains(errOut, "ATTACH") || !strings.Contains(errOut, "refused") {
			t.Errorf("sql ATTACH from another process: got code %d err %q, want 2 naming ATTACH", code, errOut)
		}
		_, errOut, code = runProcess(t, environ, "sql", "SELECT * FROM read_text('/etc/passwd')")
		if code != 2 || !strings.Contains(errOut, "Permission Error") || strings.Contains(errOut, "root:") {
			t.Errorf("sql read_text from another process: got code %d err %q, want 2 and a permission error", code, errOut)
		}
	})

	t.Run("byte cap", func(t *testing.T) {
		code, body := adminPost(t, addr, "/admin/sql", app.SiteAdmin, sqlBody(t, "SELECT repeat('x', 100000) FROM range(300)"))
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, "JIRADUCK_ADMIN_SQL_MAX_BYTES=1048576") {
			t.Errorf("got %d %.300s, want 422 naming JIRADUCK_ADMIN_SQL_MAX_BYTES", code, body)
		}
	})

	t.Run("transaction left open", func(t *testing.T) {
		key := live.Emulator.Keys()[0]
		if err := live.Emulator.Update(key, func(i *emulator.Issue) { i.Summary = "edited before" }); err != nil {
			t.Fatal(err)
		}
		live.Settle(t)
		before := apptest.StoredValue(t, live, "SELECT count(*) FROM issues")
		for _, q := range []string{"BEGIN TRANSACTION; SELECT 1", "BEGIN TRANSACTION; SELECT * FROM no_such_table", "BEGIN TRANSACTION; DELETE FROM issues"} {
			adminPost(t, addr, "/admin/sql", app.SiteAdmin, sqlBody(t, q))
		}
		if err := live.Emulator.Update(key, func(i *emulator.Issue) { i.Summary = "edited after open transactions" }); err != nil {
			t.Fatal(err)
		}
		live.Settle(t)
		if got := apptest.StoredValue(t, live, "SELECT summary FROM issues WHERE issue_key = '"+key+"'"); got != "edited after open transactions" {
			t.Errorf("summary after the edit: got %q, want the edit stored", got)
		}
		if got := apptest.StoredValue(t, live, "SELECT count(*) FROM issues"); got != before {
			t.Errorf("issues: got %s, want %s (the DELETE left open is rolled back)", got, before)
		}
		code, body := adminPost(t, addr, "/admin/sql", app.SiteAdmin, sqlBody(t, "SELECT count(*) AS n FROM issues"))
		if code != http.StatusOK || !strings.Contains(body, "["+before+"]") {
			t.Errorf("a read after: got %d %s, want 200 with %s", code, body, before)
		}
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("/readyz: got %d, want 200", resp.StatusCode)
		}
	})
}
