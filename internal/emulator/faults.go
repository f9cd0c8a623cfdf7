package emulator

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Faults are the misbehaviours of a real Jira Cloud site the emulator can
// reproduce. Rates are fractions of requests in [0, 1]; zero values disable
// each fault. Which request gets a fault is drawn from a generator seeded with
// Options.Seed, so a sequential test sees the same faults on every run.
type Faults struct {
	// Latency is added to every REST call.
	Latency time.Duration
	// ErrorRate answers 500, 502 or 503 with Jira-like bodies.
	ErrorRate float64
	// ThrottleRate answers 429 with X-RateLimit-* headers and, for most,
	// Retry-After (RetryAfter, default 1s); some carry none, as Jira's do.
	ThrottleRate float64
	RetryAfter   time.Duration
	// StallRate sends half the answer and then stalls for Stall (default
	// 90s, longer than a client timeout) before the rest.
	StallRate float64
	Stall     time.Duration
	// DropRate closes the connection without an answer.
	DropRate float64
	// BulkErrorRate moves issues of a bulk fetch into issueErrors, as Jira
	// does when it cannot load them in time.
	BulkErrorRate float64
	// WebhookDuplicateRate delivers a webhook a second time with the same
	// identifier.
	WebhookDuplicateRate float64
	// WebhookShuffle holds back up to this many deliveries and sends them
	// in random order.
	WebhookShuffle int
	// SearchLag keeps a new issue out of search/jql results until it is that
	// old, unless its id is in reconcileIssues.
	SearchLag time.Duration
}

func (f Faults) check() error {
	for name, r := range map[string]float64{"error rate": f.ErrorRate, "throttle rate": f.ThrottleRate, "stall rate": f.StallRate,
		"drop rate": f.DropRate, "bulk error rate": f.BulkErrorRate, "webhook duplicate rate": f.WebhookDuplicateRate} {
		if r < 0 || r > 1 {
			return fmt.Errorf("%w faults: %s %v outside 0..1", ErrInvalid, name, r)
		}
	}
	if f.Latency < 0 || f.RetryAfter < 0 || f.Stall < 0 || f.SearchLag < 0 || f.WebhookShuffle < 0 {
		return fmt.Errorf("%w faults: negative duration or window", ErrInvalid)
	}
	return nil
}

// faultState holds the current faults and the generator that decides them.
type faultState struct {
	mu  sync.Mutex
	f   Faults
	rng *rand.Rand
}

func newFaultState(f Faults, seed uint64) *faultState {
	return &faultState{f: f, rng: rand.New(rand.NewPCG(seed, 0x6661756c74))}
}

func (fs *faultState) get() Faults {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.f
}

func (fs *faultState) set(f Faults) {
	fs.mu.Lock()
	fs.f = f
	fs.mu.Unlock()
}

func (fs *faultState) float() float64 {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.rng.Float64()
}

func (fs *faultState) intn(n int) int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.rng.IntN(n)
}

// Faults returns the faults in effect.
func (e *Emulator) Faults() Faults { return e.s.faults.get() }

// SetFaults replaces the faults in effect; SetFaults(Faults{}) switches every
// fault off.
func (e *Emulator) SetFaults(f Faults) error {
	if err := f.check(); err != nil {
		return err
	}
	e.s.faults.set(f)
	return nil
}

// faultDecision is what the fault injector decided for one request.
type faultDecision uint8

const (
	faultNone faultDecision = iota
	faultDrop
	faultThrottle
	faultError
	faultStall
)

// decide draws the fault of one request. Every kind draws a number even when
// its rate is zero, so that switching one fault on does not reshuffle the
// others.
func (fs *faultState) decide() (Faults, faultDecision, float64) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f := fs.f
	drop, throttle, fail, stall, extra := fs.rng.Float64(), fs.rng.Float64(), fs.rng.Float64(), fs.rng.Float64(), fs.rng.Float64()
	switch {
	case drop < f.DropRate:
		return f, faultDrop, extra
	case throttle < f.ThrottleRate:
		return f, faultThrottle, extra
	case fail < f.ErrorRate:
		return f, faultError, extra
	case stall < f.StallRate:
		return f, faultStall, extra
	}
	return f, faultNone, extra
}

