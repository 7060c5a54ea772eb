//! A query-string parser that behaves exactly like Go's `url.ParseQuery`, so
//! both services accept and reject the same query strings.

use crate::apperror::AppError;

/// Go's `url.ParseQuery` cap, counted as `&` separators plus one (empty pairs included).
pub const MAX_PAIRS: usize = 10_000;

/// Decoded `(key, value)` pairs in request order. Keys and values are bytes:
/// a percent escape may decode to something that is not UTF-8.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Query {
    pairs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Query {
    /// Splits on `&`, skips empty pairs, rejects a pair containing `;`, splits
    /// each pair at the first `=` and percent-decodes both sides with `+` as a
    /// space; a `%` not followed by two hex digits is rejected, and so is a
    /// query of more than [`MAX_PAIRS`] `&`-separated pairs.
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        if raw.bytes().filter(|&b| b == b'&').count() + 1 > MAX_PAIRS {
            return Err(AppError::invalid_query());
        }
        let mut pairs = Vec::new();
        for pair in raw.split('&') {
            if pair.contains(';') {
                return Err(AppError::invalid_query());
            }
            if pair.is_empty() {
                continue;
            }
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = unescape(key.as_bytes()).ok_or_else(AppError::invalid_query)?;
            let value = unescape(value.as_bytes()).ok_or_else(AppError::invalid_query)?;
            pairs.push((key, value));
        }
        Ok(Self { pairs })
    }

    /// The first value of `key`, if any.
    pub fn first(&self, key: &[u8]) -> Option<&[u8]> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
    }
}

fn unescape(raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'%' => {
                let hi = hex(*raw.get(i + 1)?)?;
                let lo = hex(*raw.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    Some(out)
}

fn hex(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_the_number_of_pairs_like_go() {
        let at_cap = format!("limit=2{}", "&".repeat(MAX_PAIRS - 1));
        assert_eq!(
            Query::parse(&at_cap).unwrap().first(b"limit"),
            Some(&b"2"[..])
        );
        assert!(Query::parse(&format!("{at_cap}&")).is_err());
    }

    fn first(raw: &str, key: &str) -> Option<Vec<u8>> {
        Query::parse(raw)
            .unwrap()
            .first(key.as_bytes())
            .map(<[u8]>::to_vec)
    }

    #[test]
    fn like_go_parse_query() {
        assert_eq!(first("limit=5&limit=7", "limit"), Some(b"5".to_vec()));
        assert_eq!(first("&&limit=5&", "limit"), Some(b"5".to_vec()));
        assert_eq!(first("limit", "limit"), Some(b"".to_vec()));
        assert_eq!(first("limit=", "limit"), Some(b"".to_vec()));
        assert_eq!(first("limit=a=b", "limit"), Some(b"a=b".to_vec()));
        assert_eq!(first("%6Cimit=%35", "limit"), Some(b"5".to_vec()));
        assert_eq!(first("a+b=c+d%20e", "a b"), Some(b"c d e".to_vec()));
        assert_eq!(first("k=%ff", "k"), Some(vec![0xff]));
        assert_eq!(first("=x", ""), Some(b"x".to_vec()));
        assert_eq!(first("", "limit"), None);
        assert_eq!(first("LIMIT=5", "limit"), None);
    }

    #[test]
    fn rejects_what_go_rejects() {
        for bad in [
            "limit=%zz",
            "limit=%",
            "limit=%4",
            "%=1",
            "a;b=1",
            "limit=5;",
            "limit=5&;",
            ";",
            "limit=5&x=%g0",
            "x=%0g&limit=5",
        ] {
            assert_eq!(
                Query::parse(bad).unwrap_err().message(),
                "invalid query string",
                "{bad:?}"
            );
        }
    }
}
