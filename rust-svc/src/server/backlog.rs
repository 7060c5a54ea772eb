//! Closing a listener without losing a connection (contract/README.md,
//! "Running a service"): the REST one, and the gRPC one through
//! [`incoming`].
//!
//! Closing a listening socket resets every connection the kernel has
//! completed but the service has not accepted yet (the listen backlog), and
//! every handshake still in progress. Their clients may have written a
//! request already, which would then be lost. So the drain first attaches a
//! socket filter that drops new handshakes (a SYN without ACK), lets the
//! handshakes in progress complete, accepts everything in the backlog, and
//! only then closes. A client held back by the filter retries its SYN after
//! 1 s and is refused then: a request never sent, safe to retry.
//! go-svc's `internal/server/backlog.go` does the same.

use std::io;
use std::net::TcpListener as StdListener;
use std::time::Duration;

use futures::Stream;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::time::Instant;

/// How long the drain waits for the handshakes in progress to complete. A
/// live client completes one within a round trip, far less than this even
/// across regions; meanwhile new clients' SYNs go unanswered (they retry
/// after 1 s and are refused then), so the wait is kept short. A handshake
/// still in progress after it (its client gone, or its SYN-ACK lost and not
/// yet retransmitted) is reset with the socket.
pub const HANDSHAKE_WAIT: Duration = Duration::from_millis(250);

/// How often the wait looks.
const HANDSHAKE_POLL: Duration = Duration::from_millis(1);

/// Refuses new handshakes, waits (at most `wait`, [`HANDSHAKE_WAIT`] in the
/// service) until none is in progress, accepts every connection queued,
/// closes `listener`, and returns the connections.
pub async fn accept_backlog(listener: TcpListener, wait: Duration) -> Vec<TcpStream> {
    let mut streams = Vec::new();
    let port = match listener.local_addr() {
        Ok(addr) => addr.port(),
        Err(err) => {
            tracing::warn!(error = %err, "the listener has no address");
            return streams;
        }
    };
    // The std listener is non-blocking (tokio set it so).
    let listener = match listener.into_std() {
        Ok(listener) => listener,
        Err(err) => {
            tracing::warn!(error = %err, "taking the listen backlog failed");
            return streams;
        }
    };
    if let Err(err) = refuse_new_handshakes(&listener) {
        tracing::warn!(error = %err, "filtering the listener failed");
    }
    let deadline = Instant::now() + wait;
    // A completing handshake leaves the SYN_RECV list a moment before its
    // connection joins the backlog, so two empty looks in a row are needed.
    let mut quiet = false;
    loop {
        accept_queued(&listener, &mut streams);
        // A dump walks the kernel's connection table (milliseconds): off the
        // workers, which are still finishing requests.
        let pending = tokio::task::spawn_blocking(move || handshakes_in_progress(port))
            .await
            .unwrap_or_else(|err| Err(io::Error::other(err)));
        match pending {
            Ok(0) if quiet => break,
            Ok(0) => quiet = true,
            Ok(pending) if Instant::now() >= deadline => {
                tracing::warn!(
                    pending,
                    port,
                    "handshakes still in progress after {}; closing the listener",
                    humantime::format_duration(wait)
                );
                break;
            }
            Ok(_) => quiet = false,
            Err(err) => {
                tracing::warn!(error = %err, "counting the handshakes in progress failed");
                break;
            }
        }
        tokio::time::sleep(HANDSHAKE_POLL).await;
    }
    accept_queued(&listener, &mut streams);
    streams
}

/// The gRPC listener's connections, for tonic: accepted until `closing`
/// fires (or its sender is dropped), then those [`accept_backlog`] takes,
/// then the end, which closes the listener and starts tonic's graceful
/// shutdown. tonic itself keeps the listener of an incoming stream open,
/// unpolled, until every connection has drained, so the clients that
/// reconnect after its `GOAWAY` would queue in the backlog and be reset.
pub fn incoming(
    listener: TcpListener,
    closing: oneshot::Receiver<()>,
) -> impl Stream<Item = io::Result<TcpStream>> {
    enum State {
        Accepting(TcpListener, oneshot::Receiver<()>),
        Backlog(std::vec::IntoIter<TcpStream>),
    }
    futures::stream::unfold(State::Accepting(listener, closing), |state| async move {
        let mut backlog = match state {
            State::Accepting(listener, mut closing) => {
                tokio::select! {
                    accepted = listener.accept() => {
                        let next = accepted.map(|(stream, _peer)| stream);
                        return Some((next, State::Accepting(listener, closing)));
                    }
                    _ = &mut closing => accept_backlog(listener, HANDSHAKE_WAIT).await.into_iter(),
                }
            }
            State::Backlog(backlog) => backlog,
        };
        backlog
            .next()
            .map(|stream| (Ok(stream), State::Backlog(backlog)))
    })
}

