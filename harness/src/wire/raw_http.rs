//! A raw HTTP/1.1 client for input that no well-behaved client library sends:
//! the exact request bytes go out, and the response is parsed by hand.

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::client::{Outcome, truncate};

/// A response as read off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The body with any chunked coding removed.
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// As the suite's outcome model, so that golden expectations apply.
    pub fn outcome(&self) -> Outcome {
        Outcome::Http {
            status: self.status,
            content_type: self.header("content-type").map(str::to_owned),
            body: Bytes::from(self.body.clone()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("bad status line {0:?}")]
    StatusLine(String),
    #[error("bad header line {0:?}")]
    HeaderLine(String),
    #[error("bad Content-Length {0:?}")]
    ContentLength(String),
    #[error("bad chunk size line {0:?}")]
    ChunkSize(String),
    #[error("chunk data not followed by CRLF")]
    ChunkEnd,
    #[error("connection closed in the middle of the {0}")]
    Truncated(&'static str),
}

/// Parses one response from the start of `buf`. `Ok(None)` means more bytes
/// are needed; `eof` says none will come, which completes a body delimited by
/// the close and turns anything incomplete into `Truncated`. Interim 1xx
/// responses are skipped. Not for responses to HEAD (their length headers
/// describe a body that is not sent).
pub fn parse(buf: &[u8], eof: bool) -> Result<Option<RawResponse>, ParseError> {
    let need_more = |what| {
        if eof {
            Err(ParseError::Truncated(what))
        } else {
            Ok(None)
        }
    };
    let Some(head_len) = find(buf, b"\r\n\r\n") else {
        return need_more("head");
    };
    let head = String::from_utf8_lossy(&buf[..head_len]);
    let rest = &buf[head_len + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = parse_status_line(status_line)
        .ok_or_else(|| ParseError::StatusLine(status_line.to_owned()))?;
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .filter(|(name, _)| !name.is_empty() && !name.contains(' '))
            .ok_or_else(|| ParseError::HeaderLine(line.to_owned()))?;
        headers.push((name.to_owned(), value.trim().to_owned()));
    }
    if (100..200).contains(&status) && status != 101 {
        return parse(rest, eof);
    }
    let mut response = RawResponse {
        status,
        headers,
        body: Vec::new(),
    };
    if status == 204 || status == 304 {
        return Ok(Some(response));
    }
    let chunked = response
        .header("transfer-encoding")
        .and_then(|codings| codings.rsplit(',').next())
        .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
    if chunked {
        return match dechunk(rest)? {
            Some(body) => {
                response.body = body;
                Ok(Some(response))
            }
            None => need_more("chunked body"),
        };
    }
    if let Some(length) = response.header("content-length") {
        let length: usize = length
            .parse()
            .map_err(|_| ParseError::ContentLength(length.to_owned()))?;
        if rest.len() < length {
            return need_more("body");
        }
        response.body = rest[..length].to_vec();
        return Ok(Some(response));
    }
    if !eof {
        return Ok(None);
    }
    response.body = rest.to_vec();
    Ok(Some(response))
}

/// `HTTP/1.x SSS reason` (the reason may be empty).
fn parse_status_line(line: &str) -> Option<u16> {
    let rest = line.strip_prefix("HTTP/1.")?;
    let (_minor, rest) = rest.split_once(' ')?;
    let code = rest.split(' ').next()?;
    if code.len() != 3 {
        return None;
    }
    code.parse().ok().filter(|c| (100..=999).contains(c))
}

/// The data of a complete chunked body (trailers skipped), or `None` if incomplete.
fn dechunk(mut buf: &[u8]) -> Result<Option<Vec<u8>>, ParseError> {
    let mut body = Vec::new();
    loop {
        let Some(line_len) = find(buf, b"\r\n") else {
            return Ok(None);
        };
        let line = String::from_utf8_lossy(&buf[..line_len]);
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| ParseError::ChunkSize(line.clone().into_owned()))?;
        buf = &buf[line_len + 2..];
        if size == 0 {
            // Trailer fields, then an empty line.
            loop {
                let Some(end) = find(buf, b"\r\n") else {
                    return Ok(None);
                };
                if end == 0 {
                    return Ok(Some(body));
                }
                buf = &buf[end + 2..];
            }
        }
        if buf.len() < size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&buf[..size]);
        if &buf[size..size + 2] != b"\r\n" {
            return Err(ParseError::ChunkEnd);
        }
        buf = &buf[size + 2..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// What one raw exchange came to.
#[derive(Debug)]
pub enum RawOutcome {
    Response {
        response: RawResponse,
        after: Duration,
    },
    /// The connection closed (or was reset) before a whole response arrived.
    Closed {
        received: usize,
        after: Duration,
        why: String,
    },
    /// The response could not be parsed.
    Malformed(String),
    TimedOut {
        received: usize,
        after: Duration,
    },
    /// Could not connect.
    Failed(String),
}

impl RawOutcome {
    pub fn response(&self) -> Option<&RawResponse> {
        match self {
            RawOutcome::Response { response, .. } => Some(response),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        self.response().map(|r| r.status)
    }
}

impl fmt::Display for RawOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RawOutcome::Response { response, after } => {
                let body = String::from_utf8_lossy(&response.body);
                write!(
                    f,
                    "HTTP {} ({}) {:?} after {:.0} ms",
                    response.status,
                    response.header("content-type").unwrap_or("no content type"),
                    truncate(&body, 200),
                    ms(*after)
                )
            }
            RawOutcome::Closed {
                received,
                after,
                why,
            } => write!(
                f,
                "connection {why} after {:.0} ms with no complete response ({received} bytes received)",
                ms(*after)
            ),
            RawOutcome::Malformed(err) => write!(f, "a malformed response: {err}"),
            RawOutcome::TimedOut { received, after } => write!(
                f,
                "no complete response within {:.0} ms ({received} bytes received)",
                ms(*after)
            ),
            RawOutcome::Failed(err) => write!(f, "could not connect: {err}"),
        }
    }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Connects to `addr`, writes `request` while reading, and returns the first
/// response. Writing runs alongside reading so that a server that answers
/// before it has read the whole body (413) is heard before it resets the
/// connection; write errors are ignored for the same reason.
pub async fn exchange(addr: SocketAddr, request: Vec<u8>, timeout: Duration) -> RawOutcome {
    let started = Instant::now();
    let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(err)) => return RawOutcome::Failed(err.to_string()),
        Err(_) => return RawOutcome::Failed(format!("connect timed out after {timeout:?}")),
    };
    let _ = stream.set_nodelay(true);
    finish(stream, request, started, timeout).await
}

