package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// callStatuses sends n sequential GET issue calls and returns their statuses.
func callStatuses(t *testing.T, c *client, n int) ([]int, []http.Header) {
	t.Helper()
	var out []int
	var headers []http.Header
	for range n {
		resp, _ := c.do(http.MethodGet, "/rest/api/3/issue/SUP-1?fields=summary", nil)
		out = append(out, resp.StatusCode)
		headers = append(headers, resp.Header)
	}
	return out, headers
}

func TestThrottleAndErrorRates(t *testing.T) {
	const n = 2000
	opts := Options{Issues: 5, Seed: 21, Faults: Faults{ErrorRate: 0.2, ThrottleRate: 0.1, RetryAfter: 3 * time.Second}}
	e, c := newEmu(t, opts)
	got, headers := callStatuses(t, c, n)
	count := map[int]int{}
	withRetryAfter := 0
	for i, s := range got {
		count[s]++
		if s == http.StatusTooManyRequests {
			h := headers[i]
			if h.Get("X-RateLimit-Remaining") != "0" || h.Get("X-RateLimit-Limit") == "" || h.Get("X-RateLimit-Reset") == "" {
				t.Errorf("429 without X-RateLimit headers: %v", h)
			}
			if ra := h.Get("Retry-After"); ra != "" {
				withRetryAfter++
				if ra != "3" {
					t.Errorf("Retry-After: got %q, want 3", ra)
				}
			}
		}
	}
	near := func(name string, got int, p float64) {
		// Five standard deviations: a seeded run either passes or fails
		// every time, and the bound only catches a wrong rate.
		mean := p * n
		if d := math.Abs(float64(got) - mean); d > 5*math.Sqrt(mean*(1-p)) {
			t.Errorf("%s: got %d of %d, want about %.0f", name, got, n, mean)
		}
	}
	near("429", count[429], 0.1)
	near("5xx", count[500]+count[502]+count[503], 0.9*0.2)
	near("200", count[200], 0.9*0.8)
	for s := range count {
		switch s {
		case 200, 429, 500, 502, 503:
		default:
			t.Errorf("unexpected status %d", s)
		}
	}
	if count[500] == 0 || count[502] == 0 || count[503] == 0 {
		t.Errorf("5xx kinds: %v, want 500, 502 and 503", count)
	}
	if withRetryAfter == 0 || withRetryAfter == count[429] {
		t.Errorf("%d of %d 429s carry Retry-After, want most but not all", withRetryAfter, count[429])
	}
	st := e.Stats().Faults
	if int(st.Throttled) != count[429] || int(st.Errors) != count[500]+count[502]+count[503] {
		t.Errorf("fault stats %+v do not match %v", st, count)
	}

	// The same seed gives the same faults.
	_, c2 := newEmu(t, opts)
	again, _ := callStatuses(t, c2, n)
	for i := range got {
		if got[i] != again[i] {
			t.Fatalf("call %d: got %d, then %d with the same seed", i, got[i], again[i])
		}
	}
}

func TestThrottleBody(t *testing.T) {
	_, c := newEmu(t, Options{Issues: 1, Faults: Faults{ThrottleRate: 1}})
	resp, body := c.do(http.MethodGet, "/rest/api/3/field", nil)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("got %d", resp.StatusCode)
	}
	if want := compactJSON(t, fixture(t, "errors/429_rate_limited__real.json")); compactJSON(t, body) != want {
		t.Errorf("got %s, want %s", body, want)
	}
}

func TestFaultsSwitchOff(t *testing.T) {
	e, c := newEmu(t, Options{Issues: 1, Faults: Faults{ErrorRate: 1}})
	if resp, _ := c.do(http.MethodGet, "/rest/api/3/field", nil); resp.StatusCode < 500 {
		t.Fatalf("error rate 1: got %d", resp.StatusCode)
	}
	c.post("/_emulator/faults/off", nil, http.StatusOK)
	c.get("/rest/api/3/field", http.StatusOK)
	if f := e.Faults(); f != (Faults{}) {
		t.Errorf("faults after off: %+v", f)
	}
	c.post("/_emulator/faults", map[string]any{"throttleRate": 1, "retryAfter": "2s"}, http.StatusOK)
	c.get("/rest/api/3/field", http.StatusTooManyRequests)
	if e.SetFaults(Faults{}) != nil {
		t.Fatal("SetFaults failed")
	}
	c.get("/rest/api/3/field", http.StatusOK)
	// Admin routes and tenant_info never get faults.
	e.SetFaults(Faults{ErrorRate: 1})
	c.get("/_emulator/stats", http.StatusOK)
	c.get("/_edge/tenant_info", http.StatusOK)
}