/// Accepts, without waiting, every connection in the backlog.
fn accept_queued(listener: &StdListener, streams: &mut Vec<TcpStream>) {
    loop {
        match listener.accept() {
            Ok((stream, _peer)) => match stream
                .set_nonblocking(true)
                .and_then(|()| TcpStream::from_std(stream))
            {
                Ok(stream) => streams.push(stream),
                Err(err) => tracing::warn!(error = %err, "registering a connection failed"),
            },
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                ) => {}
            // WouldBlock: the backlog is empty.
            Err(_) => return,
        }
    }
}

/// A classic BPF program for a TCP socket (the packet starts at the TCP
/// header): drop a segment whose SYN flag is set and ACK flag is not, keep
/// the rest whole. A new handshake never reaches the listener; the ACK (or
/// first data) that completes one already in progress does.
const DROP_SYN: [libc::sock_filter; 5] = [
    // ldb [13]: the flags byte.
    bpf(0x30, 0, 0, 13),
    // and #(SYN|ACK)
    bpf(0x54, 0, 0, 0x12),
    // jeq #SYN: drop, else keep.
    bpf(0x15, 0, 1, 0x02),
    // ret #0
    bpf(0x06, 0, 0, 0),
    // ret #0xffffffff
    bpf(0x06, 0, 0, u32::MAX),
];

