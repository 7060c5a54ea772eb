//! The calls a scenario may make: the REST routes of `contract/README.md` and
//! the methods of the `lab.v1` services in `proto/lab/v1/lab.proto`.

use std::sync::LazyLock;

use prost_reflect::{DescriptorPool, MethodDescriptor};

use lab_proto::code_name;

/// Every REST call of the contract; a `{id}` segment takes any text.
pub(super) const REST_CALLS: [&str; 7] = [
    "GET /health",
    "GET /metrics",
    "GET /v1/users/{id}",
    "GET /v1/products",
    "POST /v1/orders",
    "GET /v1/orders/{id}",
    "POST /v1/echo",
];

/// The gRPC package whose services a scenario may call.
const PACKAGE: &str = "lab.v1";

static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(lab_proto::FILE_DESCRIPTOR_SET)
        .expect("lab-proto's FILE_DESCRIPTOR_SET decodes")
});

/// The contract call (one of `REST_CALLS`) that `method` and `path` (without
/// the query, placeholders as written) match, segment by segment.
pub(super) fn rest_call(method: &str, path: &str) -> Option<&'static str> {
    REST_CALLS.into_iter().find(|call| {
        let (m, p) = call.split_once(' ').expect("METHOD /path");
        m == method && {
            let mut want = p.split('/');
            let mut got = path.split('/');
            loop {
                match (want.next(), got.next()) {
                    (None, None) => break true,
                    (Some("{id}"), Some(seg)) if !seg.is_empty() => {}
                    (Some(w), Some(g)) if w == g => {}
                    _ => break false,
                }
            }
        }
    })
}

/// The method `lab.v1.Service/Method`, if the contract has it.
pub(super) fn grpc_method(call: &str) -> Option<MethodDescriptor> {
    let (service, method) = call.split_once('/')?;
    let service = POOL.get_service_by_name(service)?;
    if service.package_name() != PACKAGE {
        return None;
    }
    service.methods().find(|m| m.name() == method)
}

/// Every gRPC call of the contract, as a scenario writes it.
pub(super) fn grpc_calls() -> Vec<String> {
    POOL.services()
        .filter(|s| s.package_name() == PACKAGE)
        .flat_map(|s| {
            s.methods()
                .map(|m| format!("{}/{}", s.full_name(), m.name()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Every gRPC status code, in code order.
fn grpc_codes() -> impl Iterator<Item = tonic::Code> {
    (0..17).map(tonic::Code::from_i32)
}

/// The code named `name` (`"NOT_FOUND"`), as the gRPC docs spell it.
pub(super) fn grpc_code(name: &str) -> Option<tonic::Code> {
    grpc_codes().find(|&code| code_name(code) == name)
}

pub(super) fn grpc_code_names() -> String {
    grpc_codes().map(code_name).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_calls_match_segment_by_segment() {
        assert_eq!(rest_call("GET", "/health"), Some("GET /health"));
        assert_eq!(
            rest_call("GET", "/v1/users/{id}"),
            Some("GET /v1/users/{id}")
        );
        assert_eq!(rest_call("GET", "/v1/users/42"), Some("GET /v1/users/{id}"));
        assert_eq!(
            rest_call("GET", "/v1/orders/{x}"),
            Some("GET /v1/orders/{id}")
        );
        assert_eq!(rest_call("POST", "/v1/orders"), Some("POST /v1/orders"));
        assert_eq!(rest_call("POST", "/v1/users/1"), None);
        assert_eq!(rest_call("GET", "/v1/users/"), None);
        assert_eq!(rest_call("GET", "/v1/users"), None);
        assert_eq!(rest_call("GET", "/v1/users/1/x"), None);
        assert_eq!(rest_call("GET", "/health/"), None);
        assert_eq!(rest_call("GET", "/v1/product"), None);
    }

    #[test]
    fn grpc_calls_are_the_lab_v1_methods() {
        let calls = grpc_calls();
        assert_eq!(calls.len(), 7, "{calls:?}");
        for call in &calls {
            assert!(grpc_method(call).is_some(), "{call}");
        }
        let m = grpc_method("lab.v1.CatalogService/StreamProducts").unwrap();
        assert!(m.is_server_streaming() && !m.is_client_streaming());
        assert_eq!(m.input().full_name(), "lab.v1.ListProductsRequest");
        assert!(grpc_method("lab.v1.UserService/Nope").is_none());
        assert!(grpc_method("lab.v1.UserService").is_none());
        assert!(grpc_method("grpc.health.v1.Health/Check").is_none());
    }

    #[test]
    fn code_names_follow_tonic() {
        assert_eq!(grpc_code("OK"), Some(tonic::Code::Ok));
        assert_eq!(grpc_code("NOT_FOUND"), Some(tonic::Code::NotFound));
        assert_eq!(
            grpc_code("INVALID_ARGUMENT"),
            Some(tonic::Code::InvalidArgument)
        );
        assert_eq!(
            grpc_code("UNAUTHENTICATED"),
            Some(tonic::Code::Unauthenticated)
        );
        assert_eq!(grpc_code("ok"), None);
        for (i, code) in grpc_codes().enumerate() {
            assert_eq!(code as i32, i as i32);
            assert_eq!(grpc_code(code_name(code)), Some(code));
        }
    }
}