func TestDroppedConnection(t *testing.T) {
	_, c := newEmu(t, Options{Issues: 1, Faults: Faults{DropRate: 1}})
	req, _ := http.NewRequest(http.MethodGet, c.base+"/rest/api/3/issue/SUP-1", nil)
	req.SetBasicAuth(testEmail, testToken)
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("got status %d, want a dropped connection", resp.StatusCode)
	}
}

func TestStalledBody(t *testing.T) {
	_, c := newEmu(t, Options{Issues: 1, Faults: Faults{StallRate: 1, Stall: 5 * time.Second}})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/rest/api/3/issue/SUP-1", nil)
	req.SetBasicAuth(testEmail, testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("headers should arrive before the stall: %v", err)
	}
	defer resp.Body.Close()
	_, err = io.ReadAll(resp.Body)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("reading a stalled body: got %v, want the client's deadline", err)
	}
}

func TestLatency(t *testing.T) {
	_, c := newEmu(t, Options{Issues: 1, Faults: Faults{Latency: 80 * time.Millisecond}})
	start := time.Now()
	c.get("/rest/api/3/field", http.StatusOK)
	if d := time.Since(start); d < 80*time.Millisecond {
		t.Errorf("answered after %s, before the configured latency", d)
	}
}

func TestBasicAuth(t *testing.T) {
	_, c := newEmu(t, Options{Issues: 3, SLAEmail: testSLAEmail, SLAAPIToken: testSLAToken})
	for _, tc := range []struct {
		name, user, token string
		want              int
	}{
		{"main account", testEmail, testToken, 200},
		{"e-mail in upper case", strings.ToUpper(testEmail), testToken, 200},
		{"sla account", testSLAEmail, testSLAToken, 200},
		{"no credentials", "", "", 401},
		{"wrong token", testEmail, "nope", 401},
		{"token of the other account", testEmail, testSLAToken, 401},
		{"unknown user", "who@example.com", testToken, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := c.as(tc.user, tc.token).do(http.MethodGet, "/rest/api/3/issue/SUP-1", nil)
			if resp.StatusCode != tc.want {
				t.Fatalf("got %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want == 401 {
				v := decodeAs[map[string]any](t, body)
				if v["message"] != "Client must be authenticated to access this resource." || v["status-code"] != float64(401) {
					t.Errorf("401 body: %s", body)
				}
			}
		})
	}
	// tenant_info and media are public, as on Jira Cloud.
	c.as("", "").get("/_edge/tenant_info", http.StatusOK)
}

func TestSLAFieldsOnlyForTheSLAAccount(t *testing.T) {
	e, c := newEmu(t, Options{Issues: 20, Seed: 3, SLAEmail: testSLAEmail, SLAAPIToken: testSLAToken})
	key := findIssue(t, e, func(is *Issue) bool { return is.Project == "SUP" && len(is.SLA) > 0 })
	fields := func(c *client, path string) map[string]json.RawMessage {
		v := decodeAs[struct {
			Fields map[string]json.RawMessage `json:"fields"`
		}](t, c.get(path, http.StatusOK))
		return v.Fields
	}
	main := fields(c, "/rest/api/3/issue/"+key)
	if _, ok := main[FieldTimeToResolution]; ok {
		t.Error("main account sees the SLA field")
	}
	if _, ok := main[FieldRank]; !ok {
		t.Error("main account does not see other custom fields")
	}
	sla := c.as(testSLAEmail, testSLAToken)
	for _, path := range []string{"/rest/api/3/issue/" + key, "/ex/jira/" + e.CloudID() + "/rest/api/3/issue/" + key + "?fields=" + FieldTimeToResolution + "," + FieldTimeToFirstResp} {
		got := fields(sla, path)
		if string(got[FieldTimeToResolution]) == "" || string(got[FieldTimeToFirstResp]) == "" {
			t.Errorf("%s: SLA account does not see the SLA fields: %v", path, got)
		}
	}
	bulk := decodeAs[struct {
		Issues []struct {
			Fields map[string]json.RawMessage `json:"fields"`
		} `json:"issues"`
	}](t, sla.post("/ex/jira/"+e.CloudID()+"/rest/api/3/issue/bulkfetch", map[string]any{"issueIdsOrKeys": []string{key}, "fields": []string{FieldTimeToFirstResp}}, http.StatusOK))
	if len(bulk.Issues) != 1 || len(bulk.Issues[0].Fields[FieldTimeToFirstResp]) == 0 {
		t.Errorf("bulk fetch as the SLA account: %+v", bulk)
	}
	// The field list is the same for both.
	if !strings.Contains(string(c.get("/rest/api/3/field", http.StatusOK)), slaFieldType) {
		t.Error("the main account's field list lacks the SLA fields")
	}
}

