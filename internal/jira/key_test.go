package jira

import (
	"regexp"
	"strings"
	"testing"
)

var keyPattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,31}-[1-9][0-9]{0,11}$`)

func TestValidKey(t *testing.T) {
	tests := []struct {
		key  string
		want bool
	}{
		{"SUP-12", true},
		{"A-1", true},
		{"TES_2-999999999999", true},
		{"A" + strings.Repeat("B", 31) + "-1", true},
		{"A" + strings.Repeat("B", 32) + "-1", false},
		{"SUP-1234567890123", false},
		{"", false},
		{"SUP", false},
		{"SUP-", false},
		{"-12", false},
		{"sup-12", false},
		{"1SUP-12", false},
		{"_SUP-12", false},
		{"SUP-0", false},
		{"SUP-012", false},
		{"SUP-12 ", false},
		{" SUP-12", false},
		{"SUP-12\n", false},
		{"SUP-1\x002", false},
		{"SUP-12/../X-1", false},
		{"../SUP-12", false},
		{"SUP-١٢", false}, // Arabic-Indic digits
		{"SUP-１２", false}, // full-width digits
		{"SÜP-12", false},
		{"SUP-12-3", false},
		{"SUP--12", false},
	}
	for _, tt := range tests {
		if got := ValidKey(tt.key); got != tt.want {
			t.Errorf("ValidKey(%q): got %v, want %v", tt.key, got, tt.want)
		}
		if got := keyPattern.MatchString(tt.key); got != tt.want {
			t.Errorf("pattern disagrees on %q", tt.key)
		}
	}
}

// TestValidKeyOrID: the two forms /issue/{issueIdOrKey} accepts, a key or a
// numeric id, and nothing that could change a URL path.
func TestValidKeyOrID(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"key", "SUP-12", true},
		{"numeric id", "10040", true},
		{"largest int64 width", "9223372036854775807", true},
		{"id over 19 digits", "12345678901234567890", false},
		{"id with a leading zero", "010040", false},
		{"negative id", "-10040", false},
		{"empty", "", false},
		{"lower-case key", "sup-12", false},
		{"path", "../10040", false},
		{"query", "10040?x=1", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ValidKeyOrID(tc.in); got != tc.want {
				t.Errorf("ValidKeyOrID(%q): got %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func FuzzValidKey(f *testing.F) {
	for _, s := range []string{"SUP-12", "TES-41", "GOLD-189", "A-1", "sup-1", "SUP-0", "SUP-12\n", "../X-1", "SUP-١٢", "A_B-999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// The regexp's $ does not match before a trailing newline in Go, so
		// it is an exact reference.
		want := keyPattern.MatchString(s)
		if got := ValidKey(s); got != want {
			t.Fatalf("ValidKey(%q): got %v, want %v", s, got, want)
		}
	})
}
