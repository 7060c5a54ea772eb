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

/// The gRPC code as the contract spells it (`NOT_FOUND`): the UPPER_SNAKE
/// name of the gRPC spec, as in rust-svc's `grpc_requests_total{code}` and the
/// harness's reports.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_spec_name() {
        // tonic's codes are 0..=16, and its Display text is the spec's
        // description, so the names are checked one by one against the spec.
        let names = [
            "OK",
            "CANCELLED",
            "UNKNOWN",
            "INVALID_ARGUMENT",
            "DEADLINE_EXCEEDED",
            "NOT_FOUND",
            "ALREADY_EXISTS",
            "PERMISSION_DENIED",
            "RESOURCE_EXHAUSTED",
            "FAILED_PRECONDITION",
            "ABORTED",
            "OUT_OF_RANGE",
            "UNIMPLEMENTED",
            "INTERNAL",
            "UNAVAILABLE",
            "DATA_LOSS",
            "UNAUTHENTICATED",
        ];
        for (i, name) in names.iter().enumerate() {
            assert_eq!(code_name(tonic::Code::from_i32(i as i32)), *name);
        }
    }
}
