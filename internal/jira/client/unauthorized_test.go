package client

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jiraduck/jiraduck/internal/jira"
)

// TestUnauthorizedNamesSettings: a 401 says which settings hold the
// credentials Jira refused, and shows neither the token nor the header; a
// 401 from a host that got no credentials names none.
func TestUnauthorizedNamesSettings(t *testing.T) {
	body := fixture(t, "errors/401_client_must_be_authenticated__real.json")
	var mediaURL string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/rest/api/3/attachment/content/10000":
			http.Redirect(w, r, mediaURL+"/file/abc/binary?token=media-tok-41", http.StatusSeeOther)
			return
		case r.URL.Path == "/_edge/tenant_info":
		case r.Header.Get("Authorization") == "":
			http.Error(w, "no credentials reached the site", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	media := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":{"code":"Unauthorized","title":"Missing or expired token"}}`))
	}))
	defer media.Close()
	mediaURL = media.URL

	withSLA := func(o *Options) {
		o.CloudAPIURL, o.CloudID = srv.URL, "site-1"
		o.SLAEmail, o.SLAAPIToken = testSLAEmail, testSLAToken
	}
	tests := []struct {
		name string
		mod  func(*Options)
		call func(c *Client) error
		want string // "" means no settings named
	}{
		{"get issue", nil, func(c *Client) error {
			_, _, err := c.GetIssue(context.Background(), "SUP-1")
			return err
		}, "(check JIRA_EMAIL and JIRA_API_TOKEN)"},
		{"search", nil, func(c *Client) error {
			_, err := c.SearchJQL(context.Background(), jira.SearchRequest{JQL: "project = SUP"})
			return err
		}, "(check JIRA_EMAIL and JIRA_API_TOKEN)"},
		{"sla fields through the sla account", withSLA, func(c *Client) error {
			_, err := c.SLAFields(context.Background(), "SUP-1", []string{"customfield_10328"})
			return err
		}, "(check JIRA_SLA_EMAIL and JIRA_SLA_API_TOKEN)"},
		{"sla bulk fetch through the sla account", withSLA, func(c *Client) error {
			_, err := c.BulkFetchSLA(context.Background(), []string{"SUP-1"}, []string{"customfield_10328"})
			return err
		}, "(check JIRA_SLA_EMAIL and JIRA_SLA_API_TOKEN)"},
		{"sla fields without an sla account", nil, func(c *Client) error {
			_, err := c.SLAFields(context.Background(), "SUP-1", []string{"customfield_10328"})
			return err
		}, "(check JIRA_EMAIL and JIRA_API_TOKEN)"},
		{"attachment on the site", nil, func(c *Client) error {
			_, _, err := c.DownloadAttachment(context.Background(), srv.URL+"/rest/api/3/attachment/content/1", &bytes.Buffer{}, 100)
			return err
		}, "(check JIRA_EMAIL and JIRA_API_TOKEN)"},
		{"expired media token", nil, func(c *Client) error {
			_, _, err := c.DownloadAttachment(context.Background(), srv.URL+"/rest/api/3/attachment/content/10000", &bytes.Buffer{}, 100)
			return err
		}, ""},
		{"tenant info, sent without credentials", func(o *Options) {
			withSLA(o)
			o.CloudID = ""
		}, func(c *Client) error {
			_, err := c.CloudID(context.Background())
			return err
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(newTestClient(t, srv.URL, tt.mod).Client)
			if !errors.Is(err, jira.ErrUnauthorized) {
				t.Fatalf("got %v, want ErrUnauthorized", err)
			}
			text := err.Error()
			switch {
			case tt.want != "" && !strings.Contains(text, tt.want):
				t.Errorf("got %q, want it to contain %q", text, tt.want)
			case tt.want == "" && strings.Contains(text, "check JIRA"):
				t.Errorf("got %q, want no settings named", text)
			}
			for _, secret := range []string{testToken, testSLAToken, "Basic ", "media-tok-41"} {
				if strings.Contains(text, secret) {
					t.Errorf("error shows %q: %q", secret, text)
				}
			}
		})
	}
}
