package server

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// backlogListener is the REST listener. Its Close first accepts every
// connection the kernel has already completed (the listen backlog) and
// hands them to Serve, then closes the socket: closing a listening socket
// resets the connections still queued, and their clients may have written a
// request already, which would then be lost. A socket filter first stops new
// handshakes from completing, so that none can join the backlog between the
// last accept and the close; their clients are refused once the socket
// closes. rust-svc's server.rs does the same (accept_backlog).
type backlogListener struct {
	*net.TCPListener

	once     sync.Once
	closeErr error

	mu     sync.Mutex
	queued []net.Conn
	// served closes once Accept has returned every queued connection and
	// then the close error: Serve has registered them all (ConnContext).
	served     chan struct{}
	servedOnce sync.Once
}

func newBacklogListener(ln *net.TCPListener) *backlogListener {
	return &backlogListener{TCPListener: ln, served: make(chan struct{})}
}

// Accept returns the next connection; once the listener is closed, the
// connections Close took from the backlog, then net.ErrClosed.
func (l *backlogListener) Accept() (net.Conn, error) {
	c, err := l.TCPListener.Accept()
	if err == nil {
		return c, nil
	}
	l.mu.Lock()
	if len(l.queued) > 0 {
		c = l.queued[0]
		l.queued = l.queued[1:]
		l.mu.Unlock()
		return c, nil
	}
	l.mu.Unlock()
	if errors.Is(err, net.ErrClosed) {
		l.servedOnce.Do(func() { close(l.served) })
	}
	return nil, err
}

// Close takes the backlog, then closes the socket, once; a later Close
// returns nil, so that the drain can close it before Shutdown closes it
// again.
func (l *backlogListener) Close() error {
	var err error
	l.once.Do(func() {
		l.mu.Lock()
		l.queued = append(l.queued, l.takeBacklog()...)
		l.mu.Unlock()
		err = l.TCPListener.Close()
	})
	return err
}

// takeBacklog accepts, without waiting, every connection already queued.
func (l *backlogListener) takeBacklog() []net.Conn {
	raw, err := l.TCPListener.SyscallConn()
	if err != nil {
		return nil
	}
	var conns []net.Conn
	// Control, not Read: Serve's Accept may hold the read lock meanwhile.
	_ = raw.Control(func(fd uintptr) {
		_ = refuseNewHandshakes(int(fd))
		for {
			nfd, _, err := syscall.Accept4(int(fd), syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
			if errors.Is(err, syscall.EINTR) || errors.Is(err, syscall.ECONNABORTED) {
				continue
			}
			if err != nil {
				return // EAGAIN: the backlog is empty
			}
			f := os.NewFile(uintptr(nfd), "backlog")
			c, err := net.FileConn(f) // a duplicate of nfd
			f.Close()
			if err == nil {
				conns = append(conns, c)
			}
		}
	})
	return conns
}

// refuseNewHandshakes attaches a classic BPF socket filter that drops every
// packet to the listening socket fd (BPF_RET|BPF_K with 0): a SYN, or the ACK
// that would complete a handshake, never reaches it, so no connection joins
// its backlog from now on.
func refuseNewHandshakes(fd int) error {
	dropAll := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0}}
	return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
		&unix.SockFprog{Len: uint16(len(dropAll)), Filter: &dropAll[0]})
}

// waitServed returns once Serve has taken every connection Close queued, or
// when ctx ends.
func (l *backlogListener) waitServed(ctx context.Context) {
	select {
	case <-l.served:
	case <-ctx.Done():
	}
}
