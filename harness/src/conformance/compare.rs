//! Structural comparison of normalized outcomes, with a readable diff.

use serde_json::{Number, Value};

use crate::wire::client::truncate;

/// Differences between `left` and `right` as `path: left != right` lines.
/// Numbers compare by value (`1000` equals `1000.0`), objects ignore key order.
pub fn diff(left: &Value, right: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk("$", left, right, &mut out);
    out
}

fn walk(path: &str, left: &Value, right: &Value, out: &mut Vec<String>) {
    match (left, right) {
        (Value::Object(l), Value::Object(r)) => {
            let mut keys: Vec<&String> = l
                .keys()
                .chain(r.keys().filter(|k| !l.contains_key(*k)))
                .collect();
            keys.sort();
            for key in keys {
                let sub = format!("{path}.{key}");
                match (l.get(key), r.get(key)) {
                    (Some(a), Some(b)) => walk(&sub, a, b, out),
                    (Some(a), None) => out.push(format!("{sub}: {} != (absent)", show(a))),
                    (None, Some(b)) => out.push(format!("{sub}: (absent) != {}", show(b))),
                    (None, None) => unreachable!("key comes from one of the maps"),
                }
            }
        }
        (Value::Array(l), Value::Array(r)) => {
            if l.len() != r.len() {
                out.push(format!("{path}: {} items != {} items", l.len(), r.len()));
            }
            for (i, (a, b)) in l.iter().zip(r).enumerate() {
                walk(&format!("{path}[{i}]"), a, b, out);
            }
        }
        (Value::Number(a), Value::Number(b)) if numbers_equal(a, b) => {}
        (a, b) if a == b => {}
        (a, b) => out.push(format!("{path}: {} != {}", show(a), show(b))),
    }
}

fn numbers_equal(a: &Number, b: &Number) -> bool {
    if a == b {
        return true;
    }
    if a.is_f64() || b.is_f64() {
        return matches!((a.as_f64(), b.as_f64()), (Some(x), Some(y)) if x == y);
    }
    false
}

fn show(v: &Value) -> String {
    truncate(&v.to_string(), 160)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equal_documents_have_no_diff() {
        let a = json!({"a": [1, {"b": "x"}], "c": null});
        let b = json!({"c": null, "a": [1, {"b": "x"}]});
        assert!(diff(&a, &b).is_empty());
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(diff(&json!(1000), &json!(1000.0)).is_empty());
        assert!(diff(&json!(-1), &json!(-1)).is_empty());
        assert_eq!(diff(&json!(1), &json!(2)), vec!["$: 1 != 2"]);
        assert_eq!(diff(&json!(u64::MAX), &json!(u64::MAX - 1)).len(), 1);
    }

    #[test]
    fn diffs_name_the_path() {
        let a = json!({"status": 422, "body": {"error": {"code": "validation_failed"}}});
        let b =
            json!({"status": 200, "body": {"error": {"code": "validation_failed"}, "extra": 1}});
        assert_eq!(
            diff(&a, &b),
            vec!["$.body.extra: (absent) != 1", "$.status: 422 != 200"]
        );
    }

    #[test]
    fn arrays_report_length_and_items() {
        let d = diff(&json!([1, 2, 3]), &json!([1, 5]));
        assert_eq!(d, vec!["$: 3 items != 2 items", "$[1]: 2 != 5"]);
    }

    #[test]
    fn type_mismatch_is_a_diff() {
        assert_eq!(diff(&json!("1"), &json!(1)), vec![r#"$: "1" != 1"#]);
    }
}
