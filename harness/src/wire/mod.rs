//! Every client the harness speaks, below the jobs that use them: the typed
//! REST and gRPC clients of the conformance suite and of readiness
//! (`client`), exact-bytes HTTP/1.1 (`raw_http`), and the pass-through gRPC
//! codec (`codec`).

pub mod client;
pub mod codec;
pub mod raw_http;
