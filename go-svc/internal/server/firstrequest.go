package server

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// newConnGrace is how long after its accept a new connection may take to
// send its first request once the drain has started: net/http's Shutdown
// waits as long for a connection in StateNew.
const newConnGrace = 5 * time.Second

// firstRequests tracks, per open REST connection, whether it has handed the
// handler a request yet. net/http's Shutdown closes a connection whose
// request head it reads after Shutdown began, without answering it
// (conn.serve returns once the server is shutting down), even when the
// client had sent the request before the signal. So the drain closes the
// listener itself, turns keep-alives off, and calls Shutdown only once every
// connection has handed the handler its first request or is older than the
// grace (wait); rust-svc's server/connection.rs does the same with hyper.
//
// It also answers HTTP/1.x requests with Connection: close once closing is
// set, when the drain begins: an idle keep-alive connection that Shutdown
// closes races the client's next request, which is then lost; closed after a
// response instead, during the drain delay, it is one the client knows not
// to reuse. rust-svc does the same.
type firstRequests struct {
	mu      sync.Mutex
	conns   map[net.Conn]*connStart
	closing atomic.Bool
}

type connStart struct {
	accepted time.Time
	served   atomic.Bool
}

type connStartKey struct{}

func newFirstRequests() *firstRequests {
	return &firstRequests{conns: make(map[net.Conn]*connStart)}
}

// connContext is the server's ConnContext: it records the accept.
func (f *firstRequests) connContext(ctx context.Context, c net.Conn) context.Context {
	s := &connStart{accepted: time.Now()}
	f.mu.Lock()
	f.conns[c] = s
	f.mu.Unlock()
	return context.WithValue(ctx, connStartKey{}, s)
}

// connState is the server's ConnState: it forgets closed connections.
func (f *firstRequests) connState(c net.Conn, state http.ConnState) {
	if state == http.StateClosed || state == http.StateHijacked {
		f.mu.Lock()
		delete(f.conns, c)
		f.mu.Unlock()
	}
}

// handler marks the connection's first request, then runs h.
func (f *firstRequests) handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s, ok := r.Context().Value(connStartKey{}).(*connStart); ok && !s.served.Load() {
			s.served.Store(true)
		}
		// HTTP/2 has no Connection header: its connections get GOAWAY.
		if r.ProtoMajor == 1 && f.closing.Load() {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}

// wait returns once every open connection has handed the handler a request
// or was accepted more than grace ago, or when ctx ends.
func (f *firstRequests) wait(ctx context.Context, grace time.Duration) {
	for {
		var until time.Time
		f.mu.Lock()
		for _, s := range f.conns {
			if end := s.accepted.Add(grace); !s.served.Load() && end.After(until) {
				until = end
			}
		}
		f.mu.Unlock()
		if !time.Now().Before(until) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}
