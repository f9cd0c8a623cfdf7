package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jiraduck/jiraduck/internal/jira"
	"github.com/jiraduck/jiraduck/internal/logx"
	"github.com/sirupsen/logrus"
)

// Defaults for the zero values of Options.
const (
	// DefaultCloudAPIURL is Atlassian's cloud gateway.
	DefaultCloudAPIURL = "https://api.atlassian.com"
	// DefaultMaxAttempts bounds the attempts of one call.
	DefaultMaxAttempts = 5
	// DefaultBaseBackoff is the backoff ceiling of the first retry.
	DefaultBaseBackoff = 500 * time.Millisecond
	// DefaultMaxBackoff caps the backoff ceiling.
	DefaultMaxBackoff = 60 * time.Second
	// DefaultMaxRetryWait caps a wait asked for with Retry-After.
	DefaultMaxRetryWait = 60 * time.Second
	// DefaultTimeout bounds one attempt of an API call.
	DefaultTimeout = 30 * time.Second
	// DefaultDownloadTimeout bounds one attempt of an attachment download.
	DefaultDownloadTimeout = 10 * time.Minute
	// DefaultMaxSearchPages bounds the pages of one SearchAll.
	DefaultMaxSearchPages = 100000
)

const (
	// maxBodyBytes bounds a JSON answer; a Jira issue with every field and
	// 100 comments is a few megabytes.
	maxBodyBytes = 256 << 20
	// maxErrorBodyBytes bounds what is read of an error answer.
	maxErrorBodyBytes = 64 << 10
	userAgent         = "jiraduck"
)

// Observer is told about every request, retry and throttle wait, for metrics.
// Its methods must be safe for concurrent use and return quickly.
type Observer interface {
	// ObserveRequest is called once per HTTP attempt with the endpoint label,
	// the status code (0 when no answer came: timeout, dropped connection)
	// and how long the attempt took.
	ObserveRequest(endpoint string, status int, d time.Duration)
	// ObserveRetry is called before each retry with the reason: "429", "5xx",
	// "timeout" or "network".
	ObserveRetry(endpoint, reason string)
	// ObserveThrottle is called when the client waits because Jira asked it
	// to (429, or Retry-After on a 5xx), with the wait.
	ObserveThrottle(endpoint string, wait time.Duration)
}

// Options configure a Client. Zero values take the defaults above.
type Options struct {
	// BaseURL is the Jira site, such as https://your-org.atlassian.net, or the
	// URL of the emulator. Required.
	BaseURL string
	// Email and APIToken are the basic-auth credentials of the main account.
	// Required.
	Email    string
	APIToken string
	// SLAEmail and SLAAPIToken are an optional second account (with a Jira
	// Service Management agent licence) used only to read SLA fields, through
	// the cloud gateway. Both or neither.
	SLAEmail    string
	SLAAPIToken string
	// CloudID is the site id used on the gateway; looked up from
	// {BaseURL}/_edge/tenant_info when empty.
	CloudID string
	// CloudAPIURL is the gateway base, https://api.atlassian.com by default.
	CloudAPIURL string
	// HTTPClient sends the requests; a client with a fresh transport by
	// default. Its Timeout should be zero: Timeout below bounds each attempt.
	// The Client uses a copy whose redirect policy is its own and which
	// keeps no cookies.
	HTTPClient *http.Client
	// Logger receives retry and throttle lines; nothing is logged when nil.
	Logger logrus.FieldLogger
	// MaxAttempts bounds the attempts of one call, first one included.
	MaxAttempts int
	// BaseBackoff and MaxBackoff shape the exponential backoff with full
	// jitter: attempt n waits a random time up to min(MaxBackoff,
	// BaseBackoff*2^(n-1)).
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// MaxRetryWait caps a wait Jira asks for with Retry-After, so that an
	// absurd value cannot park a worker.
	MaxRetryWait time.Duration
	// Timeout bounds each attempt of an API call, reading the answer included.
	Timeout time.Duration
	// DownloadTimeout bounds each attempt of an attachment download.
	DownloadTimeout time.Duration
	// MaxSearchPages bounds the pages one SearchAll reads.
	MaxSearchPages int
	// Observer receives metrics; nil means none.
	Observer Observer
	// Sleep waits between attempts; it must return early with ctx's error
	// when ctx ends. Tests replace it to run fast.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock used for Retry-After dates and jira.Bundle.FetchedAt.
	Now func() time.Time
}