/// Writes `request` (or what is left of it) on an open connection while
/// reading, and returns the first response, as [`exchange`] does. Times are
/// counted from `started`; it gives up `timeout` after it.
pub async fn finish(
    stream: TcpStream,
    request: Vec<u8>,
    started: Instant,
    timeout: Duration,
) -> RawOutcome {
    let (mut reader, mut writer) = stream.into_split();
    // The write half stays open until the response is read: some servers treat
    // a half-close as the end of the connection.
    let writing = tokio::spawn(async move {
        let _ = writer.write_all(&request).await;
        writer
    });
    let mut buf = Vec::with_capacity(4096);
    let deadline = started + timeout;
    let outcome = loop {
        let mut chunk = [0u8; 16 * 1024];
        let read = tokio::time::timeout_at(deadline.into(), reader.read(&mut chunk)).await;
        let (eof, why) = match read {
            Err(_) => {
                break RawOutcome::TimedOut {
                    received: buf.len(),
                    after: started.elapsed(),
                };
            }
            Ok(Ok(0)) => (true, "closed".to_string()),
            Ok(Ok(n)) => {
                buf.extend_from_slice(&chunk[..n]);
                (false, String::new())
            }
            Ok(Err(err)) => (true, format!("failed ({err})")),
        };
        match parse(&buf, eof) {
            Ok(Some(response)) => {
                break RawOutcome::Response {
                    response,
                    after: started.elapsed(),
                };
            }
            Ok(None) => {}
            Err(ParseError::Truncated(_)) => {
                break RawOutcome::Closed {
                    received: buf.len(),
                    after: started.elapsed(),
                    why,
                };
            }
            Err(err) => break RawOutcome::Malformed(err.to_string()),
        }
    };
    writing.abort();
    outcome
}

