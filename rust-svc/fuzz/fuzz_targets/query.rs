//! `GET /v1/products`'s raw query string. Must not panic; `limit` is accepted
//! exactly when absent or ASCII digits with value 1..=1000, `offset` when
//! absent or ASCII digits with value 0..=i64::MAX, and a `;` is always refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rust_svc::fuzzing::products_query;

fuzz_target!(|raw: &str| {
    let result = products_query(raw);
    if raw.contains(';') || raw.matches('&').count() >= 10_000 {
        let err = result.expect_err("refused");
        assert_eq!(err.message(), "invalid query string");
        return;
    }
    let Ok((limit, offset)) = result else {
        return;
    };
    let pairs = pairs(raw);
    match first(&pairs, "limit") {
        None => assert_eq!(limit, 20),
        Some(value) => assert_eq!(
            Some(u128::from(limit)),
            digits(value).filter(|n| (1..=1000).contains(n))
        ),
    }
    match first(&pairs, "offset") {
        None => assert_eq!(offset, 0),
        Some(value) => assert_eq!(
            Some(u128::from(offset)),
            digits(value).filter(|&n| n <= i64::MAX as u128)
        ),
    }
});

/// Decoded pairs, for a query the service accepted (so every escape is valid).
fn pairs(raw: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (unescape(key), unescape(value))
        })
        .collect()
}

fn first<'a>(pairs: &'a [(Vec<u8>, Vec<u8>)], key: &str) -> Option<&'a [u8]> {
    pairs
        .iter()
        .find(|(k, _)| k == key.as_bytes())
        .map(|(_, v)| v.as_slice())
}

fn unescape(raw: &str) -> Vec<u8> {
    let bytes = raw.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("accepted escape");
                out.push(u8::from_str_radix(hex, 16).expect("accepted escape"));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// The value of a non-empty string of ASCII digits, saturating far above i64.
fn digits(value: &[u8]) -> Option<u128> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(value.iter().fold(0u128, |n, d| {
        (n * 10 + u128::from(d - b'0')).min(u128::from(u64::MAX) * 10)
    }))
}
