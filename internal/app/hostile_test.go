package app_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha512"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/intake"
	"github.com/jiraduck/jiraduck/internal/jobs"
	"github.com/sirupsen/logrus"
)

// hostileSite is an emulator behind a front that can rewrite its answers
// (attachments with hostile names and URLs, absurd Retry-After), an
// "elsewhere" server that must never see the site's credentials, and a serve
// in-process on a real HTTP listener.
type hostileSite struct {
	em    *emulator.Emulator
	svc   *app.Service
	cfg   *config.Config
	dir   string
	front *httptest.Server
	evil  *recorder

	mu          sync.Mutex
	extraAttach map[string][]map[string]any // issue key -> attachments added to GET issue
	throttled   map[string]bool             // issue key -> 429 with a 10-year Retry-After
	refused     int                         // 429s answered
}

// recorder is a server that notes every request it gets.
type recorder struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []string
}

func newRecorder(t *testing.T) *recorder {
	r := &recorder{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.reqs = append(r.reqs, fmt.Sprintf("%s %s auth=%q", req.Method, req.URL.Path, req.Header.Get("Authorization")))
		r.mu.Unlock()
		w.Write([]byte("bytes from elsewhere"))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.reqs...)
}

func startHostileSite(t *testing.T, issues int, extra map[string]string) *hostileSite {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	ln := apptest.LoopbackListener(t)
	addr := ln.Addr().String()
	var err error
	log := logrus.New()
	log.SetOutput(io.Discard)
	hs := &hostileSite{dir: dir, evil: newRecorder(t), extraAttach: map[string][]map[string]any{}, throttled: map[string]bool{}}
	hs.em, err = emulator.New(emulator.Options{Issues: issues, Months: 3, Seed: 53, Clock: apptest.Frozen(), Email: app.SiteEmail, APIToken: app.SiteToken,
		WebhookURL: "http://" + addr + "/webhooks/jira", WebhookSecret: app.SiteSecret, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hs.em.Close() })
	hs.front = httptest.NewServer(hs.wrap(hs.em.Handler()))
	t.Cleanup(hs.front.Close)
	vars := map[string]string{
		"JIRA_BASE_URL": hs.front.URL, "JIRA_EMAIL": app.SiteEmail, "JIRA_API_TOKEN": app.SiteToken, "JIRA_WEBHOOK_SECRET": app.SiteSecret,
		"JIRADUCK_DATA_DIR": dir, "JIRADUCK_LISTEN": addr, "JIRADUCK_ADMIN_TOKEN": app.SiteAdmin, "JIRADUCK_DEBUG": "true",
		"JIRADUCK_SLA_POLL_SCHEDULE": "", "JIRADUCK_RECONCILE_SCHEDULE": "", "JIRADUCK_SNAPSHOT_SCHEDULE": "",
	}
	for k, v := range extra {
		vars[k] = v
	}
	hs.cfg, err = config.FromMap(vars)
	if err != nil {
		t.Fatal(err)
	}
	hs.svc, err = app.StartService(context.Background(), hs.cfg, ln, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hs.svc.Close() })
	return hs
}

