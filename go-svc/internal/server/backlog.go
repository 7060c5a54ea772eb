package server

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// handshakeWait is how long Close waits for the handshakes in progress to
// complete. A live client completes one within a round trip, far less than
// this even across regions; meanwhile new clients' SYNs go unanswered (they
// retry after 1 s and are refused then), so the wait is kept short. A
// handshake still in progress after it (its client gone, or its SYN-ACK
// lost and not yet retransmitted) is reset with the socket.
const handshakeWait = 250 * time.Millisecond

// handshakePoll is how often the wait looks.
const handshakePoll = time.Millisecond

// backlogListener is the REST listener (contract/README.md, "Running a
// service"). Closing a listening socket resets every connection the kernel
// has completed but the service has not accepted yet (the listen backlog),
// and every handshake still in progress. Their clients may have written a
// request already, which would then be lost. So Close first attaches a
// socket filter that drops new handshakes (a SYN without ACK), lets the
// handshakes in progress complete, accepts everything in the backlog and
// hands it to Serve, and only then closes. A client held back by the filter
// retries its SYN after 1 s and is refused then: a request never sent, safe
// to retry. rust-svc's src/server/backlog.rs does the same.
type backlogListener struct {
	*net.TCPListener

	// handshakeWait is how long Close waits for handshakes in progress.
	handshakeWait time.Duration

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
	return &backlogListener{TCPListener: ln, handshakeWait: handshakeWait, served: make(chan struct{})}
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

// takeBacklog refuses new handshakes, waits (at most l.handshakeWait) until
// none is in progress, and accepts, without waiting, every connection
// queued.
func (l *backlogListener) takeBacklog() []net.Conn {
	raw, err := l.TCPListener.SyscallConn()
	if err != nil {
		return nil
	}
	port := l.TCPListener.Addr().(*net.TCPAddr).Port
	var conns []net.Conn
	// Control, not Read: Serve's Accept may hold the read lock meanwhile.
	_ = raw.Control(func(fd uintptr) {
		if err := refuseNewHandshakes(int(fd)); err != nil {
			slog.Warn("filtering the listener failed", "error", err)
		}
		deadline := time.Now().Add(l.handshakeWait)
		// A completing handshake leaves the SYN_RECV list a moment before its
		// connection joins the backlog, so two empty looks in a row are needed.
		quiet := false
		for {
			conns = append(conns, acceptQueued(int(fd))...)
			pending, err := handshakesInProgress(port)
			if err != nil {
				slog.Warn("counting the handshakes in progress failed", "error", err)
				break
			}
			if pending == 0 && quiet {
				break
			}
			if pending > 0 && !time.Now().Before(deadline) {
				slog.Warn("handshakes still in progress; closing the listener",
					"pending", pending, "port", port, "after", l.handshakeWait)
				break
			}
			quiet = pending == 0
			time.Sleep(handshakePoll)
		}
		conns = append(conns, acceptQueued(int(fd))...)
	})
	return conns
}

// acceptQueued accepts, without waiting, every connection in the backlog
// of the listening socket fd.
func acceptQueued(fd int) []net.Conn {
	var conns []net.Conn
	for {
		nfd, _, err := syscall.Accept4(fd, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
		if errors.Is(err, syscall.EINTR) || errors.Is(err, syscall.ECONNABORTED) {
			continue
		}
		if err != nil {
			return conns // EAGAIN: the backlog is empty
		}
		f := os.NewFile(uintptr(nfd), "backlog")
		c, err := net.FileConn(f) // a duplicate of nfd
		f.Close()
		if err == nil {
			conns = append(conns, c)
		}
	}
}

// dropSYN is a classic BPF program for a TCP socket (the packet starts at
// the TCP header): drop a segment whose SYN flag is set and ACK flag is
// not, keep the rest whole. A new handshake never reaches the listener; the
// ACK (or first data) that completes one already in progress does.
var dropSYN = []unix.SockFilter{
	{Code: unix.BPF_LD | unix.BPF_B | unix.BPF_ABS, K: 13},           // the flags byte
	{Code: unix.BPF_ALU | unix.BPF_AND | unix.BPF_K, K: 0x12},        // SYN|ACK
	{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jf: 1, K: 0x02}, // SYN alone: drop
	{Code: unix.BPF_RET | unix.BPF_K, K: 0},
	{Code: unix.BPF_RET | unix.BPF_K, K: 0xffffffff},
}

// refuseNewHandshakes attaches dropSYN to the listening socket fd: from now
// on no connection starts a handshake with it.
func refuseNewHandshakes(fd int) error {
	return attachFilter(fd, dropSYN)
}

func attachFilter(fd int, program []unix.SockFilter) error {
	return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
		&unix.SockFprog{Len: uint16(len(program)), Filter: &program[0]})
}

// handshakesInProgress counts the handshakes with local port port that are
// in progress (SYN received, SYN-ACK sent, no ACK yet): the sockets in state
// SYN_RECV, as `ss -t state syn-recv` lists them, asked of the kernel over
// NETLINK_SOCK_DIAG (reading /proc/net/tcp takes tens to hundreds of
// milliseconds with a few thousand connections in TIME_WAIT).
func handshakesInProgress(port int) (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return 0, fmt.Errorf("sock_diag socket: %w", err)
	}
	defer unix.Close(fd)
	pending := 0
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		n, err := dumpSynRecv(fd, family, uint16(port))
		if err != nil {
			return 0, err
		}
		pending += n
	}
	return pending, nil
}