// injectFaults applies latency and the drawn fault. It returns false when it
// answered (or dropped) the request itself, and a wrapper writer for a stall.
func (s *site) injectFaults(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, func(), bool) {
	f, d, extra := s.faults.decide()
	if f.Latency > 0 {
		t := time.NewTimer(f.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return w, nil, false
		}
	}
	switch d {
	case faultDrop:
		s.stats.dropped.Add(1)
		dropConnection(w)
		return w, nil, false
	case faultThrottle:
		s.stats.throttled.Add(1)
		retry := f.RetryAfter
		if retry <= 0 {
			retry = time.Second
		}
		secs := int64((retry + time.Second - 1) / time.Second)
		h := w.Header()
		h.Set("X-RateLimit-Limit", "100")
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Reset", s.now().Add(retry).Format(time.RFC3339))
		h.Set("RateLimit-Reason", "jira-burst-based")
		// About one 429 in five comes without Retry-After.
		if extra >= 0.2 {
			h.Set("Retry-After", strconv.FormatInt(secs, 10))
		}
		writeJSON(w, http.StatusTooManyRequests, []byte(`{"errorMessages":["The request has been rate-limited. Please try again later."],"errors":{},"status":429}`))
		return w, nil, false
	case faultError:
		s.stats.errors.Add(1)
		switch {
		case extra < 0.4:
			writeJSON(w, http.StatusInternalServerError, errorBody("Internal server error"))
		case extra < 0.7:
			w.Header().Set("Content-Type", "text/html;charset=UTF-8")
			w.WriteHeader(http.StatusBadGateway)
			w.Write([]byte("<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"))
		default:
			if extra < 0.85 {
				w.Header().Set("Retry-After", "1")
			}
			writeJSON(w, http.StatusServiceUnavailable, errorBody("Jira is temporarily unavailable. Please try again later."))
		}
		return w, nil, false
	case faultStall:
		s.stats.stalled.Add(1)
		stall := f.Stall
		if stall <= 0 {
			stall = 90 * time.Second
		}
		sw := &stallWriter{ResponseWriter: w, header: http.Header{}}
		return sw, func() { sw.finish(r, stall) }, true
	}
	return w, nil, true
}

// dropConnection closes the client's connection without an answer.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	// The server closes the connection of a handler that panics with
	// ErrAbortHandler, without logging it.
	panic(http.ErrAbortHandler)
}

// stallWriter buffers an answer, then sends its first half, stalls and sends
// the rest: a slow body that outlasts a client's timeout.
type stallWriter struct {
	http.ResponseWriter
	header http.Header
	status int
	buf    bytes.Buffer
}

// Header implements http.ResponseWriter; headers are held until finish.
func (sw *stallWriter) Header() http.Header { return sw.header }

// WriteHeader implements http.ResponseWriter.
func (sw *stallWriter) WriteHeader(code int) {
	if sw.status == 0 {
		sw.status = code
	}
}

// Write implements http.ResponseWriter; the body is buffered.
func (sw *stallWriter) Write(b []byte) (int, error) {
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	return sw.buf.Write(b)
}

func (sw *stallWriter) finish(r *http.Request, stall time.Duration) {
	w := sw.ResponseWriter
	for k, v := range sw.header {
		w.Header()[k] = v
	}
	body := sw.buf.Bytes()
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	w.WriteHeader(sw.status)
	half := len(body) / 2
	w.Write(body[:half])
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
	t := time.NewTimer(stall)
	select {
	case <-t.C:
		w.Write(body[half:])
	case <-r.Context().Done():
		t.Stop()
	}
}
