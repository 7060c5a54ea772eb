//! Rust code generated from `proto/lab/v1/lab.proto` (package `lab.v1`).
//!
//! Both the Rust service (servers) and the harness (clients) use it, so the two
//! sides of every gRPC call come from the same file.

pub mod lab {
    pub mod v1 {
        tonic::include_proto!("lab.v1");
    }
}

pub use lab::v1;

/// The encoded `FileDescriptorSet` of `lab.v1`, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("lab_descriptor");