// credential is a basic-auth pair. It is never formatted into errors or logs.
type credential struct {
	user, token string
	// settings names where the pair comes from, for the error a 401 gives.
	settings string
}

// The settings that hold each account's credentials (docs/configuration.md):
// a 401 names the pair to check, never its values.
const (
	mainSettings = "JIRA_EMAIL and JIRA_API_TOKEN"
	slaSettings  = "JIRA_SLA_EMAIL and JIRA_SLA_API_TOKEN"
)

// Client calls the Jira Cloud REST API. It is safe for concurrent use.
type Client struct {
	base    *url.URL
	gateway *url.URL
	main    credential
	sla     *credential

	http   *http.Client
	log    logrus.FieldLogger
	obs    Observer
	sleep  func(ctx context.Context, d time.Duration) error
	now    func() time.Time
	jitter func(n int64) int64

	maxAttempts     int
	baseBackoff     time.Duration
	maxBackoff      time.Duration
	maxRetryWait    time.Duration
	timeout         time.Duration
	downloadTimeout time.Duration
	maxSearchPages  int

	cloudMu sync.Mutex
	cloudID string
}

// New checks opts and returns a Client.
func New(opts Options) (*Client, error) {
	base, err := parseBaseURL("base url", opts.BaseURL)
	if err != nil {
		return nil, err
	}
	if opts.CloudAPIURL == "" {
		opts.CloudAPIURL = DefaultCloudAPIURL
	}
	gateway, err := parseBaseURL("cloud api url", opts.CloudAPIURL)
	if err != nil {
		return nil, err
	}
	if opts.Email == "" || opts.APIToken == "" {
		return nil, errors.New("jira client: email and api token are required")
	}
	if (opts.SLAEmail == "") != (opts.SLAAPIToken == "") {
		return nil, errors.New("jira client: sla email and sla api token go together")
	}
	if opts.CloudID != "" && !validCloudID(opts.CloudID) {
		return nil, fmt.Errorf("jira client: cloud id %q is not a site id", truncate(opts.CloudID, 64))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"base backoff", opts.BaseBackoff}, {"max backoff", opts.MaxBackoff},
		{"max retry wait", opts.MaxRetryWait}, {"timeout", opts.Timeout},
		{"download timeout", opts.DownloadTimeout},
	} {
		if d.v < 0 {
			return nil, fmt.Errorf("jira client: %s must not be negative", d.name)
		}
	}
	if opts.MaxAttempts < 0 || opts.MaxSearchPages < 0 {
		return nil, errors.New("jira client: max attempts and max search pages must not be negative")
	}

	c := &Client{
		base:            base,
		gateway:         gateway,
		main:            credential{opts.Email, opts.APIToken, mainSettings},
		http:            httpClient(opts.HTTPClient),
		log:             opts.Logger,
		obs:             opts.Observer,
		sleep:           opts.Sleep,
		now:             opts.Now,
		jitter:          rand.Int64N,
		maxAttempts:     orDefault(opts.MaxAttempts, DefaultMaxAttempts),
		baseBackoff:     orDefault(opts.BaseBackoff, DefaultBaseBackoff),
		maxBackoff:      orDefault(opts.MaxBackoff, DefaultMaxBackoff),
		maxRetryWait:    orDefault(opts.MaxRetryWait, DefaultMaxRetryWait),
		timeout:         orDefault(opts.Timeout, DefaultTimeout),
		downloadTimeout: orDefault(opts.DownloadTimeout, DefaultDownloadTimeout),
		maxSearchPages:  orDefault(opts.MaxSearchPages, DefaultMaxSearchPages),
		cloudID:         opts.CloudID,
	}
	if opts.SLAEmail != "" {
		c.sla = &credential{opts.SLAEmail, opts.SLAAPIToken, slaSettings}
	}
	if c.log == nil {
		c.log = logx.Discard()
	}
	if c.obs == nil {
		c.obs = nopObserver{}
	}
	if c.sleep == nil {
		c.sleep = sleepContext
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// maxIdlePerHost is how many idle connections to one host the default
// transport keeps: enough for the largest --parallel plus the attachment
// downloads beside it. Go's default of 2 closes every connection beyond the
// second as soon as it is idle, so a backfill with 4 workers opened a new
// connection for about one request in five (a TLS handshake each on Jira
// Cloud).
const maxIdlePerHost = 128

func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = maxIdlePerHost
	t.MaxIdleConnsPerHost = maxIdlePerHost
	return t
}