// tcpfSynRecv is 1 << TCP_SYN_RECV (the kernel adds its request sockets).
const tcpfSynRecv = 1 << 3

// dumpSynRecv makes one SOCK_DIAG_BY_FAMILY dump of the TCP sockets of
// family in SYN_RECV with source port port, and counts them.
func dumpSynRecv(fd int, family uint8, port uint16) (int, error) {
	if err := unix.Sendto(fd, synRecvRequest(family, port), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, fmt.Errorf("sock_diag request: %w", err)
	}
	buf := make([]byte, 32<<10)
	count := 0
	for {
		got, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return 0, fmt.Errorf("sock_diag reply: %w", err)
		}
		n, done, err := countSynRecv(buf[:got], port)
		if err != nil {
			return 0, err
		}
		count += n
		if done {
			return count, nil
		}
	}
}

// synRecvRequest is the nlmsghdr and inet_diag_req_v2 of a dump request.
func synRecvRequest(family uint8, port uint16) []byte {
	const length = 16 + 56
	req := make([]byte, 0, length)
	req = binary.NativeEndian.AppendUint32(req, length)
	req = binary.NativeEndian.AppendUint16(req, unix.SOCK_DIAG_BY_FAMILY)
	req = binary.NativeEndian.AppendUint16(req, unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	req = append(req, make([]byte, 8)...) // sequence number, port id
	req = append(req, family, unix.IPPROTO_TCP, 0, 0)
	req = binary.NativeEndian.AppendUint32(req, tcpfSynRecv)
	// inet_diag_sockid: the source port filters the dump; the rest is zero.
	req = binary.BigEndian.AppendUint16(req, port)
	return append(req, make([]byte, length-len(req))...)
}

// countSynRecv counts the inet_diag_msgs in SYN_RECV with source port port
// in one read of a dump, and says whether the dump is done.
func countSynRecv(messages []byte, port uint16) (count int, done bool, err error) {
	const tcpSynRecv = 3
	truncated := errors.New("a truncated sock_diag message")
	for len(messages) > 0 {
		if len(messages) < 16 {
			return 0, false, truncated
		}
		length := int(binary.NativeEndian.Uint32(messages))
		kind := binary.NativeEndian.Uint16(messages[4:])
		if length < 16 || length > len(messages) {
			return 0, false, truncated
		}
		body := messages[16:length]
		switch kind {
		case unix.NLMSG_DONE:
			return count, true, nil
		case unix.NLMSG_ERROR:
			if len(body) < 4 {
				return 0, false, truncated
			}
			return 0, false, fmt.Errorf("sock_diag: %w", syscall.Errno(-int32(binary.NativeEndian.Uint32(body))))
		case unix.SOCK_DIAG_BY_FAMILY:
			// inet_diag_msg: family, state, timer, retrans, then the source
			// port, big-endian.
			if len(body) < 6 {
				return 0, false, truncated
			}
			if body[1] == tcpSynRecv && binary.BigEndian.Uint16(body[4:]) == port {
				count++
			}
		}
		// Messages are 4-byte aligned.
		messages = messages[min((length+3)&^3, len(messages)):]
	}
	return count, false, nil
}

// waitServed returns once Serve has taken every connection Close queued, or
// when ctx ends.
func (l *backlogListener) waitServed(ctx context.Context) {
	select {
	case <-l.served:
	case <-ctx.Done():
	}
}