// wrap rewrites the emulator's answers for the issues the test set up.
func (hs *hostileSite) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n, ok := strings.CutPrefix(r.URL.Path, "/hostile/file/"); ok {
			w.Write([]byte("hostile attachment " + n))
			return
		}
		if r.URL.Path == "/hostile/redirect" {
			http.Redirect(w, r, hs.evil.srv.URL+"/media/file?token=short-lived", http.StatusSeeOther)
			return
		}
		key, isIssue := strings.CutPrefix(r.URL.Path, "/rest/api/3/issue/")
		if !isIssue || strings.Contains(key, "/") {
			next.ServeHTTP(w, r)
			return
		}
		hs.mu.Lock()
		throttled, attach := hs.throttled[key], hs.extraAttach[key]
		if throttled {
			hs.refused++
		}
		hs.mu.Unlock()
		if throttled {
			w.Header().Set("Retry-After", "315360000")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"errorMessages":["The request has been rate-limited."]}`))
			return
		}
		if attach == nil {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var issue map[string]any
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &issue) != nil {
			w.WriteHeader(rec.Code)
			w.Write(rec.Body.Bytes())
			return
		}
		fields, _ := issue["fields"].(map[string]any)
		list, _ := fields["attachment"].([]any)
		for _, a := range attach {
			list = append(list, a)
		}
		fields["attachment"] = list
		b, _ := json.Marshal(issue)
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	})
}

// setAttachments makes GET issue of key (by key or id) carry list besides
// the issue's own attachments.
func (hs *hostileSite) setAttachments(t *testing.T, key string, list []map[string]any) {
	t.Helper()
	is, err := hs.em.Issue(key)
	if err != nil {
		t.Fatal(err)
	}
	hs.mu.Lock()
	hs.extraAttach[key], hs.extraAttach[is.ID] = list, list
	hs.mu.Unlock()
}

// post sends a webhook delivery to serve's real HTTP listener.
func (hs *hostileSite) post(t *testing.T, body []byte, hdr http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+hs.svc.Addr()+"/webhooks/jira", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (hs *hostileSite) settle(t *testing.T) {
	t.Helper()
	s := &app.Site{Emulator: hs.em, Service: hs.svc, Config: hs.cfg}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := s.Settle(ctx); err != nil {
		t.Fatal(err)
	}
}

func (hs *hostileSite) value(t *testing.T, q string, args ...any) string {
	t.Helper()
	apptest.FlushIntake(t, hs.svc)
	var v sql.NullString
	if err := hs.svc.Store().DB().QueryRow(q, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v.String
}

func signed(secret string, body []byte) http.Header {
	return http.Header{"X-Hub-Signature": {intake.Sign([]byte(secret), body)}}
}

// TestHostileInput sends what an attacker, a broken proxy or a confused Jira
// could send through serve's real HTTP server and fake Jira answers, and
// checks each gets a clear refusal, nothing outside the data directory is
// touched, and nothing stored is lost.
func TestHostileInput(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator test skipped in -short mode")
	}
	t.Parallel()
	hs := startHostileSite(t, 12, nil)
	ctx := context.Background()
	if _, err := jobs.Backfill(ctx, hs.svc.Client(), hs.svc.Store(), hs.svc.Processor(), jobs.BackfillOptions{Parallel: 4}); err != nil {
		t.Fatal(err)
	}
	hs.settle(t)
	// The folder above the test's temporary folder: a path that climbs out
	// of the data directory (data/attachments/KEY/../../../..) lands here.
	parent := filepath.Dir(filepath.Dir(hs.dir))
	dataRel, _ := filepath.Rel(parent, hs.dir)
	before := snapshotTree(t, parent)
	storedBefore := hs.value(t, "SELECT count(*) FROM issues")
	keys := hs.em.Keys()
	target := keys[0]
	targetID := hs.value(t, "SELECT issue_id FROM issues WHERE issue_key = ?", target)

	t.Run("webhooks", func(t *testing.T) {
		good := []byte(fmt.Sprintf(`{"timestamp":1719748800000,"webhookEvent":"jira:issue_updated","issue":{"id":%q,"key":%q}}`, targetID, target))
		mac1 := hmac.New(sha1.New, []byte(app.SiteSecret))
		mac1.Write(good)
		mac512 := hmac.New(sha512.New, []byte(app.SiteSecret))
		mac512.Write(good)
		sig := intake.Sign([]byte(app.SiteSecret), good)
		keyBody := func(key string) []byte {
			b, _ := json.Marshal(map[string]any{"webhookEvent": "jira:issue_updated", "issue": map[string]any{"id": targetID, "key": key}})
			return b
		}
		idBody := func(id string) []byte {
			b, _ := json.Marshal(map[string]any{"webhookEvent": "jira:issue_updated", "issue": map[string]any{"id": id, "key": target}})
			return b
		}
		huge := append([]byte(`{"webhookEvent":"jira:issue_updated","pad":"`), bytes.Repeat([]byte("x"), intake.MaxBody)...)
		huge = append(huge, `"}`...)
		huge = huge[:intake.MaxBody+1]
		exact := append([]byte(`{"webhookEvent":"x","pad":"`), bytes.Repeat([]byte("x"), intake.MaxBody-len(`{"webhookEvent":"x","pad":""}`))...)
		exact = append(exact, `"}`...)
		nested := []byte(strings.Repeat(`{"a":`, 100000) + "1" + strings.Repeat("}", 100000))
		nestedArr := []byte(`{"webhookEvent":"jira:issue_updated","x":` + strings.Repeat("[", 200000) + strings.Repeat("]", 200000) + "}")
		cases := []struct {
			name    string
			body    []byte
			hdr     http.Header
			status  int
			message string
		}{
			{"no signature", good, nil, 401, "missing X-Hub-Signature"},
			{"signed with another secret", good, signed("not-the-secret", good), 401, "invalid signature"},
			{"sha1 signature", good, http.Header{"X-Hub-Signature": {"sha1=" + hex.EncodeToString(mac1.Sum(nil))}}, 401, "unsupported signature method"},
			{"sha512 signature", good, http.Header{"X-Hub-Signature": {"sha512=" + hex.EncodeToString(mac512.Sum(nil))}}, 401, "unsupported signature method"},
			{"truncated signature", good, http.Header{"X-Hub-Signature": {sig[:20]}}, 401, "invalid signature"},
			{"signature of another body", good, signed(app.SiteSecret, append([]byte(" "), good...)), 401, "invalid signature"},
			{"signature not hex", good, http.Header{"X-Hub-Signature": {"sha256=" + strings.Repeat("zz", 32)}}, 401, "invalid signature"},
			{"empty signature value", good, http.Header{"X-Hub-Signature": {"sha256="}}, 401, "invalid signature"},
			{"X-Hub-Signature-256 header", good, http.Header{"X-Hub-Signature-256": {sig}, "X-Atlassian-Webhook-Identifier": {"hostile-256"}}, 202, "accepted"},
			{"0-byte body", nil, signed(app.SiteSecret, nil), 400, "empty body"},
			{"10 MiB + 1 byte body", huge, signed(app.SiteSecret, huge), 413, "body over"},
			{"10 MiB body, not an issue event", exact, signed(app.SiteSecret, exact), 202, "accepted"},
			{"deeply nested objects", nested, signed(app.SiteSecret, nested), 400, "invalid webhook"},
			{"deeply nested arrays", nestedArr, signed(app.SiteSecret, nestedArr), 400, "invalid webhook"},
			{"invalid UTF-8", []byte("{\"webhookEvent\":\"jira:issue_updated\",\"x\":\"\xff\xfe\"}"), signed(app.SiteSecret, []byte("{\"webhookEvent\":\"jira:issue_updated\",\"x\":\"\xff\xfe\"}")), 400, "UTF-8"},
			{"not JSON", []byte("webhookEvent=jira:issue_updated"), signed(app.SiteSecret, []byte("webhookEvent=jira:issue_updated")), 400, "not a json object"},
			{"key with ../", keyBody("../../etc/passwd"), signed(app.SiteSecret, keyBody("../../etc/passwd")), 400, "key"},
			{"key with a path", keyBody("SUP-1/../../x"), signed(app.SiteSecret, keyBody("SUP-1/../../x")), 400, "key"},
			{"key with NUL", keyBody("SUP-1\x00"), signed(app.SiteSecret, keyBody("SUP-1\x00")), 400, "key"},
			{"key with Arabic-Indic digits", keyBody("SUP-١٢"), signed(app.SiteSecret, keyBody("SUP-١٢")), 400, "key"},
			{"key with fullwidth digits", keyBody("SUP-１２"), signed(app.SiteSecret, keyBody("SUP-１２")), 400, "key"},
			{"key of 10,000 characters", keyBody("SUP-" + strings.Repeat("9", 9996)), signed(app.SiteSecret, keyBody("SUP-"+strings.Repeat("9", 9996))), 400, "key"},
			{"project of 40 letters", keyBody(strings.Repeat("A", 40) + "-1"), signed(app.SiteSecret, keyBody(strings.Repeat("A", 40)+"-1")), 400, "key"},
			{"lower-case key", keyBody("sup-1"), signed(app.SiteSecret, keyBody("sup-1")), 400, "key"},
			{"id with ../", idBody("../10001"), signed(app.SiteSecret, idBody("../10001")), 400, "id"},
			{"id with letters", idBody("10001abc"), signed(app.SiteSecret, idBody("10001abc")), 400, "id"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				status, answer := hs.post(t, tc.body, tc.hdr)
				if status != tc.status || !strings.Contains(strings.ToLower(answer), strings.ToLower(tc.message)) {
					t.Errorf("got %d %s, want %d with %q", status, apptest.LastBytes(answer, 300), tc.status, tc.message)
				}
			})
		}

		// A delivery replayed with its identifier is a duplicate, and so is
		// its body under a new identifier: Jira's bodies carry a millisecond
		// timestamp, so only a replay of a captured delivery repeats one.
		fresh := []byte(fmt.Sprintf(`{"timestamp":1719748800001,"webhookEvent":"jira:issue_updated","issue":{"id":%q,"key":%q}}`, targetID, target))
		hdr := signed(app.SiteSecret, fresh)
		hdr.Set("X-Atlassian-Webhook-Identifier", "replayed-delivery-1")
		if status, answer := hs.post(t, fresh, hdr); status != 202 {
			t.Fatalf("first delivery: got %d %s", status, answer)
		}
		for i := 0; i < 3; i++ {
			if status, answer := hs.post(t, fresh, hdr); status != 200 || !strings.Contains(answer, "duplicate") {
				t.Errorf("replay %d: got %d %s, want 200 duplicate", i, status, answer)
			}
		}
		for i := 2; i <= 51; i++ {
			hdr.Set("X-Atlassian-Webhook-Identifier", fmt.Sprint("replayed-delivery-", i))
			if status, answer := hs.post(t, fresh, hdr); status != 200 || !strings.Contains(answer, "duplicate") {
				t.Errorf("replay under new identifier %d: got %d %s, want 200 duplicate", i, status, answer)
			}
		}
		if n := hs.value(t, "SELECT count(*) FROM webhook_events WHERE body_sha256 = sha256(?)", string(fresh)); n != "1" {
			t.Errorf("replayed body stored %s times, want 1", n)
		}
	})

	t.Run("admin", func(t *testing.T) {
		base := "http://" + hs.svc.Addr()
		cases := []struct {
			name, path, auth, body string
			status                 int
		}{
			{"sql without a token", "/admin/sql", "", `{"sql":"SELECT 1"}`, 401},
			{"sql with a wrong token", "/admin/sql", "Bearer wrong", `{"sql":"SELECT 1"}`, 401},
			{"sql with the token and more", "/admin/sql", "Bearer " + app.SiteAdmin + "x", `{"sql":"SELECT 1"}`, 401},
			{"sql with a prefix of the token", "/admin/sql", "Bearer " + app.SiteAdmin[:5], `{"sql":"SELECT 1"}`, 401},
			{"sql with the token as basic auth", "/admin/sql", "Basic " + app.SiteAdmin, `{"sql":"SELECT 1"}`, 401},
			{"sql with the token", "/admin/sql", "Bearer " + app.SiteAdmin, `{"sql":"SELECT 1 AS one"}`, 200},
			{"sql with the token, no statement", "/admin/sql", "Bearer " + app.SiteAdmin, `{}`, 400},
			{"test fetch without a token", "/webhooks/jira/test", "", `{"issue_key":"` + target + `"}`, 401},
			{"test fetch with a wrong token", "/webhooks/jira/test", "Bearer wrong", `{"issue_key":"` + target + `"}`, 401},
			{"test fetch of a hostile key", "/webhooks/jira/test", "Bearer " + app.SiteAdmin, `{"issue_key":"../../etc/passwd"}`, 400},
			{"test fetch", "/webhooks/jira/test", "Bearer " + app.SiteAdmin, `{"issue_key":"` + target + `"}`, 200},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				req, _ := http.NewRequest(http.MethodPost, base+tc.path, strings.NewReader(tc.body))
				if tc.auth != "" {
					req.Header.Set("Authorization", tc.auth)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tc.status {
					t.Errorf("got %d %s, want %d", resp.StatusCode, b, tc.status)
				}
				if tc.status == 401 && !strings.Contains(string(b), "admin token") {
					t.Errorf("refusal does not say why: %s", b)
				}
			})
		}
	})

	t.Run("attachments", func(t *testing.T) {
		victim := keys[1]
		names := []string{
			"../../../../etc/passwd", `..\..\windows\win.ini`, "a/b/c.txt", "..", ".", "...", ".hidden",
			"nul\x00byte.txt", "bell\x07tab\tnewline\n.txt", "esc\x1b[31mred.txt", "del\x7f.txt",
			strings.Repeat("a", 10000) + ".txt", strings.Repeat("é", 5000), "résumé 📎 файл 报告.pdf",
			"right-to-left \u202etxt.exe", "zero\u200bwidth.txt", "CON", " ", "trailing dot. ", "C:\\evil.txt",
			"\xff\xfe invalid utf8.txt", "~/.ssh/authorized_keys", "$(rm -rf ~).txt", "a'b\";DROP TABLE issues;--.txt",
		}
		var list []map[string]any
		for i, n := range names {
			list = append(list, map[string]any{"id": fmt.Sprint(990000 + i), "filename": n, "size": len(fmt.Sprint("hostile attachment ", i)),
				"mimeType": "text/plain", "content": fmt.Sprintf("%s/hostile/file/%d", hs.front.URL, i), "created": "2025-06-01T00:00:00.000+0000"})
		}
		hs.setAttachments(t, victim, list)
		// The same names uploaded to the emulator, served through its own
		// content URL and media redirect (it keeps only the last path
		// segment, as Jira does).
		uploaded := 0
		for i, n := range names {
			if _, err := hs.em.AddAttachment(victim, emulator.Attachment{Filename: n, MimeType: "text/plain"}, []byte(fmt.Sprint("hostile attachment upload ", i))); err == nil {
				uploaded++
			}
		}
		hs.settle(t)
		folder := filepath.Join(hs.dir, "attachments", victim)
		rows, err := hs.svc.Store().DB().Query(`SELECT attachment_id, filename, coalesce(local_path, ''), coalesce(skipped_reason, '') FROM attachments WHERE issue_key = ? ORDER BY attachment_id`, victim)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			var id, name, local, reason string
			if err := rows.Scan(&id, &name, &local, &reason); err != nil {
				t.Fatal(err)
			}
			n++
			if local == "" {
				t.Errorf("attachment %s (%q) not stored: %s", id, apptest.LastBytes(name, 40), reason)
				continue
			}
			full := filepath.Join(hs.dir, local)
			if filepath.Dir(full) != folder || strings.Contains(local, "..") || filepath.IsAbs(local) {
				t.Errorf("attachment %s (%q) stored at %q, outside %s", id, apptest.LastBytes(name, 40), local, folder)
			}
			base := filepath.Base(local)
			if len(base) > 255 || !utf8.ValidString(base) || strings.IndexFunc(base, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }) >= 0 {
				t.Errorf("attachment %s stored under an unsafe name %q", id, base)
			}
			if b, err := os.ReadFile(full); err != nil || !strings.HasPrefix(string(b), "hostile attachment ") {
				t.Errorf("attachment %s: got %q, %v", id, b, err)
			}
		}
		is, err := hs.em.Issue(victim)
		apptest.Must(t, err)
		if want := len(names) + len(is.Attachments); n != want {
			t.Errorf("attachments stored: got %d rows, want %d (%d injected, %d in the emulator, %d of them uploaded now)", n, want, len(names), len(is.Attachments), uploaded)
		}
		if uploaded < len(names)/2 {
			t.Errorf("the emulator took only %d of the %d hostile names", uploaded, len(names))
		}
		entries, err := os.ReadDir(folder)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
				t.Errorf("unexpected entry %q in %s", e.Name(), folder)
			}
		}
	})

	t.Run("attachment urls", func(t *testing.T) {
		victim := keys[2]
		jiraURL := hs.front.URL
		host := strings.TrimPrefix(jiraURL, "http://")
		urls := map[string]string{
			"other host":             hs.evil.srv.URL + "/steal",
			"file scheme":            "file:///etc/passwd",
			"ftp scheme":             "ftp://" + host + "/hostile/file/1",
			"javascript scheme":      "javascript:alert(1)",
			"data scheme":            "data:text/plain,hello",
			"credentials in url":     "http://someone:secret@" + host + "/hostile/file/1",
			"other host via @":       "http://" + host + "@" + strings.TrimPrefix(hs.evil.srv.URL, "http://") + "/steal",
			"protocol relative":      "//" + strings.TrimPrefix(hs.evil.srv.URL, "http://") + "/steal",
			"relative path":          "/hostile/file/1",
			"https downgrade target": "https://" + host + "/hostile/file/1",
			"empty":                  "",
		}
		var list []map[string]any
		ids := map[string]string{}
		i := 0
		for name, u := range urls {
			id := fmt.Sprint(980000 + i)
			ids[id] = name
			list = append(list, map[string]any{"id": id, "filename": "f.txt", "size": 20, "mimeType": "text/plain", "content": u,
				"created": "2025-06-01T00:00:00.000+0000"})
			i++
		}
		// Jira's own content URL redirects to its media host: followed, but
		// without the site's credentials.
		list = append(list, map[string]any{"id": "989999", "filename": "media.txt", "size": 20, "mimeType": "text/plain",
			"content": jiraURL + "/hostile/redirect", "created": "2025-06-01T00:00:00.000+0000"})
		hs.setAttachments(t, victim, list)
		apptest.Must(t, hs.em.Update(victim, func(i *emulator.Issue) { i.Summary = "hostile attachment urls" }))
		hs.settle(t)
		for id, name := range ids {
			local := hs.value(t, "SELECT coalesce(local_path, '') FROM attachments WHERE attachment_id = ?", id)
			reason := hs.value(t, "SELECT coalesce(skipped_reason, '') FROM attachments WHERE attachment_id = ?", id)
			if local != "" || reason == "" {
				t.Errorf("%s: stored at %q (reason %q), want it refused", name, local, reason)
			}
		}
		if local := hs.value(t, "SELECT coalesce(local_path, '') FROM attachments WHERE attachment_id = '989999'"); local == "" {
			t.Errorf("media redirect not followed: %s", hs.value(t, "SELECT skipped_reason FROM attachments WHERE attachment_id = '989999'"))
		}
		for _, r := range hs.evil.requests() {
			if !strings.Contains(r, `auth=""`) {
				t.Errorf("the site's credentials reached another host: %s", r)
			}
			if !strings.HasPrefix(r, "GET /media/file") {
				t.Errorf("a request reached another host: %s", r)
			}
		}
	})

	t.Run("retry-after of ten years", func(t *testing.T) {
		victim, other := keys[3], keys[4]
		is, err := hs.em.Issue(victim)
		apptest.Must(t, err)
		hs.mu.Lock()
		hs.throttled[victim], hs.throttled[is.ID] = true, true
		hs.mu.Unlock()
		apptest.Must(t, hs.em.Update(victim, func(i *emulator.Issue) { i.Summary = "throttled for ten years" }))
		// The other issue changes once a worker waits on the victim.
		apptest.WaitFor(t, 20*time.Second, func() error {
			hs.mu.Lock()
			defer hs.mu.Unlock()
			if hs.refused == 0 {
				return errors.New("the throttled issue was not fetched")
			}
			return nil
		})
		apptest.Must(t, hs.em.Update(other, func(i *emulator.Issue) { i.Summary = "processed while another issue waits" }))
		if err := apptest.Poll(20*time.Second, func() error {
			if got := hs.value(t, "SELECT summary FROM issues WHERE issue_key = ?", other); got != "processed while another issue waits" {
				return fmt.Errorf("got summary %q", got)
			}
			return nil
		}); err != nil {
			t.Errorf("another issue was not processed while one waited for Retry-After: %v", err)
		}
		if got := hs.value(t, "SELECT count(*) FROM webhook_events WHERE issue_key = ? AND state = 'pending'", victim); got == "0" {
			t.Errorf("the throttled issue's event is not pending")
		}
		// Shutting down does not wait for the ten years, nor for the capped
		// wait: the drain stops the worker's wait and leaves the event
		// pending for the next start. Waiting out the drain's bound (30 s)
		// is what this catches.
		start := time.Now()
		if err := hs.svc.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		took := time.Since(start)
		if took > 25*time.Second {
			t.Errorf("serve took %v to stop while a worker waited for Retry-After: the drain waited for it", took)
		}
		apptest.Figures(t, "retry-after", "other_issue_processed", true, "shutdown_took", took.Round(100*time.Millisecond))
	})

	// Nothing outside the data directory changed, and nothing stored was
	// lost.
	after := snapshotTree(t, parent)
	if changed := changedOutside(before, after, dataRel); len(changed) > 0 {
		t.Errorf("files outside the data directory changed: %v", changed)
	}
	s, err := reopenStore(hs.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var n string
	s.DB().QueryRow("SELECT count(*) FROM issues").Scan(&n)
	if n != storedBefore {
		t.Errorf("issues stored: got %s after the hostile input, want %s", n, storedBefore)
	}
}
