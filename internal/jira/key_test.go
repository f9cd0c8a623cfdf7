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