// String describes the client without its credentials.
func (c *Client) String() string {
	return "jira client for " + c.base.String()
}

// HasSLAAccount reports whether SLA fields are read through a second account.
func (c *Client) HasSLAAccount() bool { return c.sla != nil }

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func parseBaseURL(name, raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("jira client: %s is required", name)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("jira client: %s: %w", name, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("jira client: %s must be http or https", name)
	case u.Host == "":
		return nil, fmt.Errorf("jira client: %s has no host", name)
	case u.User != nil:
		return nil, fmt.Errorf("jira client: %s must not carry credentials", name)
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("jira client: %s must not have a query or fragment", name)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// validCloudID accepts the UUID-like site ids Atlassian uses, and nothing that
// could change the shape of a URL path.
func validCloudID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

type nopObserver struct{}

func (nopObserver) ObserveRequest(string, int, time.Duration) {}
func (nopObserver) ObserveRetry(string, string)               {}
func (nopObserver) ObserveThrottle(string, time.Duration)     {}

func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// siteURL builds a URL on the Jira site from an API path and a query.
func (c *Client) siteURL(path string, q url.Values) string {
	return buildURL(c.base, path, q)
}

func buildURL(base *url.URL, path string, q url.Values) string {
	u := *base
	u.Path = base.Path + path
	u.RawPath = ""
	u.RawQuery = q.Encode()
	return u.String()
}

// issuePath returns /rest/api/3/issue/{keyOrID} plus suffix. keyOrID has been
// checked by checkKeyOrID, so it needs no escaping.
func issuePath(keyOrID, suffix string) string {
	return "/rest/api/3/issue/" + keyOrID + suffix
}

// checkKeyOrID refuses, with jira.ErrInvalidKey, what is neither an issue key
// nor a numeric id: nothing is requested and no path is built from it.
func checkKeyOrID(s string) error {
	if !jira.ValidKeyOrID(s) {
		return fmt.Errorf("%w: %q", jira.ErrInvalidKey, truncate(s, 64))
	}
	return nil
}

// truncate shortens s to at most n bytes for use in error text.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// request is one logical API call.
type request struct {
	method   string
	endpoint string
	url      string
	body     []byte
	auth     *credential
	// header holds headers of the call besides the usual ones.
	header http.Header
}

func (c *Client) newHTTPRequest(ctx context.Context, r *request) (*http.Request, error) {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, body)
	if err != nil {
		return nil, permanent(fmt.Errorf("build request: %w", err))
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	if r.auth != nil {
		req.SetBasicAuth(r.auth.user, r.auth.token)
	}
	return req, nil
}

// call sends r and returns the body of its successful answer.
func (c *Client) call(ctx context.Context, r *request) ([]byte, error) {
	var body []byte
	send := func(ctx context.Context) (*http.Response, error) {
		req, err := c.newHTTPRequest(ctx, r)
		if err != nil {
			return nil, err
		}
		return c.do(req)
	}
	err := c.execute(ctx, r.method, r.endpoint, c.timeout, send, func(resp *http.Response) error {
		b, err := readAll(resp.Body, maxBodyBytes)
		if err != nil {
			return err
		}
		body = b
		return nil
	})
	return body, err
}

// readAll reads at most limit bytes; more is ErrTooLarge, which is permanent.
func readAll(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, permanent(fmt.Errorf("answer over %d bytes: %w", limit, ErrTooLarge))
	}
	return b, nil
}

// permanentError marks a failure that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// execute runs one logical call: it sends, and for a 2xx answer lets consume
// read it within the attempt's deadline. Transport failures, timeouts, 429 and
// 5xx are retried with backoff (or the Retry-After Jira asks for) until
// maxAttempts; consume errors are retried too unless marked permanent.
func (c *Client) execute(ctx context.Context, method, endpoint string, timeout time.Duration,
	send func(context.Context) (*http.Response, error), consume func(*http.Response) error) error {
	group, _ := ctx.Value(pauseKey{}).(*pauseGroup)
	var ownPause time.Time // the pause this call set and has waited out
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := c.holdOff(ctx, group, endpoint, ownPause); err != nil {
			return err
		}
		o := c.attempt(ctx, method, endpoint, timeout, send, consume)
		if o.err == nil {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if o.reason == "" {
			return o.err
		}
		if attempt >= c.maxAttempts {
			if o.transport {
				return fmt.Errorf("%w after %d attempts: %w", jira.ErrUnavailable, attempt, o.err)
			}
			return o.err
		}
		wait := c.backoff(attempt)
		if o.hasRetryAfter {
			wait = min(o.retryAfter, c.maxRetryWait)
		}
		c.obs.ObserveRetry(endpoint, o.reason)
		if o.status == http.StatusTooManyRequests || o.hasRetryAfter {
			c.obs.ObserveThrottle(endpoint, wait)
			ownPause = c.pause(group, wait)
		}
		c.log.WithFields(logrus.Fields{
			"endpoint": endpoint, "reason": o.reason, "status": o.status, "attempt": attempt,
			"wait_ms": wait.Milliseconds(), "rate_limit_reason": o.rateLimitReason, "error": o.err.Error(),
		}).Info("jira request failed, retrying")
		if err := c.wait(ctx, wait); err != nil {
			if errors.Is(err, ErrWaitAborted) {
				return fmt.Errorf("%w: %w", err, o.err)
			}
			return err
		}
	}
}

// pauseKey carries a *pauseGroup in a context.
type pauseKey struct{}

// pauseGroup is the calls of one fetch, made at once: when Jira asks one of
// them to wait (429, or Retry-After on a 5xx), the others hold off until
// then too, instead of each finding the limit with a 429 and a retry of its
// own. Calls of other fetches are not held: one issue's answer, however
// long the wait it asks for, does not stall the other workers.
type pauseGroup struct {
	mu    sync.Mutex
	until time.Time
}

// withPauseGroup gives the calls made under ctx one pause group, unless
// they have one already.
func withPauseGroup(ctx context.Context) context.Context {
	if _, ok := ctx.Value(pauseKey{}).(*pauseGroup); ok {
		return ctx
	}
	return context.WithValue(ctx, pauseKey{}, &pauseGroup{})
}

// pause makes the calls of g hold off for d from now (unless a longer
// pause is on) and returns the end of the pause in force. Without a group
// only the call itself waits.
func (c *Client) pause(g *pauseGroup, d time.Duration) time.Time {
	if g == nil {
		return time.Time{}
	}
	until := c.now().Add(d)
	g.mu.Lock()
	defer g.mu.Unlock()
	if until.After(g.until) {
		g.until = until
	}
	return g.until
}

// holdOff waits, before an attempt, until the end of the pause of g, unless
// it is own: the pause this call set and has just waited out itself.
func (c *Client) holdOff(ctx context.Context, g *pauseGroup, endpoint string, own time.Time) error {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	until := g.until
	g.mu.Unlock()
	if until.IsZero() || !until.After(own) {
		return nil
	}
	d := until.Sub(c.now())
	if d <= 0 {
		return nil
	}
	c.obs.ObserveThrottle(endpoint, d)
	if err := c.wait(ctx, d); err != nil {
		if errors.Is(err, ErrWaitAborted) {
			return fmt.Errorf("%w: jira asked to wait %s", err, d.Round(time.Millisecond))
		}
		return err
	}
	return nil
}

// stopWaitsKey carries the channel of StopWaits in a context.
type stopWaitsKey struct{}

// StopWaits returns a context under which the client stops waiting before a
// retry (a throttled call may be told to wait a minute) as soon as stop is
// closed: the call then fails with ErrWaitAborted while the context itself
// stays alive, so calls in flight that need no wait still complete. A
// service that drains its work at shutdown uses it.
func StopWaits(ctx context.Context, stop <-chan struct{}) context.Context {
	return context.WithValue(ctx, stopWaitsKey{}, stop)
}

// wait sleeps d before a retry, or less when the context ends or its
// StopWaits channel closes.
func (c *Client) wait(ctx context.Context, d time.Duration) error {
	stop, _ := ctx.Value(stopWaitsKey{}).(<-chan struct{})
	if stop == nil {
		return c.sleep(ctx, d)
	}
	select {
	case <-stop:
		return ErrWaitAborted
	default:
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-stop:
			cancel()
		case <-sctx.Done():
		}
	}()
	err := c.sleep(sctx, d)
	if err != nil && ctx.Err() == nil {
		return ErrWaitAborted
	}
	return err
}