func TestSLAElapsedTicks(t *testing.T) {
	now := time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)
	e, c := newEmu(t, Options{Issues: 400, Months: 2, Seed: 4, Now: now, Clock: frozen(now)})
	var running, paused string
	for _, k := range e.Keys() {
		is, _ := e.Issue(k)
		for _, s := range is.SLA {
			if s.Ongoing != nil && !s.Ongoing.Paused && running == "" {
				running = k
			}
			if s.Ongoing != nil && s.Ongoing.Paused && paused == "" {
				paused = k
			}
		}
	}
	if running == "" || paused == "" {
		t.Fatalf("no running (%q) or paused (%q) SLA", running, paused)
	}
	elapsed := func(key string) []int64 {
		v := decodeAs[struct {
			Fields map[string]struct {
				OngoingCycle *struct {
					ElapsedTime struct{ Millis int64 } `json:"elapsedTime"`
				} `json:"ongoingCycle"`
			} `json:"fields"`
		}](t, c.get("/rest/api/3/issue/"+key+"?fields="+FieldTimeToResolution+","+FieldTimeToFirstResp, http.StatusOK))
		var out []int64
		for _, id := range []string{FieldTimeToResolution, FieldTimeToFirstResp} {
			if oc := v.Fields[id].OngoingCycle; oc != nil {
				out = append(out, oc.ElapsedTime.Millis)
			} else {
				out = append(out, -1)
			}
		}
		return out
	}
	before, beforePaused := elapsed(running), elapsed(paused)
	e.Advance(90 * time.Minute)
	after, afterPaused := elapsed(running), elapsed(paused)
	grew := false
	for i := range before {
		if before[i] >= 0 && after[i]-before[i] == (90*time.Minute).Milliseconds() {
			grew = true
		}
	}
	if !grew {
		t.Errorf("running SLA of %s: elapsed %v then %v, want +90m", running, before, after)
	}
	is, _ := e.Issue(paused)
	for i, id := range []string{FieldTimeToResolution, FieldTimeToFirstResp} {
		if s := is.sla(id); s != nil && s.Ongoing != nil && s.Ongoing.Paused && beforePaused[i] != afterPaused[i] {
			t.Errorf("paused SLA %s of %s moved from %d to %d", id, paused, beforePaused[i], afterPaused[i])
		}
	}
}

func TestGatewayAndTenantInfo(t *testing.T) {
	e, c := newEmu(t, Options{Issues: 3})
	info := decodeAs[map[string]string](t, c.as("", "").get("/_edge/tenant_info", http.StatusOK))
	if info["cloudId"] != e.CloudID() || len(e.CloudID()) != 36 {
		t.Fatalf("tenant_info: got %v, cloud id %s", info, e.CloudID())
	}
	body := c.get("/ex/jira/"+e.CloudID()+"/rest/api/3/issue/SUP-1", http.StatusOK)
	if !strings.Contains(string(body), `"self":"`+c.base+"/ex/jira/"+e.CloudID()+"/rest/api/3/issue/") {
		t.Errorf("gateway answer does not link through the gateway: %.300s", body)
	}
	c.get("/ex/jira/"+e.CloudID()+"/rest/api/3/field", http.StatusOK)
	c.get("/ex/jira/00000000-0000-0000-0000-000000000000/rest/api/3/issue/SUP-1", http.StatusNotFound)
	c.as("", "").get("/ex/jira/"+e.CloudID()+"/rest/api/3/issue/SUP-1", http.StatusUnauthorized)
}

