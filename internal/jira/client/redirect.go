package client

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// maxRedirects bounds a redirect chain.
const maxRedirects = 10

// redirectError is a redirect the policy refused. It ends the call at once:
// asking again would be redirected the same way.
type redirectError struct{ err error }

func (e *redirectError) Error() string { return e.err.Error() }
func (e *redirectError) Unwrap() error { return e.err }

// httpClient returns a copy of base that follows redirects under
// checkRedirect and keeps no cookies: every request the client sends (either
// account, the site, the gateway, attachment downloads) goes through it, so
// there is one redirect policy.
func httpClient(base *http.Client) *http.Client {
	var hc http.Client
	if base != nil {
		hc = *base
	} else {
		hc.Transport = newTransport()
	}
	// A cookie jar ignores ports, like Go's redirect policy: cookies set by
	// the site would reach any port of its host. Basic auth needs none.
	hc.Jar = nil
	hc.CheckRedirect = checkRedirect
	return &hc
}

// checkRedirect is the redirect policy of the client. Go's own keeps the
// Authorization header on a redirect to the same host name on another port or
// scheme, and follows https to http. This one:
//   - drops Authorization as soon as the chain has left the origin (scheme,
//     host and port) of its first request, for the rest of the chain, even on
//     a hop back: the path of that hop was chosen elsewhere;
//   - refuses to go from https to http and to any scheme but http(s);
//   - drops Referer, which would carry the previous URL and its query (a
//     media URL's short-lived token) to the next host;
//   - refuses a chain longer than maxRedirects.
func checkRedirect(req *http.Request, via []*http.Request) error {
	next := req.URL
	if next.Scheme != "http" && next.Scheme != "https" {
		return &redirectError{fmt.Errorf("redirect to scheme %q: %w", next.Scheme, ErrForeignHost)}
	}
	for _, r := range via {
		if r.URL.Scheme == "https" && next.Scheme != "https" {
			return &redirectError{fmt.Errorf("redirect from https to http (%s): %w", redactURL(next), ErrForeignHost)}
		}
	}
	if len(via) >= maxRedirects {
		return &redirectError{fmt.Errorf("more than %d redirects", maxRedirects)}
	}
	req.Header.Del("Referer")
	first := via[0].URL
	left := !sameOrigin(next, first)
	for _, r := range via[1:] {
		left = left || !sameOrigin(r.URL, first)
	}
	if left {
		req.Header.Del("Authorization")
	}
	return nil
}

// do sends req through the client's redirect policy. A refused redirect is
// permanent, and its error names neither the Location (it may hold a token)
// nor the credentials.
func (c *Client) do(req *http.Request) (*http.Response, error) {
	resp, err := c.http.Do(req)
	var refused *redirectError
	if errors.As(err, &refused) {
		// Go returns the redirect answer with the error, its body closed.
		return nil, permanent(refused)
	}
	return resp, err
}

// sameOrigin compares scheme, host and port (the scheme's default when
// absent), ignoring case.
func sameOrigin(a, b *url.URL) bool {
	oa, ob := origin(a), origin(b)
	return oa != "" && oa == ob
}

func origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	if host == "" || (scheme != "http" && scheme != "https") {
		return ""
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	return scheme + "://" + host + ":" + port
}

// redactURL renders u without user info or query, for errors and logs.
func redactURL(u *url.URL) string {
	v := *u
	v.User = nil
	v.RawQuery = ""
	v.Fragment = ""
	return v.String()
}
