package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// listenTCP listens on a free loopback port as server.go does: plain TCP,
// since MPTCP sockets take no socket filter.
func listenTCP(t *testing.T) *net.TCPListener {
	t.Helper()
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln.(*net.TCPListener)
}

// TestBacklogListenerHandsOverQueuedConnections: connections the kernel
// completed but nobody accepted yet, each with a request written, are
// handed to Accept after Close instead of being reset with the socket.
func TestBacklogListenerHandsOverQueuedConnections(t *testing.T) {
	tcp := listenTCP(t)
	ln := newBacklogListener(tcp)
	const n = 16
	clients := make([]net.Conn, n)
	for i := range clients {
		c, err := net.Dial("tcp", tcp.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := fmt.Fprintf(c, "request %02d\n", i); err != nil {
			t.Fatal(err)
		}
		clients[i] = c
	}
	if err := ln.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if err := ln.Close(); err != nil {
		t.Fatalf("a second Close = %v, want nil", err)
	}
	if _, err := net.Dial("tcp", tcp.Addr().String()); err == nil {
		t.Fatal("a new connection was accepted after Close")
	}
	var got []string
	for range n {
		c, err := ln.Accept()
		if err != nil {
			t.Fatalf("Accept after %d of %d queued connections: %v", len(got), n, err)
		}
		buf := make([]byte, len("request 00\n"))
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatalf("reading a queued connection: %v", err)
		}
		got = append(got, string(buf))
		c.Close()
	}
	sort.Strings(got)
	for i, line := range got {
		if want := fmt.Sprintf("request %02d\n", i); line != want {
			t.Fatalf("queued request %d = %q, want %q", i, line, want)
		}
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept once the backlog is served = %v, want net.ErrClosed", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	ln.waitServed(ctx)
	if ctx.Err() != nil {
		t.Fatal("waitServed did not return after the last queued connection")
	}
}

// TestRefuseNewHandshakes: once filtered, a listener completes no new
// handshake: a dial hangs (its SYN is dropped) instead of joining the
// backlog, while a connection made before stays queued.
func TestRefuseNewHandshakes(t *testing.T) {
	tcp := listenTCP(t)
	defer tcp.Close()
	before, err := net.Dial("tcp", tcp.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer before.Close()
	raw, err := tcp.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var filterErr error
	if err := raw.Control(func(fd uintptr) { filterErr = refuseNewHandshakes(int(fd)) }); err != nil || filterErr != nil {
		t.Fatalf("filter: %v, %v", err, filterErr)
	}
	if c, err := net.DialTimeout("tcp", tcp.Addr().String(), 300*time.Millisecond); err == nil {
		c.Close()
		t.Fatal("a handshake completed after the filter")
	}
	if n, err := handshakesInProgress(tcp.Addr().(*net.TCPAddr).Port); n != 0 || err != nil {
		t.Fatalf("handshakes in progress after a dropped SYN = %d, %v; want 0", n, err)
	}
	c, err := tcp.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.RemoteAddr().String() != before.LocalAddr().String() {
		t.Fatalf("accepted %v, want the connection made before (%v)", c.RemoteAddr(), before.LocalAddr())
	}
}

// TestHandshakeInProgressIsCompletedAndAccepted: a handshake in progress
// when Close starts (here held open by a client that drops the SYN-ACK
// until it is let go) is counted, waited for and handed to Accept, and the
// request its client then writes arrives, instead of the connection being
// reset with the socket.
func TestHandshakeInProgressIsCompletedAndAccepted(t *testing.T) {
	tcp := listenTCP(t)
	ln := newBacklogListener(tcp)
	// The handshake completes when the SYN-ACK is retransmitted, after 1 s.
	ln.handshakeWait = 3 * time.Second
	port := tcp.Addr().(*net.TCPAddr).Port

	clientFD := make(chan int, 1)
	dialer := net.Dialer{Timeout: 10 * time.Second, Control: func(_, _ string, c syscall.RawConn) error {
		var filterErr error
		err := c.Control(func(fd uintptr) {
			filterErr = attachFilter(int(fd), []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0}})
			clientFD <- int(fd)
		})
		return errors.Join(err, filterErr)
	}}
	dialed := make(chan error, 1)
	go func() {
		c, err := dialer.Dial("tcp", tcp.Addr().String())
		if err == nil {
			defer c.Close()
			_, err = io.WriteString(c, "late request\n")
		}
		dialed <- err
	}()
	fd := <-clientFD
	for start := time.Now(); ; time.Sleep(time.Millisecond) {
		n, err := handshakesInProgress(port)
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("%d handshakes in progress, want 1", n)
		}
	}
	closed := make(chan error, 1)
	go func() { closed <- ln.Close() }()
	select {
	case <-closed:
		t.Fatal("Close returned with a handshake in progress")
	case <-time.After(50 * time.Millisecond):
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DETACH_FILTER, 0); err != nil {
		t.Fatalf("detaching the client's filter: %v", err)
	}
	// The SYN-ACK is retransmitted after 1 s; the client's ACK completes it.
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close = %v", err)
		}
	case <-time.After(2 * ln.handshakeWait):
		t.Fatal("Close did not return")
	}
	c, err := ln.Accept()
	if err != nil {
		t.Fatalf("Accept after Close = %v, want the connection whose handshake was in progress", err)
	}
	defer c.Close()
	buf := make([]byte, len("late request\n"))
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("reading the late connection: %v", err)
	}
	if string(buf) != "late request\n" {
		t.Fatalf("read %q", buf)
	}
	if err := <-dialed; err != nil {
		t.Fatalf("the client: %v", err)
	}
}
