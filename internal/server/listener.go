package server

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// LimitedListener accepts at most n connections open at once. Every
// connection holds buffers and a goroutine whoever opened it, so their
// number is bounded before anything is known about the sender.
//
// A kept-alive connection between two requests holds its slot too, and a
// client that keeps many of them open (an HTTP client's pool of idle
// connections) could fill every slot: a new connection then waited in the
// kernel's backlog, past its sender's timeout, behind connections doing
// nothing. So when every slot is taken and a new connection arrives, the
// connection idle the longest is closed to admit it, as http.Server closes
// idle connections itself (IdleTimeout, Shutdown), and HTTP/1.1 clients
// expect: a client opens another one when it has a request. Which
// connections are idle the HTTP server tells through ConnState, which must
// be its http.Server.ConnState. Connections busy with a request are never
// closed: with none idle, the new connection waits until one closes or
// goes idle.
type LimitedListener struct {
	net.Listener
	slots     chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	// wentIdle wakes an Accept waiting for a slot when a connection goes
	// idle: that one can then be closed for it.
	wentIdle chan struct{}
	mu       sync.Mutex
	idle     map[*limitConn]time.Time // idle connections, since when
	closed   atomic.Int64
}

// LimitListener limits l to n connections open at once (see
// LimitedListener).
func LimitListener(l net.Listener, n int) *LimitedListener {
	return &LimitedListener{Listener: l, slots: make(chan struct{}, n), done: make(chan struct{}),
		wentIdle: make(chan struct{}, 1), idle: map[*limitConn]time.Time{}}
}

// Accept waits for a connection and a slot for it. While slots are free it
// takes one before accepting, so that the n+1th connection is left in the
// backlog; once all are taken it accepts the next connection first, and
// holds it until an idle connection is closed for it or a slot frees: it
// closes nothing while nobody is waiting. At most one connection beyond n
// is then open, not yet served.
func (l *LimitedListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
		c, err := l.Listener.Accept()
		if err != nil {
			<-l.slots
			return nil, err
		}
		return &limitConn{Conn: c, l: l}, nil
	case <-l.done:
		return nil, net.ErrClosed
	default:
	}
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	for {
		select {
		case l.slots <- struct{}{}:
			return &limitConn{Conn: c, l: l}, nil
		default:
		}
		if l.closeIdlest() {
			continue
		}
		select {
		case l.slots <- struct{}{}:
			return &limitConn{Conn: c, l: l}, nil
		case <-l.wentIdle:
		case <-l.done:
			c.Close()
			return nil, net.ErrClosed
		}
	}
}

// closeIdlest closes the connection idle the longest, if any is; closing
// it gives its slot back at once.
func (l *LimitedListener) closeIdlest() bool {
	l.mu.Lock()
	var victim *limitConn
	var since time.Time
	for c, t := range l.idle {
		if victim == nil || t.Before(since) {
			victim, since = c, t
		}
	}
	if victim != nil {
		delete(l.idle, victim)
	}
	l.mu.Unlock()
	if victim == nil {
		return false
	}
	l.closed.Add(1)
	victim.Close()
	return true
}

// ConnState is the http.Server's ConnState hook: it tells the listener
// which of its connections wait idle between two requests.
func (l *LimitedListener) ConnState(c net.Conn, state http.ConnState) {
	lc, ok := c.(*limitConn)
	if !ok || lc.l != l {
		return
	}
	l.mu.Lock()
	if state == http.StateIdle && !lc.isClosed() {
		l.idle[lc] = time.Now()
	} else {
		delete(l.idle, lc)
	}
	l.mu.Unlock()
	if state == http.StateIdle {
		select {
		case l.wentIdle <- struct{}{}:
		default:
		}
	}
}

// IdleClosed counts the idle connections closed to admit new ones.
func (l *LimitedListener) IdleClosed() int64 { return l.closed.Load() }

// Close closes the listener; connections already accepted stay open.
func (l *LimitedListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
	return err
}

// limitConn gives its slot back on its first Close.
type limitConn struct {
	net.Conn
	l    *LimitedListener
	once sync.Once
	done atomic.Bool
}

func (c *limitConn) isClosed() bool { return c.done.Load() }

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.done.Store(true)
		c.l.mu.Lock()
		delete(c.l.idle, c)
		c.l.mu.Unlock()
		<-c.l.slots
	})
	return err
}
