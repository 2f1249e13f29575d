//! Subset comparison with readable, path-addressed differences.

use serde_json::Value;

/// Compares `expected` as a subset of `actual`, pushing one line per difference.
///
/// Objects: every expected key must exist and match. Arrays: same length, element-wise subset.
/// Numbers compare by value (1 and 1.0 are equal). Everything else: equality.
pub fn subset(expected: &Value, actual: &Value, path: &str, diffs: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let p = format!("{path}.{k}");
                match a.get(k) {
                    Some(av) => subset(ev, av, &p, diffs),
                    None => diffs.push(format!("{p}: expected {}, but it is absent", short(ev))),
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                diffs.push(format!(
                    "{path}: expected {} element(s), got {}: {}",
                    e.len(),
                    a.len(),
                    short(actual)
                ));
                return;
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                subset(ev, av, &format!("{path}[{i}]"), diffs);
            }
        }
        (Value::Number(e), Value::Number(a)) => {
            if e != a && e.as_f64() != a.as_f64() {
                diffs.push(format!("{path}: expected {e}, got {a}"));
            }
        }
        (e, a) => {
            if e != a {
                diffs.push(format!("{path}: expected {}, got {}", short(e), short(a)));
            }
        }
    }
}

/// A value shortened for a diff line.
pub fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 160 {
        let cut: String = s.chars().take(157).collect();
        format!("{cut}...")
    } else {
        s
    }
}

/// Compares a body: a string expectation is exact, anything else a JSON subset of `parsed`
/// (the caller decodes JSON, form or multipart as the content type says).
pub fn body(
    expected: &Value,
    raw: &[u8],
    parsed: Option<Value>,
    path: &str,
    diffs: &mut Vec<String>,
) {
    match expected {
        Value::String(s) => {
            if s.as_bytes() != raw {
                diffs.push(format!(
                    "{path}: expected exactly {}, got {}",
                    short(&Value::String(s.clone())),
                    short(&Value::String(String::from_utf8_lossy(raw).into_owned()))
                ));
            }
        }
        other => match parsed {
            Some(p) => subset(other, &p, path, diffs),
            None => diffs.push(format!(
                "{path}: expected a structured body {}, got unparseable {}",
                short(other),
                short(&Value::String(String::from_utf8_lossy(raw).into_owned()))
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subset_rules() {
        let mut d = Vec::new();
        subset(
            &json!({"a": 1, "b": {"c": [1, {"x": "y"}]}}),
            &json!({"a": 1.0, "b": {"c": [1, {"x": "y", "z": 2}], "d": 0}, "e": 3}),
            "$",
            &mut d,
        );
        assert!(d.is_empty(), "{d:?}");
        subset(
            &json!({"a": 2, "m": 1, "l": [1]}),
            &json!({"a": 1, "l": [1, 2]}),
            "$",
            &mut d,
        );
        assert_eq!(d.len(), 3, "{d:?}");
        assert!(d.iter().any(|l| l.starts_with("$.a: expected 2, got 1")));
        assert!(
            d.iter()
                .any(|l| l.starts_with("$.m: expected 1, but it is absent"))
        );
        assert!(
            d.iter()
                .any(|l| l.starts_with("$.l: expected 1 element(s), got 2"))
        );
    }

    #[test]
    fn body_rules() {
        let mut d = Vec::new();
        body(&json!("{}"), b"{}", None, "body", &mut d);
        body(
            &json!({"a": 1}),
            b"{\"a\":1,\"b\":2}",
            Some(json!({"a": 1, "b": 2})),
            "body",
            &mut d,
        );
        assert!(d.is_empty(), "{d:?}");
        body(&json!("{}"), b"{ }", None, "body", &mut d);
        body(&json!({"a": 1}), b"xx", None, "body", &mut d);
        assert_eq!(d.len(), 2);
    }
}
