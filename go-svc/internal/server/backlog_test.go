package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"testing"
	"time"
)

// TestBacklogListenerHandsOverQueuedConnections: connections the kernel
// completed but nobody accepted yet, each with a request written, are
// handed to Accept after Close instead of being reset with the socket.
func TestBacklogListenerHandsOverQueuedConnections(t *testing.T) {
	var lc net.ListenConfig
	lc.SetMultipathTCP(false) // as server.go
	tcp, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := newBacklogListener(tcp.(*net.TCPListener))
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
	var lc net.ListenConfig
	lc.SetMultipathTCP(false) // as server.go: MPTCP sockets take no filter
	tcp, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	before, err := net.Dial("tcp", tcp.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer before.Close()
	raw, err := tcp.(*net.TCPListener).SyscallConn()
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
	c, err := tcp.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.RemoteAddr().String() != before.LocalAddr().String() {
		t.Fatalf("accepted %v, want the connection made before (%v)", c.RemoteAddr(), before.LocalAddr())
	}
}
