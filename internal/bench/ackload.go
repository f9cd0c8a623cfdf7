package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jiraduck/jiraduck/internal/app"
	"github.com/jiraduck/jiraduck/internal/intake"
)

// ackLoad is the client of P1: an open-loop sender of signed webhooks at a
// fixed rate, so that a slow answer does not delay the next delivery (as
// Jira's deliveries are not delayed by ours). Latency is from handing a
// request to the connection to reading its answer; lag is how late the
// sender handed it over against its planned instant, which tells a sender
// that could not keep the rate from a slow intake.
type ackLoad struct {
	latency  []time.Duration
	lag      []time.Duration
	codes    []int
	failures int64
	firstErr string
	sentIn   time.Duration
	prefix   string
}

// delivery is one webhook ready to send: its body signed before the clock
// starts, so that the sender's own CPU stays off the timed path.
type delivery struct {
	i         int
	body      []byte
	signature string
	id        string
}

// ackSenders is the number of goroutines that send P1's deliveries, each
// over a connection it keeps: enough that deliveries overlap when the
// intake is slow for a moment (at 1,000/s, a 100 ms stall has 100 of them
// in flight), and a fixed set, so that a late sender does not start a
// burst of new goroutines and connections when it catches up. It stays
// below serve's connection cap (JIRADUCK_MAX_CONNECTIONS, 256 by default),
// and the transport never holds more connections than senders: serve counts
// an idle kept-alive connection against its cap, so a client that opened one
// more than the cap waited in the listen backlog until another closed, past
// the client's 30 s timeout (a delivery of the quick run counted lost).
const ackSenders = 200

// ackAhead is how many signed deliveries wait ready for the sender: a second
// of them at the rate, at most 4,096.
func ackAhead(rate int) int { return min(max(rate, 1), 4096) }

// sendWebhooks sends total deliveries at rate. Each carries a body of its
// own, as Jira's do (serve refuses a repeated body as a replay): a captured
// body with its delivery id added as a field. A preparing goroutine signs
// them a second ahead of their instant; a pacing loop hands each to a pool
// of senders at its instant.
func sendWebhooks(ctx context.Context, addr string, bodies [][]byte, rate, total int, prefix string) (*ackLoad, error) {
	if rate <= 0 || total <= 0 || len(bodies) == 0 {
		return nil, fmt.Errorf("send webhooks: rate %d, total %d, %d bodies", rate, total, len(bodies))
	}
	url := "http://" + addr + "/webhooks/jira"
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConns: ackSenders,
		MaxIdleConnsPerHost: ackSenders, MaxConnsPerHost: ackSenders, IdleConnTimeout: time.Minute}}
	defer client.CloseIdleConnections()
	l := &ackLoad{latency: make([]time.Duration, total), lag: make([]time.Duration, total), codes: make([]int, total), prefix: prefix}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	ready := make(chan delivery, ackAhead(rate))
	go func() {
		defer close(ready)
		secret := []byte(app.SiteSecret)
		for i := range total {
			id := prefix + strconv.Itoa(i)
			orig := bodies[i%len(bodies)]
			body := make([]byte, 0, len(orig)+len(id)+24)
			body = append(body, `{"bench_delivery":"`...)
			body = append(body, id...)
			body = append(body, `",`...)
			body = append(body, orig[1:]...)
			select {
			case ready <- delivery{i: i, body: body, signature: intake.Sign(secret, body), id: id}:
			case <-ctx.Done():
				return
			}
		}
	}()
	// Start once the first second is signed (or all of it, if shorter).
	for len(ready) < min(cap(ready), total) && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}

	var failures atomic.Int64
	var firstErr atomic.Value
	fail := func(err error) {
		if failures.Add(1) == 1 {
			firstErr.Store(err.Error())
		}
	}
	work := make(chan delivery, ackSenders)
	var wg sync.WaitGroup
	for range ackSenders {
		wg.Go(func() {
			for d := range work {
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(d.body))
				if err != nil {
					fail(err)
					continue
				}
				req.Header.Set("Content-Type", "application/json; charset=UTF-8")
				req.Header.Set("X-Hub-Signature", d.signature)
				req.Header.Set("X-Atlassian-Webhook-Identifier", d.id)
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					l.latency[d.i] = time.Since(t0)
					fail(err)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				l.latency[d.i] = time.Since(t0)
				l.codes[d.i] = resp.StatusCode
			}
		})
	}

	interval := time.Second / time.Duration(rate)
	timer := time.NewTimer(0)
	defer timer.Stop()
	start := time.Now()
	var err error
	for d := range ready {
		at := start.Add(time.Duration(d.i) * interval)
		if wait := time.Until(at); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
			}
		}
		if err = ctx.Err(); err != nil {
			break
		}
		l.lag[d.i] = time.Since(at)
		select {
		case work <- d:
		case <-ctx.Done():
		}
	}
	l.sentIn = time.Since(start)
	close(work)
	wg.Wait()
	if err != nil {
		return nil, err
	}
	l.failures = failures.Load()
	if v, ok := firstErr.Load().(string); ok {
		l.firstErr = v
	}
	return l, nil
}

func (l *ackLoad) accepted() int {
	n := 0
	for _, c := range l.codes {
		if c == http.StatusAccepted {
			n++
		}
	}
	return n
}

// rate is the deliveries handed over per second, from the first planned
// instant to the last delivery handed over.
func (l *ackLoad) rate() float64 {
	return float64(len(l.codes)) / l.sentIn.Seconds()
}

// profileInProcess writes a CPU profile of this process (P1's sender,
// serve and emulator alike) to the named profile of --profile-dir until the
// returned function is called; it does nothing without --profile-dir.
func (b *bench) profileInProcess(name string) (stop func()) {
	path := b.profile(name)
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.rep.note("%s: no CPU profile: %v", name, err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		b.rep.note("%s: no CPU profile: %v", name, err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
