package server

import (
	"errors"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/benchlab/go-svc/internal/limits"
)

// limitHead answers 431 with an empty body, as hyper does, to an HTTP/1.x
// request with more than limits.MaxHeaderFields header fields or a head over
// limits.MaxHeadBytes. net/http's own limit on the head is loose: bytes it had
// buffered before it set the limit come on top, the 14 of its h2c preface
// check on a new connection and up to 4 KiB on a reused one, so that a
// 20 KiB head can pass. hyper's max_headers and max_buf_size are HTTP/1
// settings, so HTTP/2 requests pass through. It runs before the router, so
// these requests are not in the metrics, as in rust-svc where hyper refuses
// them before axum sees them.
func limitHead(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 1 {
			if fields, size := headSize(r); fields > limits.MaxHeaderFields || size > limits.MaxHeadBytes {
				w.Header().Set("Content-Length", "0")
				// hyper cannot read on after a head it refused, and closes.
				w.Header().Set("Connection", "close")
				w.WriteHeader(http.StatusRequestHeaderFieldsTooLarge)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// headSize counts the header lines of an HTTP/1.x request and the bytes of
// its head as a client writes it ("Name: value" lines ending in CRLF);
// whitespace that net/http trimmed is not counted. net/http moves Host out
// of r.Header into r.Host, so it is added back.
func headSize(r *http.Request) (fields, size int) {
	const crlf, colonSpace = 2, 2
	size = len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + crlf + crlf
	if r.Host != "" {
		fields++
		size += len("Host") + colonSpace + len(r.Host) + crlf
	}
	for name, values := range r.Header {
		fields += len(values)
		for _, v := range values {
			size += len(name) + colonSpace + len(v) + crlf
		}
	}
	return fields, size
}

// quietTimeoutListener hands out connections that close as soon as a read
// deadline passes. net/http sets a future read deadline only while it
// waits for a request head (ReadHeaderTimeout; there is no ReadTimeout or
// IdleTimeout), and when that deadline passes in the middle of a line it
// parses the partial line and answers 400. The contract, like hyper, wants
// the connection closed without a response.
type quietTimeoutListener struct {
	net.Listener
}

func (l quietTimeoutListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &quietTimeoutConn{Conn: c}, nil
}

type quietTimeoutConn struct {
	net.Conn
	// timed is whether the read deadline was in the future when set. A
	// deadline already past is net/http waking its own background read
	// (connReader.abortPendingRead), not a slow client.
	timed atomic.Bool
}

func (c *quietTimeoutConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil && c.timed.Load() && errors.Is(err, os.ErrDeadlineExceeded) {
		c.Conn.Close()
	}
	return n, err
}

func (c *quietTimeoutConn) SetReadDeadline(t time.Time) error {
	c.timed.Store(!t.IsZero() && time.Now().Before(t))
	return c.Conn.SetReadDeadline(t)
}

func (c *quietTimeoutConn) SetDeadline(t time.Time) error {
	c.timed.Store(!t.IsZero() && time.Now().Before(t))
	return c.Conn.SetDeadline(t)
}

// CloseWrite keeps net/http's lingering close (closeWriteAndWait) working
// through the wrapper.
func (c *quietTimeoutConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