/// What a client sending its head slowly saw.
#[derive(Debug)]
pub enum SlowOutcome {
    /// The server closed (or reset) the connection; `answer` holds any bytes it sent first.
    Closed {
        after: Duration,
        sent: usize,
        answer: Vec<u8>,
    },
    /// Still open when the client gave up.
    StillOpen {
        after: Duration,
        sent: usize,
    },
    Failed(String),
}

/// Sends `head` one byte every `interval`, watching for the server to close,
/// for at most `give_up`.
pub async fn send_slowly(
    addr: SocketAddr,
    head: &[u8],
    interval: Duration,
    give_up: Duration,
) -> SlowOutcome {
    let mut stream = match TcpStream::connect(addr).await {
        Ok(stream) => stream,
        Err(err) => return SlowOutcome::Failed(err.to_string()),
    };
    let _ = stream.set_nodelay(true);
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut sent = 0;
    let mut next_write = started;
    loop {
        if started.elapsed() >= give_up {
            return SlowOutcome::StillOpen {
                after: started.elapsed(),
                sent,
            };
        }
        if Instant::now() >= next_write && sent < head.len() {
            if stream.write_all(&head[sent..=sent]).await.is_err() {
                return SlowOutcome::Closed {
                    after: started.elapsed(),
                    sent,
                    answer,
                };
            }
            sent += 1;
            next_write += interval;
        }
        let wake = next_write.min(started + give_up);
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout_at(wake.into(), stream.read(&mut chunk)).await {
            Err(_) => {}
            Ok(Ok(0)) | Ok(Err(_)) => {
                return SlowOutcome::Closed {
                    after: started.elapsed(),
                    sent,
                    answer,
                };
            }
            Ok(Ok(n)) => answer.extend_from_slice(&chunk[..n]),
        }
    }
}

/// The `Host` the raw requests name.
const HOST: &str = "lab.test";

