package app_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/emulator"
)

// TestDataDirModes: jiraduck started with a group-writable umask (0002, as
// on many desktops) creates nothing the analysts' group could change: every
// folder under the data directory is 0750 and every file 0640 (a staging
// file 0600), the store's WAL, the webhook journal, partitions, attachments
// and the snapshot included, while serve runs and after every command.
func TestDataDirModes(t *testing.T) {
	if testing.Short() {
		t.Skip("serve process test skipped in -short mode")
	}
	// The jiraduck processes below inherit it.
	old := syscall.Umask(0o002)
	defer syscall.Umask(old)

	cs := startCrashSite(t, 6, 43, nil)
	if out, errOut, code := runProcess(t, cs.environ, "backfill"); code != 0 {
		t.Fatalf("backfill: code %d\n%s\n%s", code, out, errOut)
	}
	checkModes(t, "after backfill", cs.dir)

	cs.srv.start()
	keys := cs.em.Keys()
	if _, err := cs.em.AddAttachment(keys[0], emulator.Attachment{Filename: "modes.txt"}, []byte("bytes")); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cs.em.WaitWebhooks(wctx); err != nil {
		t.Fatal(err)
	}
	if err := cs.srv.settle(app.SiteAdmin, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	seen := checkModes(t, "while serve runs", cs.dir)
	for _, want := range []string{"jiraduck.duckdb", "jiraduck.duckdb.wal", "webhooks.journal", "parquet/jira/manifest.json"} {
		if !seen[want] {
			t.Errorf("while serve runs: %s not found, want it checked", want)
		}
	}
	cs.srv.stop()

	if out, errOut, code := runProcess(t, cs.environ, "snapshot"); code != 0 {
		t.Fatalf("snapshot: code %d\n%s\n%s", code, out, errOut)
	}
	seen = checkModes(t, "after snapshot", cs.dir)
	if !seen["snapshot/jira.duckdb"] {
		t.Error("after snapshot: snapshot/jira.duckdb not found")
	}
}

// checkModes walks dir and reports every folder that is not 0750 and every
// file with more than 0640; it returns the paths it saw, relative to dir.
func checkModes(t *testing.T, when, dir string) map[string]bool {
	t.Helper()
	seen := map[string]bool{}
	var bad []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		st, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		seen[filepath.ToSlash(rel)] = true
		perm := st.Mode().Perm()
		switch {
		case st.IsDir() && perm != 0o750:
			bad = append(bad, rel+" "+perm.String())
		case st.Mode().IsRegular() && perm|0o640 != 0o640:
			bad = append(bad, rel+" "+perm.String())
		case !st.IsDir() && !st.Mode().IsRegular():
			bad = append(bad, rel+" is a "+st.Mode().Type().String())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("%s: got modes\n%s\nwant folders 0750, files 0640", when, strings.Join(bad, "\n"))
	}
	return seen
}
