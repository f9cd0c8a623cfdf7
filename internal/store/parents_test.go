package store

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/normalize"
)

// child is sampleRows for an issue whose payload names parentID as its
// parent, under the key parentKey. The payload has the stored bundle's
// shape: the issue as fetched under "issue".
func child(key, id string, created time.Time, parentID, parentKey string) *normalize.Rows {
	r := sampleRows(key, id, created)
	r.Issue.ParentKey = sp(parentKey)
	r.Raw.Payload = []byte(`{"issue":{"id":"` + id + `","key":"` + key + `","fields":{"parent":{"id":"` + parentID + `","key":"` + parentKey + `"}}}}`)
	return r
}

// resolveAll runs one of the store-wide resolutions a rebuild ends with
// (ResolveAllLinks, ResolveAllParents) in a transaction of its own and
// returns the rows it changed.
func resolveAll(t *testing.T, s *Store, resolve func(context.Context, *Tx) (int64, error)) int64 {
	t.Helper()
	var changed int64
	err := s.WithTx(context.Background(), func(tx *Tx) error {
		var err error
		changed, err = resolve(context.Background(), tx)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return changed
}

func parentKeys(t *testing.T, s *Store) map[string]string {
	t.Helper()
	rows, err := s.DB().Query(`SELECT issue_key, coalesce(parent_key, '') FROM issues`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, p string
		if err := rows.Scan(&k, &p); err != nil {
			t.Fatal(err)
		}
		out[k] = p
	}
	return out
}

// TestParentFollowsMove: when a parent moves, its children (in its project
// and in others) show its new key and their partitions are republished,
// though Jira sends nothing for them; other issues are left alone.
func TestParentFollowsMove(t *testing.T) {
	t.Parallel()
	s := migrated(t)
	april := time.Date(2024, 4, 2, 0, 0, 0, 0, time.UTC)
	may := time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC)
	apply(t, s, sampleRows("SUP-1", "100", march))
	apply(t, s, child("SUP-2", "200", april, "100", "SUP-1"))
	apply(t, s, child("OPS-3", "300", april, "100", "SUP-1"))
	apply(t, s, child("SUP-4", "400", may, "900", "SUP-9")) // another parent
	clearDirty(t, s)

	res := apply(t, s, sampleRows("OPS-7", "100", march))
	if res.Moved != "SUP-1" {
		t.Fatalf("moved: got %q, want SUP-1", res.Moved)
	}
	got := parentKeys(t, s)
	want := map[string]string{"OPS-7": "", "SUP-2": "OPS-7", "OPS-3": "OPS-7", "SUP-4": "SUP-9"}
	for k, p := range want {
		if got[k] != p {
			t.Errorf("%s: parent_key %q, want %q (all: %v)", k, got[k], p, got)
		}
	}
	d := dirty(t, s)
	if !slices.Contains(d, "issues@2024-04") {
		t.Errorf("dirty partitions %v: the children's issues@2024-04 is missing", d)
	}
	if slices.Contains(d, "issues@2024-05") {
		t.Errorf("dirty partitions %v: issues@2024-05 holds no child of the moved issue", d)
	}
}

// TestResolveAllParents: after a rebuild, whose payloads may show a
// parent's former key, each child takes the key of the stored issue its
// payload's parent id names; children of parents the store does not hold,
// and those already right, keep theirs.
func TestResolveAllParents(t *testing.T) {
	t.Parallel()
	s := migrated(t)
	apply(t, s, sampleRows("OPS-7", "100", march))                    // moved from SUP-1
	apply(t, s, child("SUP-2", "200", march, "100", "SUP-1"))         // fetched before the move
	apply(t, s, child("SUP-3", "300", march, "100", "OPS-7"))         // fetched after it
	apply(t, s, child("SUP-4", "400", march, "999", "OUT-1"))         // parent outside the store
	apply(t, s, child("SUP-5", "500", march, "100", "SUP-1-INVALID")) // a key no issue has, the id still resolves
	if changed := resolveAll(t, s, ResolveAllParents); changed != 2 {
		t.Errorf("changed: got %d rows, want 2", changed)
	}
	got := parentKeys(t, s)
	want := map[string]string{"OPS-7": "", "SUP-2": "OPS-7", "SUP-3": "OPS-7", "SUP-4": "OUT-1", "SUP-5": "OPS-7"}
	for k, p := range want {
		if got[k] != p {
			t.Errorf("%s: parent_key %q, want %q (all: %v)", k, got[k], p, got)
		}
	}
}
