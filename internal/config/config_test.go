package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

func TestDefaults(t *testing.T) {
	c, err := FromMap(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"DataDir", c.DataDir, "./data"},
		{"Listen", c.Listen, "127.0.0.1:8080"},
		{"Workers", c.Workers, 4},
		{"MaxConnections", c.MaxConnections, 256},
		{"WebhookReadBytes", c.WebhookReadBytes, int64(32 << 20)},
		{"JQL", c.JQL, "ORDER BY created ASC"},
		{"SLAPollSchedule", c.SLAPollSchedule, "@every 15m"},
		{"ReconcileSchedule", c.ReconcileSchedule, "@every 30m"},
		{"SnapshotSchedule", c.SnapshotSchedule, "@every 1h"},
		{"AttachmentMaxBytes", c.AttachmentMaxBytes, int64(52428800)},
		{"EventRetention", c.EventRetention, 720 * time.Hour},
		{"LogLevel", c.LogLevel, "info"},
		{"LogFormat", c.LogFormat, ""},
		{"JiraCloudAPIURL", c.JiraCloudAPIURL, "https://api.atlassian.com"},
		{"JiraBaseURL", c.JiraBaseURL, ""},
		{"SLANames", strings.Join(c.SLANames(), ","), "first_response,time_to_resolution"},
		{"DuckDBMemoryLimit", c.DuckDBMemoryLimit, ""},
		{"MemoryLimitFor(serve)", c.MemoryLimitFor("serve"), "256MB"},
		{"MemoryLimitFor(backfill)", c.MemoryLimitFor("backfill"), "512MB"},
		{"MemoryLimitFor(rebuild)", c.MemoryLimitFor("rebuild"), "256MB"},
	}
	for _, ch := range checks {
		if fmt.Sprint(ch.got) != fmt.Sprint(ch.want) {
			t.Errorf("%s: got %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestValues(t *testing.T) {
	c, err := FromMap(map[string]string{
		"JIRA_DOMAIN":                    "acme.atlassian.net",
		"JIRA_EMAIL":                     "bot@acme.test",
		"JIRA_API_TOKEN":                 "tok",
		"JIRA_SLA_FIELDS":                "customfield_10328:first_response, customfield_10161:time_to_resolution,customfield_10500:time_to_triage",
		"JIRA_FIELD_MAP":                 "customfield_10004:severity",
		"JIRADUCK_WORKERS":               "8",
		"JIRADUCK_SLA_POLL_SCHEDULE":     "",
		"JIRADUCK_RECONCILE_SCHEDULE":    "*/5 * * * *",
		"JIRADUCK_EVENT_RETENTION":       "48h",
		"JIRADUCK_DUCKDB_MEMORY_LIMIT":   " 2 GiB ",
		"JIRADUCK_DUCKDB_RELEASE_MEMORY": "true",
		"JIRADUCK_LOG_LEVEL":             "DEBUG",
		"JIRADUCK_LOG_FORMAT":            "json",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.JiraBaseURL != "https://acme.atlassian.net" {
		t.Errorf("JiraBaseURL: got %q, want https://acme.atlassian.net", c.JiraBaseURL)
	}
	if got := c.SLAFields.String(); got != "customfield_10328:first_response,customfield_10161:time_to_resolution,customfield_10500:time_to_triage" {
		t.Errorf("SLAFields: got %q", got)
	}
	if got := strings.Join(c.SLANames(), ","); got != "first_response,time_to_resolution,time_to_triage" {
		t.Errorf("SLANames: got %q", got)
	}
	if len(c.FieldMap) != 1 || c.FieldMap[0] != (FieldAlias{"customfield_10004", "severity"}) {
		t.Errorf("FieldMap: got %+v", c.FieldMap)
	}
	if c.SLAPollSchedule != "" {
		t.Errorf("SLAPollSchedule: got %q, want empty (disabled)", c.SLAPollSchedule)
	}
	if c.ReconcileSchedule != "*/5 * * * *" || c.Workers != 8 || c.EventRetention != 48*time.Hour {
		t.Errorf("got %q %d %v", c.ReconcileSchedule, c.Workers, c.EventRetention)
	}
	if c.DuckDBReleaseMemory == nil || !*c.DuckDBReleaseMemory {
		t.Errorf("DuckDBReleaseMemory: got %v, want true", c.DuckDBReleaseMemory)
	}
	if c.DuckDBMemoryLimit != "2 GiB" || c.MemoryLimitFor("rebuild") != "2 GiB" || c.MemoryLimitFor("serve") != "2 GiB" {
		t.Errorf("DuckDBMemoryLimit: got %q (rebuild %q, serve %q), want 2 GiB for all", c.DuckDBMemoryLimit,
			c.MemoryLimitFor("rebuild"), c.MemoryLimitFor("serve"))
	}
	if c.LogLevel != "debug" || c.LogFormat != "json" {
		t.Errorf("log: got %q %q", c.LogLevel, c.LogFormat)
	}
	if !c.JiraConfigured() {
		t.Error("JiraConfigured: got false, want true")
	}
}

func TestBaseURLOverridesDomain(t *testing.T) {
	c, err := FromMap(map[string]string{"JIRA_DOMAIN": "acme.atlassian.net", "JIRA_BASE_URL": "http://127.0.0.1:9090/"})
	if err != nil {
		t.Fatal(err)
	}
	if c.JiraBaseURL != "http://127.0.0.1:9090" {
		t.Errorf("got %q, want http://127.0.0.1:9090", c.JiraBaseURL)
	}
}

func TestInvalid(t *testing.T) {
	cases := []struct {
		name    string
		vars    map[string]string
		wantVar string
	}{
		{"base url without scheme", map[string]string{"JIRA_BASE_URL": "acme.atlassian.net"}, "JIRA_BASE_URL"},
		{"base url ftp", map[string]string{"JIRA_BASE_URL": "ftp://acme"}, "JIRA_BASE_URL"},
		{"base url with credentials", map[string]string{"JIRA_BASE_URL": "https://u:p@acme"}, "JIRA_BASE_URL"},
		{"domain with scheme", map[string]string{"JIRA_DOMAIN": "https://acme.atlassian.net"}, "JIRA_DOMAIN"},
		{"domain with path", map[string]string{"JIRA_DOMAIN": "acme.atlassian.net/jira"}, "JIRA_DOMAIN"},
		{"cloud api url", map[string]string{"JIRA_CLOUD_API_URL": "not a url"}, "JIRA_CLOUD_API_URL"},
		{"cloud id", map[string]string{"JIRA_CLOUD_ID": "../x"}, "JIRA_CLOUD_ID"},
		{"email without token", map[string]string{"JIRA_EMAIL": "a@b"}, "JIRA_API_TOKEN"},
		{"sla email without token", map[string]string{"JIRA_SLA_EMAIL": "a@b"}, "JIRA_SLA_API_TOKEN"},
		{"sla token without email", map[string]string{"JIRA_SLA_API_TOKEN": "x"}, "JIRA_SLA_API_TOKEN"},
		{"sla fields no colon", map[string]string{"JIRA_SLA_FIELDS": "customfield_1"}, "JIRA_SLA_FIELDS"},
		{"sla fields bad id", map[string]string{"JIRA_SLA_FIELDS": "summary:x"}, "JIRA_SLA_FIELDS"},
		{"sla fields bad name", map[string]string{"JIRA_SLA_FIELDS": "customfield_1:First Response"}, "JIRA_SLA_FIELDS"},
		{"sla fields duplicate id", map[string]string{"JIRA_SLA_FIELDS": "customfield_1:a,customfield_1:b"}, "JIRA_SLA_FIELDS"},
		{"field map duplicate name", map[string]string{"JIRA_FIELD_MAP": "customfield_1:a,customfield_2:a"}, "JIRA_FIELD_MAP"},
		{"field map clashes with column", map[string]string{"JIRA_FIELD_MAP": "customfield_1:summary"}, "JIRA_FIELD_MAP"},
		{"field map clashes with sla column", map[string]string{"JIRA_FIELD_MAP": "customfield_1:first_response_breached"}, "JIRA_FIELD_MAP"},
		{"listen", map[string]string{"JIRADUCK_LISTEN": "8080"}, "JIRADUCK_LISTEN"},
		{"workers not a number", map[string]string{"JIRADUCK_WORKERS": "four"}, "JIRADUCK_WORKERS"},
		{"workers zero", map[string]string{"JIRADUCK_WORKERS": "0"}, "JIRADUCK_WORKERS"},
		{"max connections too few", map[string]string{"JIRADUCK_MAX_CONNECTIONS": "2"}, "JIRADUCK_MAX_CONNECTIONS"},
		{"webhook read bytes below one body", map[string]string{"JIRADUCK_WEBHOOK_READ_BYTES": "1048576"}, "JIRADUCK_WEBHOOK_READ_BYTES"},
		{"schedule", map[string]string{"JIRADUCK_SLA_POLL_SCHEDULE": "every fifteen minutes"}, "JIRADUCK_SLA_POLL_SCHEDULE"},
		{"reconcile schedule", map[string]string{"JIRADUCK_RECONCILE_SCHEDULE": "@every banana"}, "JIRADUCK_RECONCILE_SCHEDULE"},
		{"snapshot schedule", map[string]string{"JIRADUCK_SNAPSHOT_SCHEDULE": "* * *"}, "JIRADUCK_SNAPSHOT_SCHEDULE"},
		{"attachment max negative", map[string]string{"JIRADUCK_ATTACHMENT_MAX_BYTES": "-1"}, "JIRADUCK_ATTACHMENT_MAX_BYTES"},
		{"attachment max not a number", map[string]string{"JIRADUCK_ATTACHMENT_MAX_BYTES": "50MB"}, "JIRADUCK_ATTACHMENT_MAX_BYTES"},
		{"duckdb memory not a size", map[string]string{"JIRADUCK_DUCKDB_MEMORY_LIMIT": "lots"}, "JIRADUCK_DUCKDB_MEMORY_LIMIT"},
		{"duckdb memory without unit", map[string]string{"JIRADUCK_DUCKDB_MEMORY_LIMIT": "512"}, "JIRADUCK_DUCKDB_MEMORY_LIMIT"},
		{"duckdb memory too small", map[string]string{"JIRADUCK_DUCKDB_MEMORY_LIMIT": "10MB"}, "JIRADUCK_DUCKDB_MEMORY_LIMIT"},
		{"duckdb memory just below 64MB", map[string]string{"JIRADUCK_DUCKDB_MEMORY_LIMIT": "63.9MB"}, "JIRADUCK_DUCKDB_MEMORY_LIMIT"},
		{"duckdb memory just below 64MB in MiB", map[string]string{"JIRADUCK_DUCKDB_MEMORY_LIMIT": "61MiB"}, "JIRADUCK_DUCKDB_MEMORY_LIMIT"},
		{"duckdb memory negative", map[string]string{"JIRADUCK_DUCKDB_MEMORY_LIMIT": "-1GB"}, "JIRADUCK_DUCKDB_MEMORY_LIMIT"},
		{"duckdb memory with sql", map[string]string{"JIRADUCK_DUCKDB_MEMORY_LIMIT": "1GB&threads=1"}, "JIRADUCK_DUCKDB_MEMORY_LIMIT"},
		{"retention", map[string]string{"JIRADUCK_EVENT_RETENTION": "30 days"}, "JIRADUCK_EVENT_RETENTION"},
		{"retention zero", map[string]string{"JIRADUCK_EVENT_RETENTION": "0s"}, "JIRADUCK_EVENT_RETENTION"},
		{"log level", map[string]string{"JIRADUCK_LOG_LEVEL": "loud"}, "JIRADUCK_LOG_LEVEL"},
		{"log format", map[string]string{"JIRADUCK_LOG_FORMAT": "xml"}, "JIRADUCK_LOG_FORMAT"},
		{"debug", map[string]string{"JIRADUCK_DEBUG": "maybe"}, "JIRADUCK_DEBUG"},
		{"allow unsigned", map[string]string{"JIRADUCK_ALLOW_UNSIGNED": "yes please"}, "JIRADUCK_ALLOW_UNSIGNED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FromMap(tc.vars)
			if err == nil {
				t.Fatalf("got no error, want one naming %s", tc.wantVar)
			}
			if !IsError(err) {
				t.Fatalf("got %T %v, want *config.Error", err, err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tc.wantVar+": ") {
				t.Errorf("got %q, want it to start with %q", msg, tc.wantVar+": ")
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("got a multi-line error %q", msg)
			}
		})
	}
}

// TestMemoryLimitLowerBound accepts the smallest sizes the error message
// allows: "at least 64MB" must take 64MB itself, in any of its spellings.
func TestMemoryLimitLowerBound(t *testing.T) {
	for _, v := range []string{"64MB", "64mb", "64000KB", "0.064GB", "62MiB"} {
		c, err := FromMap(map[string]string{"JIRADUCK_DUCKDB_MEMORY_LIMIT": v})
		if err != nil {
			t.Errorf("%s: got %v, want it accepted", v, err)
			continue
		}
		if got := c.MemoryLimitFor("serve"); got != v {
			t.Errorf("%s: MemoryLimitFor(serve) = %q, want %q", v, got, v)
		}
	}
}

func TestSecretsRedacted(t *testing.T) {
	secrets := map[string]string{
		"JIRA_WEBHOOK_SECRET":  "whsec-AAAA1111",
		"JIRA_API_TOKEN":       "api-BBBB2222",
		"JIRA_SLA_API_TOKEN":   "sla-CCCC3333",
		"JIRADUCK_ADMIN_TOKEN": "adm-DDDD4444",
	}
	vars := map[string]string{"JIRA_EMAIL": "a@b", "JIRA_SLA_EMAIL": "c@d"}
	for k, v := range secrets {
		vars[k] = v
	}
	c, err := FromMap(vars)
	if err != nil {
		t.Fatal(err)
	}
	if c.JiraAPIToken.Reveal() != "api-BBBB2222" {
		t.Fatalf("Reveal: got %q", c.JiraAPIToken.Reveal())
	}
	var buf strings.Builder
	logger := logrus.New()
	logger.SetOutput(&buf)
	logger.SetFormatter(&logrus.JSONFormatter{})
	logger.WithField("config", c).Info("config loaded")
	logger.WithField("token", c.JiraAPIToken).Info("token")
	js, _ := json.Marshal(c)
	outputs := map[string]string{
		"%v":       fmt.Sprintf("%v", c),
		"%+v":      fmt.Sprintf("%+v", *c),
		"%#v":      fmt.Sprintf("%#v", *c),
		"json":     string(js),
		"logrus":   buf.String(),
		"redacted": fmt.Sprint(c.Redacted()),
	}
	for name, out := range outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s output contains secret %q: %s", name, s, out)
			}
		}
	}
	if !strings.Contains(outputs["redacted"], "[redacted]") {
		t.Errorf("Redacted output lacks the placeholder: %s", outputs["redacted"])
	}
}

func TestLoadDotenvAndEnvironment(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ".env")
	content := "# jira\nJIRA_DOMAIN=acme.atlassian.net\nexport JIRADUCK_WORKERS=2\nJIRADUCK_DATA_DIR=\"/srv/jira data\" # quoted\nJIRA_JQL='project = SUP ORDER BY created ASC'\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load([]string{"JIRADUCK_WORKERS=6", "UNRELATED=1"}, path)
	if err != nil {
		t.Fatal(err)
	}
	if c.JiraBaseURL != "https://acme.atlassian.net" || c.DataDir != "/srv/jira data" || c.JQL != "project = SUP ORDER BY created ASC" {
		t.Errorf("got %q %q %q", c.JiraBaseURL, c.DataDir, c.JQL)
	}
	if c.Workers != 6 {
		t.Errorf("Workers: got %d, want 6 (environment wins over .env)", c.Workers)
	}
	if _, err := Load(nil, filepath.Join(dir, "absent.env")); err != nil {
		t.Errorf("missing .env: got %v, want no error", err)
	}
}

