package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/jobs"
	"github.com/jiraduck/jiraduck/internal/logx"
)

// roundtripsSite starts a site of n issues on a frozen clock and backfills
// it.
func roundtripsSite(t *testing.T, n int) *app.Site {
	t.Helper()
	if testing.Short() {
		t.Skip("site test skipped in -short mode")
	}
	ctx := context.Background()
	now := time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)
	s, err := app.StartSite(ctx, app.SiteOptions{DataDir: t.TempDir(), Logger: logx.Discard(),
		Emulator: emulator.Options{Issues: n, Seed: 11, Now: now, Clock: func() time.Time { return now }}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func roundtripsSettle(t *testing.T, s *app.Site) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.Settle(ctx); err != nil {
		t.Fatal(err)
	}
}

func roundtripsStored(t *testing.T, s *app.Site, query string, args ...any) int {
	t.Helper()
	var n int
	if err := s.Service.Store().DB().QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRoundTripsThroughServe: a backfill through serve's processor reads
// issues with bulk fetches, not one GET issue each; a webhook then costs
// its issue one GET issue and one remote link call, and pages only the
// lists the issue embedded in part.
func TestRoundTripsThroughServe(t *testing.T) {
	t.Parallel()
	const n = 150
	s := roundtripsSite(t, n)
	ctx := context.Background()
	s.Emulator.ResetStats()
	res, err := jobs.Backfill(ctx, s.Service.Client(), s.Service.Store(), s.Service.Processor(), jobs.BackfillOptions{Parallel: 4})
	if err != nil || res.Fetched != n {
		t.Fatalf("backfill: got %+v, %v; want %d fetched", res, err, n)
	}
	roundtripsSettle(t, s)
	calls := s.Emulator.Stats().Calls
	if calls[emulator.EndpointBulkFetch] != 2 || calls[emulator.EndpointIssue] != 0 || calls[emulator.EndpointRemoteLink] != n {
		t.Errorf("backfill calls: got %d bulk fetches, %d GET issue, %d remote links; want 2, 0, %d",
			calls[emulator.EndpointBulkFetch], calls[emulator.EndpointIssue], calls[emulator.EndpointRemoteLink], n)
	}

	pick := func(ok func(*emulator.Issue) bool) (string, *emulator.Issue) {
		for _, k := range s.Emulator.Keys() {
			if is, err := s.Emulator.Issue(k); err == nil && ok(is) {
				return k, is
			}
		}
		t.Fatal("no issue of the wanted kind")
		return "", nil
	}
	small, _ := pick(func(is *emulator.Issue) bool { return len(is.Comments) < 100 && len(is.Histories) < 90 })
	large, largeIs := pick(func(is *emulator.Issue) bool { return len(is.Comments) > 100 })
	tests := []struct {
		name      string
		key       string
		wantPages int64
	}{
		{"embedded lists are whole", small, 0},
		{"more comments than embedded", large, int64((len(largeIs.Comments) + 99) / 100)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.Emulator.ResetStats()
			summary := "round trips " + tt.key
			if err := s.Emulator.Update(tt.key, func(is *emulator.Issue) { is.Summary = summary }); err != nil {
				t.Fatal(err)
			}
			if err := s.Emulator.WaitWebhooks(ctx); err != nil {
				t.Fatal(err)
			}
			roundtripsSettle(t, s)
			if got := roundtripsStored(t, s, `SELECT count(*) FROM issues WHERE issue_key = ? AND summary = ?`, tt.key, summary); got != 1 {
				t.Fatalf("%s not stored with its new summary", tt.key)
			}
			calls := s.Emulator.Stats().Calls
			pages := calls[emulator.EndpointComment] + calls[emulator.EndpointChangelog]
			if calls[emulator.EndpointIssue] != 1 || calls[emulator.EndpointRemoteLink] != 1 || pages != tt.wantPages {
				t.Errorf("calls: got %d GET issue, %d remote links, %d pages; want 1, 1, %d",
					calls[emulator.EndpointIssue], calls[emulator.EndpointRemoteLink], pages, tt.wantPages)
			}
			is, _ := s.Emulator.Issue(tt.key)
			if got := roundtripsStored(t, s, `SELECT count(*) FROM comments WHERE issue_key = ?`, tt.key); got != len(is.Comments) {
				t.Errorf("comments stored: got %d, want %d", got, len(is.Comments))
			}
		})
	}
}
