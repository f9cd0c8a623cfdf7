package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// DownloadAttachment streams the bytes of an attachment into w and returns how
// many were written and their SHA-256 in hex.
//
// contentURL must be on the Jira site or the cloud gateway (same scheme and
// host), else ErrForeignHost: the URL comes from an issue payload and the
// account's credentials go with the first request. Jira answers with a redirect
// to its media service and a short-lived token, followed under the client's
// redirect policy (checkRedirect): the Authorization header is only ever sent
// to the origin of contentURL, and an https chain never drops to http. More
// than maxBytes is ErrTooLarge; w then holds the first maxBytes bytes and the
// caller discards them. An attempt is retried only while nothing has been written to w.
func (c *Client) DownloadAttachment(ctx context.Context, contentURL string, w io.Writer, maxBytes int64) (int64, string, error) {
	u, err := c.checkContentURL(contentURL)
	if err != nil {
		return 0, "", fmt.Errorf("download attachment: %w", err)
	}
	label := redactURL(u)
	if maxBytes <= 0 {
		return 0, "", fmt.Errorf("download attachment %s: max bytes must be positive", label)
	}
	send := func(ctx context.Context) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, permanent(err)
		}
		req.Header.Set("Accept", "*/*")
		req.Header.Set("User-Agent", userAgent)
		req.SetBasicAuth(c.main.user, c.main.token)
		return c.do(req)
	}

	var (
		written int64
		sum     string
	)
	consume := func(resp *http.Response) error {
		if resp.ContentLength > maxBytes {
			return permanent(fmt.Errorf("%d bytes, limit %d: %w", resp.ContentLength, maxBytes, ErrTooLarge))
		}
		h := sha256.New()
		n, err := io.CopyN(io.MultiWriter(w, h), resp.Body, maxBytes)
		written += n
		switch {
		case err == nil:
			// Exactly maxBytes so far: one more byte means too large.
			var one [1]byte
			if k, _ := io.ReadFull(resp.Body, one[:]); k > 0 {
				return permanent(fmt.Errorf("more than %d bytes: %w", maxBytes, ErrTooLarge))
			}
		case errors.Is(err, io.EOF):
		default:
			if written > 0 {
				return permanent(fmt.Errorf("after %d bytes: %w", written, redact(err)))
			}
			return err
		}
		sum = hex.EncodeToString(h.Sum(nil))
		return nil
	}
	if err := c.execute(ctx, http.MethodGet, EndpointAttachment, c.downloadTimeout, send, consume); err != nil {
		return written, "", fmt.Errorf("download attachment %s: %w", label, err)
	}
	return written, sum, nil
}

// checkContentURL accepts an absolute http(s) URL on the Jira site or the
// gateway.
func (c *Client) checkContentURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("unreadable url: %w", ErrForeignHost)
	}
	if u.User != nil {
		return nil, fmt.Errorf("url with credentials: %w", ErrForeignHost)
	}
	if !sameOrigin(u, c.base) && !sameOrigin(u, c.gateway) {
		return nil, fmt.Errorf("%s: %w", redactURL(u), ErrForeignHost)
	}
	return u, nil
}
