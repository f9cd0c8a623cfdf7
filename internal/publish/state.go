package publish

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/jiraduck/jiraduck/internal/files"
)

// The backlog is the difference between two files of the data directory:
// parquet/jira/manifest.json, which the exporter rewrites atomically after
// every pass (and repairs at start from the store's record of published
// partitions), and publish/state.json, the record of what the bucket holds,
// rewritten atomically after every upload and delete. Both survive a crash,
// a restart and an outage of any length, so the backlog does too; neither
// is in the store, so the publish command reads them while serve holds it.

// StateDir is the publisher's folder in the data directory.
func StateDir(dataDir string) string { return filepath.Join(dataDir, "publish") }

func statePath(dataDir string) string { return filepath.Join(StateDir(dataDir), "state.json") }

// object is one file as the bucket holds it.
type object struct {
	SHA256     string    `json:"sha256"`
	Bytes      int64     `json:"bytes"`
	UploadedAt time.Time `json:"uploaded_at"`
	// Foreign marks a file found by listing the bucket that no record
	// says this server uploaded: another server's under the same site
	// name, or this site's before a reinstall. It is overwritten when the
	// tree has a file of its path, and never deleted: a mistaken site
	// name or a new, still empty data directory must not empty the
	// bucket's folder.
	Foreign bool `json:"foreign,omitempty"`
}

// state is publish/state.json.
type state struct {
	// Destination is the bucket, endpoint and folder the record is of: a
	// record of another destination says nothing of this one.
	Destination string `json:"destination"`
	// Objects are the files the bucket holds, by path under the site's
	// jira/ folder.
	Objects map[string]object `json:"objects"`
	// PendingSince is when each file of the backlog was first seen there,
	// by path: what the backlog's age is measured from.
	PendingSince map[string]time.Time `json:"pending_since"`
	LastUpload   time.Time            `json:"last_upload_at,omitzero"`
	// unknown says there is no record of this destination (none at all,
	// or one of another): what the bucket holds is to be listed.
	unknown bool
}

func loadState(dataDir, destination string) (*state, error) {
	st := &state{Destination: destination, Objects: map[string]object{}, PendingSince: map[string]time.Time{}, unknown: true}
	b, err := os.ReadFile(statePath(dataDir))
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read publish state: %w", err)
	}
	var got state
	if err := json.Unmarshal(b, &got); err != nil {
		// Written atomically, so only a hand edit breaks it: the bucket's
		// listing (publish --all) rebuilds it.
		return nil, fmt.Errorf("read publish state %s: %w (run jiraduck publish --all to rebuild it from the bucket)", statePath(dataDir), err)
	}
	if got.Destination != destination {
		st.LastUpload = got.LastUpload
		return st, nil
	}
	if got.Objects == nil {
		got.Objects = map[string]object{}
	}
	if got.PendingSince == nil {
		got.PendingSince = map[string]time.Time{}
	}
	return &got, nil
}

func (st *state) save(dataDir string) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := files.WriteAtomic(statePath(dataDir), append(b, '\n')); err != nil {
		return fmt.Errorf("write publish state: %w", err)
	}
	return nil
}

// Plan is what a pass has to do to make the bucket hold the local tree.
type Plan struct {
	// Uploads are the files whose remote copy is missing or differs.
	Uploads []File
	// Manifest is whether manifest.json is to be uploaded, after them.
	Manifest      bool
	ManifestBytes int64
	// Deletes are the files the bucket holds and the manifest no longer
	// lists, removed after the manifest.
	Deletes []string
	// Foreign are the files the bucket holds, the manifest does not list
	// and this server did not upload: left alone (see object.Foreign).
	Foreign []string
}

// Files is how many files the plan uploads or deletes, the manifest
// included.
func (p Plan) Files() int {
	n := len(p.Uploads) + len(p.Deletes)
	if p.Manifest {
		n++
	}
	return n
}

// Bytes is how many bytes the plan uploads.
func (p Plan) Bytes() int64 {
	n := p.ManifestBytes
	for _, f := range p.Uploads {
		n += f.Bytes
	}
	return n
}

// plan compares the local tree with the record of the bucket.
func plan(t *tree, remote map[string]object) Plan {
	var p Plan
	for _, f := range t.files {
		if remote[f.Rel].SHA256 != f.SHA256 {
			p.Uploads = append(p.Uploads, f)
		}
	}
	sort.Slice(p.Uploads, func(i, j int) bool { return p.Uploads[i].Rel < p.Uploads[j].Rel })
	for rel, obj := range remote {
		if _, listed := t.files[rel]; listed || rel == ManifestName {
			continue
		}
		if obj.Foreign {
			p.Foreign = append(p.Foreign, rel)
		} else {
			p.Deletes = append(p.Deletes, rel)
		}
	}
	sort.Strings(p.Deletes)
	sort.Strings(p.Foreign)
	if remote[ManifestName].SHA256 != t.manifestSHA {
		p.Manifest, p.ManifestBytes = true, int64(len(t.manifest))
	}
	return p
}

// notePending records since when each item of p is pending and forgets the
// items that no longer are; it returns the oldest.
func (st *state) notePending(p Plan, t *tree, now time.Time) time.Time {
	keep := map[string]time.Time{}
	add := func(rel string, written time.Time) {
		since, ok := st.PendingSince[rel]
		if !ok {
			since = now
			// A file written before this process saw it (a backlog left by
			// a crash) has been pending since it was written.
			if !written.IsZero() && written.Before(now) {
				since = written
			}
		}
		keep[rel] = since
	}
	for _, f := range p.Uploads {
		add(f.Rel, f.WrittenAt)
	}
	for _, rel := range p.Deletes {
		add(rel, time.Time{})
	}
	if p.Manifest {
		add(ManifestName, time.Time{})
	}
	st.PendingSince = keep
	var oldest time.Time
	for _, since := range keep {
		if oldest.IsZero() || since.Before(oldest) {
			oldest = since
		}
	}
	return oldest
}
