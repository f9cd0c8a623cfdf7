package emulator

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func benchSite(b *testing.B, issues int) *Emulator {
	b.Helper()
	e, err := New(Options{Issues: issues, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	return e
}

func BenchmarkNew10k(b *testing.B) {
	for b.Loop() {
		e, err := New(Options{Issues: 10000, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		e.Close()
	}
}

func BenchmarkGetIssue(b *testing.B) {
	e := benchSite(b, 10000)
	keys := e.Keys()
	h := e.Handler()
	i := 0
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, "/rest/api/3/issue/"+keys[i%len(keys)]+"?fields=*all&expand=renderedFields,changelog", nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
		i++
	}
}

func BenchmarkSearchPage(b *testing.B) {
	e := benchSite(b, 100000)
	h := e.Handler()
	for _, jql := range []string{"ORDER BY created ASC", "ORDER BY updated DESC"} {
		b.Run(jql, func(b *testing.B) {
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/rest/api/3/search/jql", strings.NewReader(`{"jql":"`+jql+`","fields":["key","updated"],"maxResults":100}`))
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatal(rec.Code)
				}
			}
		})
	}
}

func BenchmarkStorm(b *testing.B) {
	e := benchSite(b, 10000)
	for b.Loop() {
		if _, err := e.Storm(context.Background(), StormOptions{Events: 100, Issues: 50}); err != nil {
			b.Fatal(err)
		}
	}
}
