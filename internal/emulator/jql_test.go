package emulator

import (
	"testing"
	"time"
)

func TestParseJQL(t *testing.T) {
	now := time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		jql     string
		clauses int
		orders  []order
	}{
		{"", 0, []order{{orderKey, true}}},
		{"ORDER BY created ASC", 0, []order{{orderCreated, false}}},
		{"project = SUP", 1, []order{{orderKey, true}}},
		{"project in (SUP, 'OPS') AND updated >= 1700000000000 order by updated desc, key", 2, []order{{orderUpdated, true}, {orderKey, false}}},
		{`key in ("SUP-1",OPS-2) and id = 10001 AND created < -2h`, 3, []order{{orderKey, true}}},
		{"project not in (SUP) ORDER BY id", 1, []order{{orderID, false}}},
	}
	for _, tc := range cases {
		q, err := parseJQL(tc.jql, now)
		if err != nil {
			t.Errorf("%q: %v", tc.jql, err)
			continue
		}
		if len(q.clauses) != tc.clauses || len(q.orders) != len(tc.orders) {
			t.Errorf("%q: got %d clauses and orders %v", tc.jql, len(q.clauses), q.orders)
			continue
		}
		for i := range tc.orders {
			if q.orders[i] != tc.orders[i] {
				t.Errorf("%q: order %d is %v, want %v", tc.jql, i, q.orders[i], tc.orders[i])
			}
		}
	}
	q, _ := parseJQL("created < -2h", now)
	if got := q.clauses[0].millis; got != now.Add(-2*time.Hour).UnixMilli() {
		t.Errorf("relative date: got %d", got)
	}
}

func FuzzParseJQL(f *testing.F) {
	for _, s := range []string{"project = SUP AND updated >= 1 ORDER BY created", `key in ("A-1", B-2)`, "((", "'", "order by"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := parseJQL(s, time.Unix(0, 0))
		if err == nil && len(q.orders) == 0 {
			t.Errorf("%q parsed without an order", s)
		}
	})
}
