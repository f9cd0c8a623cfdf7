package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/jiraduck/jiraduck/internal/jira"
)

// media plays Atlassian's media service: it serves bytes to whoever holds the
// token and records the Authorization headers it receives.
type media struct {
	mu    sync.Mutex
	auths []string
	data  []byte
}

func (m *media) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	m.auths = append(m.auths, r.Header.Get("Authorization"))
	m.mu.Unlock()
	if r.URL.Query().Get("token") != "short-lived" {
		w.WriteHeader(http.StatusForbidden)
		return
	}
	_, _ = w.Write(m.data)
}

func TestDownloadAttachmentRedirect(t *testing.T) {
	data := bytes.Repeat([]byte("jiraduck "), 1000)
	m := &media{data: data}
	msrv := httptest.NewServer(m)
	defer msrv.Close()
	var siteAuth string
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		siteAuth = r.Header.Get("Authorization")
		if r.URL.Path != "/rest/api/3/attachment/content/10000" {
			http.NotFound(w, r)
			return
		}
		// Same host name, another port: Go's own redirect policy would send
		// the Authorization header along, since it ignores ports.
		http.Redirect(w, r, msrv.URL+"/file/abc/binary?token=short-lived", http.StatusSeeOther)
	}))
	defer site.Close()
	c := newTestClient(t, site.URL, nil)

	var buf bytes.Buffer
	n, sum, err := c.DownloadAttachment(context.Background(), site.URL+"/rest/api/3/attachment/content/10000", &buf, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(data)
	if n != int64(len(data)) || sum != hex.EncodeToString(want[:]) || !bytes.Equal(buf.Bytes(), data) {
		t.Errorf("got %d bytes, sum %s", n, sum)
	}
	if !strings.HasPrefix(siteAuth, "Basic ") {
		t.Errorf("the site got Authorization %q", siteAuth)
	}
	if len(m.auths) != 1 || m.auths[0] != "" {
		t.Errorf("the media host got Authorization %q", m.auths)
	}
}

func TestDownloadAttachmentRefusals(t *testing.T) {
	var requests int
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests++
		switch r.URL.Path {
		case "/big":
			_, _ = w.Write(bytes.Repeat([]byte("x"), 1000))
		case "/big-chunked":
			for range 10 {
				_, _ = w.Write(bytes.Repeat([]byte("x"), 100))
				w.(http.Flusher).Flush()
			}
		case "/exact":
			_, _ = w.Write(bytes.Repeat([]byte("x"), 100))
		case "/to-ftp":
			w.Header().Set("Location", "ftp://files.example.com/x")
			w.WriteHeader(http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	defer site.Close()
	c := newTestClient(t, site.URL, func(o *Options) { o.CloudAPIURL = "https://api.atlassian.com" })
	host := strings.TrimPrefix(site.URL, "http://")

	tests := []struct {
		name string
		url  string
		max  int64
		want error
	}{
		{"foreign host", "https://evil.example.com/rest/api/3/attachment/content/1", 1000, ErrForeignHost},
		{"other port", "http://127.0.0.1:1/big", 1000, ErrForeignHost},
		{"other scheme", "ftp://" + host + "/big", 1000, ErrForeignHost},
		{"https for an http site", "https://" + host + "/big", 1000, ErrForeignHost},
		{"file url", "file:///etc/passwd", 1000, ErrForeignHost},
		{"relative url", "/big", 1000, ErrForeignHost},
		{"credentials in url", "http://u:p@" + host + "/big", 1000, ErrForeignHost},
		{"too large by length", site.URL + "/big", 100, ErrTooLarge},
		{"too large while streaming", site.URL + "/big-chunked", 100, ErrTooLarge},
		{"redirect to ftp", site.URL + "/to-ftp", 1000, ErrForeignHost},
		{"not found", site.URL + "/missing", 1000, jira.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := requests
			var buf bytes.Buffer
			_, sum, err := c.DownloadAttachment(context.Background(), tt.url, &buf, tt.max)
			if !errors.Is(err, tt.want) || sum != "" {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if int64(buf.Len()) > tt.max {
				t.Errorf("wrote %d bytes past the limit of %d", buf.Len(), tt.max)
			}
			if tt.want == ErrForeignHost && !strings.HasPrefix(tt.name, "redirect") && requests != before {
				t.Errorf("a refused url was requested")
			}
		})
	}

	t.Run("gateway url allowed", func(t *testing.T) {
		if _, err := c.checkContentURL("https://api.atlassian.com/ex/jira/abc/rest/api/3/attachment/content/16465"); err != nil {
			t.Errorf("got %v", err)
		}
		if _, err := c.checkContentURL("HTTPS://API.atlassian.com:443/ex/jira/abc/rest/api/3/attachment/content/1"); err != nil {
			t.Errorf("explicit default port: got %v", err)
		}
	})
	t.Run("exactly the limit", func(t *testing.T) {
		var buf bytes.Buffer
		n, _, err := c.DownloadAttachment(context.Background(), site.URL+"/exact", &buf, 100)
		if err != nil || n != 100 {
			t.Errorf("got %d, %v", n, err)
		}
	})
	t.Run("redirect loop", func(t *testing.T) {
		_, _, err := c.DownloadAttachment(context.Background(), site.URL+"/loop", &bytes.Buffer{}, 100)
		if err == nil || !strings.Contains(err.Error(), "redirects") {
			t.Errorf("got %v", err)
		}
	})
}

func TestDownloadAttachmentNoDowngrade(t *testing.T) {
	tls := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://media.example.com/file", http.StatusSeeOther)
	}))
	defer tls.Close()
	c := newTestClient(t, tls.URL, func(o *Options) { o.HTTPClient = tls.Client() })
	_, _, err := c.DownloadAttachment(context.Background(), tls.URL+"/rest/api/3/attachment/content/1", &bytes.Buffer{}, 100)
	if !errors.Is(err, ErrForeignHost) || !strings.Contains(err.Error(), "https to http") {
		t.Errorf("got %v", err)
	}
}

func TestDownloadAttachmentRetriesBeforeWriting(t *testing.T) {
	var n int
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		if n == 1 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		_, _ = w.Write([]byte("hello"))
	}))
	defer site.Close()
	c := newTestClient(t, site.URL, nil)
	var buf bytes.Buffer
	got, _, err := c.DownloadAttachment(context.Background(), site.URL+"/a", &buf, 100)
	if err != nil || got != 5 || buf.String() != "hello" || n != 2 {
		t.Errorf("got %d %q %v after %d requests", got, buf.String(), err, n)
	}
}
