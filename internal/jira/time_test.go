package jira

import (
	"encoding/json"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2023-03-01T11:34:49.730+0200", time.Date(2023, 3, 1, 9, 34, 49, 730e6, time.UTC)},
		{"2023-03-01T11:34:49+0200", time.Date(2023, 3, 1, 9, 34, 49, 0, time.UTC)},
		{"2023-03-01T11:34:49.730Z", time.Date(2023, 3, 1, 11, 34, 49, 730e6, time.UTC)},
		{"2023-03-01T11:34:49Z", time.Date(2023, 3, 1, 11, 34, 49, 0, time.UTC)},
		{"2023-03-01T11:34:49.730+02:00", time.Date(2023, 3, 1, 9, 34, 49, 730e6, time.UTC)},
		{"2025-10-15T09:55:04.062+0330", time.Date(2025, 10, 15, 6, 25, 4, 62e6, time.UTC)},
		{"2021-01-17T12:34:00.000+0000", time.Date(2021, 1, 17, 12, 34, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTime(tt.in)
			if err != nil {
				t.Fatalf("ParseTime: %v", err)
			}
			if !got.Equal(tt.want) || got.Location() != time.UTC {
				t.Errorf("got %v, want %v in UTC", got, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "yesterday", "2023-03-01", "2023-03-01 11:34:49", "Today 12:51 AM"} {
		if _, err := ParseTime(bad); err == nil {
			t.Errorf("ParseTime(%q): got no error", bad)
		}
	}
}

func TestFormatTime(t *testing.T) {
	in := time.Date(2023, 3, 1, 11, 34, 49, 730e6, time.FixedZone("x", 2*3600))
	if got, want := FormatTime(in), "2023-03-01T09:34:49.730+0000"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	back, err := ParseTime(FormatTime(in))
	if err != nil || !back.Equal(in) {
		t.Errorf("round trip: got %v, %v", back, err)
	}
}

func TestTimeJSON(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
	}{
		{`null`, time.Time{}},
		{`""`, time.Time{}},
		{`"2023-03-01T11:34:49.730+0200"`, time.Date(2023, 3, 1, 9, 34, 49, 730e6, time.UTC)},
		// Epoch milliseconds, as some documented payloads carry them.
		{`1492070429`, time.UnixMilli(1492070429).UTC()},
	}
	for _, tt := range tests {
		var v struct {
			T Time `json:"t"`
		}
		if err := json.Unmarshal([]byte(`{"t":`+tt.in+`}`), &v); err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		if !v.T.Equal(tt.want) {
			t.Errorf("%s: got %v, want %v", tt.in, v.T.Time, tt.want)
		}
	}
	var v Time
	for _, bad := range []string{`"soon"`, `true`, `{}`, `1.5`} {
		if err := json.Unmarshal([]byte(bad), &v); err == nil {
			t.Errorf("%s: got no error", bad)
		}
	}
	b, err := json.Marshal(struct {
		A Time `json:"a"`
		B Time `json:"b"`
	}{A: Time{time.Date(2024, 2, 29, 23, 0, 0, 5e6, time.UTC)}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"a":"2024-02-29T23:00:00.005+0000","b":null}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
