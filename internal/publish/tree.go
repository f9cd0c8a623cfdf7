package publish

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// ManifestName is the manifest's name under parquet/jira, locally and in
// the bucket.
const ManifestName = "manifest.json"

// File is one file of the published tree as manifest.json lists it.
type File struct {
	// Rel is its path under parquet/jira, with forward slashes:
	// issues/month=2024-01/data.parquet, projects/data.parquet.
	Rel       string
	SHA256    string
	Bytes     int64
	WrittenAt time.Time
}

// tree is the local published tree at one moment: manifest.json's bytes and
// the files it lists.
type tree struct {
	manifest    []byte
	manifestSHA string
	files       map[string]File
}

// errNoManifest means nothing is published locally yet.
var errNoManifest = errors.New("nothing is published locally yet")

var (
	tablePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	monthPattern = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`)
)

// manifestEntry is what the publisher reads of a manifest's entry: enough to
// name its file and know its content. Partitions have a month; the tables
// that are not partitioned have none, or name their file in path.
type manifestEntry struct {
	Table     string    `json:"table"`
	Month     string    `json:"month"`
	Path      string    `json:"path"`
	Bytes     int64     `json:"bytes"`
	SHA256    string    `json:"sha256"`
	WrittenAt time.Time `json:"written_at"`
}

// readTree reads root/manifest.json and the files it lists. Every list of
// entries in the manifest counts (partitions, and whatever list the tables
// without months are given), not a list of tables known here: what the
// exporter lists is what the bucket gets.
func readTree(root string) (*tree, error) {
	b, err := os.ReadFile(filepath.Join(root, ManifestName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, errNoManifest
	}
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", filepath.Join(root, ManifestName), err)
	}
	sum := sha256.Sum256(b)
	t := &tree{manifest: b, manifestSHA: hex.EncodeToString(sum[:]), files: map[string]File{}}
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var entries []manifestEntry
		if json.Unmarshal(doc[k], &entries) != nil {
			continue // not a list of entries (generated_at, ...)
		}
		for _, e := range entries {
			if (e.Table == "" && e.Path == "") || e.SHA256 == "" {
				continue // not a file's entry (a summary, say)
			}
			rel, err := e.rel()
			if err != nil {
				return nil, fmt.Errorf("read manifest: %s: %w", k, err)
			}
			if !shaPattern.MatchString(e.SHA256) {
				return nil, fmt.Errorf("read manifest: %s: %s has an invalid sha256 %q", k, rel, e.SHA256)
			}
			t.files[rel] = File{Rel: rel, SHA256: e.SHA256, Bytes: e.Bytes, WrittenAt: e.WrittenAt}
		}
	}
	return t, nil
}

var shaPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// rel is the entry's path under parquet/jira, checked so that it names a
// file inside the tree and a key inside the site's folder.
func (e manifestEntry) rel() (string, error) {
	if e.Path != "" {
		p := strings.TrimPrefix(filepath.ToSlash(e.Path), "parquet/jira/")
		clean := path.Clean(p)
		if clean != p || path.IsAbs(p) || strings.HasPrefix(p, "../") || p == ".." || p == ManifestName || !strings.HasSuffix(p, ".parquet") {
			return "", fmt.Errorf("path %q is not a Parquet file inside the tree", e.Path)
		}
		return p, nil
	}
	if !tablePattern.MatchString(e.Table) {
		return "", fmt.Errorf("invalid table %q", e.Table)
	}
	if e.Month == "" {
		return e.Table + "/data.parquet", nil
	}
	if !monthPattern.MatchString(e.Month) {
		return "", fmt.Errorf("%s: invalid month %q", e.Table, e.Month)
	}
	return e.Table + "/month=" + e.Month + "/data.parquet", nil
}

// openVerified opens the file at p and checks that its content has the
// given digest. The file stays open: the exporter replaces a file by
// renaming another onto it, never by writing into it, so the bytes behind
// the handle are the ones checked, whatever the exporter does meanwhile.
// ok is false when the file changed or went since the manifest was read.
func openVerified(p, sum string) (f *os.File, size int64, ok bool, err error) {
	f, err = os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, false, nil
	}
	if err != nil {
		return nil, 0, false, err
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		f.Close()
		return nil, 0, false, fmt.Errorf("read %s: %w", p, err)
	}
	if hex.EncodeToString(h.Sum(nil)) != sum {
		f.Close()
		return nil, 0, false, nil
	}
	return f, n, true, nil
}
