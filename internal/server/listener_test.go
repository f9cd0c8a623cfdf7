package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"
)

// TestLimitListener opens three connections to a listener limited to two:
// the third is accepted only once one of the first two closes.
func TestLimitListener(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := LimitListener(inner, 2)
	defer l.Close()
	accepted := make(chan net.Conn, 3)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	for range 3 {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	first, second := <-accepted, <-accepted
	select {
	case <-accepted:
		t.Fatal("third connection accepted while two are open, want it to wait")
	case <-time.After(200 * time.Millisecond):
	}
	first.Close()
	first.Close() // a second Close gives back nothing more
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(time.Minute):
		t.Fatal("third connection not accepted after one closed")
	}
	second.Close()
	// Every slot is free again: two new connections are both accepted.
	for i := range 2 {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		select {
		case c := <-accepted:
			c.Close()
		case <-time.After(time.Minute):
			t.Fatalf("connection %d after all closed: not accepted", i+1)
		}
	}
}

// listenerGet sends a keep-alive GET of path on c and reads the answer's
// status, within a minute.
func listenerGet(c net.Conn, r *bufio.Reader, path string) (int, error) {
	if err := c.SetDeadline(time.Now().Add(time.Minute)); err != nil {
		return 0, err
	}
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: jiraduck\r\n\r\n", path); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, err
}

// listenerIdle is how many connections l holds as idle.
func listenerIdle(l *LimitedListener) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.idle)
}

// TestLimitListenerClosesIdle: with every slot held by a kept-alive
// connection between two requests, a new connection is answered at once,
// in the place of the one idle the longest; connections busy with a
// request are never closed for it, and the new one waits for one of them
// to finish.
func TestLimitListenerClosesIdle(t *testing.T) {
	cases := []struct {
		name string
		busy bool
	}{
		{"idle connections", false},
		{"busy connections", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inner, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			const slots = 3
			l := LimitListener(inner, slots)
			release := make(chan struct{})
			started := make(chan struct{}, slots)
			srv := &http.Server{ConnState: l.ConnState, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/slow" {
					started <- struct{}{}
					<-release
				}
				io.WriteString(w, "ok")
			})}
			go srv.Serve(l)
			defer srv.Close()
			addr := inner.Addr().String()
			type held struct {
				c    net.Conn
				r    *bufio.Reader
				done chan error
			}
			var conns []held
			for i := range slots {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				h := held{c: c, r: bufio.NewReader(c), done: make(chan error, 1)}
				conns = append(conns, h)
				if tc.busy {
					go func() {
						status, err := listenerGet(h.c, h.r, "/slow")
						if err == nil && status != http.StatusOK {
							err = fmt.Errorf("status %d", status)
						}
						h.done <- err
					}()
					<-started
					continue
				}
				if status, err := listenerGet(c, h.r, "/"); err != nil || status != http.StatusOK {
					t.Fatalf("connection %d: got %d, %v, want 200", i+1, status, err)
				}
				// The oldest idle one is closed first: each goes idle
				// before the next is opened.
				for listenerIdle(l) < i+1 {
					runtime.Gosched()
				}
			}
			fresh, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer fresh.Close()
			answered := make(chan error, 1)
			go func() {
				status, err := listenerGet(fresh, bufio.NewReader(fresh), "/")
				if err == nil && status != http.StatusOK {
					err = fmt.Errorf("status %d", status)
				}
				answered <- err
			}()
			if tc.busy {
				close(release)
				for i, h := range conns {
					if err := <-h.done; err != nil {
						t.Errorf("busy connection %d: got %v, want its answer", i+1, err)
					}
				}
			}
			if err := <-answered; err != nil {
				t.Fatalf("new connection: got %v, want 200 with every slot held", err)
			}
			if !tc.busy {
				if got := l.IdleClosed(); got != 1 {
					t.Errorf("idle connections closed: got %d, want 1", got)
				}
				conns[0].c.SetReadDeadline(time.Now().Add(time.Minute))
				if n, err := conns[0].r.ReadByte(); err == nil {
					t.Errorf("the connection idle the longest: read %q, want it closed", n)
				}
				for i, h := range conns[1:] {
					if status, err := listenerGet(h.c, h.r, "/"); err != nil || status != http.StatusOK {
						t.Errorf("idle connection %d: got %d, %v, want it kept and answered", i+2, status, err)
					}
				}
			}
		})
	}
}