// outcome is the result of one attempt.
type outcome struct {
	err error // nil on success
	// reason is the retry reason ("429", "5xx", "timeout", "network"), empty
	// when retrying cannot help.
	reason string
	// transport is set when no usable answer came (or it could not be read).
	transport       bool
	status          int
	retryAfter      time.Duration
	hasRetryAfter   bool
	rateLimitReason string
}

func (c *Client) attempt(ctx context.Context, method, endpoint string, timeout time.Duration,
	send func(context.Context) (*http.Response, error), consume func(*http.Response) error) outcome {
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	resp, err := send(actx)
	if err != nil {
		var perm *permanentError
		if errors.As(err, &perm) {
			return outcome{err: perm.err}
		}
		c.obs.ObserveRequest(endpoint, 0, time.Since(start))
		return transportOutcome(err)
	}
	defer closeBody(resp)

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// Only the start of an error answer matters; the rest is drained.
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
		c.obs.ObserveRequest(endpoint, resp.StatusCode, time.Since(start))
		o := outcome{status: resp.StatusCode, rateLimitReason: resp.Header.Get("RateLimit-Reason")}
		o.retryAfter, o.hasRetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), c.now())
		o.reason = retryReason(resp.StatusCode)
		o.err = &jira.APIError{
			Status:      resp.StatusCode,
			Method:      method,
			Endpoint:    endpoint,
			Messages:    jira.ErrorMessages(body),
			RetryAfter:  o.retryAfter,
			Credentials: c.settingsOf(resp.Request),
		}
		return o
	}

	err = consume(resp)
	c.obs.ObserveRequest(endpoint, resp.StatusCode, time.Since(start))
	if err == nil {
		return outcome{status: resp.StatusCode}
	}
	var perm *permanentError
	if errors.As(err, &perm) {
		return outcome{err: perm.err, status: resp.StatusCode}
	}
	// The answer broke off or timed out while being read.
	return transportOutcome(err)
}