func TestAttachmentRedirectThenBytes(t *testing.T) {
	e, c := newEmu(t, Options{Issues: 80, Seed: 5, MediaTokenTTL: time.Minute})
	key := findIssue(t, e, func(is *Issue) bool {
		return len(is.Attachments) > 0 && is.Attachments[0].Size < 1<<20 && is.Attachments[0].MimeType == "text/plain"
	})
	is, _ := e.Issue(key)
	a := is.Attachments[0]
	resp, _ := c.do(http.MethodGet, "/rest/api/3/attachment/content/"+a.ID, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("content: got %d, want 303", resp.StatusCode)
	}
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, c.base+"/_media/file/"+a.ID+"?") || !strings.Contains(loc, "token=") {
		t.Fatalf("Location %q", loc)
	}
	media := c.as("", "") // the media URL needs no credentials, only its token
	resp, body := media.do(http.MethodGet, strings.TrimPrefix(loc, c.base), nil)
	if resp.StatusCode != http.StatusOK || int64(len(body)) != a.Size {
		t.Fatalf("media: got %d with %d bytes, want 200 with %d", resp.StatusCode, len(body), a.Size)
	}
	if resp.Header.Get("Content-Type") != a.MimeType || resp.Header.Get("Content-Length") != strconv.FormatInt(a.Size, 10) {
		t.Errorf("media headers: %v", resp.Header)
	}
	_, again := media.do(http.MethodGet, strings.TrimPrefix(loc, c.base), nil)
	if string(again) != string(body) {
		t.Error("the same attachment served different bytes")
	}
	direct := c.get("/rest/api/3/attachment/content/"+a.ID+"?redirect=false", http.StatusOK)
	if string(direct) != string(body) {
		t.Error("redirect=false served other bytes")
	}
	media.get("/_media/file/"+a.ID+"?token=1.abc", http.StatusUnauthorized)
	tampered := strings.Replace(loc, "/_media/file/"+a.ID, "/_media/file/"+a.ID+"0", 1)
	media.get(strings.TrimPrefix(tampered, c.base), http.StatusUnauthorized)
	e.Advance(2 * time.Minute)
	media.get(strings.TrimPrefix(loc, c.base), http.StatusUnauthorized)
	c.get("/rest/api/3/attachment/content/999999999", http.StatusNotFound)
	if e.Stats().Calls[EndpointMedia] == 0 {
		t.Error("media calls not counted")
	}
}

func TestLargeAndUploadedAttachments(t *testing.T) {
	e, c := newEmu(t, Options{Issues: 10, Seed: 5})
	key := findIssue(t, e, func(is *Issue) bool {
		for _, a := range is.Attachments {
			if a.Size > 50<<20 {
				return true
			}
		}
		return false
	})
	is, _ := e.Issue(key)
	var big Attachment
	for _, a := range is.Attachments {
		if a.Size > 50<<20 {
			big = a
		}
	}
	meta := decodeAs[map[string]any](t, c.get("/rest/api/3/attachment/"+big.ID, http.StatusOK))
	if meta["size"] != float64(big.Size) {
		t.Errorf("metadata size %v, want %d", meta["size"], big.Size)
	}
	resp, _ := c.do(http.MethodGet, "/rest/api/3/attachment/content/"+big.ID, nil)
	loc := resp.Header.Get("Location")
	resp, _ = c.do(http.MethodHead, strings.TrimPrefix(loc, c.base), nil)
	if resp.StatusCode != http.StatusOK || resp.ContentLength != big.Size {
		t.Errorf("HEAD of the large attachment: %d, length %d, want %d", resp.StatusCode, resp.ContentLength, big.Size)
	}

	data := []byte("hello, attachment\n")
	a, err := e.AddAttachment("SUP-1", Attachment{Filename: "../notes.txt"}, data)
	if err != nil {
		t.Fatal(err)
	}
	if a.Filename != "notes.txt" || a.MimeType != "text/plain" || a.Size != int64(len(data)) {
		t.Errorf("stored attachment: %+v", a)
	}
	got := c.get("/rest/api/3/attachment/content/"+a.ID+"?redirect=false", http.StatusOK)
	if string(got) != string(data) {
		t.Errorf("uploaded bytes: got %q", got)
	}
	if err := e.DeleteAttachment("SUP-1", a.ID); err != nil {
		t.Fatal(err)
	}
	c.get("/rest/api/3/attachment/"+a.ID, http.StatusNotFound)
}
