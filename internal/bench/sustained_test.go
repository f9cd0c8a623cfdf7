package bench

import (
	"fmt"
	"testing"
	"time"
)

// TestSustainedPlan: P8's plan makes about rate x duration events over the
// issues it picks, one for each cold issue, a burst of gap-spaced events
// for each hot one, in time order, with one last event per issue.
func TestSustainedPlan(t *testing.T) {
	t.Parallel()
	keys := make([]string, 10000)
	for i := range keys {
		keys[i] = fmt.Sprint("SUP-", i+1)
	}
	cases := []struct {
		name      string
		load      sustainedLoad
		wantBurst int
	}{
		{"the design's load", sustainedLoad{rate: 50, duration: 5 * time.Minute, issues: 5000, hotShare: 0.2, gap: 500 * time.Millisecond}, 11},
		{"quick", sustainedLoad{rate: 50, duration: 5 * time.Second, issues: 100, hotShare: 0.2, gap: 500 * time.Millisecond}, 8},
		{"more issues than keys", sustainedLoad{rate: 10, duration: 10 * time.Second, issues: 20000, hotShare: 0, gap: time.Second}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plan, burst := sustainedPlan(keys, tc.load, 8)
			if burst != tc.wantBurst {
				t.Errorf("burst: got %d, want %d", burst, tc.wantBurst)
			}
			perKey, last := map[string][]time.Duration{}, map[string]int{}
			for i, e := range plan {
				if i > 0 && e.at < plan[i-1].at {
					t.Fatalf("event %d at %s before event %d at %s", i, e.at, i-1, plan[i-1].at)
				}
				if e.at < 0 || e.at > tc.load.duration {
					t.Fatalf("event %d at %s, outside the run of %s", i, e.at, tc.load.duration)
				}
				perKey[e.key] = append(perKey[e.key], e.at)
				if e.last {
					last[e.key]++
				}
			}
			wantIssues := min(tc.load.issues, len(keys))
			if len(perKey) != wantIssues {
				t.Errorf("issues: got %d, want %d", len(perKey), wantIssues)
			}
			hot := 0
			for k, ats := range perKey {
				if last[k] != 1 {
					t.Errorf("%s: got %d last events, want 1", k, last[k])
				}
				if len(ats) == 1 {
					continue
				}
				hot++
				if len(ats) != burst {
					t.Errorf("%s: got %d events, want a burst of %d", k, len(ats), burst)
				}
				for i := 1; i < len(ats); i++ {
					if d := ats[i] - ats[i-1]; d != tc.load.gap {
						t.Errorf("%s: got %s between events, want %s", k, d, tc.load.gap)
					}
				}
			}
			if want := int(float64(wantIssues) * tc.load.hotShare); hot != want {
				t.Errorf("hot issues: got %d, want %d", hot, want)
			}
			if want := tc.load.rate * tc.load.duration.Seconds(); tc.load.hotShare > 0 && (float64(len(plan)) < 0.9*want || float64(len(plan)) > want) {
				t.Errorf("events: got %d, want about %.0f", len(plan), want)
			}
		})
	}
}