// settingsOf names the settings of the account whose credentials req carried,
// or "" when it carried none of them: the answer of a host the redirect policy
// sent no credentials to (the media service's 401 for an expired token) says
// nothing about the account.
func (c *Client) settingsOf(req *http.Request) string {
	if req == nil {
		return ""
	}
	user, token, ok := req.BasicAuth()
	if !ok {
		return ""
	}
	for _, cred := range []*credential{c.sla, &c.main} {
		if cred != nil && cred.user == user && cred.token == token {
			return cred.settings
		}
	}
	return ""
}

func transportOutcome(err error) outcome {
	o := outcome{err: redact(err), transport: true, reason: "network"}
	if isTimeout(err) {
		o.reason = "timeout"
	}
	return o
}

// retryReason returns the metric label of a status worth retrying, or "".
func retryReason(status int) string {
	switch {
	case status == http.StatusTooManyRequests:
		return "429"
	case status == http.StatusRequestTimeout:
		return "timeout"
	case status == http.StatusNotImplemented || status == http.StatusHTTPVersionNotSupported:
		return ""
	case status >= 500 && status <= 599:
		return "5xx"
	}
	return ""
}

// backoff returns the wait before attempt+1: full jitter over an exponentially
// growing ceiling.
func (c *Client) backoff(attempt int) time.Duration {
	ceiling := c.baseBackoff
	for i := 1; i < attempt && ceiling < c.maxBackoff; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, c.maxBackoff)
	if ceiling <= 0 {
		return 0
	}
	return time.Duration(c.jitter(int64(ceiling) + 1))
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func closeBody(resp *http.Response) {
	// Drain a little so the connection can be reused.
	_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
	_ = resp.Body.Close()
}

// redact strips the query and any user info from the URL a transport error
// names: attachment redirects carry short-lived tokens in the query.
func redact(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	u, perr := url.Parse(ue.URL)
	if perr != nil {
		return &url.Error{Op: ue.Op, URL: "(unparsable url)", Err: ue.Err}
	}
	u.User = nil
	u.RawQuery = ""
	u.Fragment = ""
	return &url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}
}
