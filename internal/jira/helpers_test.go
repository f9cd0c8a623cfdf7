package jira

import (
	"os"
	"path/filepath"
	"testing"
)

// fixtureDir holds the captured Jira payloads shared by the whole project.
const fixtureDir = "../../../shared/jira-fixtures"

// fixture returns the bytes of a fixture file, skipping the test when the
// fixtures are not checked out.
func fixture(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, filepath.FromSlash(rel)))
	if os.IsNotExist(err) {
		t.Skipf("fixture %s not present", rel)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// requireFixtures skips the test when the fixture directory is absent.
func requireFixtures(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(fixtureDir); err != nil {
		t.Skipf("fixtures not present: %v", err)
	}
}
