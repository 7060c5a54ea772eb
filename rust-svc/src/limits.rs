//! What a client may send, in one place: go-svc keeps the same limits under
//! the same names in `internal/limits`, and contract/README.md states them.

/// Largest request body REST accepts (1 MiB).
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// The largest HTTP/1.1 request line and headers: over it, hyper answers 431.
/// Go's `MaxHeaderBytes` of 12 KiB, plus its 4 KiB of read slack, refuses at
/// the same size. Bodies are read through the same buffer, so in pieces of at
/// most this size: echo-64k costs the same CPU, a 1 MiB body about a quarter
/// more than with hyper's ~400 KiB default (hyper's separate `max_header_size`
/// is not reachable through hyper-util's `auto` builder).
pub const MAX_HEAD_BYTES: usize = 16 << 10;

/// The most HTTP/1.1 header fields (`Host` included): one more is a 431.
/// hyper's default, set explicitly; at 100 its parser still keeps the fields
/// on the stack.
pub const MAX_HEADER_FIELDS: usize = 100;

/// Largest gRPC message accepted (4 MiB); a larger one is `RESOURCE_EXHAUSTED`.
pub const MAX_MESSAGE_BYTES: usize = 4 << 20;

/// HTTP/2 streams per connection, for h2c and gRPC alike.
pub const MAX_CONCURRENT_STREAMS: u32 = 256;

/// HTTP/2 flow-control window per stream and per connection.
pub const GRPC_WINDOW_BYTES: u32 = 1 << 20;
