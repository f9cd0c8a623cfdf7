package publish

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestReadTree reads the files of manifests of several shapes: partitions,
// tables without months with or without a path, entries that are no file's,
// and refuses entries that would name a file outside the tree.
func TestReadTree(t *testing.T) {
	const sum = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	cases := []struct {
		name     string
		manifest string
		want     []string
		wantErr  string
	}{
		{"partitions", `{"partitions":[{"table":"issues","month":"2024-01","sha256":"` + sum + `"}]}`,
			[]string{"issues/month=2024-01/data.parquet"}, ""},
		{"a table without months, with and without a path",
			`{"partitions":[{"table":"projects","month":null,"sha256":"` + sum + `"}],"tables":[{"table":"users","path":"parquet/jira/users/data.parquet","sha256":"` + sum + `"}]}`,
			[]string{"projects/data.parquet", "users/data.parquet"}, ""},
		{"entries that are no file's", `{"generated_at":"2024-01-01T00:00:00Z","counts":[{"table":"issues","rows":3}],"partitions":[]}`, nil, ""},
		{"a path out of the tree", `{"tables":[{"table":"x","path":"../../etc/passwd.parquet","sha256":"` + sum + `"}]}`, nil, "not a Parquet file inside the tree"},
		{"an absolute path", `{"tables":[{"table":"x","path":"/etc/x.parquet","sha256":"` + sum + `"}]}`, nil, "not a Parquet file inside the tree"},
		{"a bad month", `{"partitions":[{"table":"issues","month":"2024-13","sha256":"` + sum + `"}]}`, nil, "invalid month"},
		{"a bad table", `{"partitions":[{"table":"../x","month":"2024-01","sha256":"` + sum + `"}]}`, nil, "invalid table"},
		{"a bad digest", `{"partitions":[{"table":"issues","month":"2024-01","sha256":"xyz"}]}`, nil, "invalid sha256"},
		{"not JSON", `{"partitions":`, nil, "read manifest"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			if err := os.WriteFile(filepath.Join(root, ManifestName), []byte(c.manifest), 0o640); err != nil {
				t.Fatal(err)
			}
			tr, err := readTree(root)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("got %v, want an error saying %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for rel := range tr.files {
				got = append(got, rel)
			}
			sort.Strings(got)
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := readTree(t.TempDir()); err != errNoManifest {
		t.Errorf("no manifest: got %v, want errNoManifest", err)
	}
}
