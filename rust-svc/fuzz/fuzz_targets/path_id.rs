//! A (percent-decoded) path id segment. Must not panic; accepted exactly when
//! it is ASCII digits whose value is 1..=i64::MAX, with that value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rust_svc::fuzzing::path_id;

fuzz_target!(|segment: &str| {
    assert_eq!(path_id(segment), expected(segment), "{segment:?}");
});

/// The contract's rule, computed another way: by comparing digit strings.
fn expected(segment: &str) -> Option<i64> {
    if segment.is_empty() || !segment.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = segment.trim_start_matches('0');
    let max = i64::MAX.to_string();
    if digits.is_empty()
        || digits.len() > max.len()
        || (digits.len() == max.len() && digits > max.as_str())
    {
        return None;
    }
    Some(digits.parse().expect("fits"))
}
