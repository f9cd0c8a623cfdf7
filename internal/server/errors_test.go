package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/errkind"
	jobs "github.com/jiraduck/jiraduck/internal/schedule"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
)

// TestHandlerErrorReplies: what an admin handler returns, or the router
// refuses, is answered by the kind of the error, with jiraduck's error body;
// only the internal error is logged.
func TestHandlerErrorReplies(t *testing.T) {
	token := testSecrets["JIRADUCK_ADMIN_TOKEN"]
	cfg, err := config.FromMap(map[string]string{"JIRA_DOMAIN": "example.atlassian.net", "JIRADUCK_DATA_DIR": t.TempDir(),
		"JIRADUCK_ADMIN_TOKEN": token, "JIRADUCK_RECONCILE_SCHEDULE": ""})
	if err != nil {
		t.Fatal(err)
	}
	jobErrs := map[string]error{
		"sla-poll":  fmt.Errorf("job sla-poll: %w", jobs.ErrRunning),
		"reconcile": errkind.New(errkind.Conflict, "reconcile is busy"),
	}
	runJob := func(name string) error {
		if err, ok := jobErrs[name]; ok {
			return err
		}
		if name == "snapshot" {
			return nil
		}
		return errkind.Errorf(errkind.NotFound, "no job %q (jobs: sla-poll, reconcile, snapshot)", name)
	}
	retry := func(_ context.Context, ids []int64) (int, error) {
		if len(ids) > 0 && ids[0] == 13 {
			return 0, errors.New("retry failed events: database is closed")
		}
		return len(ids), nil
	}
	log, hook := logtest.NewNullLogger()
	srv := httptest.NewServer(New(Deps{Config: cfg, Logger: log, RunJob: runJob, RetryFailed: retry}))
	defer srv.Close()

	cases := []struct {
		name, method, path, token, body string
		status                          int
		reply                           string
		authenticate                    string
		logged                          int
	}{
		{name: "job running", method: "POST", path: "/admin/jobs/sla-poll/run", token: token,
			status: 409, reply: `{"error":"job sla-poll: job already running","status":"error"}`},
		{name: "conflict whatever its text", method: "POST", path: "/admin/jobs/reconcile/run", token: token,
			status: 409, reply: `{"error":"reconcile is busy","status":"error"}`},
		{name: "unknown job", method: "POST", path: "/admin/jobs/nope/run", token: token,
			status: 404, reply: `{"error":"no job \"nope\" (jobs: sla-poll, reconcile, snapshot)","status":"error"}`},
		{name: "job started", method: "POST", path: "/admin/jobs/snapshot/run", token: token,
			status: 202, reply: `{"job":"snapshot","status":"started"}`},
		{name: "retry body invalid", method: "POST", path: "/admin/events/retry", token: token, body: "{",
			status: 400, reply: `{"error":"body must be {\"ids\": [event ids]} or {} for every failed event","status":"error"}`},
		{name: "retry fails inside", method: "POST", path: "/admin/events/retry", token: token, body: `{"ids":[13]}`,
			status: 500, reply: `{"error":"retry failed events: database is closed","status":"error"}`, logged: 1},
		{name: "retry queued", method: "POST", path: "/admin/events/retry", token: token, body: `{"ids":[1,2]}`,
			status: 202, reply: `{"events":2,"status":"queued"}`},
		{name: "no token", method: "POST", path: "/admin/jobs/snapshot/run",
			status: 401, reply: `{"error":"missing or wrong admin token","status":"error"}`, authenticate: `Bearer realm="jiraduck"`},
		{name: "no route", method: "GET", path: "/nowhere",
			status: 404, reply: `{"error":"not found","status":"error"}`},
		{name: "wrong method", method: "GET", path: "/admin/events/retry", token: token,
			status: 405, reply: `{"error":"method not allowed","status":"error"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hook.Reset()
			req, err := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != c.status {
				t.Errorf("status: got %d, want %d", resp.StatusCode, c.status)
			}
			if got, want := string(b), c.reply+"\n"; got != want {
				t.Errorf("body: got %q, want %q", got, want)
			}
			if got := resp.Header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type: got %q, want application/json", got)
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != c.authenticate {
				t.Errorf("WWW-Authenticate: got %q, want %q", got, c.authenticate)
			}
			var errorLines int
			for _, e := range hook.AllEntries() {
				if e.Level <= logrus.ErrorLevel {
					errorLines++
				}
			}
			if errorLines != c.logged {
				t.Errorf("error log lines: got %d, want %d", errorLines, c.logged)
			}
		})
	}
}
