//! `POST /v1/echo` body bytes through the handler's parse and re-serialize.
//! Must not panic; what it writes back parses, to the same document, and is
//! written back the same way again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rust_svc::fuzzing::echo;

fuzz_target!(|body: &[u8]| {
    let Ok(written) = echo(body) else {
        return;
    };
    let document: serde_json::Value = serde_json::from_slice(&written).expect("echo writes JSON");
    let original: serde_json::Value = serde_json::from_slice(body).expect("echo accepted it");
    assert_eq!(document, original);
    assert_eq!(echo(&written).expect("its own output is accepted"), written);
});
