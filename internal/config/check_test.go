package config

import (
	"strings"
	"testing"
)

// TestRefusedSchedulesAndAddresses: settings robfig/cron or net accept but
// that would run a job every second, never, or only where a typo put it, or
// make serve fail at bind time after it migrated the store.
func TestRefusedSchedulesAndAddresses(t *testing.T) {
	schedules := []string{"JIRADUCK_SLA_POLL_SCHEDULE", "JIRADUCK_RECONCILE_SCHEDULE", "JIRADUCK_SNAPSHOT_SCHEDULE"}
	cases := []struct {
		name    string
		value   string
		wantMsg string
	}{
		{"every zero seconds", "@every 0s", "more than once a minute"},
		{"every second", "@every 1s", "more than once a minute"},
		{"every 59 seconds", "@every 59s", "more than once a minute"},
		{"every negative", "@every -5m", "more than once a minute"},
		{"minute step 61", "*/61 * * * *", "step /61 in the minute field"},
		{"minute step 60", "*/60 * * * *", "wider than its range 0-59"},
		{"hour step 24", "0 */24 * * *", "hour field"},
		{"range step", "10-20/15 * * * *", "wider than its range 10-20"},
		{"start step", "50/10 * * * *", "wider than its range 50-59"},
		{"month step", "0 0 1 */12 *", "month field"},
		{"named range step", "0 0 * * mon-wed/3", "day-of-week field"},
		{"step in a list", "0,*/75 * * * *", "minute field"},
		{"with time zone", "CRON_TZ=Europe/Paris */61 * * * *", "minute field"},
		{"never fires", "0 0 30 2 *", "never fires"},
		{"minute out of range", "61 * * * *", "not a cron spec"},
	}
	for _, name := range schedules {
		for _, tc := range cases {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				_, err := FromMap(map[string]string{name: tc.value})
				if err == nil {
					t.Fatalf("%s=%q: got no error, want one", name, tc.value)
				}
				if !IsError(err) || !strings.HasPrefix(err.Error(), name+": ") || !strings.Contains(err.Error(), tc.wantMsg) {
					t.Errorf("got %q, want a setting error on %s containing %q", err, name, tc.wantMsg)
				}
			})
		}
	}
	addresses := []struct {
		name, variable, value, wantMsg string
	}{
		{"listen port too large", "JIRADUCK_LISTEN", "127.0.0.1:99999", "port 99999 is outside 0-65535"},
		{"listen port negative", "JIRADUCK_LISTEN", "127.0.0.1:-1", "not a number"},
		{"listen port a name", "JIRADUCK_LISTEN", "127.0.0.1:http", "not a number"},
		{"listen port empty", "JIRADUCK_LISTEN", "127.0.0.1:", "not a number"},
		{"listen without port", "JIRADUCK_LISTEN", "127.0.0.1", "host:port"},
		{"listen bad host", "JIRADUCK_LISTEN", "local host:8080", "neither an IP address nor a host name"},
		{"base url port too large", "JIRA_BASE_URL", "http://127.0.0.1:99999", "port 99999 is outside 1-65535"},
		{"base url port zero", "JIRA_BASE_URL", "http://127.0.0.1:0", "port 0 is outside 1-65535"},
		{"cloud api url port too large", "JIRA_CLOUD_API_URL", "https://api.example.test:70000", "port 70000"},
	}
	for _, tc := range addresses {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FromMap(map[string]string{tc.variable: tc.value})
			if err == nil || !IsError(err) || !strings.HasPrefix(err.Error(), tc.variable+": ") || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("%s=%q: got %v, want a setting error on %s containing %q", tc.variable, tc.value, err, tc.variable, tc.wantMsg)
			}
		})
	}
}

// TestAcceptedSchedulesAndAddresses: what the checks above must keep taking.
func TestAcceptedSchedulesAndAddresses(t *testing.T) {
	cases := []struct{ variable, value string }{
		{"JIRADUCK_SNAPSHOT_SCHEDULE", "@every 1m"},
		{"JIRADUCK_SNAPSHOT_SCHEDULE", "@every 1h30m"},
		{"JIRADUCK_SNAPSHOT_SCHEDULE", "@hourly"},
		{"JIRADUCK_SNAPSHOT_SCHEDULE", "@daily"},
		{"JIRADUCK_RECONCILE_SCHEDULE", "* * * * *"},
		{"JIRADUCK_RECONCILE_SCHEDULE", "*/59 * * * *"},
		{"JIRADUCK_RECONCILE_SCHEDULE", "0 */12 * * *"},
		{"JIRADUCK_RECONCILE_SCHEDULE", "0-30/30 * * * *"},
		{"JIRADUCK_RECONCILE_SCHEDULE", "5/1 * * * *"},
		{"JIRADUCK_SLA_POLL_SCHEDULE", "0 9 * * mon-fri"},
		{"JIRADUCK_SLA_POLL_SCHEDULE", "0 0 29 2 *"},
		{"JIRADUCK_SLA_POLL_SCHEDULE", "CRON_TZ=Europe/Paris 0 9 * * *"},
		{"JIRADUCK_LISTEN", "127.0.0.1:0"},
		{"JIRADUCK_LISTEN", ":8080"},
		{"JIRADUCK_LISTEN", "[::1]:65535"},
		{"JIRADUCK_LISTEN", "localhost:8080"},
		{"JIRADUCK_LISTEN", "jiraduck.internal.example:443"},
		{"JIRA_BASE_URL", "http://127.0.0.1:9090"},
		{"JIRA_BASE_URL", "https://acme.atlassian.net"},
		{"JIRA_CLOUD_API_URL", "https://api.atlassian.com:443"},
	}
	for _, tc := range cases {
		t.Run(tc.variable+"="+tc.value, func(t *testing.T) {
			if _, err := FromMap(map[string]string{tc.variable: tc.value}); err != nil {
				t.Errorf("got %v, want it accepted", err)
			}
		})
	}
}
