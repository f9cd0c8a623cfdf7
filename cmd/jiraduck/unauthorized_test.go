package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/internal/emulator"
)

// TestUnauthorizedNamesSettings: when Jira refuses an account, the command's
// error and its log lines name the settings to check, never their values.
func TestUnauthorizedNamesSettings(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("emulator test skipped in -short mode")
	}
	emLog := logrus.New()
	emLog.SetOutput(io.Discard)
	em, err := emulator.New(emulator.Options{Issues: 3, Months: 1, Seed: 7, Clock: apptest.Frozen(),
		Email: secretEmail, APIToken: secretAPIToken, SLAEmail: secretSLAEmail, SLAAPIToken: secretSLAToken, Logger: emLog})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	url, err := em.Start(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const wrongToken = "wrong-token-5d1e7a"
	tests := []struct {
		name   string
		token  string // JIRA_API_TOKEN
		sla    string // JIRA_SLA_API_TOKEN
		stored bool   // the issues are stored first, with the right tokens
		args   []string
		want   string
	}{
		{"backfill, main account refused", wrongToken, secretSLAToken, false, []string{"backfill"},
			"(check JIRA_EMAIL and JIRA_API_TOKEN)"},
		{"backfill --sla-only, sla account refused", secretAPIToken, wrongToken, true, []string{"backfill", "--sla-only"},
			"(check JIRA_SLA_EMAIL and JIRA_SLA_API_TOKEN)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			env := func(token, sla string) []string {
				return []string{"JIRA_BASE_URL=" + url, "JIRA_CLOUD_API_URL=" + url,
					"JIRA_EMAIL=" + secretEmail, "JIRA_API_TOKEN=" + token,
					"JIRA_SLA_EMAIL=" + secretSLAEmail, "JIRA_SLA_API_TOKEN=" + sla,
					"JIRADUCK_DATA_DIR=" + dir, "JIRADUCK_LOG_FORMAT=json", "JIRADUCK_LOG_LEVEL=debug"}
			}
			if tc.stored {
				if _, errOut, code := runCmd(t, env(secretAPIToken, secretSLAToken), "backfill"); code != 0 {
					t.Fatalf("backfill with the right tokens: exit code %d: %s", code, apptest.LastBytes(errOut, 1000))
				}
			}
			environ := env(tc.token, tc.sla)
			out, errOut, code := runCmd(t, environ, tc.args...)
			if code != 1 {
				t.Errorf("got exit code %d, want 1 (stdout %q)", code, out)
			}
			if !strings.Contains(errOut, tc.want) {
				t.Errorf("stderr: got %q, want it to contain %q", apptest.LastBytes(errOut, 2000), tc.want)
			}
			for _, secret := range append(secretNeedles(), wrongToken) {
				if strings.Contains(out+errOut, secret) {
					t.Errorf("output shows %q", secret)
				}
			}
		})
	}
}
