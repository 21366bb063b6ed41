//! IndexedDB's key order over JSON values, so a query answered by a scan sorts and
//! compares exactly as one answered by an index: numbers before strings before arrays,
//! strings by UTF-16 code units, arrays element by element and then by length.

use std::cmp::Ordering;

use serde_json::Value;

use crate::record::key_order;

/// Whether IndexedDB can index `value`: a finite number, a string, or an array of keys.
pub fn is_key(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.as_f64().is_some_and(f64::is_finite),
        Value::String(_) => true,
        Value::Array(items) => items.iter().all(is_key),
        _ => false,
    }
}

/// Rank of a value's type in key order; 0 for what is not a key (never compared by
/// callers, given a place so the order stays total).
fn rank(value: &Value) -> u8 {
    match value {
        Value::Number(_) => 1,
        Value::String(_) => 2,
        Value::Array(_) => 3,
        _ => 0,
    }
}

/// Key order. Total over every JSON value (non-keys first), so sorting never panics.
pub fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN));
            x.partial_cmp(&y).unwrap_or(Ordering::Equal)
        }
        (Value::String(x), Value::String(y)) => key_order(x, y),
        (Value::Array(x), Value::Array(y)) => {
            x.iter().zip(y).map(|(a, b)| compare(a, b)).find(|o| o.is_ne()).unwrap_or_else(|| x.len().cmp(&y.len()))
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

/// Equality as a `where` means it: keys as IndexedDB compares them (1 == 1.0), other
/// scalars (booleans, null) as JSON.
pub fn equal(a: &Value, b: &Value) -> bool {
    if is_key(a) && is_key(b) {
        compare(a, b).is_eq()
    } else {
        a == b
    }
}

/// The values a field contributes: itself, or for a multi-entry field the elements
/// IndexedDB would index (a lone key counts as one element).
pub fn entries(value: &Value, multi_entry: bool) -> Vec<&Value> {
    match value {
        Value::Array(items) if multi_entry => items.iter().filter(|v| is_key(v)).collect(),
        v if multi_entry && !is_key(v) => Vec::new(),
        v => vec![v],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_before_strings_before_arrays() {
        let mut values = vec![json!(["a"]), json!("b"), json!(2), json!("\u{10000}"), json!("\u{ffff}"), json!(1.5)];
        values.sort_by(compare);
        assert_eq!(values, [json!(1.5), json!(2), json!("b"), json!("\u{10000}"), json!("\u{ffff}"), json!(["a"])]);
        assert!(compare(&json!(["a"]), &json!(["a", 1])).is_lt());
        assert!(equal(&json!(1), &json!(1.0)) && !equal(&json!(1), &json!("1")) && equal(&json!(true), &json!(true)));
        assert!(!is_key(&json!(true)) && !is_key(&json!([1, null])) && is_key(&json!([1, ["x"]])));
    }
}
