package emulator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/jira"
	jiraclient "github.com/jiraduck/jiraduck/internal/jira/client"
)

// These tests drive the emulator with jiraduck's own Jira client, the way
// serve, backfill and the SLA poll will.

func newClient(t *testing.T, base string, sla bool) *jiraclient.Client {
	t.Helper()
	opts := jiraclient.Options{BaseURL: base, CloudAPIURL: base, Email: testEmail, APIToken: testToken,
		MaxAttempts: 4, BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, MaxRetryWait: 10 * time.Millisecond}
	if sla {
		opts.SLAEmail, opts.SLAAPIToken = testSLAEmail, testSLAToken
	}
	c, err := jiraclient.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientFetchesWholeIssues(t *testing.T) {
	e, c := newEmu(t, Options{Issues: 60, Seed: 9, SLAEmail: testSLAEmail, SLAAPIToken: testSLAToken})
	jc := newClient(t, c.base, true)
	ctx := context.Background()
	for _, pick := range []func(*Issue) bool{
		func(is *Issue) bool { return len(is.Comments) == 150 },
		func(is *Issue) bool { return len(is.Histories) > 100 },
		func(is *Issue) bool { return is.Project == "SUP" && len(is.SLA) == 2 },
	} {
		key := findIssue(t, e, pick)
		want, _ := e.Issue(key)
		b, err := jc.FetchIssue(ctx, key, jiraclient.FetchOptions{SLAFieldIDs: []string{FieldTimeToResolution, FieldTimeToFirstResp}})
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if !b.Complete() {
			t.Errorf("%s: bundle not complete: %+v %+v", key, b.State, b.Errors)
		}
		if len(b.Comments) != len(want.Comments) || len(b.Histories) != len(want.Histories) || len(b.RemoteLinks) != len(want.RemoteLinks) {
			t.Errorf("%s: bundle has %d comments, %d histories, %d remote links; want %d, %d, %d", key,
				len(b.Comments), len(b.Histories), len(b.RemoteLinks), len(want.Comments), len(want.Histories), len(want.RemoteLinks))
		}
		is, _, _, _, err := b.Decode()
		if err != nil {
			t.Fatal(err)
		}
		raw, ok := is.Fields.Field(FieldTimeToFirstResp)
		if want.Project == "SUP" && len(want.SLA) == 2 {
			v, err := jira.DecodeSLA(raw)
			if !ok || err != nil || v == nil || v.Current() == nil {
				t.Errorf("%s: SLA overlay missing: %s %v", key, raw, err)
			}
		}
	}
}

func TestClientSearchesEverything(t *testing.T) {
	e, c := newEmu(t, Options{Issues: 1200, Seed: 9})
	jc := newClient(t, c.base, false)
	seen := map[string]bool{}
	err := jc.SearchAll(context.Background(), jira.SearchRequest{JQL: "ORDER BY created ASC", Fields: []string{"key", "updated"}, MaxResults: 100}, func(s jira.SearchIssue) error {
		if seen[string(s.ID)] || s.Updated.IsZero() {
			t.Errorf("issue %s twice or without updated", s.ID)
		}
		seen[string(s.ID)] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != len(e.Keys()) {
		t.Errorf("search found %d issues, want %d", len(seen), len(e.Keys()))
	}
}

func TestClientRidesOutFaults(t *testing.T) {
	e, c := newEmu(t, Options{Issues: 30, Seed: 9, Faults: Faults{ErrorRate: 0.2, ThrottleRate: 0.2, RetryAfter: time.Millisecond}})
	jc := newClient(t, c.base, false)
	for _, k := range e.Keys()[:20] {
		if _, _, err := jc.GetIssue(context.Background(), k); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	if st := e.Stats().Faults; st.Errors == 0 || st.Throttled == 0 {
		t.Errorf("no faults injected: %+v", st)
	}
}

func TestClientDownloadsAttachments(t *testing.T) {
	e, c := newEmu(t, Options{Issues: 60, Seed: 9})
	key := findIssue(t, e, func(is *Issue) bool { return len(is.Attachments) > 0 && is.Attachments[0].Size < 1<<20 })
	is, _ := e.Issue(key)
	a := is.Attachments[0]
	jc := newClient(t, c.base, false)
	var buf bytes.Buffer
	n, sum, err := jc.DownloadAttachment(context.Background(), c.base+"/rest/api/3/attachment/content/"+a.ID, &buf, 50<<20)
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(buf.Bytes())
	if n != a.Size || sum != hex.EncodeToString(want[:]) {
		t.Errorf("downloaded %d bytes (sum %s), want %d", n, sum, a.Size)
	}
	// The same bytes through the media URL by hand.
	resp, _ := c.do(http.MethodGet, "/rest/api/3/attachment/content/"+a.ID, nil)
	media, err := http.Get(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	defer media.Body.Close()
	got, _ := io.ReadAll(media.Body)
	if !bytes.Equal(got, buf.Bytes()) {
		t.Error("client and media URL got different bytes")
	}
}
