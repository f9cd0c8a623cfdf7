package app_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/app/apptest"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/store"
)

// chromiumNames are the headless browsers the status page test can drive,
// in the order they are looked for; JIRADUCK_CHROMIUM names another.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome-headless-shell"}

func findChromium() string {
	if p := os.Getenv("JIRADUCK_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range chromiumNames {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// chromium runs one headless browser command on url and returns its standard
// output. The browser is driven by its command line alone (--dump-dom,
// --screenshot): the page has no script, so nothing needs a DevTools session.
func chromium(t *testing.T, browser, url string, args ...string) []byte {
	t.Helper()
	profile, err := os.MkdirTemp("", "jiraduck-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	// Not t.TempDir: a browser helper process may still be closing files in
	// its profile when the test ends, and that must not fail the test.
	t.Cleanup(func() { os.RemoveAll(profile) })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	flags := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--no-proxy-server", "--user-data-dir=" + profile}
	cmd := exec.CommandContext(ctx, browser, append(append(flags, args...), url)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// The browser's helpers (zygote, renderer, crash handler) share its
	// output pipes: past the deadline the whole process group is killed,
	// and Run stops waiting for the pipes soon after, or a helper that
	// outlived the browser would hold the test until the package's timeout.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(browser), strings.Join(args, " "), err, apptest.LastBytes(stderr.String(), 2000))
	}
	return stdout.Bytes()
}

// TestStatusPageInBrowser loads serve's status page in headless Chromium
// after real traffic and checks what a person would read on it.
func TestStatusPageInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	t.Parallel()
	browser := findChromium()
	if browser == "" {
		t.Skip("no headless browser found: install Chromium (Debian: apt-get install -y chromium) or set JIRADUCK_CHROMIUM")
	}
	// A tiny attachment limit, so one attachment is stored and one skipped.
	live := apptest.StartLiveSite(t, 16, nil, map[string]string{"JIRADUCK_ATTACHMENT_MAX_BYTES": "1024"})
	em := live.Emulator
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	keys := em.Keys()
	if len(keys) < 6 {
		t.Fatalf("the generated site has %d issues, want at least 6", len(keys))
	}
	for i, k := range keys[:4] {
		must(em.Update(k, func(is *emulator.Issue) { is.Summary = fmt.Sprintf("edited for the status page %d", i) }))
	}
	_, err := em.AddComment(keys[1], emulator.Comment{Body: emulator.Text("a comment <b>with markup</b> & an ampersand")})
	must(err)
	_, err = em.AddAttachment(keys[2], emulator.Attachment{Filename: "small.txt", MimeType: "text/plain", Size: 100}, nil)
	must(err)
	_, err = em.AddAttachment(keys[3], emulator.Attachment{Filename: "big.bin", MimeType: "application/octet-stream", Size: 4096}, nil)
	must(err)
	_, err = em.AddLink(keys[4], keys[5], "Blocks")
	must(err)
	_, err = em.Create("SUP", func(is *emulator.Issue) { is.Summary = "created for the status page" })
	must(err)
	live.Settle(t)

	// What the page must say, read from the store behind it.
	ctx := context.Background()
	st := live.Service.Store()
	issues, err := st.IssueCounts(ctx)
	must(err)
	counts, err := st.EventCounts(ctx)
	must(err)
	var events int64
	for _, n := range counts {
		events += n
	}
	parts, err := st.Partitions(ctx)
	must(err)
	if issues.Live == 0 || events == 0 || len(parts) == 0 {
		t.Fatalf("nothing to show: %d issues, %d events, %d partitions", issues.Live, events, len(parts))
	}
	att, err := st.AttachmentCounts(ctx)
	must(err)

	url := "http://" + live.Service.Addr() + "/"
	dom := string(chromium(t, browser, url, "--dump-dom"))
	shot := filepath.Join(t.TempDir(), "status.png")
	chromium(t, browser, url, "--screenshot="+shot, "--window-size=1366,2200", "--hide-scrollbars")
	png, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 10_000 {
		t.Errorf("screenshot: got %d bytes that are not a plausible PNG", len(png))
	}
	if dir := os.Getenv("JIRADUCK_SCREENSHOT_DIR"); dir != "" {
		must(os.MkdirAll(dir, 0o755))
		must(os.WriteFile(filepath.Join(dir, "status-page.png"), png, 0o644))
		t.Logf("screenshot written to %s", filepath.Join(dir, "status-page.png"))
	}

	for _, tc := range []struct{ name, want string }{
		{"title", "<title>jiraduck · ok</title>"},
		{"queue depth", fmt.Sprintf(`id="queue-depth">%d<`, live.Service.Queue().Depth())},
		{"issues stored", fmt.Sprintf(`id="issues-stored">%d<`, issues.Live)},
		{"event count", fmt.Sprintf(`id="events-total">%d<`, events)},
		{"events done", fmt.Sprintf(`id="state-done">done %d<`, counts[store.EventDone])},
		{"no failed events", `id="events-failed">0<`},
		{"partition month", fmt.Sprintf(`<td class="nowrap">%s</td>`, parts[0].Month)},
		{"attachments stored", fmt.Sprintf(`id="attachments-stored">%d `, att.Stored)},
		{"attachments skipped", fmt.Sprintf(`id="attachments-skipped">%d<`, att.Skipped)},
		{"webhook secret set", `<th scope="row">Webhook secret</th><td class="ok">set</td>`},
		{"an event of the traffic", "jira:issue_created"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(dom, tc.want) {
				t.Errorf("rendered page lacks %s", tc.want)
			}
		})
	}
	if att.Stored == 0 || att.Skipped == 0 {
		t.Errorf("attachments: got %+v, want some stored and some skipped", att)
	}
	for _, bad := range []string{"Could not read", "Some sections could not be read", app.SiteToken, app.SiteSecret, app.SiteAdmin} {
		if strings.Contains(dom, bad) {
			t.Errorf("rendered page contains %q", bad)
		}
	}
}
