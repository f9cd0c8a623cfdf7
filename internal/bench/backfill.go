package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/jiraduck/jiraduck/internal/emulator"
)

// P4 counts the Jira calls of its backfill by endpoint, and measures the
// backfill rate once more against a Jira that answers every call in
// backfillLatency: on loopback Jira answers at once, which hides how many
// round trips an issue costs.

// backfillLatency is how long the emulated Jira takes to answer each call
// in the second P4 measure.
const backfillLatency = 100 * time.Millisecond

// issueLevelEndpoints are the emulator's endpoints that read an issue or
// pages of its lists. Remote links (Jira has no bulk endpoint for them),
// attachment bytes, enumeration (search) and field metadata are counted
// apart.
var issueLevelEndpoints = []string{emulator.EndpointIssue, emulator.EndpointBulkFetch,
	emulator.EndpointComment, emulator.EndpointChangelog}

// reportBackfillCalls reports a backfill's Jira calls per issue fetched:
// the issue-level ones against P4's target, and each endpoint apart.
func (b *bench) reportBackfillCalls(calls map[string]int64, fetched int) {
	per := func(n int64) float64 { return float64(n) / float64(max(fetched, 1)) }
	var issueLevel int64
	for _, e := range issueLevelEndpoints {
		issueLevel += calls[e]
	}
	b.rep.add("P4", "issue-level Jira calls per issue (remote links, attachments, search apart)", "", goalAtMost, 1.05, per(issueLevel))
	names := make([]string, 0, len(calls))
	for e, n := range calls {
		if n > 0 {
			names = append(names, e)
		}
	}
	slices.Sort(names)
	for _, e := range names {
		b.rep.info("P4", "Jira calls per issue: "+e, "", per(calls[e]))
	}
}

// backfillAtLatency backfills a site of sz.slowSite issues (a fiftieth of
// the large store's size, at least 100, at most 2,000; 40 with --quick)
// with Jira answering every call in backfillLatency, and reports the rate.
func (b *bench) backfillAtLatency(ctx context.Context) error {
	n := b.sz.slowSite
	em, err := emulator.New(b.emulatorOptions(n))
	if err != nil {
		return err
	}
	defer em.Close()
	url, err := em.Start(ctx, "127.0.0.1:0")
	if err != nil {
		return err
	}
	if err := em.SetFaults(emulator.Faults{Latency: backfillLatency}); err != nil {
		return err
	}
	target := filepath.Join(b.dir, fmt.Sprintf("latency-%d", n))
	if err := os.RemoveAll(target); err != nil {
		return err
	}
	defer os.RemoveAll(target)
	b.progress("P4: jiraduck backfill of %d issues, Jira answering in %s", n, backfillLatency)
	c, err := startChild("backfill", b.dir, jiraVars(url, target), b.profile("P4-backfill-latency"), b.o.RSSCap, "backfill")
	if err != nil {
		return err
	}
	if err := c.wait(ctx); err != nil {
		return err
	}
	m := backfillLine.FindStringSubmatch(c.stdout.String())
	if m == nil {
		return fmt.Errorf("P4: unexpected backfill output %q", tailText(c.stdout.String(), 500))
	}
	fetched, _ := strconv.Atoi(m[1])
	if fetched != n {
		return fmt.Errorf("P4: the backfill at %s fetched %d issues, want %d", backfillLatency, fetched, n)
	}
	rate := float64(fetched) / c.took.Seconds()
	b.rep.info("P4", fmt.Sprintf("issues per second, Jira at %d ms a call (%d issues)", backfillLatency.Milliseconds(), n), "/s", rate)
	b.recordLoad("P4")
	b.progress("P4: %d issues in %s at %s a call (%.1f issues/s)", n, c.took.Round(time.Millisecond), backfillLatency, rate)
	return nil
}
