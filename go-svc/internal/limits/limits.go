// Package limits holds what a client may send, in one place: rust-svc keeps
// the same limits under the same names in src/limits.rs, and
// contract/README.md states them.
package limits

const (
	// MaxBodyBytes is the largest request body REST accepts (1 MiB, inclusive).
	MaxBodyBytes = 1 << 20
	// MaxHeadBytes is hyper's max_buf_size in rust-svc: the largest HTTP/1.1
	// request line and headers; over it, a 431.
	MaxHeadBytes = 16 << 10
	// MaxHeaderFields is hyper's max_headers: the most HTTP/1.1 header fields
	// (Host included); one more is a 431. net/http has no such limit.
	MaxHeaderFields = 100
	// MaxHeaderListBytes sets HTTP/2's header list limit (net/http's
	// MaxHeaderBytes): x/net/http2 adds 10 × 32 bytes of per-field overhead
	// to it, which makes 16,384, hyper's h2 max_header_list_size in rust-svc.
	// For HTTP/1 net/http's own limit (this plus 4 KiB of read slack) is
	// looser; the server's limitHead makes MaxHeadBytes exact.
	MaxHeaderListBytes = 16<<10 - 10*32
	// MaxMessageBytes is the largest gRPC message accepted (4 MiB); a larger
	// one is RESOURCE_EXHAUSTED.
	MaxMessageBytes = 4 << 20
	// MaxConcurrentStreams is HTTP/2 streams per connection, for h2c and gRPC
	// alike.
	MaxConcurrentStreams = 256
	// GRPCWindowBytes is the HTTP/2 flow-control window per stream and per
	// connection.
	GRPCWindowBytes = 1 << 20
)