func TestParseDotenv(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		want    map[string]string
		wantErr string
	}{
		{"plain", "A=1\nB = two words \n", map[string]string{"A": "1", "B": "two words"}, ""},
		{"comments and blanks", "# c\n\n  # indented\nA=1 # trailing\n", map[string]string{"A": "1"}, ""},
		{"hash without space is kept", "A=abc#def\n", map[string]string{"A": "abc#def"}, ""},
		{"single quotes literal", `A='x \n # y'`, map[string]string{"A": `x \n # y`}, ""},
		{"double quotes escapes", `A="line1\nline2 \"q\" \\"`, map[string]string{"A": "line1\nline2 \"q\" \\"}, ""},
		{"export prefix", "export A=1", map[string]string{"A": "1"}, ""},
		{"empty value", "A=\nB=''", map[string]string{"A": "", "B": ""}, ""},
		{"equals in value", "A=b=c", map[string]string{"A": "b=c"}, ""},
		{"crlf", "A=1\r\nB=2\r\n", map[string]string{"A": "1", "B": "2"}, ""},
		{"bom", "\ufeffA=1", map[string]string{"A": "1"}, ""},
		{"no equals", "JUSTAKEY", nil, "line 1"},
		{"bad key", "1A=2", nil, "line 1"},
		{"unterminated double", "A=\"abc", nil, "unterminated double quote"},
		{"unterminated single", "A=1\nB='abc", nil, "line 2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseDotenv(strings.NewReader(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestBadDotenvNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(path, []byte("NOT VALID\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(nil, path)
	if err == nil || !strings.HasPrefix(err.Error(), ".env: line 1") {
		t.Errorf("got %v, want an error starting with .env: line 1", err)
	}
}
