package normalize

import (
	"encoding/json"
	"sort"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/jira"
)

// benchOpts are the options serve derives for the emulated site.
var benchOpts = Options{
	BrowseBase: "https://acme.atlassian.net",
	SLAFields:  map[string]string{emulator.FieldTimeToFirstResp: "first_response", emulator.FieldTimeToResolution: "time_to_resolution"},
	SLANames:   []string{"first_response", "time_to_resolution"},
}

// emulatedBundles fetches, as FetchIssue would, every issue of an emulated
// site of n issues, ordered by payload size.
func emulatedBundles(b *testing.B, n int) []*jira.Bundle {
	b.Helper()
	em, err := emulator.New(emulator.Options{Issues: n, Seed: 5})
	if err != nil {
		b.Fatal(err)
	}
	defer em.Close()
	var out []*jira.Bundle
	for _, key := range em.Keys() {
		st, err := em.State(key)
		if err != nil {
			b.Fatal(err)
		}
		var links []json.RawMessage
		if err := json.Unmarshal(st.RemoteLinks, &links); err != nil {
			b.Fatal(err)
		}
		out = append(out, &jira.Bundle{Issue: st.Issue, Comments: st.Comments, Histories: st.Changelog, RemoteLinks: links,
			State: jira.BundleState{Comments: jira.StateComplete, Changelog: jira.StateComplete, RemoteLinks: jira.StateComplete,
				SLA: jira.StateComplete}, FetchedAt: time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)})
	}
	sort.Slice(out, func(i, j int) bool { return bundleSize(out[i]) < bundleSize(out[j]) })
	return out
}

func bundleSize(b *jira.Bundle) int {
	n := len(b.Issue)
	for _, c := range b.Comments {
		n += len(c)
	}
	for _, h := range b.Histories {
		n += len(h)
	}
	return n
}

// BenchmarkFromBundle normalizes one fetched issue into the rows of every
// table: the median issue of an emulated site, and its largest.
func BenchmarkFromBundle(b *testing.B) {
	bundles := emulatedBundles(b, 500)
	for _, c := range []struct {
		name string
		b    *jira.Bundle
	}{{"median", bundles[len(bundles)/2]}, {"largest", bundles[len(bundles)-1]}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(bundleSize(c.b)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := FromBundle(c.b, benchOpts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFromStored is rebuild's work on one issue: decode the stored
// payload and normalize it: the median issue of an emulated site, and its
// largest.
func BenchmarkFromStored(b *testing.B) {
	bundles := emulatedBundles(b, 500)
	opts := benchOpts
	opts.Stored = true
	for _, c := range []struct {
		name string
		b    *jira.Bundle
	}{{"median", bundles[len(bundles)/2]}, {"largest", bundles[len(bundles)-1]}} {
		payload, err := c.b.Encode()
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				stored, err := jira.DecodeBundle(payload)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := FromBundle(stored, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
