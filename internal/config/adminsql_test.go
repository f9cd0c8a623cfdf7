package config

import (
	"strings"
	"testing"
)

func TestAdminSQLMaxBytes(t *testing.T) {
	cases := []struct {
		name    string
		value   string
		want    int64
		wantErr bool
	}{
		{"default", "", 64 << 20, false},
		{"set", "1048576", 1 << 20, false},
		{"smallest", "1024", 1024, false},
		{"too small", "1023", 0, true},
		{"zero", "0", 0, true},
		{"negative", "-1", 0, true},
		{"with a unit", "64MB", 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vars := map[string]string{}
			if tc.value != "" {
				vars["JIRADUCK_ADMIN_SQL_MAX_BYTES"] = tc.value
			}
			c, err := FromMap(vars)
			if tc.wantErr {
				if err == nil || !strings.HasPrefix(err.Error(), "JIRADUCK_ADMIN_SQL_MAX_BYTES: ") {
					t.Fatalf("got %v, want an error naming JIRADUCK_ADMIN_SQL_MAX_BYTES", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.AdminSQLMaxBytes != tc.want {
				t.Errorf("got %d, want %d", c.AdminSQLMaxBytes, tc.want)
			}
		})
	}
}