/// `GET path` with `Host`, `Connection: close` and `extra` header lines (each without CRLF).
pub fn get(path: &str, extra: &[String]) -> Vec<u8> {
    let mut head = format!("GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n");
    for line in extra {
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// `GET path` with `Host` only: HTTP/1.1 keeps such a connection alive
/// unless the server says otherwise.
pub fn get_keep_alive(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n").into_bytes()
}

/// `POST path` with a `Content-Length` body and an optional `Content-Type`.
pub fn post(path: &str, content_type: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut out = post_head(path, content_type);
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    out
}

/// `POST path` with a chunked body in chunks of at most `chunk` bytes.
pub fn post_chunked(path: &str, content_type: Option<&str>, body: &[u8], chunk: usize) -> Vec<u8> {
    let mut out = post_head(path, content_type);
    out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
    for piece in body.chunks(chunk) {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

fn post_head(path: &str, content_type: Option<&str>) -> Vec<u8> {
    let mut head = format!("POST {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n");
    if let Some(value) = content_type {
        head.push_str(&format!("Content-Type: {value}\r\n"));
    }
    head.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(bytes: &[u8]) -> RawResponse {
        parse(bytes, false).expect("parses").expect("is complete")
    }

    #[test]
    fn content_length_bodies() {
        let r = complete(
            b"HTTP/1.1 413 Payload Too Large\r\ncontent-type: application/json\r\nContent-Length: 2\r\n\r\n{}",
        );
        assert_eq!(r.status, 413);
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        assert_eq!(r.body, b"{}");
        // Bytes after the body (a pipelined response) are not part of it.
        assert_eq!(
            complete(b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nxHTTP/1.1").body,
            b"x"
        );
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nab", false),
            Ok(None)
        );
        assert_eq!(
            complete(b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n")
                .body,
            b""
        );
    }

    #[test]
    fn chunked_bodies() {
        let wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n6;ext=1\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nX-Trailer: 1\r\n\r\n";
        assert_eq!(complete(wire).body, b"Wikipedia in \r\n\r\nchunks.");
        for cut in [60, wire.len() - 1, wire.len() - 3] {
            assert_eq!(parse(&wire[..cut], false), Ok(None), "cut at {cut}");
        }
        assert_eq!(
            parse(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                false
            ),
            Err(ParseError::ChunkSize("zz".into()))
        );
        assert_eq!(
            parse(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n",
                false
            ),
            Err(ParseError::ChunkEnd)
        );
    }

    #[test]
    fn close_delimited_bodies_end_at_eof() {
        let wire = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end";
        assert_eq!(parse(wire, false), Ok(None));
        let r = parse(wire, true).unwrap().unwrap();
        assert_eq!(r.body, b"until the end");
    }

    #[test]
    fn truncated_responses_are_errors_at_eof() {
        assert_eq!(parse(b"", true), Err(ParseError::Truncated("head")));
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\nContent-Le", true),
            Err(ParseError::Truncated("head"))
        );
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", true),
            Err(ParseError::Truncated("body"))
        );
        assert_eq!(
            parse(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab",
                true
            ),
            Err(ParseError::Truncated("chunked body"))
        );
    }

    #[test]
    fn interim_responses_are_skipped_and_bodyless_statuses_are_empty() {
        let r = complete(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nX: y\r\n\r\n");
        assert_eq!(r.status, 204);
        assert_eq!(r.header("x"), Some("y"));
        assert!(r.body.is_empty());
    }

    #[test]
    fn malformed_heads_are_errors() {
        assert_eq!(
            parse(b"SSH-2.0-OpenSSH\r\n\r\n", false),
            Err(ParseError::StatusLine("SSH-2.0-OpenSSH".into()))
        );
        assert_eq!(
            parse(b"HTTP/1.1 2000 OK\r\n\r\n", false),
            Err(ParseError::StatusLine("HTTP/1.1 2000 OK".into()))
        );
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", false),
            Err(ParseError::HeaderLine("no colon".into()))
        );
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false),
            Err(ParseError::ContentLength("x".into()))
        );
    }

    #[test]
    fn requests_are_written_as_given() {
        assert_eq!(
            get("/v1/users/..", &["X-A: 1".into()]),
            b"GET /v1/users/.. HTTP/1.1\r\nHost: lab.test\r\nConnection: close\r\nX-A: 1\r\n\r\n"
        );
        assert_eq!(
            post("/v1/echo", None, b"{}"),
            b"POST /v1/echo HTTP/1.1\r\nHost: lab.test\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"
        );
        let chunked = post_chunked("/e", Some("application/json"), b"abcde", 2);
        assert!(chunked.ends_with(
            b"Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n2\r\ncd\r\n1\r\ne\r\n0\r\n\r\n"
        ));
        // The same framing read back by the response parser.
        let body_start = find(&chunked, b"\r\n\r\n").unwrap() + 4;
        let parsed_back = complete(
            &[
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".as_slice(),
                &chunked[body_start..],
            ]
            .concat(),
        );
        assert_eq!(parsed_back.body, b"abcde");
    }

    #[tokio::test]
    async fn exchange_reads_a_response_from_a_real_socket() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            s.write_all(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
            )
            .await
            .unwrap();
            // Keep the connection open: the chunked end completes the response.
            tokio::time::sleep(Duration::from_secs(2)).await;
        });
        let outcome = exchange(addr, get("/", &[]), Duration::from_secs(1)).await;
        assert_eq!(
            outcome.response().map(|r| r.body.clone()),
            Some(b"ok".to_vec())
        );
    }
}
