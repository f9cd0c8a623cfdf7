package app_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/store"
	"github.com/sirupsen/logrus"
)

// compactionFileSize is the size of the file at path.
func compactionFileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// compactionWrittenOnce is the size of the store at path copied into a new
// file: the same data written once, as a rebuild from scratch writes it.
func compactionWrittenOnce(t *testing.T, path string) int64 {
	t.Helper()
	dir := t.TempDir()
	in, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(dir, store.FileName)
	if err := os.WriteFile(copyPath, in, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := store.CompactIfWasteful(context.Background(), copyPath, store.Options{}, true); err != nil {
		t.Fatal(err)
	}
	return compactionFileSize(t, copyPath)
}

// TestServeCompactsAfterStorms: storms that re-fetch the same issues again
// and again leave serve's store larger than the same data written once;
// the next start brings it within 1.3x of that, and nothing is lost.
func TestServeCompactsAfterStorms(t *testing.T) {
	if testing.Short() {
		t.Skip("runs serve through several storms")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	log := logrus.New()
	log.SetOutput(io.Discard)
	dataDir := filepath.Join(t.TempDir(), "data")
	site, err := app.StartSite(ctx, app.SiteOptions{Emulator: emulator.Options{Issues: 300, Seed: 3}, DataDir: dataDir, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer site.Close()
	storm := func(events, issues int) {
		t.Helper()
		if _, err := site.Emulator.Storm(ctx, emulator.StormOptions{Events: events, Issues: issues}); err != nil {
			t.Fatal(err)
		}
		if err := site.Settle(ctx); err != nil {
			t.Fatal(err)
		}
	}
	storm(300, 300)
	for range 8 {
		storm(60, 60)
	}
	var issues int
	if err := site.Service.Store().DB().QueryRowContext(ctx, `SELECT count(*) FROM issues`).Scan(&issues); err != nil {
		t.Fatal(err)
	}
	if err := site.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dataDir, store.FileName)
	stopped, once := compactionFileSize(t, path), compactionWrittenOnce(t, path)
	t.Logf("store after the storms %d bytes, the same data written once %d bytes", stopped, once)
	// The next start of serve (any writer) opens the store this way.
	s, err := app.OpenStore(ctx, site.Config, log, "serve")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	after := compactionFileSize(t, path)
	t.Logf("after the next start %d bytes", after)
	if float64(stopped) <= 1.3*float64(once) {
		t.Logf("the storms left the store within 1.3x; compaction was not needed")
	}
	if got := float64(after) / float64(once); got > 1.3 {
		t.Errorf("store after the next start: got %d bytes, %.2fx the same data written once (%d), want at most 1.3x", after, got, once)
	}
	s, err = store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var stored int
	if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM issues`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != issues || stored != 300 {
		t.Errorf("issues after compaction: got %d, want %d (300 emulated)", stored, issues)
	}
}
