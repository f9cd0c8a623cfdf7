package client

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// fixtureDir holds the captured Jira payloads shared by the whole project.
const fixtureDir = "../../../../shared/jira-fixtures"

// fixture returns the bytes of a fixture file, skipping the test when the
// fixtures are not checked out.
func fixture(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, filepath.FromSlash(rel)))
	if os.IsNotExist(err) {
		t.Skipf("fixture %s not present", rel)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sleeper records the waits the client asks for and returns at once.
type sleeper struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeper) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeper) recorded() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// observer records Observer calls.
type observer struct {
	mu        sync.Mutex
	requests  []int
	retries   []string
	throttles []time.Duration
}

func (o *observer) ObserveRequest(_ string, status int, _ time.Duration) {
	o.mu.Lock()
	o.requests = append(o.requests, status)
	o.mu.Unlock()
}

func (o *observer) ObserveRetry(_, reason string) {
	o.mu.Lock()
	o.retries = append(o.retries, reason)
	o.mu.Unlock()
}

func (o *observer) ObserveThrottle(_ string, d time.Duration) {
	o.mu.Lock()
	o.throttles = append(o.throttles, d)
	o.mu.Unlock()
}

func (o *observer) snapshot() (requests []int, retries []string, throttles []time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]int(nil), o.requests...), append([]string(nil), o.retries...), append([]time.Duration(nil), o.throttles...)
}

const (
	testEmail    = "bot@example.com"
	testToken    = "main-token-s3cret"
	testSLAEmail = "agent@example.com"
	testSLAToken = "sla-token-s3cret"
)

// testClient is a client on baseURL with fast, recorded sleeps.
type testClient struct {
	*Client
	sleeper  *sleeper
	observer *observer
}

func newTestClient(t testing.TB, baseURL string, mod func(*Options)) testClient {
	t.Helper()
	s, o := &sleeper{}, &observer{}
	opts := Options{
		BaseURL:  baseURL,
		Email:    testEmail,
		APIToken: testToken,
		Sleep:    s.sleep,
		Observer: o,
		Timeout:  5 * time.Second,
	}
	if mod != nil {
		mod(&opts)
	}
	c, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return testClient{Client: c, sleeper: s, observer: o}
}
