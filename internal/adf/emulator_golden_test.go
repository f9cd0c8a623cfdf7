package adf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/emulator"
)

// TestEmulatorDocumentsGolden renders the rich text the emulator generates
// (descriptions and comments using every node type it knows) and compares
// the text with golden files, so a change of rendering shows as a diff.
func TestEmulatorDocumentsGolden(t *testing.T) {
	frozen := time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)
	em, err := emulator.New(emulator.Options{Issues: 12, Seed: 5, Clock: func() time.Time { return frozen }})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	var b strings.Builder
	for _, key := range em.Keys() {
		is, err := em.Issue(key)
		if err != nil {
			t.Fatal(err)
		}
		docs := []emulator.Doc{is.Description}
		for _, c := range is.Comments {
			docs = append(docs, c.Body)
		}
		for i, d := range docs {
			if d.IsZero() {
				continue
			}
			what := "description"
			if i > 0 {
				what = "comment " + is.Comments[i-1].ID
			}
			b.WriteString("=== " + key + " " + what + "\n")
			b.WriteString(Text(d.JSON()))
			b.WriteString("\n\n")
		}
	}
	path := filepath.Join("testdata", "golden", "emulator_documents.txt")
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if string(want) != b.String() {
		t.Errorf("rendering of the emulator's documents differs from %s (run with -update after checking)", path)
	}
}
