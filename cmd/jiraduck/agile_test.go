package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/app/apptest"
)

// TestEmulatorWithoutProducts: --without-software and
// --without-service-management start a site whose agile or service desk API
// answers 404, as a site without the product does.
func TestEmulatorWithoutProducts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		flags []string
		want  map[string]int
	}{
		{"both products", nil, map[string]int{"/rest/agile/1.0/board": 200, "/rest/servicedeskapi/organization": 200}},
		{"without software", []string{"--without-software"},
			map[string]int{"/rest/agile/1.0/board": 404, "/rest/servicedeskapi/organization": 200}},
		{"without service management", []string{"--without-service-management"},
			map[string]int{"/rest/agile/1.0/board": 200, "/rest/servicedeskapi/servicedesk": 404}},
	}
	started := regexp.MustCompile(`jira emulator on (http://\S+)`)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			var out apptest.LockedBuffer
			e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: io.Discard}
			done := make(chan error, 1)
			args := append([]string{"emulator", "--listen", "127.0.0.1:0", "--issues", "5"}, tc.flags...)
			go func() { done <- run(ctx, args, e) }()
			var base string
			apptest.WaitFor(t, time.Minute, func() error {
				m := started.FindStringSubmatch(out.String())
				if m == nil {
					return fmt.Errorf("the emulator did not start: %q", out.String())
				}
				base = m[1]
				return nil
			})
			for path, want := range tc.want {
				resp, err := http.Get(base + path)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != want {
					t.Errorf("GET %s: got %d, want %d", path, resp.StatusCode, want)
				}
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("got %v, want the emulator to start and stop", err)
			}
		})
	}
}