const fn bpf(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// Attaches [`DROP_SYN`] to `listener`: from now on no connection starts
/// a handshake with it.
fn refuse_new_handshakes(listener: &StdListener) -> io::Result<()> {
    use std::os::fd::AsRawFd as _;
    attach_filter(listener.as_raw_fd(), &DROP_SYN)
}

/// `SO_ATTACH_FILTER` on every architecture but alpha, mips, parisc, powerpc
/// and sparc (asm-generic/socket.h).
const SO_ATTACH_FILTER: libc::c_int = 26;

fn attach_filter(fd: std::os::fd::RawFd, program: &[libc::sock_filter]) -> io::Result<()> {
    let mut filter = program.to_vec();
    let program = libc::sock_fprog {
        len: u16::try_from(filter.len()).map_err(io::Error::other)?,
        filter: filter.as_mut_ptr(),
    };
    // The kernel copies the filter `program` points to, which outlives the call.
    set_socket_option(fd, SO_ATTACH_FILTER, &program)
}

/// `setsockopt(fd, SOL_SOCKET, name, value)`.
fn set_socket_option<T>(fd: std::os::fd::RawFd, name: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: `value` outlives the call and the length passed is its own.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            name,
            std::ptr::from_ref(value).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// How many handshakes with local port `port` are in progress (SYN
/// received, SYN-ACK sent, no ACK yet): the sockets in state `SYN_RECV`, as
/// `ss -t state syn-recv` lists them, asked of the kernel over
/// `NETLINK_SOCK_DIAG` (reading `/proc/net/tcp` takes tens to hundreds of
/// milliseconds with a few thousand connections in `TIME_WAIT`).
pub fn handshakes_in_progress(port: u16) -> io::Result<usize> {
    use std::os::fd::{FromRawFd as _, OwnedFd};
    // SAFETY: plain socket(2); the fd is owned (and closed) by `socket`.
    let socket = unsafe {
        let fd = libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_SOCK_DIAG,
        );
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        OwnedFd::from_raw_fd(fd)
    };
    let mut pending = 0;
    for family in [libc::AF_INET, libc::AF_INET6] {
        pending += dump_syn_recv(&socket, family as u8, port)?;
    }
    Ok(pending)
}

/// `SOCK_DIAG_BY_FAMILY` (linux/sock_diag.h).
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `1 << TCP_SYN_RECV` (the kernel adds its request sockets).
const TCPF_SYN_RECV: u32 = 1 << 3;

/// One `SOCK_DIAG_BY_FAMILY` dump of the TCP sockets of `family` in
/// `SYN_RECV` with source port `port`.
fn dump_syn_recv(socket: &std::os::fd::OwnedFd, family: u8, port: u16) -> io::Result<usize> {
    use std::os::fd::AsRawFd as _;
    let fd = socket.as_raw_fd();
    let request = syn_recv_request(family, port);
    // SAFETY: the buffer and address outlive the call and their lengths are theirs.
    let sent = unsafe {
        let mut kernel: libc::sockaddr_nl = std::mem::zeroed();
        kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        libc::sendto(
            fd,
            request.as_ptr().cast(),
            request.len(),
            0,
            (&raw const kernel).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut buf = vec![0u8; 32 << 10];
    let mut count = 0;
    loop {
        // SAFETY: `buf` outlives the call and its length is its own.
        let got = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
        let got = usize::try_from(got).map_err(|_| io::Error::last_os_error())?;
        match count_syn_recv(&buf[..got], port)? {
            (n, true) => return Ok(count + n),
            (n, false) => count += n,
        }
    }
}

/// The `nlmsghdr` and `inet_diag_req_v2` of a dump request.
fn syn_recv_request(family: u8, port: u16) -> Vec<u8> {
    const LEN: u32 = 16 + 56;
    let mut request = Vec::with_capacity(LEN as usize);
    request.extend_from_slice(&LEN.to_ne_bytes());
    request.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
    request.extend_from_slice(&flags.to_ne_bytes());
    request.extend_from_slice(&[0; 8]); // sequence number, port id
    request.extend_from_slice(&[family, libc::IPPROTO_TCP as u8, 0, 0]);
    request.extend_from_slice(&TCPF_SYN_RECV.to_ne_bytes());
    // inet_diag_sockid: the source port filters the dump; the rest is zero.
    request.extend_from_slice(&port.to_be_bytes());
    request.resize(LEN as usize, 0);
    request
}

/// Counts the `inet_diag_msg`s in `SYN_RECV` with source port `port` in one
/// read of a dump, and says whether the dump is done.
fn count_syn_recv(mut messages: &[u8], port: u16) -> io::Result<(usize, bool)> {
    const NLMSG_ERROR: u16 = 2;
    const NLMSG_DONE: u16 = 3;
    const TCP_SYN_RECV: u8 = 3;
    let truncated = || io::Error::new(io::ErrorKind::InvalidData, "a truncated sock_diag message");
    let mut count = 0;
    while !messages.is_empty() {
        let header = messages.get(..16).ok_or_else(truncated)?;
        let len = u32::from_ne_bytes(header[..4].try_into().expect("4 bytes")) as usize;
        let kind = u16::from_ne_bytes(header[4..6].try_into().expect("2 bytes"));
        let body = messages.get(16..len).ok_or_else(truncated)?;
        match kind {
            NLMSG_DONE => return Ok((count, true)),
            NLMSG_ERROR => {
                let code = body.get(..4).ok_or_else(truncated)?;
                let code = i32::from_ne_bytes(code.try_into().expect("4 bytes"));
                return Err(io::Error::from_raw_os_error(-code));
            }
            SOCK_DIAG_BY_FAMILY => {
                // inet_diag_msg: family, state, timer, retrans, then the
                // source port, big-endian.
                let msg = body.get(..6).ok_or_else(truncated)?;
                if msg[1] == TCP_SYN_RECV && u16::from_be_bytes([msg[4], msg[5]]) == port {
                    count += 1;
                }
            }
            _ => {}
        }
        // Messages are 4-byte aligned.
        messages = messages.get(len.next_multiple_of(4)..).unwrap_or_default();
    }
    Ok((count, false))
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd as _;

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    /// Connections the kernel completed but nobody accepted yet, each with a
    /// request written, come out of the backlog instead of being reset with
    /// the socket; after it, new connections are refused.
    #[tokio::test]
    async fn accept_backlog_hands_over_queued_connections_and_closes() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut clients = Vec::new();
        for i in 0..16 {
            let mut client = TcpStream::connect(addr).await.unwrap();
            client
                .write_all(format!("request {i:02}\n").as_bytes())
                .await
                .unwrap();
            clients.push(client);
        }
        let streams = accept_backlog(listener, HANDSHAKE_WAIT).await;
        assert_eq!(streams.len(), 16);
        let mut got = Vec::new();
        for mut stream in streams {
            let mut line = [0u8; 11];
            tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut line))
                .await
                .expect("the queued request arrives")
                .unwrap();
            got.push(String::from_utf8(line.to_vec()).unwrap());
        }
        got.sort();
        let want: Vec<String> = (0..16).map(|i| format!("request {i:02}\n")).collect();
        assert_eq!(got, want);
        assert!(TcpStream::connect(addr).await.is_err());
    }

    /// The gRPC incoming stream yields what it accepts, and once closing
    /// fires, the connections queued in the backlog, then ends with the
    /// listener closed.
    #[tokio::test]
    async fn incoming_hands_over_the_backlog_then_ends() {
        use futures::StreamExt as _;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (close, closing) = oneshot::channel();
        let mut incoming = std::pin::pin!(incoming(listener, closing));
        let _first = TcpStream::connect(addr).await.unwrap();
        let accepted = tokio::time::timeout(Duration::from_secs(5), incoming.next()).await;
        assert!(
            matches!(accepted, Ok(Some(Ok(_)))),
            "the first connection is accepted"
        );
        // Queued while nobody polls the stream.
        let mut queued = TcpStream::connect(addr).await.unwrap();
        queued.write_all(b"queued\n").await.unwrap();
        close.send(()).unwrap();
        let mut stream = tokio::time::timeout(Duration::from_secs(5), incoming.next())
            .await
            .expect("the backlog is handed over")
            .expect("one connection was queued")
            .unwrap();
        let mut line = [0u8; 7];
        stream.read_exact(&mut line).await.unwrap();
        assert_eq!(&line, b"queued\n");
        assert!(
            incoming.next().await.is_none(),
            "the stream ends after the backlog"
        );
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "the listener is closed"
        );
    }

    /// Once filtered, a listener completes no new handshake: a connect
    /// hangs (its SYN is dropped) instead of joining the backlog.
    #[tokio::test]
    async fn a_filtered_listener_completes_no_new_handshake() {
        let listener = StdListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let before = TcpStream::connect(addr).await.unwrap();
        refuse_new_handshakes(&listener).unwrap();
        let after =
            tokio::time::timeout(Duration::from_millis(300), TcpStream::connect(addr)).await;
        assert!(after.is_err(), "a handshake completed after the filter");
        assert_eq!(handshakes_in_progress(addr.port()).unwrap(), 0);
        listener.set_nonblocking(true).unwrap();
        let (queued, _) = listener.accept().expect("the connection made before");
        assert_eq!(queued.peer_addr().unwrap(), before.local_addr().unwrap());
        assert!(listener.accept().is_err(), "nothing else in the backlog");
    }

    /// `SO_DETACH_FILTER` (asm-generic/socket.h).
    const SO_DETACH_FILTER: libc::c_int = 27;

    /// A handshake in progress when the drain starts (here held open by a
    /// client that drops the SYN-ACK until it is let go) is counted, waited
    /// for and accepted, and the request its client then writes arrives,
    /// instead of the connection being reset with the socket.
    #[tokio::test]
    async fn a_handshake_in_progress_is_completed_and_accepted() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::net::TcpSocket::new_v4().unwrap();
        let client_fd = client.as_raw_fd();
        attach_filter(client_fd, &[bpf(0x06, 0, 0, 0)]).unwrap();
        let connecting = tokio::spawn(async move {
            let mut stream = client.connect(addr).await?;
            stream.write_all(b"late request\n").await?;
            Ok::<_, io::Error>(stream)
        });
        let started = Instant::now();
        while handshakes_in_progress(addr.port()).unwrap() == 0 {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "no SYN_RECV row"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // The handshake completes when the SYN-ACK is retransmitted, after 1 s.
        let wait = Duration::from_secs(3);
        let draining = tokio::spawn(accept_backlog(listener, wait));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !draining.is_finished(),
            "closed with a handshake in progress"
        );
        // The option's value is ignored; the client's connect task keeps the fd open.
        set_socket_option(client_fd, SO_DETACH_FILTER, &0_i32)
            .expect("detaching the client's filter");
        // The SYN-ACK is retransmitted after 1 s; the client's ACK completes it.
        let streams = tokio::time::timeout(wait * 2, draining)
            .await
            .expect("the drain ends")
            .unwrap();
        let _client = connecting.await.unwrap().expect("the client connected");
        assert_eq!(streams.len(), 1);
        let mut stream = streams.into_iter().next().unwrap();
        let mut line = [0u8; 13];
        tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut line))
            .await
            .expect("the request arrives")
            .unwrap();
        assert_eq!(&line, b"late request\n");
    }
}
